//! The admin HTTP API, `ontofleet serve` (SPEC §12): an axum adapter over `ontofleet-ops`. Each
//! route authenticates (bearer token or session cookie), checks its role, calls one operation
//! and returns the operation's response type as JSON — the CLI's `--json` document. Errors are
//! `application/problem+json`. GETs read through a pool whose sessions are read-only; both
//! pools carry a statement timeout. The OpenAPI 3.1 document is generated from the handlers.
//! The dashboard (`ui`, under `/ui`) renders the same operations as HTML pages.

pub mod auth;
mod controls;
pub mod events;
mod jobs;
mod misc;
pub mod problem;
mod runs;
pub mod state;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Info, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use axum::Json;
pub use state::{ApiState, PipelineFactory};

use crate::auth::RequestId;
use crate::problem::ApiError;

/// Request bodies larger than this are refused (413).
pub const BODY_LIMIT: usize = 256 * 1024;

/// The routes of `/api/v1` and the OpenAPI document describing them.
pub fn api() -> (axum::Router<ApiState>, OpenApi) {
    let (router, mut doc) = OpenApiRouter::<ApiState>::new()
        .routes(routes!(runs::list_runs, runs::start_run))
        .routes(routes!(runs::preview_run))
        .routes(routes!(runs::show_run))
        .routes(routes!(runs::run_events))
        .routes(routes!(runs::cancel_run))
        .routes(routes!(controls::pause_run))
        .routes(routes!(controls::resume_run))
        .routes(routes!(controls::limit_run))
        .routes(routes!(controls::governor_status))
        .routes(routes!(controls::sync_status))
        .routes(routes!(runs::validate_run))
        .routes(routes!(runs::rollback_run))
        .routes(routes!(runs::enqueue_project))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::show_job))
        .routes(routes!(jobs::retry_jobs))
        .routes(routes!(jobs::kill_jobs))
        .routes(routes!(jobs::purge_jobs))
        .routes(routes!(misc::lock_status))
        .routes(routes!(misc::release_lock))
        .routes(routes!(misc::get_stats))
        .routes(routes!(misc::user_stats))
        .routes(routes!(misc::refresh_stats))
        .routes(routes!(misc::db_status))
        .routes(routes!(misc::list_audit))
        .routes(routes!(misc::login, misc::logout))
        .split_for_parts();
    doc.info = Info::new("ontofleet admin API", env!("CARGO_PKG_VERSION"));
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    (router, doc)
}

/// The OpenAPI document (`/api/openapi.json`).
pub fn openapi() -> OpenApi {
    api().1
}

/// The whole application: `/api/v1`, `/api/openapi.json`, and the ops endpoints (`/livez`,
/// `/readyz`, `/metrics`) when given.
pub fn app(state: ApiState, ops: Option<Arc<ontofleet_telemetry::server::Ops>>) -> axum::Router {
    let (api, doc) = api();
    let doc = Arc::new(doc);
    let api = api
        .layer(middleware::from_fn(auth::csrf))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let ui = ui::router()
        .layer(middleware::from_fn(auth::csrf))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let mut app = axum::Router::new()
        .nest("/api/v1", api)
        .merge(ui)
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state);
    if let Some(ops) = ops {
        app = app.merge(ontofleet_telemetry::server::router(ops));
    }
    app.layer(middleware::from_fn(common_headers))
}

/// A request id on every request and response, and the security headers of SPEC §13.
async fn common_headers(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id);
    let mut response = {
        let _e = span.enter();
        tracing::debug!("request");
        drop(_e);
        next.run(request).await
    };
    let h = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    response
}

/// Set the `Link: <…>; rel="next"` header of a page.
pub(crate) fn next_link(response: &mut Response, path: &str, params: &[(&str, String)]) {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let value = format!("<{path}?{}>; rel=\"next\"", query.join("&"));
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::LINK, v);
    }
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why `serve` did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without any live token.
    #[error(
        "refusing to listen on {0}: it is not a loopback address and no API token exists; create one with `ontofleet token create --name NAME --role viewer|operator|admin`, or listen on 127.0.0.1"
    )]
    Unprotected(SocketAddr),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The token check failed.
    #[error(transparent)]
    Ops(#[from] ontofleet_ops::OpsError),
    /// The server failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Bind `addr` (refusing a non-loopback one while no token exists) and serve until `stop`.
pub async fn serve(
    addr: SocketAddr,
    state: ApiState,
    ops: Option<Arc<ontofleet_telemetry::server::Ops>>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if !addr.ip().is_loopback() && !ontofleet_ops::access::any_live_token(&state.write).await? {
        return Err(ServeError::Unprotected(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve_on(listener, state, ops, stop).await
}

/// Serve on a bound listener until `stop` (then finish the requests in flight).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: ApiState,
    ops: Option<Arc<ontofleet_telemetry::server::Ops>>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "admin API listening");
    axum::serve(listener, app(state, ops).into_make_service())
        .with_graceful_shutdown(stop)
        .await?;
    Ok(())
}

/// The error a handler gives for an unexpected response (kept for `IntoResponse` symmetry).
impl From<ApiError> for Response {
    fn from(e: ApiError) -> Self {
        e.into_response()
    }
}
