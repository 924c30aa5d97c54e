//! The JSON Schemas of a collection: `/collections/{id}/schema` (its features, OGC API -
//! Features Part 5), `/queryables` (what a filter may name, Part 3) and `/sortables` (what
//! `sortby` may name).

use axum::{extract::State, http::HeaderMap, response::Response};
use layers::labels::Lang;

use super::{Endpoint, base_url};
use crate::{
    auth::Caller,
    error::ApiError,
    html::{self, Page, Trail},
    language,
    media::SCHEMA_JSON,
    openapi::{Operation, Status},
    request::{Format, Params, Segments},
    respond, schema,
    state::AppState,
};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(
            Operation::new(
                "/collections/{id}/queryables",
                "/collections/{collectionId}/queryables",
                "Properties a filter may name (JSON Schema)",
            )
            .ok("The queryables", &[SCHEMA_JSON, "text/html"]),
            ("queryables", "Queryables", schema::queryables),
        ),
        endpoint(
            Operation::new(
                "/collections/{id}/schema",
                "/collections/{collectionId}/schema",
                "The features' schema (JSON Schema)",
            )
            .ok("The schema", &[SCHEMA_JSON, "text/html"]),
            ("schema", "Schema", schema::features),
        ),
        endpoint(
            Operation::new(
                "/collections/{id}/sortables",
                "/collections/{collectionId}/sortables",
                "Properties sortby may name (JSON Schema)",
            )
            .ok("The sortables", &[SCHEMA_JSON, "text/html"]),
            ("sortables", "Sortables", schema::sortables),
        ),
    ]
}

/// A schema's last path segment, page title and builder.
type Kind = (&'static str, &'static str, fn(&str, &crate::access::LayerView, Lang) -> serde_json::Value);

/// The endpoint answering one kind of schema of a collection.
fn endpoint(operation: Operation, kind: Kind) -> Endpoint {
    let operation = operation.parameters(&["collectionId", "f"]).statuses(&[Status::BadRequest, Status::NotFound]);
    let handler =
        move |State(state): State<AppState>,
              caller: Caller,
              Segments(id): Segments<String>,
              params: Params,
              headers: HeaderMap| async move { answer(&state, &caller, &id, &params, &headers, kind) };
    Endpoint::get(operation, handler)
}

/// One of the schemas, as JSON Schema or as a page listing its properties.
fn answer(
    state: &AppState,
    caller: &Caller,
    id: &str,
    params: &Params,
    headers: &HeaderMap,
    (path, title, make): Kind,
) -> Result<Response, ApiError> {
    let view = state.access(caller).one(id)?;
    let format = Format::negotiate(params, headers)?;
    let lang = language::negotiate(headers);
    let schema = make(&format!("{}/collections/{id}/{path}", base_url(headers)), &view, lang);
    let response = respond::negotiated(
        format,
        || Ok(respond::json(SCHEMA_JSON, schema.to_string())),
        || {
            let rows = schema["properties"]
                .as_object()
                .map(|p| p.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect::<Vec<_>>())
                .unwrap_or_default();
            let json = format!("/collections/{id}/{path}?f=json");
            Ok(Page::new(title, Trail::Collection(id), &json, html::table(rows)))
        },
    )?;
    Ok(language::mark(response, lang))
}
