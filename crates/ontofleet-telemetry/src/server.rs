//! The ops HTTP server of a worker (and later of `serve`): `GET /livez` (the process answers;
//! never touches the database), `GET /readyz` (the caller's readiness check, and 503 from the
//! moment a drain starts) and `GET /metrics` (Prometheus text). Off unless an address is given.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

/// A readiness check: `Err(reason)` when the process should get no traffic.
pub type ReadyCheck =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// What the routes read.
pub struct Ops {
    draining: AtomicBool,
    ready: ReadyCheck,
    metrics: Box<dyn Fn() -> String + Send + Sync>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("draining", &self.draining)
            .finish_non_exhaustive()
    }
}

impl Ops {
    /// Routes over a readiness check and a metrics renderer.
    pub fn new(ready: ReadyCheck, metrics: Box<dyn Fn() -> String + Send + Sync>) -> Arc<Self> {
        Arc::new(Self {
            draining: AtomicBool::new(false),
            ready,
            metrics,
        })
    }

    /// From now on `/readyz` answers 503 (SIGTERM started the drain).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

async fn livez() -> &'static str {
    "ok\n"
}

async fn readyz(State(ops): State<Arc<Ops>>) -> impl IntoResponse {
    if ops.draining.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n".to_owned());
    }
    match (ops.ready)().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}

async fn metrics(State(ops): State<Arc<Ops>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        (ops.metrics)(),
    )
}

/// The router of the ops endpoints.
pub fn router(ops: Arc<Ops>) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

/// Serve the ops endpoints on `listener` until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    ops: Arc<Ops>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(ops))
        .with_graceful_shutdown(stop)
        .await
}
