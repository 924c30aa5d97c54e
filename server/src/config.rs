//! `bando.toml`: the server, database and layer sections, with environment overrides.
//!
//! Precedence, lowest first: the file (or the embedded sample configuration), `BANDO_*`
//! variables (`BANDO_SERVER__ADDR=0.0.0.0:8080`), then `DATABASE_URL`.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use axum::http::HeaderValue;
use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use layers::{AccessLevel, LayerDef, LayerId};
use serde::Deserialize;

/// The sample province's configuration, compiled in so that `bando serve` works from a fresh
/// clone with no arguments. Its file paths are relative to [`SAMPLE_DIR`].
pub const SAMPLE_CONFIG: &str = include_str!("../../data-samples/bando.toml");
/// Where the sample data lives in the source tree.
pub const SAMPLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data-samples");

/// Errors in the configuration; each names where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file, bad TOML or a value of the wrong type (figment names the key and file).
    #[error("{0}")]
    Parse(#[from] Box<figment::Error>),
    /// A key names a role that is not configured.
    #[error("{file}: keys: {message}")]
    Keys {
        /// The configuration file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A `[server]` value is not usable.
    #[error("{file}: server: {message}")]
    Server {
        /// The configuration file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A `[monitoring]` value is not usable.
    #[error("{file}: monitoring: {message}")]
    Monitoring {
        /// The configuration file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A `[tilesets]` entry is not usable.
    #[error("{file}: tileset `{id}` {message}")]
    Tileset {
        /// The configuration file.
        file: String,
        /// The tileset's id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// A `[tiles]` value is not usable.
    #[error("{file}: tiles: {message}")]
    Tiles {
        /// The configuration file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A `[web]` value is not usable.
    #[error("{file}: web: {message}")]
    Web {
        /// The configuration file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A layer breaks a rule.
    #[error("{file}: {source}")]
    Layer {
        /// The configuration file.
        file: String,
        /// What is wrong.
        #[source]
        source: Box<layers::Error>,
    },
}

/// The whole configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP server settings.
    #[serde(default)]
    pub server: ServerConfig,
    /// Database settings.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Tile serving.
    #[serde(default)]
    pub tiles: TilesConfig,
    /// Feature queries.
    #[serde(default)]
    pub features: FeaturesConfig,
    /// Layers by id.
    #[serde(default)]
    pub layers: BTreeMap<String, LayerDef>,
    /// Code lists by name: the label of each code, which a property names with `codes`.
    #[serde(default)]
    pub codes: BTreeMap<String, BTreeMap<String, layers::labels::Bilingual>>,
    /// Roles by name: what each may read. Without the section: agency, editor and admin.
    #[serde(default = "crate::auth::default_roles")]
    pub roles: BTreeMap<String, crate::auth::Role>,
    /// API keys (hashed) for the no-database default; with a database, `bando keys` stores
    /// them in PostGIS and both sets are in force.
    #[serde(default)]
    pub keys: Vec<crate::auth::KeyRecord>,
    /// Limits on requests.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The map pages: MapLibre, fonts, framing.
    #[serde(default)]
    pub web: WebConfig,
    /// Environmental monitoring: the SensorThings API and its alerts.
    #[serde(default)]
    pub monitoring: MonitoringConfig,
    /// The operator's page.
    #[serde(default)]
    pub admin: AdminConfig,
    /// The open-data catalog, `/catalog`.
    #[serde(default)]
    pub catalog: crate::settings::CatalogConfig,
    /// Tile packages served as they are, by id.
    #[serde(default)]
    pub tilesets: BTreeMap<String, crate::tilesets::TilesetConfig>,
    /// Where the configuration came from, for messages.
    #[serde(skip)]
    pub origin: String,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listening address.
    #[serde(default = "default_addr")]
    pub addr: SocketAddr,
    /// The URL clients reach the service at (`https://gis.example.vn`), which links carry;
    /// without it they carry the request's `Host`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Proxies in front of the service whose `X-Forwarded-Proto` and `X-Forwarded-Host` are
    /// believed; from anyone else those headers are ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `Cache-Control` of answers that show a layer which is not public: `private` keeps them
    /// out of shared caches, `no-store` out of every cache.
    #[serde(default = "default_private_cache_control")]
    pub private_cache_control: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: default_addr(),
            public_url: None,
            trusted_proxies: Vec::new(),
            private_cache_control: default_private_cache_control(),
        }
    }
}

fn default_private_cache_control() -> String {
    "private, no-cache".into()
}

impl ServerConfig {
    /// The scheme and host of `public_url`: `http` or `https` and a plain host, nothing after.
    fn public_origin(&self) -> Result<Option<(HeaderValue, HeaderValue)>, String> {
        let Some(url) = &self.public_url else { return Ok(None) };
        let bad = || format!("public_url {url:?} must be http:// or https:// and a host, with nothing after it");
        let (scheme, host) = url.trim_end_matches('/').split_once("://").ok_or_else(bad)?;
        let plain = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if !matches!(scheme, "http" | "https") || !plain {
            return Err(bad());
        }
        Ok(Some((HeaderValue::from_str(scheme).map_err(|_| bad())?, HeaderValue::from_str(host).map_err(|_| bad())?)))
    }
}

fn default_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// `[tiles]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TilesConfig {
    /// Megabytes of compressed tiles kept in memory; 0 turns the cache off.
    #[serde(default = "default_cache_mb")]
    pub cache_mb: u64,
    /// `Cache-Control` header of tile responses.
    #[serde(default = "default_cache_control")]
    pub cache_control: String,
    /// The VN-2000 TM-3 zone of the VN-2000 tile grid served beside WebMercatorQuad, such as
    /// `EPSG:9210`; none without it.
    #[serde(default)]
    pub vn2000_grid: Option<String>,
}

impl Default for TilesConfig {
    fn default() -> Self {
        Self { cache_mb: default_cache_mb(), cache_control: default_cache_control(), vn2000_grid: None }
    }
}

impl TilesConfig {
    /// The VN-2000 tile grid it sets.
    pub fn vn2000_grid(&self) -> Result<Option<crate::vn2000_grid::Vn2000Grid>, String> {
        let Some(zone) = &self.vn2000_grid else { return Ok(None) };
        layers::crs::parse_srid(zone).and_then(crate::vn2000_grid::Vn2000Grid::new).map(Some)
    }
}

fn default_cache_mb() -> u64 {
    256
}

fn default_cache_control() -> String {
    "public, max-age=300".into()
}

/// `[web]`: what the map pages (`/viewer`, `/embed`, `/styles`) load, all served by Bando.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// The `dist` folder of a `maplibre-gl` npm package to serve instead of the one embedded at
    /// build time.
    #[serde(default)]
    pub maplibre: Option<PathBuf>,
    /// TrueType fonts for map labels, by the name styles use in `text-font`.
    #[serde(default = "default_fonts")]
    pub fonts: BTreeMap<String, PathBuf>,
    /// The font of ordinary labels.
    #[serde(default = "default_label_font")]
    pub label_font: String,
    /// The font of labels that stand out (sites, towns).
    #[serde(default = "default_bold_font")]
    pub bold_font: String,
    /// Sources that may show `/embed` pages in a frame (CSP `frame-ancestors`), for instance
    /// `["'self'", "https://dulich.example.vn"]`.
    #[serde(default = "default_frame_ancestors")]
    pub frame_ancestors: Vec<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            maplibre: None,
            fonts: default_fonts(),
            label_font: default_label_font(),
            bold_font: default_bold_font(),
            frame_ancestors: default_frame_ancestors(),
        }
    }
}

