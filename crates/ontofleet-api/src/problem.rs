//! `application/problem+json` (RFC 9457) for every error, and the extractors that turn axum's
//! own rejections (bad JSON, bad path or query) into one.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontofleet_ops::OpsError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// An error body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind, for people.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong and what to do.
    pub detail: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid token or session.
    #[error("authentication required: send `Authorization: Bearer <token>` or log in")]
    Unauthorized,
    /// The caller's role is too weak.
    #[error("this action needs the {0} role")]
    Forbidden(&'static str),
    /// A cross-site request carrying a session cookie.
    #[error("cross-site request refused: mutations from a browser must come from this origin")]
    CrossSite,
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// axum refused the body, path or query (with its status: 400, 413, 415, 422).
    #[error("{1}")]
    Rejected(StatusCode, String),
    /// No such route.
    #[error("no such resource")]
    NoRoute,
    /// The route exists, not with this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// What the operation refused.
    #[error(transparent)]
    Ops(#[from] OpsError),
}

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn clone_status(&self) -> StatusCode {
        self.status()
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::CrossSite => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Rejected(status, _) => *status,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Ops(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn slug(&self) -> &'static str {
        use ontofleet_ops::error::Kind;
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::CrossSite => "cross-site",
            Self::BadRequest(_) | Self::Rejected(..) => "bad-request",
            Self::NoRoute => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Ops(e) => match e.kind() {
                Kind::NotFound => "not-found",
                Kind::Invalid => "invalid",
                Kind::Conflict => "conflict",
                Kind::Refused => "refused",
                Kind::Unavailable => "unavailable",
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            // Database messages are internals: the log has them, the caller gets what to do.
            Self::Ops(e @ OpsError::Unavailable(_)) => {
                tracing::error!(error = %e, "request failed");
                "the database is unavailable or a statement failed; try again, and see the server log"
                    .to_owned()
            }
            other => other.to_string(),
        };
        let problem = Problem {
            kind: format!("https://ontofleet.dev/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON body whose rejection is a problem.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| Body(v))
            .map_err(|e: JsonRejection| {
                // A body that parses but does not fit (422 in axum) is bad input all the same.
                // So is a missing `Content-Type: application/json` (415 in axum). Only a body
                // over the limit keeps its own status (413).
                let status = match e.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::Rejected(status, e.body_text())
            })
    }
}

/// Path parameters whose rejection is a problem.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| ApiError::Rejected(e.status(), e.body_text()))
    }
}

/// A query string whose rejection is a problem.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| ApiError::Rejected(e.status(), e.body_text()))
    }
}
