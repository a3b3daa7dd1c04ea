//! `/lock`, `/stats…`, `/db/status`, `/audit`, and the browser session.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontofleet_ops::{access, audit, db, lock, stats};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{self, Admin, Operator, RequestId, Viewer};
use crate::problem::{ApiError, Body, Problem, Query};
use crate::state::ApiState;
use crate::{Json, next_link};

/// The platform lock (`ontofleet lock status`).
#[utoipa::path(get, path = "/lock", tag = "lock", security(("bearer" = ["viewer"])),
    responses((status = 200, body = lock::LockView),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn lock_status(
    _: Viewer,
    State(s): State<ApiState>,
) -> Result<Json<lock::LockView>, ApiError> {
    Ok(Json(lock::status(&s.read).await?))
}

/// `POST /lock/release`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    /// Release even a live lease of an active run (that run can no longer commit).
    #[serde(default)]
    pub force: bool,
}

/// Release a stale lock, or with `force` any lock (`ontofleet lock release [--force]`).
#[utoipa::path(post, path = "/lock/release", tag = "lock", request_body = ReleaseBody,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = lock::Released),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn release_lock(
    caller: Admin,
    State(s): State<ApiState>,
    Body(body): Body<ReleaseBody>,
) -> Result<Json<lock::Released>, ApiError> {
    Ok(Json(
        lock::release(&s.write, body.force, &caller.actor).await?,
    ))
}

/// Global progress and users by status (`ontofleet stats`).
#[utoipa::path(get, path = "/stats", tag = "stats", security(("bearer" = ["viewer"])),
    responses((status = 200, body = stats::Stats),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn get_stats(
    caller: Viewer,
    State(s): State<ApiState>,
) -> Result<Json<stats::Stats>, ApiError> {
    let req = stats::StatsRequest {
        refresh: false,
        users: false,
        limit: 1,
    };
    Ok(Json(stats::stats(&s.read, req, &caller.actor).await?))
}

/// `GET /stats/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// Rows, most behind first, 1–500 (default 50).
    pub limit: Option<i64>,
}

/// Per-user progress from `user_migration_stats` (`ontofleet stats --users`); e-mails masked
/// for viewers.
#[utoipa::path(get, path = "/stats/users", tag = "stats", params(UsersQuery),
    security(("bearer" = ["viewer"])),
    responses((status = 200, body = stats::Stats),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn user_stats(
    caller: Viewer,
    State(s): State<ApiState>,
    Query(q): Query<UsersQuery>,
) -> Result<Json<stats::Stats>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 500".to_owned(),
        ));
    }
    let req = stats::StatsRequest {
        refresh: false,
        users: true,
        limit,
    };
    let mut out = stats::stats(&s.read, req, &caller.actor).await?;
    if caller.masks_pii() {
        out.mask_emails();
    }
    Ok(Json(out))
}

/// Refresh the per-user view, then the stats (`ontofleet stats --refresh`).
#[utoipa::path(post, path = "/stats/refresh", tag = "stats", security(("bearer" = ["operator"])),
    responses((status = 200, body = stats::Stats),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn refresh_stats(
    caller: Operator,
    State(s): State<ApiState>,
) -> Result<Json<stats::Stats>, ApiError> {
    let req = stats::StatsRequest {
        refresh: true,
        users: false,
        limit: 1,
    };
    Ok(Json(stats::stats(&s.write, req, &caller.actor).await?))
}

/// Applied and pending migrations (`ontofleet db status`).
#[utoipa::path(get, path = "/db/status", tag = "db", security(("bearer" = ["viewer"])),
    responses((status = 200, body = db::DbStatus),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn db_status(
    _: Viewer,
    State(s): State<ApiState>,
) -> Result<Json<db::DbStatus>, ApiError> {
    Ok(Json(db::status(&s.read).await?))
}

/// `GET /audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Rows, 1–500 (default 50).
    pub limit: Option<i64>,
    /// Only rows older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
}

/// Every operator mutation, newest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    security(("bearer" = ["viewer"])),
    responses((status = 200, body = audit::AuditList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_audit(
    _: Viewer,
    State(s): State<ApiState>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50);
    let list = audit::list(&s.read, q.before, limit).await?;
    let next = list.next_before;
    let mut response = Json(list).into_response();
    if let Some(before) = next {
        next_link(
            &mut response,
            "/api/v1/audit",
            &[("limit", limit.to_string()), ("before", before.to_string())],
        );
    }
    Ok(response)
}

/// `POST /session`: a token, as JSON or as a form field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// An API token.
    pub token: String,
}

/// Who the session belongs to.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SessionView {
    /// Token name.
    pub name: String,
    /// Role.
    pub role: access::Role,
}

/// Browser login: exchanges a token for a session cookie (`__Host-`, HttpOnly, SameSite=Lax).
#[utoipa::path(post, path = "/session", tag = "session", request_body = LoginBody,
    responses((status = 201, body = SessionView, headers(("set-cookie" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn login(
    State(s): State<ApiState>,
    headers: axum::http::HeaderMap,
    request_id: Option<axum::Extension<RequestId>>,
    Body(body): Body<LoginBody>,
) -> Result<Response, ApiError> {
    let Some((session, cookie)) = open_session(&s, &headers, &body.token, request_id).await? else {
        return Err(ApiError::Unauthorized);
    };
    let mut response = (
        StatusCode::CREATED,
        Json(SessionView {
            name: session.principal.name,
            role: session.principal.role,
        }),
    )
        .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Logout: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/session", tag = "session",
    responses((status = 204, description = "Logged out")))]
pub async fn logout(
    State(s): State<ApiState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let cleared = close_session(&s, &headers).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cleared);
    Ok(response)
}

/// A browser session for `token`, from the API's `POST /session` and the dashboard's login form
/// alike: refused across sites (login CSRF: a cross-site page must not log the browser in as
/// someone else); `None` for a token that is unknown, expired or revoked. Returns the session
/// and its `Set-Cookie` value (`__Host-`, HttpOnly, SameSite=Lax).
pub(crate) async fn open_session(
    s: &ApiState,
    headers: &axum::http::HeaderMap,
    token: &str,
    request_id: Option<axum::Extension<RequestId>>,
) -> Result<Option<(access::Session, HeaderValue)>, ApiError> {
    if !auth::same_origin(headers) {
        return Err(ApiError::CrossSite);
    }
    let Some(session) = access::login(
        &s.write,
        token.trim(),
        s.sessions,
        request_id.map(|r| r.0.0.clone()),
    )
    .await?
    else {
        return Ok(None);
    };
    let cookie = HeaderValue::from_str(&session_cookie(
        &session.secret,
        s.sessions.absolute.as_secs(),
    ))
    .map_err(|e| ontofleet_ops::OpsError::Unavailable(format!("session cookie: {e}")))?;
    Ok(Some((session, cookie)))
}

/// End the caller's session, if it has one; returns the `Set-Cookie` value that clears it.
pub(crate) async fn close_session(
    s: &ApiState,
    headers: &axum::http::HeaderMap,
) -> Result<HeaderValue, ApiError> {
    if let Some(secret) = auth::session_cookie(headers) {
        access::logout(&s.write, secret).await?;
    }
    Ok(HeaderValue::from_str(&session_cookie("", 0)).unwrap_or(HeaderValue::from_static("")))
}

/// The `Set-Cookie` value of a session (an empty secret and 0 clear it).
pub(crate) fn session_cookie(secret: &str, max_age: u64) -> String {
    format!(
        "{}={secret}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}",
        auth::SESSION_COOKIE
    )
}