/// Noto Sans covers Vietnamese; Debian ships it in `fonts-noto-core`.
fn default_fonts() -> BTreeMap<String, PathBuf> {
    let dir = Path::new("/usr/share/fonts/truetype/noto");
    BTreeMap::from([
        (default_label_font(), dir.join("NotoSans-Regular.ttf")),
        (default_bold_font(), dir.join("NotoSans-Bold.ttf")),
    ])
}

fn default_label_font() -> String {
    "Noto Sans Regular".into()
}

fn default_bold_font() -> String {
    "Noto Sans Bold".into()
}

fn default_frame_ancestors() -> Vec<String> {
    vec!["'self'".into()]
}

/// `[features]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Features per page when the request gives no `limit`.
    #[serde(default = "default_limit")]
    pub default_limit: usize,
    /// Largest page; a larger `limit` returns this many.
    #[serde(default = "max_limit")]
    pub max_limit: usize,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self { default_limit: default_limit(), max_limit: max_limit() }
    }
}

fn default_limit() -> usize {
    10
}

fn max_limit() -> usize {
    10_000
}

impl Config {
    /// The serving settings of the `[tiles]`, `[features]` and `[limits]` sections.
    pub fn settings(&self) -> crate::settings::Settings {
        crate::settings::Settings {
            tile_cache_bytes: self.tiles.cache_mb << 20,
            tile_cache_control: self.tiles.cache_control.clone(),
            default_limit: self.features.default_limit,
            max_limit: self.features.max_limit,
            requests_per_second: self.limits.requests_per_second,
            burst: self.limits.burst,
            request_timeout: std::time::Duration::from_secs(self.limits.request_timeout_s),
            max_url_bytes: self.limits.max_url_bytes,
            max_body_bytes: self.limits.max_body_bytes,
            max_write_bytes: self.limits.max_write_bytes,
            max_batch_features: self.limits.max_batch_features,
            max_vertices: self.limits.max_vertices,
            max_headers: self.limits.max_headers,
            max_header_bytes: self.limits.max_header_bytes,
            header_timeout: std::time::Duration::from_secs(self.limits.header_timeout_s),
            max_connections: self.limits.max_connections,
            failed_auth_per_minute: self.limits.failed_auth_per_minute,
            compute_threads: self.limits.compute_threads,
            // Checked when the configuration was loaded.
            private_cache_control: HeaderValue::from_str(&self.server.private_cache_control)
                .unwrap_or(HeaderValue::from_static("private, no-cache")),
            // Checked when the configuration was loaded.
            public_origin: self.server.public_origin().ok().flatten(),
            trusted_proxies: self.server.trusted_proxies.clone(),
            monitoring: self.monitoring.settings(),
            admin: crate::settings::Admin {
                max_upload_bytes: self.admin.max_upload_mb << 20,
                upload_dir: self.admin.upload_dir.clone().unwrap_or_else(std::env::temp_dir),
            },
            catalog: self.catalog.clone(),
        }
    }
}

