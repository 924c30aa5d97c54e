//! The serving settings: what the configuration's `[server]`, `[tiles]`, `[features]`,
//! `[limits]` and `[monitoring]` sections set for every request, read by the core without the configuration itself.

use layers::labels::Bilingual;

/// Serving settings taken from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Bytes of compressed tiles the cache may hold; 0 turns it off.
    pub tile_cache_bytes: u64,
    /// `Cache-Control` of tile responses.
    pub tile_cache_control: String,
    /// Features per page when the request gives no `limit`.
    pub default_limit: usize,
    /// Largest page.
    pub max_limit: usize,
    /// Steady requests per second per key or address.
    pub requests_per_second: u32,
    /// Requests allowed at once above the steady rate.
    pub burst: u32,
    /// How long a request may take.
    pub request_timeout: std::time::Duration,
    /// Longest URL in bytes.
    pub max_url_bytes: usize,
    /// Largest body in bytes.
    pub max_body_bytes: usize,
    /// Largest body of a write (`POST`, `PUT`, `PATCH`) in bytes.
    pub max_write_bytes: usize,
    /// Features in one batch `POST` at most.
    pub max_batch_features: usize,
    /// Positions in one written geometry at most.
    pub max_vertices: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Largest sum of header names and values in bytes.
    pub max_header_bytes: usize,
    /// How long a connection may take to send a request's head, and stay idle between requests.
    pub header_timeout: std::time::Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Failed authentications an address may make per minute (429 above).
    pub failed_auth_per_minute: u32,
    /// Threads for requests' CPU work; 0 is one per core.
    pub compute_threads: usize,
    /// `Cache-Control` of answers that show a layer which is not public.
    pub private_cache_control: axum::http::HeaderValue,
    /// The scheme and host links carry, when the configuration sets a public URL.
    pub public_origin: Option<(axum::http::HeaderValue, axum::http::HeaderValue)>,
    /// Proxies whose `X-Forwarded-Proto` and `X-Forwarded-Host` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The SensorThings API and its alerts.
    pub monitoring: Monitoring,
    /// The operator's page.
    pub admin: Admin,
    /// Who the open-data catalog names as publisher and contact.
    pub catalog: CatalogConfig,
}

/// What `[admin]` sets: uploads through the operator's page.
#[derive(Clone, Debug)]
pub struct Admin {
    /// The largest file an import from the browser may upload.
    pub max_upload_bytes: u64,
    /// Where uploads are written while they are imported (and removed after).
    pub upload_dir: std::path::PathBuf,
}

/// What `[monitoring]` sets: who reads and writes the SensorThings API, its pages, its alerts.
#[derive(Clone, Debug)]
pub struct Monitoring {
    /// The access level its reads need.
    pub access: layers::AccessLevel,
    /// Roles that create any entity.
    pub operators: Vec<String>,
    /// Roles of reporting devices: observations of their own Things only.
    pub stations: Vec<String>,
    /// Page sizes.
    pub paging: layers::sensing::read::Paging,
    /// Observations one request may add at most.
    pub max_observations: usize,
    /// Thresholds and alert settings.
    pub rules: layers::sensing::alerts::Rules,
    /// How often silent datastreams are looked for.
    pub check_every: std::time::Duration,
    /// Receivers of the alert events.
    pub webhooks: Vec<Webhook>,
}

/// A receiver of alert events (`[[monitoring.webhooks]]`).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// An `http://` or `https://` URL.
    pub url: String,
    /// The key of the `X-Bando-Signature` HMAC-SHA256 of each body; none: unsigned.
    #[serde(default)]
    pub secret: Option<String>,
    /// PEM certificates trusted for an `https://` receiver besides the system's (a private
    /// CA's); relative to the configuration file.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

impl Webhook {
    /// How long a receiver may take to answer one delivery.
    pub const ATTEMPT: std::time::Duration = std::time::Duration::from_secs(5);

    /// The HTTP client its deliveries go through.
    pub fn client(&self) -> Result<reqwest::Client, String> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| format!("url {:?}: {e}", self.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("url {:?} must be http:// or https:// and a host", self.url));
        }
        let mut builder = reqwest::Client::builder().timeout(Self::ATTEMPT).use_rustls_tls();
        if let Some(file) = &self.ca_file {
            let pem = std::fs::read(file).map_err(|e| format!("ca_file {}: {e}", file.display()))?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| format!("ca_file {}: {e}", file.display()))?;
            if certificates.is_empty() {
                return Err(format!("ca_file {}: no PEM certificate in it", file.display()));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// `[catalog]`: who publishes the data and how the catalog introduces itself.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// The catalog's title.
    pub title: Bilingual,
    /// What it holds.
    pub description: Bilingual,
    /// The publishing organisation.
    pub publisher: Bilingual,
    /// Its web site.
    pub publisher_url: Option<String>,
    /// Whom to ask about the data.
    pub contact_name: Option<String>,
    /// Their e-mail address.
    pub contact_email: Option<String>,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        let same = |s: &str| Bilingual { vi: s.into(), en: s.into() };
        Self {
            title: Bilingual { vi: "Dữ liệu không gian mở".into(), en: "Open spatial data".into() },
            description: Bilingual {
                vi: "Các lớp dữ liệu công khai do Bando phục vụ.".into(),
                en: "The public layers Bando serves.".into(),
            },
            publisher: same("Bando"),
            publisher_url: None,
            contact_name: None,
            contact_email: None,
        }
    }
}
