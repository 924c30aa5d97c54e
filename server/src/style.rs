//! MapLibre style documents (style specification v8) for Bando's own tiles: one cartography per
//! [`Theme`], with a legend in the style's metadata that the viewer draws.

use layers::{GeometryType, LayerDef, Theme};
use serde_json::{Value, json};

use crate::{
    access::{Access, LayerView, MAX_LAYERS},
    error::ApiError,
    layer::{Layer, extent_of},
};

/// The id of the style with every layer the caller may see.
pub const PROVINCE: &str = "province";
/// Its title.
const PROVINCE_TITLE: &str = "Toàn tỉnh / whole province";

/// The styles a caller may use, `(id, title)`: the whole province's, then one per readable layer.
pub fn list(views: &[LayerView]) -> Vec<(&str, &str)> {
    let layers = views.iter().map(|v| (v.def.id.as_str(), v.def.title.as_str()));
    std::iter::once((PROVINCE, PROVINCE_TITLE)).chain(layers).collect()
}

/// The title and layers of style `id`: the province's has every layer the caller may read; a
/// layer's has that layer over the ground layers the caller may see (boundaries, water, roads),
/// since a map needs its ground. 404 for a style that does not exist or names a hidden layer.
pub fn layers_of(id: &str, access: &Access) -> Result<(String, Vec<LayerView>), ApiError> {
    let visible = access.all();
    if id == PROVINCE {
        return Ok((PROVINCE_TITLE.to_owned(), visible));
    }
    let layer = access.one(id).map_err(|_| ApiError::NotFound(format!("no style {id:?}")))?;
    let mut layers: Vec<LayerView> =
        visible.into_iter().filter(|l| is_basemap(&l.def) && l.def.id != layer.def.id).collect();
    let title = layer.def.title.clone();
    layers.push(layer);
    Ok((title, layers))
}

/// Fonts the style's labels use; both must be names `/fonts` serves.
pub struct Fonts<'a> {
    /// Ordinary labels.
    pub regular: &'a str,
    /// Labels that stand out: heritage sites, towns.
    pub bold: &'a str,
}

/// The style document: `layers` drawn in theme order over a plain background. `id` names the
/// style; when it is one of the layers, the style is framed on that layer.
pub fn document(base: &str, id: &str, name: &str, layers: &[LayerView], fonts: &Fonts) -> Value {
    let mut ordered: Vec<&LayerView> = layers.iter().collect();
    ordered.sort_by_key(|v| (theme_of(&v.def), v.def.id.to_string()));
    let sources = sources(&ordered.iter().map(|v| &v.def).collect::<Vec<_>>());
    let mut style_layers =
        vec![json!({"id": "background", "type": "background", "paint": {"background-color": "#f4f1ea"}})];
    let mut legend = Vec::new();
    for view in ordered {
        let def = &view.def;
        let source = sources.iter().find(|s| s.layers.contains(&def.id.as_str())).map_or("", |s| s.id.as_str());
        let drawn = match &def.style {
            Some(custom) => custom_layers(def, custom),
            None => themed_layers(def, fonts),
        };
        style_layers.extend(drawn.into_iter().map(|l| finish(def, source, l)));
        legend.push(json!({
            "id": def.id,
            "title": def.title,
            "theme": theme_of(def),
            "legend": if def.style.is_some() { Vec::new() } else { legend_of(def) },
            "properties": described_properties(view),
        }));
    }
    let framed: Vec<&Layer> = layers.iter().map(|l| &**l).filter(|l| l.def.id.as_str() == id).collect();
    let framed = if framed.is_empty() { layers.iter().map(|l| &**l).collect() } else { framed };
    let bounds = extent_of(framed).map(|[a, b, c, d]| [[a, b], [c, d]]);
    // Attribution comes from each source's TileJSON, which lists every layer's once.
    let sources: serde_json::Map<String, Value> = sources
        .iter()
        .map(|s| (s.id.clone(), json!({"type": "vector", "url": format!("{base}/tiles/{}.json", s.layers.join(","))})))
        .collect();
    json!({
        "version": 8,
        "name": name,
        "metadata": {"bando:style": id, "bando:layers": legend, "bando:bounds": bounds},
        "sources": sources,
        "glyphs": format!("{base}/fonts/{{fontstack}}/{{range}}.pbf"),
        "sprite": format!("{base}/assets/sprite"),
        "layers": style_layers,
    })
}