/// `[admin]`: the operator's page at `/admin`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// The largest file an import from the browser may upload, in MiB.
    pub max_upload_mb: u64,
    /// Where uploads are kept while they are imported; the system's temporary folder by default.
    pub upload_dir: Option<PathBuf>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self { max_upload_mb: 256, upload_dir: None }
    }
}

/// `[monitoring]`: the SensorThings API under `/sta/v1.1` and the alerts its thresholds raise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// The access level reading stations, datastreams and observations needs.
    pub access: AccessLevel,
    /// Roles that create any entity (stations, sensors, datastreams…).
    pub operators: Vec<String>,
    /// Roles of reporting devices: they add observations to their own Things' datastreams
    /// (a Thing's `properties.station_key` names the key id) and nothing else.
    pub stations: Vec<String>,
    /// Entities per page when `$top` is not given.
    pub default_top: u64,
    /// The largest `$top`.
    pub max_top: u64,
    /// Observations one request (`CreateObservations`) may add at most.
    pub max_observations: usize,
    /// Seconds between two looks for silent datastreams.
    pub check_s: u64,
    /// Thresholds, and when alerts close and stations count as silent.
    pub alerts: layers::sensing::alerts::Rules,
    /// Where every alert event is POSTed, in order, until each answers 2xx.
    pub webhooks: Vec<crate::settings::Webhook>,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            access: AccessLevel::Public,
            operators: vec!["editor".into(), "admin".into()],
            stations: vec!["station".into()],
            default_top: 100,
            max_top: 10_000,
            max_observations: 10_000,
            check_s: 60,
            alerts: layers::sensing::alerts::Rules::default(),
            webhooks: Vec::new(),
        }
    }
}

