-- Seeded generator for the Cần Thơ sample province (merged 1 July 2025 from Cần Thơ, Hậu Giang and
-- Sóc Trăng). Real open data (in schema gen, loaded by generate-province.sh) gives the boundary,
-- places, ports, airports and rivers; everything else is synthetic, shaped around them.
-- psql variables: communes, road_nodes, parcels, zones, warehouses, heritage.
-- Deterministic: every random draw comes from setseed() or a seeded ST_GeneratePoints.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT setseed(0.2025) \g /dev/null

CREATE TEMP TABLE prov AS
SELECT ST_Multi(ST_MakeValid(geom))::geometry(MultiPolygon, 4326) AS geom
FROM gen.provinces WHERE gso_code = '92';

-- Towns: GeoNames places in the province, weight by population for clustering.
CREATE TEMP TABLE towns AS
SELECT row_number() OVER (ORDER BY p.geonameid) AS n, p.name_vi AS name, p.name_ascii,
       greatest(p.population, 500) AS population, p.geom
FROM gen.places p, prov WHERE ST_Intersects(p.geom, ST_Buffer(prov.geom, 0.02));

-- Word lists for synthetic names.
CREATE TEMP TABLE words AS SELECT * FROM (VALUES
  ('family', ARRAY['Nguyễn','Trần','Lê','Phạm','Huỳnh','Hoàng','Phan','Võ','Đặng','Bùi','Đỗ','Hồ','Ngô','Dương','Lý','Thạch','Sơn','Lâm','Trương','Đoàn']),
  ('middle', ARRAY['Văn','Thị','Minh','Hữu','Ngọc','Thanh','Quốc','Kim','Hoài','Đức']),
  ('given',  ARRAY['An','Bình','Cường','Dũng','Hà','Hạnh','Hùng','Lan','Mai','Nam','Phúc','Tâm','Thảo','Trang','Tuấn','Sương','Khoa','Nhung','Lộc','Phước','Tài','Út','Đạt','Hiếu','Yến']),
  ('street', ARRAY['Nguyễn Trãi','Trần Hưng Đạo','Hùng Vương','30 Tháng 4','3 Tháng 2','Mậu Thân','Nguyễn Văn Cừ','Lê Lợi','Hai Bà Trưng','Võ Văn Kiệt','Cách Mạng Tháng 8','Trần Phú','Lý Tự Trọng','Phan Đình Phùng','Nguyễn Việt Hồng','Tầm Vu','Đồng Khởi','Lê Hồng Phong','Mạc Đĩnh Chi','Trần Quang Diệu'])
) AS w(kind, list);
CREATE FUNCTION pg_temp.pick(k text) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT list[1 + floor(random() * array_length(list, 1))::int] FROM words WHERE kind = k $$;

-- Communes: Voronoi cells of seeded points, clipped to the province, named from the GSO list.
CREATE TEMP TABLE commune_names AS
SELECT row_number() OVER (ORDER BY w.gso_code) AS n, w.gso_code, w.name, w.type
FROM (SELECT DISTINCT ON (w.name) w.* FROM gen.wards w JOIN gen.districts d ON d.gso_code = w.district_gso_code
      WHERE d.province_gso_code IN ('92','93','94') AND w.name !~ '^[0-9]' ORDER BY w.name, w.gso_code) w;
TRUNCATE admin.communes;
INSERT INTO admin.communes (id, code, name, kind, population, area_km2, geom)
SELECT c.n, cn.gso_code, cn.name,
       CASE WHEN EXISTS (SELECT 1 FROM towns t WHERE t.population > 20000 AND ST_Intersects(t.geom, c.geom)) THEN 'phường' ELSE 'xã' END,
       (8000 + random() * 40000)::int, ST_Area(c.geom::geography) / 1e6, c.geom
FROM (SELECT row_number() OVER (ORDER BY ST_X(ST_Centroid(v.geom)), ST_Y(ST_Centroid(v.geom))) AS n,
             ST_Multi(ST_CollectionExtract(ST_Intersection(v.geom, prov.geom), 3)) AS geom
      FROM prov, ST_Dump(ST_VoronoiPolygons(ST_GeneratePoints(prov.geom, :communes, 1), 0, prov.geom)) v) c