/// Checks a layer's own style layers (`style = [...]` in its configuration): each must draw the
/// layer's features. The error says which entry is wrong.
pub fn check_custom(def: &LayerDef) -> Result<(), String> {
    // Types that draw a source layer; `background` and `raster` draw no features.
    const DRAWING: [&str; 6] = ["fill", "line", "symbol", "circle", "heatmap", "fill-extrusion"];
    for (i, layer) in def.style.iter().flatten().enumerate() {
        match layer.get("type").and_then(Value::as_str) {
            Some(t) if DRAWING.contains(&t) => {}
            _ => return Err(format!("entry {} needs a `type` among {}", i + 1, DRAWING.join(", "))),
        }
    }
    Ok(())
}

/// One vector source: layers served in the same zoom range, read as one multi-layer tile.
struct Source<'a> {
    id: String,
    layers: Vec<&'a str>,
}

/// Layers grouped by zoom range: a source's TileJSON tells MapLibre its highest zoom, past
/// which it stretches that zoom's tiles, so a layer must not share a source that goes deeper
/// than the layer does (it would vanish there). Groups are split at the tile limit.
fn sources<'a>(ordered: &[&'a LayerDef]) -> Vec<Source<'a>> {
    let mut ranges: std::collections::BTreeMap<(u8, u8), Vec<&'a str>> = std::collections::BTreeMap::new();
    for def in ordered {
        ranges.entry((def.minzoom, def.maxzoom)).or_default().push(def.id.as_str());
    }
    let mut out = Vec::new();
    for ((min, max), ids) in ranges {
        for (n, chunk) in ids.chunks(MAX_LAYERS).enumerate() {
            let suffix = if n == 0 { String::new() } else { format!("-{n}") };
            out.push(Source { id: format!("bando-z{min}-{max}{suffix}"), layers: chunk.to_vec() });
        }
    }
    out
}

/// The layer's theme, or one that suits its geometry.
pub fn theme_of(def: &LayerDef) -> Theme {
    def.theme.unwrap_or(match def.geometry {
        GeometryType::Point | GeometryType::MultiPoint => Theme::Places,
        GeometryType::LineString | GeometryType::MultiLineString => Theme::Water,
        _ => Theme::Boundaries,
    })
}

/// Whether a layer draws the background of maps about another layer.
fn is_basemap(def: &LayerDef) -> bool {
    matches!(theme_of(def), Theme::Boundaries | Theme::Water | Theme::Roads)
}

fn custom_layers(def: &LayerDef, custom: &[Value]) -> Vec<Value> {
    custom
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let mut l = l.as_object()?.clone();
            l.entry("id").or_insert_with(|| json!(format!("{}-{i}", def.id)));
            Some(Value::Object(l))
        })
        .collect()
}

/// Ties a style layer to the layer's tiles and names the layer in its metadata.
fn finish(def: &LayerDef, source: &str, mut layer: Value) -> Value {
    layer["source"] = json!(source);
    layer["source-layer"] = json!(def.id);
    layer["metadata"] = json!({"bando:layer": def.id});
    if def.minzoom > 0 && layer.get("minzoom").is_none() {
        layer["minzoom"] = json!(def.minzoom);
    }
    layer
}

/// Categories by a property's value: (value, colour, Vietnamese label, English label).
type Classes = &'static [(&'static str, &'static str, &'static str, &'static str)];