impl MonitoringConfig {
    fn settings(&self) -> crate::settings::Monitoring {
        crate::settings::Monitoring {
            access: self.access,
            operators: self.operators.clone(),
            stations: self.stations.clone(),
            paging: layers::sensing::read::Paging { default_top: self.default_top, max_top: self.max_top },
            max_observations: self.max_observations,
            rules: self.alerts.clone(),
            check_every: std::time::Duration::from_secs(self.check_s.max(1)),
            webhooks: self.webhooks.clone(),
        }
    }
}

/// `[limits]`: every limit on a request, each answered by a problem+json.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per second each API key, or each address without a key, may make (429 above).
    pub requests_per_second: u32,
    /// Requests allowed at once above the steady rate.
    pub burst: u32,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout_s: u64,
    /// Longest URL, path and query, in bytes (414 above).
    pub max_url_bytes: usize,
    /// Largest request body in bytes (413 above).
    pub max_body_bytes: usize,
    /// Largest body of a write, `POST`, `PUT` or `PATCH` of features, in bytes (413 above).
    pub max_write_bytes: usize,
    /// Features one batch `POST` may hold (413 above).
    pub max_batch_features: usize,
    /// Positions one written geometry may have (400 above).
    pub max_vertices: usize,
    /// Most headers in one request (431 above).
    pub max_headers: usize,
    /// Largest sum of header names and values in bytes (431 above).
    pub max_header_bytes: usize,
    /// Seconds a connection may take to send a request's head, or stay idle between requests,
    /// before it is closed.
    pub header_timeout_s: u64,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Failed authentications an address may make in a minute; it is then refused (429) for
    /// the rest of the minute. 0 turns the lock-out off.
    pub failed_auth_per_minute: u32,
    /// Threads for requests' CPU work (tiles, filters); 0 is one per core.
    pub compute_threads: usize,
    /// Seconds a database statement of `bando serve` may run (loading a layer is one).
    pub statement_timeout_s: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 1000,
            burst: 2000,
            request_timeout_s: 30,
            max_url_bytes: 8192,
            max_body_bytes: 65_536,
            max_write_bytes: 16 << 20,
            max_batch_features: 1000,
            max_vertices: 100_000,
            max_headers: 100,
            max_header_bytes: 16_384,
            header_timeout_s: 10,
            max_connections: 4096,
            failed_auth_per_minute: 20,
            compute_threads: 0,
            statement_timeout_s: 120,
        }
    }
}

/// `[database]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; with none, layers are served from their files.
    pub url: Option<String>,
    /// Publish every geometry table of these schemas.
    pub auto_publish: Option<AutoPublish>,
    /// Days the change log keeps a change.
    pub change_log_days: f64,
    /// Changes the change log keeps at most.
    pub change_log_rows: i64,
    /// How often a server reads the change log, in milliseconds.
    pub change_poll_ms: u64,
    /// The name this server reports its place in the change log under (the operator's page
    /// lists every replica's lag); by default the host's name and the listening address.
    pub replica_name: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            auto_publish: None,
            change_log_days: 7.0,
            change_log_rows: 1_000_000,
            change_poll_ms: 100,
            replica_name: None,
        }
    }
}

impl DatabaseConfig {
    /// How often a server reads the change log.
    pub fn change_poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.change_poll_ms.max(10))
    }

    /// How long the change log keeps changes.
    pub fn retention(&self) -> layers::store::changes::Retention {
        layers::store::changes::Retention { days: self.change_log_days, rows: self.change_log_rows }
    }

    /// The name this server reports its place in the change log under, when it listens on `addr`.
    pub fn replica_name(&self, addr: std::net::SocketAddr) -> String {
        self.replica_name.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let host = host.trim();
            format!("{}:{}", if host.is_empty() { "localhost" } else { host }, addr.port())
        })
    }
}

