//! Operational endpoints: liveness, readiness, metrics, static files.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::SharedState;

use super::error::{PageError, WebError};
use super::pages::{BRAND_CSS, BRAND_LOGO, STATIC};

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the tenant map is loaded (a process that cannot load it refuses to start),
/// the session store and user database answer, and no shutdown is under way. A load
/// balancer stops sending traffic while Redis or PostgreSQL is down instead of letting
/// logins fail, and before this instance stops.
pub async fn readyz(State(state): State<SharedState>) -> Response {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down").into_response();
    }
    // Concurrently, so a dead backend's timeout is paid once, not once per backend.
    let (store, users) = tokio::join!(state.store.ping(), state.users.ping());
    match (store, users) {
        (Ok(()), Ok(())) => (StatusCode::OK, "ready").into_response(),
        (store, users) => {
            let why = [
                store.err().map(|e| e.to_string()),
                users.err().map(|e| e.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
            tracing::warn!(reason = %why, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")).into_response()
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<SharedState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Compiled-in static files.
pub async fn static_file(Path(file): Path<String>, State(state): State<SharedState>) -> Response {
    let cached = |mime: &str, body: Vec<u8>| {
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(mime)
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            body,
        )
            .into_response()
    };
    // The brand's files come from the configuration, not the binary.
    if file == BRAND_CSS {
        return cached(
            "text/css; charset=utf-8",
            state.pages.brand_css.clone().into_bytes(),
        );
    }
    if file == BRAND_LOGO
        && let Some((mime, bytes)) = &state.pages.brand_logo
    {
        return cached(mime, bytes.clone());
    }
    match STATIC.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => PageError(WebError::NotFound, state.pages.clone()).into_response(),
    }
}

/// Anything unrouted.
pub async fn not_found(State(state): State<SharedState>) -> Response {
    PageError(WebError::NotFound, state.pages.clone()).into_response()
}
