//! Who is calling and what they may do: bearer tokens for scripts, a session cookie for the
//! browser, the role extractors every handler takes, and CSRF protection for cookie requests.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ontofleet_ops::access::{self, Actor, Principal, Role};

use crate::problem::ApiError;
use crate::state::ApiState;

/// The session cookie (`__Host-`: Secure, Path=/, no Domain — bound to this origin).
pub const SESSION_COOKIE: &str = "__Host-ontofleet_session";

/// The request's id, set by the request-id middleware.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The session cookie's value, if sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

async fn principal(parts: &Parts, state: &ApiState) -> Result<Principal, ApiError> {
    let found = if let Some(token) = bearer(&parts.headers) {
        access::authenticate(&state.write, token).await?
    } else if let Some(secret) = session_cookie(&parts.headers) {
        access::session(&state.write, secret, state.sessions).await?
    } else {
        None
    };
    found.ok_or(ApiError::Unauthorized)
}

fn request_id(parts: &Parts) -> Option<String> {
    parts.extensions.get::<RequestId>().map(|r| r.0.clone())
}

/// An authenticated caller with at least the role `R`.
#[derive(Debug, Clone)]
pub struct Caller<const R: u8> {
    /// Who.
    pub principal: Principal,
    /// As the audit records it.
    pub actor: Actor,
}

/// Any authenticated caller.
pub type Viewer = Caller<0>;
/// An operator or admin.
pub type Operator = Caller<1>;
/// An admin.
pub type Admin = Caller<2>;

impl<const R: u8> FromRequestParts<ApiState> for Caller<R> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let principal = principal(parts, state).await?;
        let needed = Role::ALL[usize::from(R)];
        if principal.role < needed {
            return Err(ApiError::Forbidden(needed.as_str()));
        }
        Ok(Self {
            actor: Actor::api(&principal, request_id(parts)),
            principal,
        })
    }
}

impl<const R: u8> Caller<R> {
    /// Viewers see e-mail addresses masked.
    pub fn masks_pii(&self) -> bool {
        self.principal.role == Role::Viewer
    }
}

/// CSRF protection (the `Sec-Fetch-Site` / `Origin` scheme of Go 1.25's CrossOriginProtection):
/// a state-changing request that carries the session cookie must come from this origin. Bearer
/// requests without the cookie are scripts, exempt: a browser never adds that header on its own.
pub async fn csrf(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    if safe || session_cookie(headers).is_none() {
        return next.run(request).await;
    }
    if !same_origin(headers) {
        return ApiError::CrossSite.into_response();
    }
    next.run(request).await
}

/// Whether a browser request comes from the origin it is sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => matches!(site, "same-origin" | "none"),
        None => match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            // Not a browser, or one too old to send either header: nothing to compare.
            None => true,
            Some(origin) => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                origin
                    .split_once("://")
                    .is_some_and(|(_, authority)| authority == host)
            }
        },
    }
}