/// `[database.auto_publish]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoPublish {
    /// Schemas to scan.
    pub schemas: Vec<String>,
    /// Access level of the discovered layers.
    pub access: AccessLevel,
}

impl Config {
    /// Loads `path`, or the embedded sample configuration when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (base, origin, figment) = match path {
            Some(p) => {
                let base = p.parent().map_or_else(PathBuf::new, Path::to_path_buf);
                (base, p.display().to_string(), Figment::from(Toml::file_exact(p)))
            }
            None => (
                PathBuf::from(SAMPLE_DIR),
                "embedded sample configuration".to_owned(),
                Figment::from(Toml::string(SAMPLE_CONFIG)),
            ),
        };
        let figment = figment
            .merge(Env::prefixed("BANDO_").split("__").ignore(&["config"]))
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database.url".into()));
        let mut config: Self = figment.extract().map_err(Box::new)?;
        config.origin = origin;
        if let Some(dir) = config.web.maplibre.as_mut().filter(|d| d.is_relative()) {
            *dir = base.join(&*dir);
        }
        for path in config.web.fonts.values_mut().filter(|p| p.is_relative()) {
            *path = base.join(&*path);
        }
        config
            .server
            .public_origin()
            .map_err(|message| ConfigError::Server { file: config.origin.clone(), message })?;
        if HeaderValue::from_str(&config.server.private_cache_control).is_err() {
            let message = "private_cache_control is not a valid header value".into();
            return Err(ConfigError::Server { file: config.origin.clone(), message });
        }
        if config.limits.header_timeout_s == 0 || config.limits.max_connections == 0 {
            let message = "header_timeout_s and max_connections must be at least 1".into();
            return Err(ConfigError::Server { file: config.origin.clone(), message });
        }
        // Each source goes into a Content-Security-Policy header as it is: a `;` would end the
        // directive and start another.
        if let Some(bad) =
            config.web.frame_ancestors.iter().find(|s| {
                s.is_empty() || s.contains(|c: char| c == ';' || c == ',' || c.is_whitespace() || c.is_control())
            })
        {
            let message = format!("frame_ancestors: {bad:?} is not one CSP source (no spaces, `;` or `,`)");
            return Err(ConfigError::Web { file: config.origin.clone(), message });
        }
        if config.layers.contains_key(crate::style::PROVINCE) {
            let message = "is the name of the style of all layers".to_owned();
            return Err(config_layer_error(&config.origin, crate::style::PROVINCE, "id", message));
        }
        if let Err(message) = config.tiles.vn2000_grid() {
            return Err(ConfigError::Tiles { file: config.origin.clone(), message: format!("vn2000_grid: {message}") });
        }
        for hook in &mut config.monitoring.webhooks {
            if let Some(file) = hook.ca_file.as_mut().filter(|f| f.is_relative()) {
                *file = base.join(&*file);
            }
            hook.client().map_err(|message| ConfigError::Monitoring {
                file: config.origin.clone(),
                message: format!("webhooks: {message}"),
            })?;
        }
        for (id, tileset) in &mut config.tilesets {
            if tileset.file.is_relative() {
                tileset.file = base.join(&tileset.file);
            }
            let message = if id.parse::<LayerId>().is_err() {
                Some("is not a valid id (a lower-case letter, then letters, digits or _)".to_owned())
            } else if config.layers.contains_key(id) {
                Some("is also a layer's id".to_owned())
            } else {
                tileset
                    .layers
                    .iter()
                    .find(|l| !config.layers.contains_key(*l))
                    .map(|l| format!("packages {l:?}, which is not a layer"))
            };
            if let Some(message) = message {
                return Err(ConfigError::Tileset { file: config.origin.clone(), id: id.clone(), message });
            }
        }
        let code_lists: BTreeMap<&str, layers::labels::CodeList> =
            config.codes.iter().map(|(name, list)| (name.as_str(), std::sync::Arc::new(list.clone()))).collect();
        for (key, def) in &mut config.layers {
            for p in &mut def.properties {
                let Some(name) = &p.codes else { continue };
                let list = code_lists.get(name.as_str()).ok_or_else(|| {
                    let message = format!("property `{}` names codes {name:?}, which is not one of [codes]", p.name);
                    config_layer_error(&config.origin, key, "properties", message)
                })?;
                p.labels = Some(list.clone());
            }
            def.id =
                key.parse::<LayerId>().map_err(|message| config_layer_error(&config.origin, key, "id", message))?;
            if let Some(file) = def.source.file.as_mut().filter(|f| f.is_relative()) {
                *file = base.join(&*file);
            }
            def.validate().map_err(|e| ConfigError::Layer { file: config.origin.clone(), source: Box::new(e) })?;
            if let Some(role) = def.editable_by.iter().find(|r| !config.roles.contains_key(*r)) {
                let message = format!("role {role:?} is not one of [roles]");
                return Err(config_layer_error(&config.origin, key, "editable_by", message));
            }
            crate::style::check_custom(def)
                .map_err(|message| config_layer_error(&config.origin, key, "style", message))?;
        }
        Ok(config)
    }

    /// The keys and roles of the configuration file.
    pub fn keyring(&self) -> Result<crate::auth::Keyring, ConfigError> {
        crate::auth::Keyring::new(self.keys.clone(), self.roles.clone())
            .map_err(|message| ConfigError::Keys { file: self.origin.clone(), message })
    }

    /// The layer definitions, in id order.
    pub fn layer_defs(&self) -> Vec<LayerDef> {
        self.layers.values().cloned().collect()
    }
}

