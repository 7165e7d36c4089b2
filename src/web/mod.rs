//! HTTP glue: routes, tower layers and the mapping of module errors to answers. Handlers
//! parse, call the module that decides, and render; no policy lives here.

pub mod account;
pub mod discover;
pub mod error;
pub mod guard;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod qr;
pub mod sso;
pub mod webfinger;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;

use crate::app::State;

/// Largest request body accepted anywhere (a SAML Response POST is the largest legitimate one).
pub const MAX_BODY: usize = 256 * 1024;

/// The gateway's routes.
pub fn router(state: State) -> Router {
    Router::new()
        .route("/", get(discover::email_page))
        .route("/login/discover", post(discover::discover_form))
        .route("/api/v1/discover", post(discover::discover_api))
        .route("/login/password", post(account::password))
        .route("/logout", post(account::logout))
        .route("/me", get(account::me))
        .route("/waiting-room", get(account::waiting_room))
        .route("/auth/verify", get(account::verify))
        .route("/sso/{account}/start", get(sso::start))
        .route("/auth/saml/callback", post(sso::acs))
        .route("/saml2/idpresponse", post(sso::acs))
        .route("/saml/metadata", get(sso::metadata))
        .route("/{account}/no-sso", get(account::no_sso_page))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/device/login", post(oauth::device_login))
        .route(
            "/oauth2/device_authorization",
            post(oauth::device_authorization),
        )
        .route(
            "/device",
            get(oauth::device_page).post(oauth::device_code_form),
        )
        .route("/device/decide", post(oauth::device_decide))
        .route("/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/resume", get(oauth::resume))
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .route("/.well-known/webfinger", get(webfinger::webfinger))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/static/{file}", get(ops::static_file))
        .route("/{account}", get(discover::account_page))
        .fallback(ops::not_found)
        .layer(middleware::from_fn(guard::security_headers))
        .layer(middleware::from_fn(track))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            close_when_draining,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

/// While the instance drains before a stop, asks every client to reconnect (to another
/// instance) after this response, so no idle keep-alive connection is left for the
/// listener's close to cut under a request being sent.
async fn close_when_draining(
    axum::extract::State(state): axum::extract::State<State>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        res.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    res
}

/// Counts requests by route template (never by raw path: that would let clients create
/// unbounded metric series) and status, and times them.
async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("realmgate_http_requests_total", "route" => route.clone(), "method" => method, "status" => status).increment(1);
    metrics::histogram!("realmgate_http_request_duration_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
    res
}
