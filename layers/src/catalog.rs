//! The layer catalog: what a layer is, where its data lives, who may see it.

use std::{fmt, path::PathBuf, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    labels::{Bilingual, CodeList, Lang},
};

/// A layer's identifier: lowercase ASCII letters, digits and `_`, starting with a letter, at most
/// 63 bytes. It names the layer in URLs and, for imported layers, its PostgreSQL table, so the
/// rule keeps both safe without quoting games.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct LayerId(String);

impl LayerId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for LayerId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let ok = s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a layer id: use lowercase letters, digits and _, starting with a letter, at most 63 characters"
            ))
        }
    }
}

impl TryFrom<String> for LayerId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<LayerId> for String {
    fn from(id: LayerId) -> Self {
        id.0
    }
}

impl<'de> Deserialize<'de> for LayerId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for LayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may read a layer. Ordered: a caller cleared for a level may read every level below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    /// Anyone, without a key.
    Public,
    /// Agencies with a key.
    Internal,
    /// Named roles only.
    Restricted,
}

/// The geometry type a layer declares; the importer coerces sources to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum GeometryType {
    /// Single points.
    Point,
    /// Lines.
    LineString,
    /// Polygons.
    Polygon,
    /// Point collections.
    MultiPoint,
    /// Line collections.
    MultiLineString,
    /// Polygon collections.
    MultiPolygon,
    /// Any geometry type.
    Geometry,
}

impl GeometryType {
    /// True for the `Multi*` types.
    pub fn is_multi(self) -> bool {
        matches!(self, Self::MultiPoint | Self::MultiLineString | Self::MultiPolygon)
    }
}

/// The type of a layer property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    /// UTF-8 text.
    Text,
    /// 64-bit integer.
    Integer,
    /// Double precision number.
    Real,
    /// True or false.
    Boolean,
    /// Calendar date.
    Date,
    /// Instant with time zone.
    Datetime,
}

/// One property (attribute) of a layer.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyDef {
    /// Column name in the source and name in every output.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: PropertyType,
    /// Whether feature queries may filter on it.
    #[serde(default)]
    pub queryable: bool,
    /// Personal data: removed from every answer to a caller without clearance.
    #[serde(default)]
    pub private: bool,
    /// What people call it (popups, tables, schemas).
    #[serde(default)]
    pub title: Option<Bilingual>,
    /// The unit of its numbers, as people write it (`m²`, `ha`, `t`).
    #[serde(default)]
    pub unit: Option<String>,
    /// The code list (`[codes.NAME]` in the configuration) that labels its values.
    #[serde(default)]
    pub codes: Option<String>,
    /// That list's labels, filled in when the configuration is loaded.
    #[serde(skip)]
    pub labels: Option<CodeList>,
    /// Whether the table refuses a missing value (`NOT NULL`); found in the database at load.
    #[serde(skip)]
    pub required: bool,
    /// The only values the table accepts (a `CHECK (p IN (...))`); found in the database at load.
    #[serde(skip)]
    pub choices: Option<Vec<String>>,
}

impl PropertyDef {
    /// Its title in `lang`, or its name when it has none.
    pub fn title_in(&self, lang: Lang) -> &str {
        self.title.as_ref().map_or(&self.name, |t| t.get(lang))
    }

    /// The label of code `value` in `lang`, when its code list has one.
    pub fn label(&self, value: &str, lang: Lang) -> Option<&str> {
        self.labels.as_ref()?.get(value).map(|l| l.get(lang))
    }
}

/// A PostGIS table, as `schema.table`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
}

impl TableRef {
    /// The table name quoted for SQL: `"schema"."table"`.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

impl FromStr for TableRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('.') {
            Some((schema, table)) if !schema.is_empty() && !table.is_empty() && !table.contains('.') => {
                Ok(Self { schema: schema.to_owned(), table: table.to_owned() })
            }
            _ => Err(format!("{s:?} is not a table reference: write schema.table")),
        }
    }
}