JOIN commune_names cn ON cn.n = c.n
WHERE NOT ST_IsEmpty(c.geom);

-- Places, ports and airports: real, those inside the province.
TRUNCATE admin.places;
INSERT INTO admin.places SELECT geonameid, name_vi, name_ascii, population, p.geom FROM gen.places p, prov
 WHERE ST_Intersects(p.geom, ST_Buffer(prov.geom, 0.02));
TRUNCATE transport.ports;
INSERT INTO transport.ports SELECT row_number() OVER (ORDER BY unlocode), name, unlocode, 'seaport', p.geom FROM gen.ports p, prov
 WHERE ST_Intersects(p.geom, ST_Buffer(prov.geom, 0.05)) AND NOT position_suspect;
TRUNCATE transport.airports;
INSERT INTO transport.airports SELECT ourairports_id, name, iata_code, gps_code, type, a.geom FROM gen.airports a, prov
 WHERE ST_Intersects(a.geom, ST_Buffer(prov.geom, 0.05));
TRUNCATE env.rivers;
INSERT INTO env.rivers SELECT row_number() OVER (ORDER BY r.ogc_fid), r.class, r.wdb_level,
       ST_Multi(ST_CollectionExtract(ST_Intersection(r.geom, prov.geom), 2))
FROM gen.rivers r, prov WHERE ST_Intersects(r.geom, prov.geom);

-- Road network: Delaunay edges over nodes that cluster around towns (by population) plus a rural
-- scatter; long edges are dropped so the network stays local.
CREATE TEMP TABLE nodes AS
SELECT (ST_Dump(ST_GeneratePoints(ST_Intersection(ST_Buffer(t.geom::geography, 1500 + sqrt(t.population) * 12)::geometry, prov.geom),
                                  greatest(1, (:road_nodes * 0.6 * t.population / s.total)::int), t.n::int))).geom AS geom
FROM towns t, prov, (SELECT sum(population) AS total FROM towns) s
UNION ALL
SELECT (ST_Dump(ST_GeneratePoints(prov.geom, (:road_nodes * 0.4)::int, 7))).geom FROM prov;
CREATE TEMP TABLE edges AS
SELECT e.geom FROM (SELECT (ST_Dump(ST_DelaunayTriangles(ST_Collect(geom), 0, 1))).geom FROM nodes) e, prov
WHERE ST_Length(e.geom::geography) < 2500 AND ST_Within(e.geom, prov.geom);
TRUNCATE transport.roads;
INSERT INTO transport.roads (id, name, class, ref, lanes, surface, width_m, opened_on, geom)
SELECT n, CASE class WHEN 'trunk' THEN 'Quốc lộ ' || (ARRAY['1','61','61B','91','Nam Sông Hậu'])[1 + (n % 5)]
                     WHEN 'primary' THEN 'Đường tỉnh ' || (900 + n % 40)::text
                     WHEN 'residential' THEN CASE WHEN random() < 0.5 THEN 'Hẻm ' || (1 + n % 200)::text ELSE 'Đường ' || pg_temp.pick('street') END
                     ELSE 'Đường ' || pg_temp.pick('street') END,
       class, CASE WHEN class IN ('trunk','primary') THEN (CASE class WHEN 'trunk' THEN 'QL' ELSE 'ĐT' END) || (n % 40)::text END,
       CASE class WHEN 'trunk' THEN 4 WHEN 'primary' THEN 2 WHEN 'secondary' THEN 2 ELSE 1 END,
       CASE WHEN class IN ('trunk','primary','secondary') THEN 'nhựa' WHEN random() < 0.6 THEN 'bê tông' ELSE 'đất' END,
       CASE class WHEN 'trunk' THEN 14 WHEN 'primary' THEN 9 WHEN 'secondary' THEN 7 WHEN 'tertiary' THEN 5 ELSE 3 END,
       DATE '1990-01-01' + (random() * 12000)::int, geom