const ROAD_CLASSES: Classes = &[
    ("trunk", "#d9480f", "Quốc lộ", "National highway"),
    ("primary", "#f08c00", "Đường tỉnh", "Provincial road"),
    ("secondary", "#fab005", "Đường huyện", "District road"),
    ("tertiary", "#ffe066", "Đường xã", "Commune road"),
    ("residential", "#ffffff", "Đường ngõ", "Local road"),
];
/// Land-use codes of the Vietnamese land law, in colours close to the official land-use maps.
const LAND_USE: Classes = &[
    ("LUA", "#ffff64", "LUA đất trồng lúa", "LUA rice"),
    ("BHK", "#fff0b4", "BHK cây hàng năm", "BHK annual crops"),
    ("CLN", "#ffd2a0", "CLN cây lâu năm", "CLN perennial crops"),
    ("RSX", "#b4ffb4", "RSX rừng sản xuất", "RSX production forest"),
    ("NTS", "#aaffff", "NTS nuôi trồng thủy sản", "NTS aquaculture"),
    ("ONT", "#ffd0ff", "ONT đất ở nông thôn", "ONT rural housing"),
    ("ODT", "#ffa0ff", "ODT đất ở đô thị", "ODT urban housing"),
    ("TMD", "#faaaa0", "TMD thương mại, dịch vụ", "TMD commerce"),
];
const ZONE_KINDS: Classes = &[
    ("forest", "#2b8a3e", "Rừng", "Forest"),
    ("water", "#339af0", "Mặt nước", "Water"),
    ("mineral", "#a0522d", "Khoáng sản", "Minerals"),
];
const WAREHOUSE_KINDS: Classes = &[
    ("Kho lạnh", "#1971c2", "Kho lạnh", "Cold store"),
    ("Kho ngoại quan", "#9c36b5", "Kho ngoại quan", "Bonded"),
    ("Kho xăng dầu", "#e03131", "Kho xăng dầu", "Fuel depot"),
    ("Kho lương thực", "#f08c00", "Kho lương thực", "Grain"),
    ("Kho tổng hợp", "#495057", "Kho tổng hợp", "General"),
];
/// The `status` of the monitoring stations layer (`sta.stations`).
const STATION_STATUS: Classes = &[
    ("ok", "#2f9e44", "Đạt quy chuẩn", "Within limits"),
    ("alert", "#e03131", "Vượt ngưỡng", "Over a limit"),
    ("no_data", "#868e96", "Mất tín hiệu", "No data"),
    ("no_readings", "#ced4da", "Chưa có số liệu", "No readings yet"),
];
const HERITAGE_RANKS: Classes = &[
    ("special_national", "#a61e4d", "Di tích quốc gia đặc biệt", "Special national"),
    ("national", "#e8590c", "Di tích quốc gia", "National"),
    ("provincial", "#f59f00", "Di tích cấp tỉnh", "Provincial"),
    ("tourist_spot", "#1c7ed6", "Điểm du lịch", "Tourist spot"),
];

