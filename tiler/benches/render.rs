//! Clip + simplify + encode, on tiles shaped like the benchmark province's densest: a town tile
//! of small parcel polygons and a tile of road segments.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPolygon, Polygon};
use tiler::{TagValue, TileBuilder, TileCoord};

/// A deterministic pseudo-random sequence in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        #[allow(clippy::cast_precision_loss)]
        let v = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        v
    }
}

/// `n` irregular hexagon-ish parcels spread over the tile's buffered box.
fn parcels(tile: TileCoord, n: usize) -> Vec<Geometry> {
    let [a, b, c, d] = tile.bounds();
    let mut r = Lcg(7);
    let size = (c - a) / (n as f64).sqrt();
    (0..n)
        .map(|_| {
            let (x, y) = (a + r.next() * (c - a), b + r.next() * (d - b));
            let ring: Vec<Coord> = (0..6)
                .map(|k| {
                    let t = f64::from(k) / 6.0 * std::f64::consts::TAU;
                    let rad = size * (0.35 + 0.2 * r.next());
                    Coord { x: x + rad * t.cos(), y: y + rad * t.sin() }
                })
                .collect();
            Geometry::MultiPolygon(MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]))
        })
        .collect()
}

/// `n` three-vertex road segments.
fn roads(tile: TileCoord, n: usize) -> Vec<Geometry> {
    let [a, b, c, d] = tile.bounds();
    let mut r = Lcg(11);
    let len = (c - a) / (n as f64).sqrt() * 1.5;
    (0..n)
        .map(|_| {
            let (x, y) = (a + r.next() * (c - a), b + r.next() * (d - b));
            let (dx, dy) = ((r.next() - 0.5) * len, (r.next() - 0.5) * len);
            let line = LineString(vec![
                Coord { x, y },
                Coord { x: x + dx / 2.0 + (r.next() - 0.5) * len * 0.1, y: y + dy / 2.0 },
                Coord { x: x + dx, y: y + dy },
            ]);
            Geometry::MultiLineString(MultiLineString(vec![line]))
        })
        .collect()
}

fn encode(tile: TileCoord, layer: &str, features: &[Geometry]) -> usize {
    let mut b = TileBuilder::new(tile);
    b.start_layer(layer, ["class", "area"]);
    for (i, g) in features.iter().enumerate() {
        b.add_feature(Some(i as u64), g, |t| {
            t.add(0, TagValue::Str(if i % 3 == 0 { "LUA" } else { "ONT" }));
            t.add(1, TagValue::Double(i as f64 * 1.5));
        });
    }
    b.finish().map_or(0, |v| v.len())
}

fn bench(c: &mut Criterion) {
    let tile = TileCoord::new(13, 6502, 3866).unwrap();
    for n in [1_000, 10_000] {
        let p = parcels(tile, n);
        c.bench_function(&format!("parcels_{n}"), |b| b.iter(|| encode(tile, "land_parcels", &p)));
        let r = roads(tile, n);
        c.bench_function(&format!("roads_{n}"), |b| b.iter(|| encode(tile, "roads", &r)));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
