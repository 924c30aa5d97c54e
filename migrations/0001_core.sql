-- Bando's own schema: the layer catalog, the import log and the change feed.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS bando;

-- One row per layer that lives in PostGIS: configured layers register here at start, imports of a
-- new layer id create their row. `version` rises on every committed change to the layer's table.
CREATE TABLE bando.layers (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{0,62}$'),
    title           text NOT NULL,
    description     text NOT NULL DEFAULT '',
    schema_name     text NOT NULL,
    table_name      text NOT NULL,
    geometry_column text NOT NULL DEFAULT 'geom',
    id_column       text NOT NULL DEFAULT 'id',
    geometry_type   text NOT NULL,
    access          text NOT NULL DEFAULT 'internal' CHECK (access IN ('public', 'internal', 'restricted')),
    imported        boolean NOT NULL DEFAULT false, -- created by an import rather than the config
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (schema_name, table_name)
);

CREATE TABLE bando.import_log (
    id                 bigserial PRIMARY KEY,
    layer_id           text NOT NULL,
    source             text NOT NULL,
    format             text,
    source_srid        integer,
    mode               text NOT NULL CHECK (mode IN ('replace', 'append')),
    status             text NOT NULL CHECK (status IN ('ok', 'failed')),
    rows_read          bigint NOT NULL DEFAULT 0,
    rows_written       bigint NOT NULL DEFAULT 0,
    repaired           bigint NOT NULL DEFAULT 0,
    duplicates_removed bigint NOT NULL DEFAULT 0,
    rejected           jsonb NOT NULL DEFAULT '{}',
    error              text,
    seconds            double precision NOT NULL,
    finished_at        timestamptz NOT NULL DEFAULT now()
);

-- Change feed: one notification per committed statement on a layer table (statement-level, so a
-- 500k-row import sends one message, not 500k). Payload: "schema.table". The server reloads or
-- patches that layer; the version bump makes cached tiles of the old data unreachable.
CREATE FUNCTION bando.layer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bando.layers SET version = version + 1, updated_at = now()
     WHERE schema_name = TG_TABLE_SCHEMA AND table_name = TG_TABLE_NAME;
    PERFORM pg_notify('bando_changes', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END $$;

-- Attaches the change trigger to a layer table; used below and by imports that create a table.
CREATE FUNCTION bando.watch_table(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE OR REPLACE TRIGGER bando_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE'
                   ' ON %s FOR EACH STATEMENT EXECUTE FUNCTION bando.layer_changed()', tbl);
END $$;