/// The side of a sprite icon in CSS pixels (the drawings in `server/icons` are this square).
const ICON_PX: u32 = 16;
/// Pictograms by a property's values: (values, icon, Vietnamese label, English label).
type Icons = &'static [(&'static [&'static str], &'static str, &'static str, &'static str)];
/// An icon with its labels: (icon, Vietnamese label, English label).
type Icon = (&'static str, &'static str, &'static str);

/// Heritage sites by `kind`.
const HERITAGE_ICONS: Icons = &[
    (&["đình"], "heritage-dinh", "Đình", "Communal house"),
    (&["chùa"], "heritage-chua", "Chùa", "Pagoda"),
    (&["đền", "đền thờ"], "heritage-den", "Đền", "Temple"),
    (&["miếu"], "heritage-mieu", "Miếu", "Shrine"),
    (&["nhà thờ"], "heritage-nha-tho", "Nhà thờ", "Church"),
    (&["nhà cổ"], "heritage-nha-co", "Nhà cổ", "Old house"),
    (&["chợ nổi"], "heritage-cho-noi", "Chợ nổi", "Floating market"),
];
/// Any other heritage site.
const HERITAGE_OTHER: Icon = ("heritage-di-tich", "Di tích lịch sử, khác", "Historic or other site");
/// Monitoring stations by `status`; a station within its limits, or without readings yet, is a drop.
const STATION_ICONS: Icons = &[
    (&["alert"], "station-alert", "Vượt ngưỡng", "Over a limit"),
    (&["no_data"], "station-no-data", "Mất tín hiệu", "No data"),
];
const STATION_ICON: &str = "station";
const WAREHOUSE_ICON: &str = "warehouse";
/// Ports, then airports.
const TRANSPORT_ICONS: [Icon; 2] = [("port", "Cảng", "Port"), ("airport", "Sân bay", "Airport")];

/// `["match", ["get", property], value, colour, …, fallback]`.
fn by(property: &str, classes: Classes, fallback: &str) -> Value {
    by_value(json!(["get", property]), classes, fallback)
}

/// The same, where the map's feature state may hold a newer value than the tile (the viewer
/// sets the stations' `status` as the alert stream changes it).
fn by_live(property: &str, classes: Classes, fallback: &str) -> Value {
    by_value(json!(["coalesce", ["feature-state", property], ["get", property]]), classes, fallback)
}

fn by_value(input: Value, classes: Classes, fallback: &str) -> Value {
    let mut m = vec![json!("match"), input];
    for (value, colour, ..) in classes {
        m.extend([json!(value), json!(colour)]);
    }
    m.push(json!(fallback));
    Value::Array(m)
}

/// A width that grows exponentially from `low` at z6 to `high` at z16, per road class.
fn road_width(scale: f64) -> Value {
    let at = |widths: [f64; 5]| {
        let mut m = vec![json!("match"), json!(["get", "class"])];
        for ((class, ..), w) in ROAD_CLASSES.iter().zip(widths) {
            m.extend([json!(class), json!(w * scale)]);
        }
        m.push(json!(0.5 * scale));
        Value::Array(m)
    };
    json!([
        "interpolate",
        ["exponential", 1.5],
        ["zoom"],
        6,
        at([1.4, 1.0, 0.6, 0.3, 0.2]),
        16,
        at([12.0, 10.0, 8.0, 6.0, 4.0])
    ])
}

/// Only highways and provincial and district roads below `zoom`: minor roads at province scale
/// are a scatter of fragments, not a network.
fn major_roads_until(zoom: u8) -> Value {
    let major: Vec<&str> = ROAD_CLASSES.iter().take(3).map(|(class, ..)| *class).collect();
    json!(["any", ["in", ["get", "class"], ["literal", major]], [">=", ["zoom"], zoom]])
}

/// Whether features carry a `name` every caller may see, to label them with.
fn has_name(def: &LayerDef) -> bool {
    def.properties.iter().any(|p| p.name == "name" && !p.private)
}

fn label(def: &LayerDef, font: &str, size: f64, minzoom: u8) -> Option<Value> {
    has_name(def).then(|| {
        json!({
            "id": format!("{}-label", def.id), "type": "symbol", "minzoom": minzoom.max(def.minzoom),
            "layout": {"text-field": ["get", "name"], "text-font": [font], "text-size": size,
                       "text-offset": [0, 0.9], "text-anchor": "top", "text-max-width": 9},
            "paint": {"text-color": "#343a40", "text-halo-color": "#ffffff", "text-halo-width": 1.5}
        })
    })
}

/// White pictograms over a layer's circles from `minzoom`, three quarters as wide as a circle
/// whose radius grows from `radius.0` at z6 to `radius.1` at z16. They never hide a label.
fn pictograms(def: &LayerDef, image: Value, minzoom: u8, radius: (f64, f64)) -> Value {
    let size = |r: f64| r * 1.5 / f64::from(ICON_PX);
    json!({
        "id": format!("{}-icon", def.id), "type": "symbol", "minzoom": minzoom.max(def.minzoom),
        "layout": {"icon-image": image, "icon-allow-overlap": true, "icon-ignore-placement": true,
                   "icon-size": ["interpolate", ["linear"], ["zoom"], 6, size(radius.0), 16, size(radius.1)]}
    })
}

/// `["match", ["get", property], values, icon, …, fallback]`.
fn icon_by(property: &str, icons: Icons, fallback: &str) -> Value {
    let mut m = vec![json!("match"), json!(["get", property])];
    for (values, icon, ..) in icons {
        m.extend([json!(values), json!(icon)]);
    }
    m.push(json!(fallback));
    Value::Array(m)
}

/// Airports (a `kind` such as `small_airport`) by a plane, other transport points by an anchor.
fn transport_icon() -> Value {
    json!(["case", ["in", "airport", ["coalesce", ["get", "kind"], ""]], TRANSPORT_ICONS[1].0, TRANSPORT_ICONS[0].0])
}

fn circle(def: &LayerDef, colour: Value, radius: Value) -> Value {
    json!({
        "id": format!("{}-circle", def.id), "type": "circle",
        "paint": {"circle-color": colour, "circle-radius": radius, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5}
    })
}

/// The cartography of each theme: boundaries as pale fills with dashed borders and names; zones
/// by `kind`; parcels by `land_use` code; rivers and canals as blue lines; roads by `class`,
/// wider as one zooms in; places, transport points, warehouses (by `kind`), heritage sites
/// (by `rank`) and monitoring stations (by `status`) as labelled circles.
fn themed_layers(def: &LayerDef, fonts: &Fonts) -> Vec<Value> {
    let id = &def.id;
    let zoomed = |low: f64, high: f64| json!(["interpolate", ["linear"], ["zoom"], 6, low, 16, high]);
    let layers: Vec<Option<Value>> = match theme_of(def) {
        Theme::Boundaries => vec![
            Some(json!({"id": format!("{id}-fill"), "type": "fill", "paint": {"fill-color": "#fbf8f1"}})),
            Some(json!({"id": format!("{id}-line"), "type": "line",
                        "paint": {"line-color": "#a89f91", "line-width": 1, "line-dasharray": [3, 2]}})),
            label(def, fonts.regular, 11.0, 10),
        ],
        Theme::Zones => vec![
            Some(json!({"id": format!("{id}-fill"), "type": "fill",
                        "paint": {"fill-color": by("kind", ZONE_KINDS, "#868e96"), "fill-opacity": 0.45}})),
            Some(json!({"id": format!("{id}-line"), "type": "line",
                        "paint": {"line-color": by("kind", ZONE_KINDS, "#868e96"), "line-width": 1}})),
        ],
        Theme::Parcels => vec![
            Some(json!({"id": format!("{id}-fill"), "type": "fill",
                        "paint": {"fill-color": by("land_use", LAND_USE, "#e9ecef"), "fill-opacity": 0.8}})),
            Some(json!({"id": format!("{id}-line"), "type": "line", "paint": {"line-color": "#868e96", "line-width": 0.5}})),
        ],
        Theme::Water => vec![
            Some(json!({"id": format!("{id}-line"), "type": "line", "layout": {"line-cap": "round", "line-join": "round"},
                        "paint": {"line-color": "#4a90d9", "line-width": zoomed(1.0, 5.0)}})),
        ],
        Theme::Roads => vec![
            Some(json!({"id": format!("{id}-casing"), "type": "line", "minzoom": 10, "filter": major_roads_until(11),
                        "layout": {"line-cap": "round", "line-join": "round"},
                        "paint": {"line-color": "#adb5bd", "line-width": road_width(1.0), "line-gap-width": 0}})),
            Some(json!({"id": format!("{id}-line"), "type": "line", "filter": major_roads_until(11),
                        "layout": {"line-cap": "round", "line-join": "round"},
                        "paint": {"line-color": by("class", ROAD_CLASSES, "#ffffff"), "line-width": road_width(0.75)}})),
            has_name(def).then(|| json!({
                "id": format!("{id}-label"), "type": "symbol", "minzoom": 13,
                "layout": {"symbol-placement": "line", "text-field": ["get", "name"], "text-font": [fonts.regular], "text-size": 11},
                "paint": {"text-color": "#495057", "text-halo-color": "#ffffff", "text-halo-width": 1.5}
            })),
        ],
        Theme::Places => vec![
            Some(circle(def, json!("#495057"), zoomed(2.0, 5.0))),
            label(def, fonts.bold, 12.0, 9),
        ],
        Theme::Transport => vec![
            Some(circle(def, json!("#364fc7"), zoomed(4.0, 8.0))),
            Some(pictograms(def, transport_icon(), 9, (4.0, 8.0))),
            label(def, fonts.regular, 11.0, 8),
        ],
        Theme::Logistics => vec![
            Some(circle(def, by("kind", WAREHOUSE_KINDS, "#495057"), zoomed(3.0, 7.0))),
            Some(pictograms(def, json!(WAREHOUSE_ICON), 12, (3.0, 7.0))),
            label(def, fonts.regular, 10.0, 13),
        ],
        Theme::Heritage => vec![
            Some(circle(
                def,
                by("rank", HERITAGE_RANKS, "#f59f00"),
                json!(["interpolate", ["linear"], ["zoom"], 6,
                       ["match", ["get", "rank"], "special_national", 6, "national", 4.5, 3.5], 16,
                       ["match", ["get", "rank"], "special_national", 12, "national", 10, 8]]),
            )),
            Some(pictograms(def, icon_by("kind", HERITAGE_ICONS, HERITAGE_OTHER.0), 11, (3.5, 8.0))),
            label(def, fonts.bold, 12.0, 11),
        ],
        Theme::Monitoring => vec![
            Some(circle(def, by_live("status", STATION_STATUS, "#ced4da"), zoomed(5.0, 9.0))),
            Some(pictograms(def, icon_by("status", STATION_ICONS, STATION_ICON), 8, (5.0, 9.0))),
            label(def, fonts.bold, 11.0, 9),
        ],
    };
    layers.into_iter().flatten().collect()
}

/// Legend entries: colour and label (Vietnamese and English) for each class the theme
/// distinguishes. A class is labelled as the configured code list of its property labels it,
/// so that the legend and the popups say the same.
fn legend_of(def: &LayerDef) -> Vec<Value> {
    let (property, classes): (&str, Classes) = match theme_of(def) {
        Theme::Zones => ("kind", ZONE_KINDS),
        Theme::Parcels => ("land_use", LAND_USE),
        Theme::Roads => ("class", ROAD_CLASSES),
        Theme::Logistics => ("kind", WAREHOUSE_KINDS),
        Theme::Heritage => ("rank", HERITAGE_RANKS),
        Theme::Monitoring => ("status", STATION_STATUS),
        Theme::Boundaries => ("", &[("", "#a89f91", "Ranh giới", "Boundary")]),
        Theme::Water => ("", &[("", "#4a90d9", "Sông, kênh", "River, canal")]),
        Theme::Places => ("", &[("", "#495057", "Điểm dân cư", "Place")]),
        // Told apart by their pictograms, below.
        Theme::Transport => ("", &[]),
    };
    let labels = def.property(property).and_then(|p| p.labels.as_ref());
    let mut entries: Vec<Value> = classes
        .iter()
        .map(|&(value, colour, vi, en)| {
            let label = labels.and_then(|l| l.get(value)).map_or_else(|| json!({"vi": vi, "en": en}), |l| json!(l));
            let mut entry = json!({"color": colour, "label": label});
            if let Some(icon) = class_icon(theme_of(def), value) {
                entry["icon"] = json!(icon);
            }
            entry
        })
        .collect();
    // Where the pictogram says something the colour does not: what kind of site, which mode.
    let pictogram =
        |colour: &str, (icon, vi, en): Icon| json!({"color": colour, "icon": icon, "label": {"vi": vi, "en": en}});
    match theme_of(def) {
        Theme::Heritage => {
            let kinds = HERITAGE_ICONS.iter().map(|&(_, icon, vi, en)| (icon, vi, en)).chain([HERITAGE_OTHER]);
            entries.extend(kinds.map(|i| pictogram("#868e96", i)));
        }
        Theme::Transport => entries.extend(TRANSPORT_ICONS.map(|i| pictogram("#364fc7", i))),
        _ => {}
    }
    entries
}

/// The pictogram drawn on a class's circles, where every member of the class has the same.
fn class_icon(theme: Theme, value: &str) -> Option<&'static str> {
    match theme {
        Theme::Logistics => Some(WAREHOUSE_ICON),
        Theme::Monitoring => {
            Some(STATION_ICONS.iter().find(|(values, ..)| values.contains(&value)).map_or(STATION_ICON, |i| i.1))
        }
        _ => None,
    }
}