impl<'de> Deserialize<'de> for TableRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// Quotes an SQL identifier. Identifiers only ever come from the catalog, never from a request;
/// quoting keeps unusual but legal table and column names working.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn default_geometry_column() -> String {
    "geom".into()
}

fn default_id_column() -> String {
    "id".into()
}

/// Where a layer's features come from: a PostGIS table (used when a database is configured),
/// a file (used when none is, and by `bando import --all`), or both.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSource {
    /// The PostGIS table.
    #[serde(default)]
    pub table: Option<TableRef>,
    /// A file GDAL can read; relative paths are relative to the configuration file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The layer of a multi-layer file (a GeoPackage's table, for instance).
    #[serde(default)]
    pub layer: Option<String>,
    /// Geometry column of the table.
    #[serde(default = "default_geometry_column")]
    pub geometry_column: String,
    /// Primary key column of the table (an integer).
    #[serde(default = "default_id_column")]
    pub id_column: String,
}

/// The deepest zoom a layer may declare: the tile grid's own limit (the server checks at compile
/// time that the tiler agrees).
pub const MAX_ZOOM: u8 = 22;

fn default_maxzoom() -> u8 {
    MAX_ZOOM
}

/// Everything Bando knows about one layer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerDef {
    /// Identifier; the key of the layer's table in the configuration.
    #[serde(skip_deserializing, default = "placeholder_id")]
    pub id: LayerId,
    /// Human-readable title.
    pub title: String,
    /// Longer description.
    #[serde(default)]
    pub description: String,
    /// The title in English; with it, `title` is read as Vietnamese (the open-data catalog
    /// gives both).
    #[serde(default)]
    pub title_en: Option<String>,
    /// The description in English; with it, `description` is read as Vietnamese.
    #[serde(default)]
    pub description_en: Option<String>,
    /// Search keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Declared geometry type.
    pub geometry: GeometryType,
    /// Where the data lives.
    pub source: LayerSource,
    /// Published properties, in output order.
    #[serde(default)]
    pub properties: Vec<PropertyDef>,
    /// The date or datetime property that places a feature in time.
    #[serde(default)]
    pub temporal: Option<String>,
    /// Lowest zoom at which tiles are served.
    #[serde(default)]
    pub minzoom: u8,
    /// Highest zoom at which tiles are served.
    #[serde(default = "default_maxzoom")]
    pub maxzoom: u8,
    /// Attribution shown on maps.
    #[serde(default)]
    pub attribution: String,
    /// Licence of the data.
    #[serde(default)]
    pub license: Option<String>,
    /// Who may read it.
    pub access: AccessLevel,
    /// What kind of thing the layer holds, which its default map style draws.
    #[serde(default)]
    pub theme: Option<Theme>,
    /// MapLibre style layers that replace the theme's; their `source` and `source-layer` are
    /// filled in, and so is `id` when missing. Kept as given: the server's style module, which
    /// knows MapLibre, checks them.
    #[serde(default)]
    pub style: Option<Vec<serde_json::Value>>,
    /// The roles that may create, replace, update and delete its features through the API
    /// (with a database; none: the layer is read-only).
    #[serde(default)]
    pub editable_by: Vec<String>,
}

/// What kind of thing a layer holds. The map styles draw each kind in its own way (the server's
/// style module holds the cartography); the catalog only records the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Administrative areas.
    Boundaries,
    /// Forests, water bodies and mineral zones.
    Zones,
    /// Cadastral parcels.
    Parcels,
    /// Rivers and canals.
    Water,
    /// Roads.
    Roads,
    /// Towns and villages.
    Places,
    /// Ports, airports and other transport points.
    Transport,
    /// Warehouses and depots.
    Logistics,
    /// Heritage sites and tourist spots.
    Heritage,
    /// Environmental monitoring stations, by status.
    Monitoring,
}

fn placeholder_id() -> LayerId {
    LayerId("unnamed".into())
}

