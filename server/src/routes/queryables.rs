//! `/collections/{id}/queryables`: the properties a filter may name, as JSON Schema
//! (OGC API - Features Part 3).

use axum::{extract::State, http::HeaderMap, response::Response};

use super::{Endpoint, base_url};
use crate::{
    auth::Caller,
    error::ApiError,
    html::{self, Page, Trail},
    media::SCHEMA_JSON,
    openapi::{Operation, Status},
    request::{Format, Params, Segments},
    respond, schema,
    state::AppState,
};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::get(
        Operation::new(
            "/collections/{id}/queryables",
            "/collections/{collectionId}/queryables",
            "Properties a filter may name (JSON Schema)",
        )
        .parameters(&["collectionId", "f"])
        .ok("The queryables", &[SCHEMA_JSON, "text/html"])
        .statuses(&[Status::BadRequest, Status::NotFound]),
        queryables,
    )]
}

async fn queryables(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.access(&caller).one(&id)?;
    let format = Format::negotiate(&params, &headers)?;
    let schema = schema::queryables(&format!("{}/collections/{id}/queryables", base_url(&headers)), &view);
    respond::negotiated(
        format,
        || Ok(respond::json(SCHEMA_JSON, schema.to_string())),
        || {
            let rows = schema["properties"]
                .as_object()
                .map(|p| p.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect::<Vec<_>>())
                .unwrap_or_default();
            let json = format!("/collections/{id}/queryables?f=json");
            Ok(Page::new("Queryables", Trail::Collection(&id), &json, html::table(rows)))
        },
    )
}
