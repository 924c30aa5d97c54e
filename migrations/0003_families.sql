-- The four layer families, one schema each, plus administrative boundaries.
-- Geometries are stored in EPSG:4326 (lon/lat); polygon and line layers are Multi* so that both
-- single and multi parts import. Every table has a primary key and a GIST index.
CREATE SCHEMA IF NOT EXISTS admin;      -- boundaries and places
CREATE SCHEMA IF NOT EXISTS env;        -- natural resources and environment
CREATE SCHEMA IF NOT EXISTS transport;  -- transport infrastructure
CREATE SCHEMA IF NOT EXISTS logistics;  -- warehouses and logistics
CREATE SCHEMA IF NOT EXISTS heritage;   -- cultural heritage and tourism

CREATE TABLE admin.communes (
    id          bigint PRIMARY KEY,
    code        text NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('phường', 'xã', 'đặc khu')),
    population  integer,
    area_km2    double precision,
    geom        geometry(MultiPolygon, 4326) NOT NULL
);

CREATE TABLE admin.places (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    name_ascii  text,
    population  integer,
    geom        geometry(Point, 4326) NOT NULL
);

CREATE TABLE env.land_parcels (
    id            bigint PRIMARY KEY,
    parcel_no     integer NOT NULL,
    sheet_no      integer NOT NULL,
    land_use      text NOT NULL,
    area_m2       double precision NOT NULL,
    commune_code  text,
    owner_name    text,
    id_number     text,
    registered_on date,
    geom          geometry(MultiPolygon, 4326) NOT NULL
);

CREATE TABLE env.resource_zones (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('forest', 'water', 'mineral')),
    subtype     text,
    area_ha     double precision,
    status      text,
    licence_no  text,
    valid_from  date,
    geom        geometry(MultiPolygon, 4326) NOT NULL
);

CREATE TABLE env.rivers (
    id          bigint PRIMARY KEY,
    class       text NOT NULL,
    wdb_level   integer,
    geom        geometry(MultiLineString, 4326) NOT NULL
);

CREATE TABLE transport.roads (
    id          bigint PRIMARY KEY,
    name        text,
    class       text NOT NULL,
    ref         text,
    lanes       smallint,
    surface     text,
    width_m     real,
    opened_on   date,
    geom        geometry(MultiLineString, 4326) NOT NULL
);

CREATE TABLE transport.ports (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    locode      text,
    kind        text,
    geom        geometry(Point, 4326) NOT NULL
);

CREATE TABLE transport.airports (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    iata        text,
    icao        text,
    kind        text,
    geom        geometry(Point, 4326) NOT NULL
);

CREATE TABLE logistics.warehouses (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL,
    capacity_t  integer,
    operator    text,
    phone       text,
    opened_on   date,
    geom        geometry(Point, 4326) NOT NULL
);

CREATE TABLE heritage.sites (
    id            bigint PRIMARY KEY,
    name          text NOT NULL,
    kind          text NOT NULL,
    rank          text NOT NULL CHECK (rank IN ('provincial', 'national', 'special_national', 'tourist_spot')),
    recognized_on date,
    address       text,
    description   text,
    geom          geometry(Point, 4326) NOT NULL
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['admin.communes', 'admin.places', 'env.land_parcels', 'env.resource_zones',
                             'env.rivers', 'transport.roads', 'transport.ports', 'transport.airports',
                             'logistics.warehouses', 'heritage.sites'] LOOP
        EXECUTE format('CREATE INDEX ON %s USING gist (geom)', t);
        PERFORM bando.watch_table(t::regclass);
    END LOOP;
END $$;