impl LayerDef {
    /// Checks the rules that span fields; the error names the layer and the field.
    pub fn validate(&self) -> Result<()> {
        let fail = |field: &str, message: String| {
            Err(Error::InvalidLayer { layer: self.id.to_string(), field: field.into(), message })
        };
        if self.title.trim().is_empty() {
            return fail("title", "must not be empty".into());
        }
        if self.source.table.is_none() && self.source.file.is_none() {
            return fail("source", "needs a `table` (schema.table) or a `file`, or both".into());
        }
        if self.maxzoom > MAX_ZOOM {
            return fail("maxzoom", format!("{} is above {MAX_ZOOM}", self.maxzoom));
        }
        if self.minzoom > self.maxzoom {
            return fail("minzoom", format!("{} is above maxzoom {}", self.minzoom, self.maxzoom));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.properties {
            if p.name.is_empty() || p.name.contains(['"', '\0']) {
                return fail("properties", format!("{:?} is not a usable property name", p.name));
            }
            if !seen.insert(p.name.as_str()) {
                return fail("properties", format!("property `{}` is listed twice", p.name));
            }
        }
        if let Some(t) = &self.temporal {
            match self.property(t) {
                // `datetime` and the collection's temporal extent would reveal a private
                // property's values to every caller.
                Some(p) if p.private => {
                    return fail("temporal", format!("property `{t}` is private; a temporal property must not be"));
                }
                Some(p) if matches!(p.kind, PropertyType::Date | PropertyType::Datetime) => {}
                Some(p) => return fail("temporal", format!("property `{t}` is {:?}, not a date or datetime", p.kind)),
                None => return fail("temporal", format!("`{t}` is not one of the layer's properties")),
            }
        }
        Ok(())
    }

    /// The property of that name.
    pub fn property(&self, name: &str) -> Option<&PropertyDef> {
        self.properties.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Definitions are written as JSON here to keep the unit tests free of the config format.
    fn layer(json: &str) -> LayerDef {
        let mut def: LayerDef = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        def.id = "roads".parse().unwrap_or_else(|e| panic!("{e}"));
        def
    }

    const ROADS: &str = r#"{"title": "Roads", "geometry": "MultiLineString", "access": "public",
        "source": {"table": "transport.roads"},
        "properties": [{"name": "name", "type": "text"}, {"name": "opened_on", "type": "date"}]}"#;

    #[test]
    fn layer_ids_are_checked() {
        assert!("roads_2025".parse::<LayerId>().is_ok());
        for bad in ["", "Roads", "2roads", "roads;drop", "đường", &"a".repeat(64)] {
            assert!(bad.parse::<LayerId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_valid_layer_passes() {
        layer(ROADS).validate().unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn inverted_zooms_name_the_layer_and_field() {
        let mut def = layer(ROADS);
        def.minzoom = 12;
        def.maxzoom = 8;
        let msg = def.validate().map(|()| String::new()).unwrap_or_else(|e| e.to_string());
        assert_eq!(msg, "layer `roads`: field `minzoom`: 12 is above maxzoom 8");
    }

    #[test]
    fn temporal_must_be_a_date_property() {
        let mut def = layer(ROADS);
        def.temporal = Some("name".into());
        assert!(def.validate().is_err());
        def.temporal = Some("opened_on".into());
        assert!(def.validate().is_ok());
        def.temporal = Some("missing".into());
        assert!(def.validate().is_err());
    }

    #[test]
    fn a_private_property_cannot_be_the_temporal_one() {
        let mut def = layer(ROADS);
        def.temporal = Some("opened_on".into());
        def.properties.iter_mut().filter(|p| p.name == "opened_on").for_each(|p| p.private = true);
        let msg = def.validate().map(|()| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(msg.contains("`opened_on` is private"), "{msg}");
    }

    #[test]
    fn table_refs_need_a_schema() {
        assert_eq!("env.rivers".parse::<TableRef>().map(|t| t.quoted()), Ok("\"env\".\"rivers\"".into()));
        assert!("rivers".parse::<TableRef>().is_err());
        assert!("a.b.c".parse::<TableRef>().is_err());
    }

    #[test]
    fn access_levels_are_ordered() {
        assert!(AccessLevel::Public < AccessLevel::Internal && AccessLevel::Internal < AccessLevel::Restricted);
    }
}
