//! The open-data catalog, `/catalog`: DCAT-AP 3 as JSON-LD, or Turtle when `Accept` prefers it.
//! It lists exactly the public layers, whoever asks, since it is what the portal republishes.

use std::collections::HashMap;

use axum::{extract::State, http::HeaderMap, response::Response};
use chrono::{DateTime, Utc};
use layers::AccessLevel;
use sqlx::PgPool;

use super::{Endpoint, base_url};
use crate::{
    dcat::{self, Entry},
    error::ApiError,
    layer::Layer,
    media::{JSON_LD, TURTLE},
    openapi::Operation,
    respond,
    state::AppState,
};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::get(
        Operation::new("/catalog", "/catalog", "The open-data catalog of the public layers (DCAT-AP 3)")
            .ok("The catalog, as JSON-LD or (by Accept) Turtle", &[JSON_LD, TURTLE]),
        catalog,
    )]
}

async fn catalog(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let served = state.layers();
    let public: Vec<&Layer> = served.values().map(|l| &**l).filter(|l| l.def.access == AccessLevel::Public).collect();
    let modified = match state.pool() {
        Some(pool) => last_changed(pool, &public).await.map_err(|e| ApiError::Unavailable(e.to_string()))?,
        None => HashMap::new(),
    };
    let packages = |layer: &Layer| {
        let public = state.tilesets().values().filter(|t| t.config.access == AccessLevel::Public);
        public.filter(|t| t.config.layers.iter().any(|l| l == layer.def.id.as_str())).map(|t| &**t).collect()
    };
    let entries: Vec<Entry> = public
        .iter()
        .map(|&layer| Entry {
            layer,
            modified: modified.get(layer.def.id.as_str()).cloned(),
            packages: packages(layer),
        })
        .collect();
    let (config, base) = (&state.settings().catalog, base_url(&headers));
    Ok(if prefers_turtle(&headers) {
        respond::json(TURTLE, dcat::turtle(config, &base, &entries))
    } else {
        respond::json(JSON_LD, dcat::json_ld(config, &base, &entries))
    })
}

/// True when `Accept` rates Turtle above JSON-LD (JSON-LD wins ties and is the default).
fn prefers_turtle(headers: &HeaderMap) -> bool {
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let weight = |wanted: &str| {
        accept
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';').map(str::trim);
                let range = pieces.next()?;
                let q = pieces.find_map(|p| p.strip_prefix("q=")).map_or(Some(1.0), |q| q.parse::<f32>().ok())?;
                (range == wanted).then_some(q)
            })
            .fold(0.0_f32, f32::max)
    };
    weight("text/turtle") > weight("application/ld+json").max(weight("application/json"))
}

/// When each layer's data last changed, by layer id, in RFC 3339: its table's last change in
/// the change log or the layer's last import, whichever came later.
async fn last_changed(pool: &PgPool, layers: &[&Layer]) -> layers::Result<HashMap<String, String>> {
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT 'table:' || layer_table, max(at) FROM bando.changes GROUP BY layer_table
         UNION ALL SELECT 'layer:' || layer_id, max(finished_at) FROM bando.import_log GROUP BY layer_id",
    )
    .fetch_all(pool)
    .await
    .map_err(layers::Error::db("reading when the layers last changed"))?;
    let when: HashMap<String, DateTime<Utc>> = rows.into_iter().collect();
    Ok(layers
        .iter()
        .filter_map(|l| {
            let table = l.def.source.table.as_ref().and_then(|t| when.get(&format!("table:{t}")));
            let import = when.get(&format!("layer:{}", l.def.id));
            let at = table.into_iter().chain(import).max()?;
            Some((l.def.id.to_string(), at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turtle_is_chosen_only_when_accept_rates_it_higher() {
        let with = |accept: &str| {
            let mut h = HeaderMap::new();
            h.insert(axum::http::header::ACCEPT, axum::http::HeaderValue::from_str(accept).expect("a header value"));
            prefers_turtle(&h)
        };
        assert!(with("text/turtle"));
        assert!(with("application/ld+json;q=0.5, text/turtle"));
        assert!(!with("application/ld+json, text/turtle"));
        assert!(!with("*/*") && !prefers_turtle(&HeaderMap::new()));
    }
}