FROM (SELECT row_number() OVER (ORDER BY ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom))) AS n,
             CASE WHEN r < 0.02 THEN 'trunk' WHEN r < 0.08 THEN 'primary' WHEN r < 0.2 THEN 'secondary'
                  WHEN r < 0.45 THEN 'tertiary' ELSE 'residential' END AS class,
             ST_Multi(ST_MakeLine(ARRAY[ST_StartPoint(geom),
                 ST_Translate(ST_LineInterpolatePoint(geom, 0.5), (random() - 0.5) * 0.002, (random() - 0.5) * 0.002),
                 ST_EndPoint(geom)])) AS geom
      FROM (SELECT geom, random() AS r FROM edges) e) roads;

-- Cadastral parcels: Voronoi cells of points dense near towns and sparse in the fields.
CREATE TEMP TABLE parcel_seeds AS
SELECT (ST_Dump(ST_GeneratePoints(ST_Intersection(ST_Buffer(t.geom::geography, 1000 + sqrt(t.population) * 10)::geometry, prov.geom),
                                  greatest(1, (:parcels * 0.7 * t.population / s.total)::int), 100 + t.n::int))).geom AS geom
FROM towns t, prov, (SELECT sum(population) AS total FROM towns) s
UNION ALL
SELECT (ST_Dump(ST_GeneratePoints(prov.geom, (:parcels * 0.3)::int, 11))).geom FROM prov;
CREATE TEMP TABLE cells AS
SELECT v.geom FROM prov, ST_Dump(ST_VoronoiPolygons((SELECT ST_Collect(geom) FROM parcel_seeds), 0, prov.geom)) v;
CREATE INDEX ON cells USING gist (geom);
TRUNCATE env.land_parcels;
INSERT INTO env.land_parcels (id, parcel_no, sheet_no, land_use, area_m2, commune_code, owner_name, id_number, registered_on, geom)
SELECT n, 1 + (n % 400)::int, 1 + (n / 400)::int,
       CASE WHEN near_town THEN (ARRAY['ODT','ONT','ONT','CLN','TMD'])[1 + floor(random() * 5)::int]
            ELSE (ARRAY['LUA','LUA','LUA','LUA','CLN','CLN','NTS','ONT','BHK','RSX'])[1 + floor(random() * 10)::int] END,
       ST_Area(geom::geography), (SELECT c.code FROM admin.communes c WHERE ST_Intersects(c.geom, ST_PointOnSurface(p.geom)) LIMIT 1),
       pg_temp.pick('family') || ' ' || pg_temp.pick('middle') || ' ' || pg_temp.pick('given'),
       '092' || lpad((floor(random() * 1e9))::bigint::text, 9, '0'),
       DATE '1995-01-01' + (random() * 10900)::int, geom
FROM (SELECT row_number() OVER (ORDER BY ST_X(ST_Centroid(c.geom)), ST_Y(ST_Centroid(c.geom))) AS n,
             ST_Multi(CASE WHEN ST_Within(c.geom, prov.geom) THEN c.geom
                           ELSE ST_CollectionExtract(ST_Intersection(c.geom, prov.geom), 3) END) AS geom,
             EXISTS (SELECT 1 FROM towns t WHERE t.population > 5000 AND ST_DWithin(t.geom::geography, ST_Centroid(c.geom)::geography, 2500)) AS near_town
      FROM cells c, prov WHERE ST_Intersects(c.geom, prov.geom)) p
WHERE NOT ST_IsEmpty(geom);

-- Natural resource zones: melaleuca forests, water bodies and sand-mining areas, irregular blobs.
TRUNCATE env.resource_zones;
INSERT INTO env.resource_zones (id, name, kind, subtype, area_ha, status, licence_no, valid_from, geom)
SELECT n, CASE kind WHEN 'forest' THEN 'Rừng tràm ' WHEN 'water' THEN 'Vùng nước ' ELSE 'Mỏ cát ' END || n::text,
       kind, CASE kind WHEN 'forest' THEN (ARRAY['rừng phòng hộ','rừng sản xuất','rừng đặc dụng'])[1 + n % 3]
                       WHEN 'water' THEN (ARRAY['hồ chứa','vùng nuôi trồng thủy sản','kênh thủy lợi'])[1 + n % 3]
                       ELSE (ARRAY['cát lòng sông','sét gạch ngói','than bùn'])[1 + n % 3] END,
       ST_Area(geom::geography) / 1e4, (ARRAY['đang khai thác','đã cấp phép','quy hoạch','đóng cửa'])[1 + n % 4],
       CASE WHEN kind = 'mineral' THEN n::text || '/GP-UBND' END, DATE '2000-01-01' + (n * 37 % 9000)::int, geom
