-- The change log: one row per changed feature, written by statement-level triggers with
-- transition tables (one trigger call per statement, every changed id recorded). Servers read it
-- from the position they last applied, so a server that was away catches up instead of reloading.
--
-- Order is (tx, seq), not seq alone: seq is drawn when a row is written, not when its transaction
-- commits, so a reader that trusted seq would step over a smaller seq committed later. Every
-- transaction older than the oldest one still running has finished, so rows of those transactions
-- are final, and a reader's position only moves over them (see layers::store::changes).
CREATE TABLE bando.changes (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    tx          bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    layer_table text NOT NULL,  -- "schema.table"
    feature_id  bigint,         -- NULL for a reload
    op          text NOT NULL CHECK (op IN ('insert', 'update', 'delete', 'reload')),
    at          timestamptz NOT NULL DEFAULT now()
);
-- The one index, the readers' order: inserting writers touch nothing else they could share.
CREATE INDEX changes_order ON bando.changes (tx, seq);

-- How far pruning has gone: a server whose position lies before this reloads in full.
CREATE TABLE bando.change_log (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    pruned_tx  bigint NOT NULL DEFAULT 0,
    pruned_seq bigint NOT NULL DEFAULT 0
);
INSERT INTO bando.change_log DEFAULT VALUES;

-- The statement trigger of other watched tables (the API keys) only notifies: it no longer
-- bumps a catalog row, which made concurrent writers of one table queue behind each other.
CREATE OR REPLACE FUNCTION bando.layer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bando_changes', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END $$;

-- Attaches the change capture to a layer table: statement-level triggers with transition tables
-- (one event per trigger, as PostgreSQL requires), calling a capture function of the table's id
-- column. A TRUNCATE, or any statement of a bulk import (`SET LOCAL bando.bulk = on`), is one
-- 'reload' change instead of a row per feature; an update that changes an id deletes the old one.
--
-- The function is written for the id column, with static SQL, because PL/pgSQL plans static
-- statements once per session but EXECUTE on every call: single-row updates from 8 connections
-- ran at 3 900/s with EXECUTE, 13 200/s like this, 18 600/s with no capture at all.
--
-- There is no NOTIFY: a transaction that notifies takes a lock for the whole cluster at commit,
-- so concurrent writers would commit one at a time (8 connections inserting single rows: 9 500
-- rows/s without it, 5 900 with it). Servers poll the log; a poll that finds nothing is one
-- index probe.
CREATE FUNCTION bando.watch_layer(tbl regclass, id_column text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    fn text := format('bando.%I', 'capture_' || id_column);
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql AS $body$
        DECLARE
            bando_table text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
        BEGIN
            IF TG_OP = 'TRUNCATE' OR current_setting('bando.bulk', true) = 'on' THEN
                INSERT INTO bando.changes (layer_table, op) VALUES (bando_table, 'reload');
            ELSIF TG_OP = 'INSERT' THEN
                INSERT INTO bando.changes (layer_table, feature_id, op) SELECT bando_table, %2$I, 'insert' FROM bando_new;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO bando.changes (layer_table, feature_id, op) SELECT bando_table, %2$I, 'delete' FROM bando_old;
            ELSE
                INSERT INTO bando.changes (layer_table, feature_id, op)
                SELECT bando_table, %2$I, 'update' FROM bando_new
                UNION ALL
                SELECT bando_table, o.%2$I, 'delete' FROM bando_old o
                 WHERE NOT EXISTS (SELECT FROM bando_new n WHERE n.%2$I = o.%2$I);
            END IF;
            RETURN NULL;
        END $body$ $f$, fn, id_column);
    EXECUTE format('DROP TRIGGER IF EXISTS bando_changed ON %s', tbl);
    EXECUTE format('CREATE OR REPLACE TRIGGER bando_inserted AFTER INSERT ON %s REFERENCING NEW TABLE AS bando_new'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION %s()', tbl, fn);
    EXECUTE format('CREATE OR REPLACE TRIGGER bando_updated AFTER UPDATE ON %s'
                   ' REFERENCING OLD TABLE AS bando_old NEW TABLE AS bando_new'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION %s()', tbl, fn);
    EXECUTE format('CREATE OR REPLACE TRIGGER bando_deleted AFTER DELETE ON %s REFERENCING OLD TABLE AS bando_old'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION %s()', tbl, fn);
    EXECUTE format('CREATE OR REPLACE TRIGGER bando_truncated AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                   tbl, fn);
END $$;

-- Every layer table known so far moves to the capture triggers.
DO $$
DECLARE
    l record;
    t text;
BEGIN
    FOR l IN SELECT DISTINCT schema_name, table_name, id_column FROM bando.layers LOOP
        IF to_regclass(format('%I.%I', l.schema_name, l.table_name)) IS NOT NULL THEN
            PERFORM bando.watch_layer(format('%I.%I', l.schema_name, l.table_name)::regclass, l.id_column);
        END IF;
    END LOOP;
    FOREACH t IN ARRAY ARRAY['admin.communes', 'admin.places', 'env.land_parcels', 'env.resource_zones',
                             'env.rivers', 'transport.roads', 'transport.ports', 'transport.airports',
                             'logistics.warehouses', 'heritage.sites'] LOOP
        PERFORM bando.watch_layer(t::regclass, 'id');
    END LOOP;
END $$;