fn config_layer_error(file: &str, layer: &str, field: &str, message: String) -> ConfigError {
    ConfigError::Layer {
        file: file.to_owned(),
        source: Box::new(layers::Error::InvalidLayer { layer: layer.to_owned(), field: field.to_owned(), message }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().map_err(|e| ConfigError::Parse(Box::new(figment::Error::from(e.to_string()))))?;
        let path = dir.path().join("bando.toml");
        std::fs::write(&path, text).map_err(|e| ConfigError::Parse(Box::new(figment::Error::from(e.to_string()))))?;
        Config::load(Some(&path))
    }

    fn error_of(text: &str) -> String {
        match load_text(text) {
            Ok(_) => "no error".into(),
            Err(e) => e.to_string(),
        }
    }

    const LAYER: &str = r#"
[layers.roads]
title = "Roads"
geometry = "MultiLineString"
access = "public"
source = { table = "transport.roads" }
"#;

    #[test]
    fn the_embedded_sample_configuration_loads() {
        let config = Config::load(None).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.layers.len() >= 8, "{} layers", config.layers.len());
        assert!(config.layers.values().all(|d| d.source.file.as_ref().is_some_and(|f| f.exists())));
    }

    #[test]
    fn a_property_gets_the_labels_of_the_code_list_it_names() {
        let with_codes = format!(
            "{LAYER}properties = [{{ name = \"class\", type = \"text\", codes = \"road_class\" }}]\n\n\
             [codes.road_class]\ntrunk = {{ vi = \"Quốc lộ\", en = \"National highway\" }}\nlocal = \"Đường xã\"\n"
        );
        let config = load_text(&with_codes).unwrap_or_else(|e| panic!("{e}"));
        let class = &config.layers["roads"].properties[0];
        assert_eq!(class.label("trunk", layers::labels::Lang::En), Some("National highway"));
        assert_eq!(class.label("local", layers::labels::Lang::En), Some("Đường xã"));
        assert_eq!(class.label("alley", layers::labels::Lang::Vi), None);
        let missing =
            error_of(&format!("{LAYER}properties = [{{ name = \"class\", type = \"text\", codes = \"nope\" }}]\n"));
        assert!(missing.contains("roads") && missing.contains("\"nope\""), "{missing}");
    }

    #[test]
    fn a_wrong_type_names_the_file_layer_and_field() {
        let msg = error_of(&format!("{LAYER}minzoom = \"six\"\n"));
        assert!(msg.contains("layers.roads.minzoom") && msg.contains("bando.toml"), "{msg}");
    }

    #[test]
    fn a_broken_rule_names_the_file_layer_and_field() {
        let msg = error_of(&format!("{LAYER}minzoom = 14\nmaxzoom = 10\n"));
        assert!(msg.contains("bando.toml: layer `roads`: field `minzoom`"), "{msg}");
    }

    #[test]
    fn a_configured_style_must_draw_features() {
        let msg = error_of(&format!("{LAYER}style = [{{ type = \"background\" }}]\n"));
        assert!(msg.contains("layer `roads`: field `style`") && msg.contains("entry 1"), "{msg}");
        assert!(error_of(&format!("{LAYER}style = [\"red\"]\n")).contains("field `style`"));
        assert_eq!(error_of(&format!("{LAYER}style = [{{ type = \"line\" }}]\n")), "no error");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let msg = error_of(&format!("{LAYER}colour = \"red\"\n"));
        assert!(msg.contains("colour") && msg.contains("layers.roads"), "{msg}");
    }

    #[test]
    fn a_framing_source_cannot_smuggle_in_another_directive() {
        let msg = error_of(&format!("[web]\nframe_ancestors = [\"'self'; script-src *\"]\n{LAYER}"));
        assert!(msg.contains("web: frame_ancestors") && msg.contains("script-src"), "{msg}");
        assert_eq!(error_of(&format!("[web]\nframe_ancestors = [\"https://a.vn\", \"'none'\"]\n{LAYER}")), "no error");
    }

    #[test]
    fn a_private_temporal_property_is_refused_at_start() {
        let props =
            "temporal = \"opened_on\"\nproperties = [{ name = \"opened_on\", type = \"date\", private = true }]\n";
        let msg = error_of(&format!("{LAYER}{props}"));
        assert!(msg.contains("layer `roads`: field `temporal`") && msg.contains("private"), "{msg}");
        assert_eq!(error_of(&format!("{LAYER}{}", props.replace("true", "false"))), "no error");
    }

    #[test]
    fn the_public_url_is_a_scheme_and_a_host() {
        for bad in ["javascript:alert(1)", "ftp://a.vn", "https://a.vn/x<y", "https://"] {
            let msg = error_of(&format!("[server]\npublic_url = \"{bad}\"\n{LAYER}"));
            assert!(msg.contains("server: public_url"), "{bad}: {msg}");
        }
        assert_eq!(error_of(&format!("[server]\npublic_url = \"https://gis.cantho.gov.vn/\"\n{LAYER}")), "no error");
    }

    #[test]
    fn no_layer_may_take_the_name_of_the_province_style() {
        let msg = error_of(&LAYER.replace("layers.roads", "layers.province"));
        assert!(msg.contains("layer `province`: field `id`"), "{msg}");
    }

    #[test]
    fn a_bad_layer_id_is_named() {
        let msg = error_of(&LAYER.replace("layers.roads", "layers.Roads"));
        assert!(msg.contains("layer `Roads`: field `id`"), "{msg}");
    }

    #[test]
    fn a_missing_access_level_is_an_error() {
        let msg = error_of(&LAYER.replace("access = \"public\"\n", ""));
        assert!(msg.contains("access") && msg.contains("layers.roads"), "{msg}");
    }

    #[test]
    fn a_webhook_is_http_or_https_and_its_ca_file_must_hold_certificates() {
        let hook = |entry: &str| error_of(&format!("[[monitoring.webhooks]]\n{entry}\n{LAYER}"));
        assert_eq!(hook(r#"url = "https://ioc.cantho.gov.vn/alerts""#), "no error");
        for bad in [r#"url = "ftp://ioc.vn/alerts""#, r#"url = "ioc.vn/alerts""#] {
            assert!(hook(bad).contains("monitoring: webhooks: url"), "{bad}: {}", hook(bad));
        }
        let missing = hook("url = \"https://ioc.vn/a\"\nca_file = \"no-such-ca.pem\"");
        assert!(missing.contains("ca_file") && missing.contains("no-such-ca.pem"), "{missing}");
    }
}
