-- A fixed list of 2000 tiles over the benchmark province, zooms 6-16 weighted to 10-15 (where
-- maps are looked at): the tiles containing seeded sample points of the roads and parcels.
\set QUIET on
SELECT setseed(0.42) \g /dev/null
WITH weights(z, w) AS (VALUES (6, 2), (7, 2), (8, 3), (9, 5), (10, 14), (11, 15), (12, 16), (13, 16), (14, 14), (15, 10), (16, 3)),
cumulative AS (SELECT z, sum(w) OVER (ORDER BY z) / 100.0 AS upto FROM weights),
points AS (
  (SELECT ST_Transform(ST_PointOnSurface(geom), 3857) AS p FROM env.land_parcels WHERE id % 500 = 7 ORDER BY id LIMIT 1000)
  UNION ALL
  (SELECT ST_Transform(ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5), 3857) FROM transport.roads WHERE id % 300 = 7 ORDER BY id LIMIT 1000)),
drawn AS (SELECT p, random() AS r FROM points),
zoomed AS (SELECT p, (SELECT min(z) FROM cumulative WHERE upto >= r) AS z FROM drawn)
SELECT z || '/' || floor((ST_X(p) + 20037508.342789244) / (40075016.68557849 / 2 ^ z))::int
         || '/' || floor((20037508.342789244 - ST_Y(p)) / (40075016.68557849 / 2 ^ z))::int
FROM zoomed;
