//! The dashboard (SPEC §12): server-rendered pages (askama, compile-checked, auto-escaped) over
//! the same `ontofleet-ops` calls as the API, forms for the actions (each showing its CLI
//! equivalent), and one small script, vendored and pinned by hash, that keeps run views live
//! through the API's event stream. Pages read without JavaScript; the server enforces every role.

mod actions;
mod pages;
mod run;

use axum::extract::{FromRequestParts, Path as AxumPath};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ontofleet_ops::access::Role;

use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::ApiState;

/// The vendored assets: name, content type, bytes and their pinned SHA-256 (checked by a test,
/// so a changed file is a reviewed change).
pub const ASSETS: [(&str, &str, &[u8], &str); 2] = [
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/dashboard.js"),
        "19ffde1fa147c61a940059858706d6998a33f6a2c8512e3bfbdd6e8fc47fab8c",
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/dashboard.css"),
        "7f6098201cc62dbe25f0cd7a2b245f106d246a0fe38f96a55f675504b855157d",
    ),
];

/// The dashboard's routes (`/ui…`, and `/` → `/ui`).
pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(pages::overview))
        .route("/ui/login", get(pages::login_form).post(actions::login))
        .route("/ui/logout", post(actions::logout))
        .route("/ui/runs", get(pages::runs).post(actions::start))
        .route("/ui/runs/{run}", get(run::run))
        .route("/ui/runs/{run}/failures", get(run::failures))
        .route(
            "/ui/runs/{run}/retry",
            get(run::retry_preview).post(actions::retry),
        )
        .route("/ui/runs/{run}/cancel", post(actions::cancel))
        .route("/ui/runs/{run}/pause", post(actions::pause))
        .route("/ui/runs/{run}/resume", post(actions::resume))
        .route("/ui/runs/{run}/validate", post(actions::validate))
        .route("/ui/jobs/{job}", get(run::job))
        .route("/ui/users", get(pages::users))
        .route("/ui/users/refresh", post(actions::refresh))
        .route("/ui/audit", get(pages::audit))
        .route(
            "/ui/lock/release",
            get(pages::release_form).post(actions::release),
        )
        .route("/ui/assets/{name}", get(asset))
}

async fn asset(AxumPath(name): AxumPath<String>) -> Response {
    match ASSETS.iter().find(|a| a.0 == name) {
        Some((_, content_type, bytes, _)) => {
            let mut r = (*bytes).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            r
        }
        None => ApiError::NoRoute.into_response(),
    }
}

/// Who is logged in, as the pages show it.
#[derive(Debug, Clone)]
pub struct UserView {
    /// Token name.
    pub name: String,
    /// Role.
    pub role: &'static str,
}

/// A dashboard user with at least role `R`: without a session, pages send the browser to the
/// login page; a role too weak gets 403.
pub struct Page<const R: u8>(pub Caller<R>);

impl<const R: u8> Page<R> {
    fn view(&self) -> Option<UserView> {
        Some(UserView {
            name: self.0.principal.name.clone(),
            role: self.0.principal.role.as_str(),
        })
    }

    fn can(&self, role: Role) -> bool {
        self.0.principal.role >= role
    }
}

impl<const R: u8> FromRequestParts<ApiState> for Page<R> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Response> {
        match Caller::<R>::from_request_parts(parts, state).await {
            Ok(c) => Ok(Self(c)),
            Err(ApiError::Unauthorized) => Err(Redirect::to("/ui/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// Render a template, or a 500 problem (a template bug, logged).
fn render(t: &impl askama::Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// `2026-12-06 07:21:05 UTC`.
fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn vendored_assets_match_their_pinned_hashes() {
        for (name, _, bytes, pinned) in super::ASSETS {
            let actual = hex::encode(Sha256::digest(bytes));
            assert_eq!(
                actual, pinned,
                "{name} changed: review it and pin the new hash"
            );
        }
    }
}
