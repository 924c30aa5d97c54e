-- The monitoring stations as an ordinary Bando layer (`monitoring_stations`): one row per Thing
-- that has a Location, with its latest readings and its status, kept current by the writes that
-- change them, so that tiles, features and the map show every station as it is now.
-- What the server's configuration says of monitoring, for the triggers: the access level the
-- layers below are published with (`[monitoring] access`, written at every start).
CREATE TABLE sta.settings (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    access text NOT NULL DEFAULT 'internal' CHECK (access IN ('public', 'internal', 'restricted'))
);
INSERT INTO sta.settings DEFAULT VALUES;

CREATE TABLE sta.stations (
    id          bigint PRIMARY KEY REFERENCES sta.things ON DELETE CASCADE,
    name        text NOT NULL,
    description text NOT NULL,
    class       text,
    -- no_readings, ok, alert (a reading over its limit), no_data (silent past its interval)
    status      text NOT NULL DEFAULT 'no_readings',
    open_alerts integer NOT NULL DEFAULT 0,
    -- "COD 140 mg/L [alert]; pH 7.1": each parameter's latest result, its unit and state
    latest      text,
    latest_at   timestamptz,
    geom        geometry(Point, 4326) NOT NULL
);

-- Publishes one of this schema's tables as a layer, at the configured access level, once.
CREATE FUNCTION sta.publish_layer(layer text, title text, description text, tbl text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO bando.layers (id, title, description, schema_name, table_name, geometry_type, access, imported)
    SELECT layer, title, description, 'sta', tbl, 'Point', access, true FROM sta.settings
    ON CONFLICT (id) DO NOTHING
$$;

-- A Thing gets its station row with its first Location (a point on it, for areas). The first
-- station publishes the layer, as an import publishes the layer it creates: a database without
-- monitoring has no empty stations layer.
CREATE FUNCTION sta.station_located() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A statement trigger fires for statements that insert nothing too.
    IF NOT EXISTS (SELECT FROM new_links) THEN
        RETURN NULL;
    END IF;
    PERFORM sta.publish_layer('monitoring_stations', 'Trạm quan trắc môi trường',
        'Environmental monitoring stations with their latest readings and alert status (SensorThings Things)',
        'stations');
    INSERT INTO sta.stations (id, name, description, class, geom)
    SELECT DISTINCT ON (t.id) t.id, t.name, t.description, t.properties->>'class', ST_Force2D(ST_PointOnSurface(l.geom))
    FROM new_links n JOIN sta.things t ON t.id = n.thing_id JOIN sta.locations l ON l.id = n.location_id
    ORDER BY t.id, l.id
    ON CONFLICT (id) DO UPDATE SET geom = excluded.geom;
    RETURN NULL;
END $$;
CREATE TRIGGER station_located AFTER INSERT ON sta.thing_locations
    REFERENCING NEW TABLE AS new_links FOR EACH STATEMENT EXECUTE FUNCTION sta.station_located();

CREATE FUNCTION sta.station_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sta.stations s SET name = n.name, description = n.description, class = n.properties->>'class'
    FROM new_things n WHERE s.id = n.id
      AND (s.name, s.description, s.class) IS DISTINCT FROM (n.name, n.description, n.properties->>'class');
    RETURN NULL;
END $$;
CREATE TRIGGER station_renamed AFTER UPDATE ON sta.things
    REFERENCING NEW TABLE AS new_things FOR EACH STATEMENT EXECUTE FUNCTION sta.station_renamed();

-- The latest readings and the status of these stations, written only where they changed. The
-- rows are locked in id order first, so that two refreshes never wait on each other in a cycle;
-- with `skip_locked` (the periodic refresh) rows that a write holds are left to that write.
CREATE FUNCTION sta.refresh_stations(things bigint[], skip_locked boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    IF skip_locked THEN
        ids := array(SELECT id FROM sta.stations WHERE id = ANY(things) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED);
    ELSE
        ids := array(SELECT id FROM sta.stations WHERE id = ANY(things) ORDER BY id FOR NO KEY UPDATE);
    END IF;
    WITH now_is AS (
        SELECT t.id,
               (SELECT string_agg(op.name || ' ' || (o.result #>> '{}')
                                  || coalesce(' ' || (d.unit_of_measurement->>'symbol'), '')
                                  || CASE WHEN EXISTS (SELECT FROM sta.alerts a WHERE a.datastream_id = d.id
                                                       AND a.closed_at IS NULL AND a.kind = 'limit')
                                          THEN ' [alert]' ELSE '' END,
                                  '; ' ORDER BY op.name, d.id)
                FROM sta.datastreams d
                JOIN sta.observed_properties op ON op.id = d.observed_property_id
                CROSS JOIN LATERAL (SELECT o.result FROM sta.observations o WHERE o.datastream_id = d.id
                                    ORDER BY o.phenomenon_time DESC LIMIT 1) o
                WHERE d.thing_id = t.id) AS latest,
               (SELECT max(o.phenomenon_time) FROM sta.datastreams d
                CROSS JOIN LATERAL (SELECT max(o.phenomenon_time) AS phenomenon_time FROM sta.observations o
                                    WHERE o.datastream_id = d.id) o
                WHERE d.thing_id = t.id) AS latest_at,
               (SELECT count(*) FROM sta.alerts a WHERE a.thing_id = t.id AND a.closed_at IS NULL)::int AS open,
               EXISTS (SELECT FROM sta.alerts a WHERE a.thing_id = t.id AND a.closed_at IS NULL AND a.kind = 'no_data') AS silent
        FROM unnest(ids) AS t(id)
    )
    UPDATE sta.stations s
    SET latest = n.latest, latest_at = n.latest_at, open_alerts = n.open,
        status = CASE WHEN n.silent THEN 'no_data' WHEN n.open > 0 THEN 'alert'
                      WHEN n.latest_at IS NULL THEN 'no_readings' ELSE 'ok' END
    FROM now_is n
    WHERE s.id = n.id
      AND (s.latest, s.latest_at, s.open_alerts) IS DISTINCT FROM (n.latest, n.latest_at, n.open);
END $$;

-- Its changes are captured like those of any layer table.
SELECT bando.watch_layer('sta.stations'::regclass, 'id');

-- The alerts as a layer too (`alerts`): each at its station, filterable as any collection
-- (`/collections/alerts/items?filter=status='open'`), published by the first alert.
ALTER TABLE sta.alerts
    ADD COLUMN status text GENERATED ALWAYS AS (
        CASE WHEN closed_at IS NOT NULL THEN 'closed'
             WHEN acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'open' END) STORED,
    ADD COLUMN geom geometry(Point, 4326);

CREATE FUNCTION sta.alert_placed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.geom := (SELECT s.geom FROM sta.stations s WHERE s.id = NEW.thing_id);
    RETURN NEW;
END $$;
CREATE TRIGGER alert_placed BEFORE INSERT ON sta.alerts FOR EACH ROW EXECUTE FUNCTION sta.alert_placed();

CREATE FUNCTION sta.alerts_published() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A statement trigger fires for statements that insert nothing too.
    IF NOT EXISTS (SELECT FROM new_alerts) THEN
        RETURN NULL;
    END IF;
    PERFORM sta.publish_layer('alerts', 'Cảnh báo quan trắc',
        'Monitoring alerts: readings over their limits, stations without data', 'alerts');
    RETURN NULL;
END $$;
CREATE TRIGGER alerts_published AFTER INSERT ON sta.alerts
    REFERENCING NEW TABLE AS new_alerts FOR EACH STATEMENT EXECUTE FUNCTION sta.alerts_published();
SELECT bando.watch_layer('sta.alerts'::regclass, 'id');