FROM (SELECT n, kind, ST_Multi(ST_CollectionExtract(ST_Intersection(ST_Buffer(ST_MakeLine(pt, ST_Translate(pt, dx, dy))::geography, r)::geometry, prov.geom), 3)) AS geom
      FROM prov, (SELECT row_number() OVER () AS n, d.geom AS pt, (random() - 0.5) * 0.03 AS dx, (random() - 0.5) * 0.03 AS dy,
                         150 + random() * 900 AS r,
                         (ARRAY['forest','forest','water','water','mineral'])[1 + floor(random() * 5)::int] AS kind
                  FROM prov, ST_Dump(ST_GeneratePoints(prov.geom, :zones, 21)) d) s) z
WHERE NOT ST_IsEmpty(geom);

-- Warehouses: beside roads (most) and around ports and towns.
CREATE TEMP TABLE wh AS
SELECT (ARRAY['Kho lạnh','Kho tổng hợp','Kho ngoại quan','Kho xăng dầu','Kho lương thực'])[1 + floor(random() * 5)::int] AS kind_vi,
       ST_Translate(ST_LineInterpolatePoint(ST_GeometryN(geom, 1), random()), (random() - 0.5) * 0.001, (random() - 0.5) * 0.001) AS geom
FROM (SELECT geom FROM transport.roads WHERE class IN ('trunk','primary','secondary') ORDER BY id LIMIT (:warehouses * 0.8)::int) r
UNION ALL
SELECT (ARRAY['Kho ngoại quan','Kho tổng hợp'])[1 + floor(random() * 2)::int], ST_Translate(geom, (random() - 0.5) * 0.02, (random() - 0.5) * 0.02)
FROM (SELECT geom FROM transport.ports UNION ALL SELECT geom FROM towns) s,
     generate_series(1, greatest(1, (:warehouses * 0.2 / (SELECT count(*) + 3 FROM towns))::int));
TRUNCATE logistics.warehouses;
INSERT INTO logistics.warehouses (id, name, kind, capacity_t, operator, phone, opened_on, geom)
SELECT n, kind_vi || ' ' || pg_temp.pick('given') || ' ' || n::text, kind_vi, (200 + random() * 20000)::int,
       'Công ty TNHH ' || pg_temp.pick('family') || ' ' || pg_temp.pick('given'),
       '0292' || lpad((floor(random() * 1e7))::int::text, 7, '0'), DATE '2000-01-01' + (random() * 9000)::int, geom
FROM (SELECT row_number() OVER (ORDER BY ST_X(geom), ST_Y(geom)) AS n, * FROM wh) w;