/// What popups need to name a layer's properties for people: the title, unit and code labels
/// of each property the caller may see that has any.
fn described_properties(view: &LayerView) -> serde_json::Map<String, Value> {
    view.visible()
        .filter(|(_, p)| p.title.is_some() || p.unit.is_some() || p.labels.is_some())
        .map(|(_, p)| {
            let mut d = serde_json::Map::new();
            if let Some(title) = &p.title {
                d.insert("title".into(), json!(title));
            }
            if let Some(unit) = &p.unit {
                d.insert("unit".into(), json!(unit));
            }
            if let Some(labels) = &p.labels {
                d.insert("labels".into(), json!(&**labels));
            }
            (p.name.clone(), Value::Object(d))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The icons the sprite holds, from its 1× index.
    fn sprite_icons() -> Vec<String> {
        let (_, index) = crate::assets::SPRITE_FILES[0];
        let index: serde_json::Map<String, Value> = serde_json::from_slice(index).expect("the sprite's index");
        index.keys().cloned().collect()
    }

    #[test]
    fn every_icon_the_styles_name_is_in_the_sprite_at_both_ratios() {
        let sprite = sprite_icons();
        let named = HERITAGE_ICONS
            .iter()
            .chain(STATION_ICONS)
            .map(|i| i.1)
            .chain([HERITAGE_OTHER.0, STATION_ICON, WAREHOUSE_ICON])
            .chain(TRANSPORT_ICONS.map(|i| i.0));
        for icon in named {
            assert!(sprite.iter().any(|s| s == icon), "{icon} is not in the sprite {sprite:?}");
        }
        let (_, twice) = crate::assets::SPRITE_FILES[2];
        let twice: serde_json::Map<String, Value> = serde_json::from_slice(twice).expect("the 2× index");
        assert_eq!(twice.keys().cloned().collect::<Vec<_>>(), sprite);
        assert!(twice.values().all(|b| b["pixelRatio"] == 2 && b["width"] == 2 * ICON_PX));
    }
}
