//! `ApiError`: the one place where failures become HTTP answers, as RFC 9457
//! `application/problem+json`.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or asks for something impossible.
    #[error("{0}")]
    BadRequest(String),
    /// A member of a request body breaks the layer's schema: `pointer` (RFC 6901) says which.
    #[error("{detail}")]
    Invalid {
        /// The JSON pointer to the offending member.
        pointer: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A key was given and is not valid.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may read the layer, not write it; or its role may not use the operator's page.
    #[error("{0}")]
    Forbidden(String),
    /// The change asked for contradicts the resource's state (a layer the configuration defines).
    #[error("{0}")]
    Conflict(String),
    /// The body's media type is not one this path takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// `If-Match` names a state the feature is no longer in.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A change of a feature came without `If-Match`.
    #[error("{0}")]
    PreconditionRequired(String),
    /// The layer takes no writes: only the methods in `allow`.
    #[error("{detail}")]
    ReadOnly {
        /// The `Allow` header.
        allow: &'static str,
        /// Why.
        detail: String,
    },
    /// The URL is longer than `[limits] max_url_bytes`.
    #[error("{0}")]
    UriTooLong(String),
    /// The body is larger than `[limits] max_body_bytes`.
    #[error("{0}")]
    TooLarge(String),
    /// The headers are more or larger than `[limits]` allows.
    #[error("{0}")]
    HeadersTooLarge(String),
    /// The caller's rate is used up.
    #[error("{0}")]
    TooManyRequests(String),
    /// No such resource (or one the caller may not know of).
    #[error("{0}")]
    NotFound(String),
    /// The path exists, but not for this method; the router adds `Allow`.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A byte range outside the file.
    #[error("{0}")]
    RangeNotSatisfiable(String),
    /// The service is starting or has lost a dependency.
    #[error("{0}")]
    Unavailable(String),
    /// A failure on our side; the detail is logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of each error: the only such table.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::ReadOnly { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "the server failed to answer; the error is logged".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Self::Invalid { pointer, .. } = &self {
            body["pointer"] = pointer.as_str().into();
        }
        let mut response =
            (status, [(header::CONTENT_TYPE, crate::media::PROBLEM_JSON)], body.to_string()).into_response();
        if let Self::ReadOnly { allow, .. } = &self {
            response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
        }
        if status == StatusCode::UNAUTHORIZED {
            // Keys go as a bearer token, or as the password of HTTP Basic (SensorThings clients).
            let challenges = header::HeaderValue::from_static("Bearer, Basic realm=\"bando\"");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenges);
        }
        response
    }
}
