-- Fixed lists of feature requests over the benchmark province, 2000 per workload, seeded. One
-- line per request, tab-separated: workload, Bando's path and query, tipg's path and query.
--   bbox100   parcels in a box 2.2-3.3 km across, limit=100 (99.7 % of the boxes hold 100 or more)
--   bbox1000  parcels in a box 6.6-7.7 km across, limit=1000 (97 % hold 1000 or more)
--             Boxes are around sampled parcels, moved inside the parcels' extent.
--   bbox100_roads  roads in a box 2.2-3.3 km across around sampled roads, limit=100 (last, so
--             that the other lists draw the same numbers as before it was added)
--   filter    a CQL2 attribute filter, land_use = one of the 8 codes AND area_m2 > 1000-5000,
--             limit=100
--   filter_roads  roads by lanes >= 1-2 AND width_m > 3-10, limit=100
--   search    heritage sites by a word of their names, limit=100. Bando: the free-text `q`.
--             tipg has no `q`; it gets the nearest filter it can run, CASEI(name) LIKE
--             CASEI('%word%'): case-insensitive but not accent-insensitive (cql2 writes ACCENTI
--             as strip_accents(), which PostgreSQL lacks). The words are spelt as in the names,
--             accents included, so that both match the same sites.
-- Bando names collections by layer (land_parcels, heritage_sites), tipg by schema.table.
\set QUIET on
\set ON_ERROR_STOP on
SELECT setseed(0.42) \g /dev/null
-- Percent-encoding of a query value (UTF-8; everything but unreserved characters).
CREATE FUNCTION pg_temp.enc(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(CASE WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90 OR b BETWEEN 97 AND 122 OR b IN (45, 46, 95, 126)
                         THEN chr(b) ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END, '' ORDER BY i)
  FROM (SELECT i, get_byte(convert_to(s, 'UTF8'), i) AS b FROM generate_series(0, octet_length(convert_to(s, 'UTF8')) - 1) i) bytes
$$;
-- A box of half-side h degrees around p, moved inside the parcels' extent, as a bbox value.
CREATE TEMP TABLE extent AS SELECT ST_Extent(geom) AS e FROM env.land_parcels;
CREATE FUNCTION pg_temp.bbox(p geometry, h float8) RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(',', round(x0::numeric, 5), round(y0::numeric, 5), round((x0 + 2 * h)::numeric, 5), round((y0 + 2 * h)::numeric, 5))
  FROM extent, LATERAL (SELECT greatest(ST_XMin(e), least(ST_X(p) - h, ST_XMax(e) - 2 * h)) AS x0,
                               greatest(ST_YMin(e), least(ST_Y(p) - h, ST_YMax(e) - 2 * h)) AS y0) c
$$;

WITH centres AS (SELECT ST_PointOnSurface(geom) AS p FROM env.land_parcels WHERE id % 250 = 7 ORDER BY id LIMIT 2000),
boxes AS (SELECT p, 0.01 + 0.005 * random() AS h FROM centres),
q AS (SELECT 'bbox=' || pg_temp.bbox(p, h) || '&limit=100' AS q FROM boxes)
SELECT 'bbox100', '/collections/land_parcels/items?' || q, '/collections/env.land_parcels/items?' || q FROM q;

WITH centres AS (SELECT ST_PointOnSurface(geom) AS p FROM env.land_parcels WHERE id % 250 = 131 ORDER BY id LIMIT 2000),
boxes AS (SELECT p, 0.03 + 0.005 * random() AS h FROM centres),
q AS (SELECT 'bbox=' || pg_temp.bbox(p, h) || '&limit=1000' AS q FROM boxes)
SELECT 'bbox1000', '/collections/land_parcels/items?' || q, '/collections/env.land_parcels/items?' || q FROM q;

WITH draws AS (
  SELECT (ARRAY['LUA', 'CLN', 'ONT', 'BHK', 'RSX', 'NTS', 'TMD', 'ODT'])[1 + floor(random() * 8)::int] AS land_use,
         1000 + 100 * floor(random() * 41)::int AS area
  FROM generate_series(1, 2000) n),
q AS (SELECT 'filter=' || pg_temp.enc(format('land_use=%L AND area_m2 > %s', land_use, area)) || '&filter-lang=cql2-text&limit=100' AS q
      FROM draws)
SELECT 'filter', '/collections/land_parcels/items?' || q, '/collections/env.land_parcels/items?' || q FROM q;

WITH draws AS (
  SELECT 1 + floor(random() * 2)::int AS lanes, 3 + floor(random() * 8)::int AS width FROM generate_series(1, 2000) n),
q AS (SELECT 'filter=' || pg_temp.enc(format('lanes >= %s AND width_m > %s', lanes, width)) || '&filter-lang=cql2-text&limit=100' AS q
      FROM draws)
SELECT 'filter_roads', '/collections/roads/items?' || q, '/collections/transport.roads/items?' || q FROM q;

WITH words AS (
  SELECT array_agg(DISTINCT w ORDER BY w) AS list
  FROM heritage.sites, regexp_split_to_table(lower(name), ' ') AS w
  WHERE w ~ '^[[:alpha:]]{3,}$'),
draws AS (SELECT list[1 + floor(random() * array_length(list, 1))::int] AS w FROM words, generate_series(1, 2000) n)
SELECT 'search', '/collections/heritage_sites/items?q=' || pg_temp.enc(w) || '&limit=100',
       '/collections/heritage.sites/items?filter=' || pg_temp.enc(format('CASEI(name) LIKE CASEI(%L)', '%' || w || '%'))
         || '&filter-lang=cql2-text&limit=100'
FROM draws;

WITH centres AS (SELECT ST_PointOnSurface(geom) AS p FROM transport.roads WHERE id % 150 = 11 ORDER BY id LIMIT 2000),
boxes AS (SELECT p, 0.01 + 0.005 * random() AS h FROM centres),
q AS (SELECT 'bbox=' || pg_temp.bbox(p, h) || '&limit=100' AS q FROM boxes)
SELECT 'bbox100_roads', '/collections/roads/items?' || q, '/collections/transport.roads/items?' || q FROM q;