-- Heritage sites and tourist spots: real landmarks of the province, then synthetic sites near towns.
TRUNCATE heritage.sites;
INSERT INTO heritage.sites (id, name, kind, rank, recognized_on, address, description, geom) VALUES
 (1, 'Chợ nổi Cái Răng', 'chợ nổi', 'tourist_spot', NULL, 'Cái Răng, Cần Thơ', 'Chợ nổi trên sông Cần Thơ, họp từ sáng sớm.', ST_SetSRID(ST_MakePoint(105.7530, 10.0044), 4326)),
 (2, 'Nhà cổ Bình Thủy', 'nhà cổ', 'national', DATE '2009-03-09', 'Bình Thủy, Cần Thơ', 'Nhà cổ của gia tộc họ Dương, xây năm 1870.', ST_SetSRID(ST_MakePoint(105.7386, 10.0688), 4326)),
 (3, 'Đình Bình Thủy', 'đình', 'national', DATE '1989-10-13', 'Bình Thủy, Cần Thơ', 'Đình thờ Thành hoàng, kiến trúc Nam Bộ.', ST_SetSRID(ST_MakePoint(105.7419, 10.0697), 4326)),
 (4, 'Chùa Dơi', 'chùa', 'national', DATE '1999-04-12', 'Phường 3, Sóc Trăng', 'Chùa Khmer Mahatup, nơi hàng nghìn con dơi sinh sống.', ST_SetSRID(ST_MakePoint(105.9869, 9.5896), 4326)),
 (5, 'Chùa Chén Kiểu', 'chùa', 'provincial', DATE '2013-12-20', 'Mỹ Xuyên, Sóc Trăng', 'Chùa Khmer Sà Lôn, trang trí bằng mảnh chén đĩa.', ST_SetSRID(ST_MakePoint(105.9060, 9.5542), 4326)),
 (6, 'Đình Tân Phước', 'đình', 'provincial', DATE '2005-06-15', 'Tân Phước, Cần Thơ', 'Đình làng thờ Thành hoàng bổn cảnh.', ST_SetSRID(ST_MakePoint(105.6512, 9.7890), 4326)),
 (7, 'Đền thờ Vua Hùng', 'đền', 'provincial', DATE '2012-04-01', 'Ninh Kiều, Cần Thơ', 'Đền thờ các Vua Hùng bên bờ sông Hậu.', ST_SetSRID(ST_MakePoint(105.7903, 10.0318), 4326)),
 (8, 'Đền thờ Bác Hồ', 'đền', 'national', DATE '2011-05-19', 'Long Mỹ, Cần Thơ', 'Khu di tích đền thờ Chủ tịch Hồ Chí Minh.', ST_SetSRID(ST_MakePoint(105.5450, 9.6790), 4326)),
 (9, 'Chùa Ông', 'chùa', 'national', DATE '1993-08-12', 'Ninh Kiều, Cần Thơ', 'Quảng Triệu Hội Quán, chùa của người Hoa.', ST_SetSRID(ST_MakePoint(105.7877, 10.0337), 4326)),
 (10, 'Thiền viện Trúc Lâm Phương Nam', 'chùa', 'tourist_spot', NULL, 'Phong Điền, Cần Thơ', 'Thiền viện lớn nhất miền Tây Nam Bộ.', ST_SetSRID(ST_MakePoint(105.6925, 10.0140), 4326)),
 (11, 'Chùa Kh''leang', 'chùa', 'special_national', DATE '2017-12-22', 'Phường 6, Sóc Trăng', 'Chùa Khmer cổ, hơn 400 năm tuổi.', ST_SetSRID(ST_MakePoint(105.9770, 9.6060), 4326)),
 (12, 'Khu di tích Căn cứ Tỉnh ủy Cần Thơ', 'di tích lịch sử', 'special_national', DATE '2016-01-12', 'Vị Thủy, Cần Thơ', 'Căn cứ kháng chiến của Tỉnh ủy Cần Thơ.', ST_SetSRID(ST_MakePoint(105.5680, 9.7820), 4326));
INSERT INTO heritage.sites (id, name, kind, rank, recognized_on, address, description, geom)
SELECT 12 + row_number() OVER (ORDER BY t.n, g), k.kind || ' ' || t.name || CASE WHEN g > 1 THEN ' ' || g::text ELSE '' END, lower(k.kind),
       (ARRAY['provincial','provincial','provincial','national','tourist_spot'])[1 + floor(random() * 5)::int],
       DATE '1990-01-01' + (random() * 12000)::int, t.name, 'Di tích ' || lower(k.kind) || ' tại ' || t.name || '.',
       ST_Translate(t.geom, (random() - 0.5) * 0.03, (random() - 0.5) * 0.03)
FROM towns t CROSS JOIN generate_series(1, greatest(1, ceil(:heritage / (SELECT count(*) * 5.0 FROM towns))::int)) g
CROSS JOIN (VALUES ('Đình'), ('Chùa'), ('Miếu'), ('Đền thờ'), ('Nhà cổ')) k(kind)
ORDER BY 1 LIMIT greatest(0, :heritage - 12);
