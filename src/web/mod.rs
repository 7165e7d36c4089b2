//! HTTP glue: routes, tower layers and the mapping of module errors to answers. Handlers
//! parse, call the module that decides, and render; no policy lives here.
//!
//! The application state is this layer's ([`state::AppState`], extracted with axum's
//! `State<SharedState>`): `app` builds it, and the modules below see only the service
//! structs it holds (`state.login`, `state.devices`, `state.oauth`), never the whole of it.
//! One file per surface; `error` maps every module error to its status and stable code.

pub mod account;
pub mod api;
pub mod api_audit;
pub mod api_clients;
pub mod api_onboarding;
pub mod api_tenants;
pub mod api_users;
pub mod authorize;
pub mod bearer;
pub mod console;
pub mod device;
pub mod discover;
pub mod error;
pub mod guard;
pub mod lang;
pub mod oidc;
pub mod openapi;
pub mod openid;
pub mod ops;
pub mod pages;
pub mod qr;
pub mod reset;
pub mod scim;
pub mod slo;
pub mod sso;
pub mod state;
pub mod token;
pub mod webfinger;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post, put};
use metrics::{Counter, Histogram};
use tower_http::timeout::TimeoutLayer;

use state::SharedState;

/// The metrics listener's one route (`metrics_listen`): Prometheus text, apart from the
/// public listener because the series name every tenant's account.
pub fn metrics_router(state: SharedState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

/// Largest request body accepted anywhere (a SAML Response POST is the largest legitimate one).
pub const MAX_BODY: usize = 256 * 1024;

/// The gateway's routes.
pub fn router(state: SharedState) -> Router {
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
        .route(
            "/auth/saml/callback",
            post(sso::acs).get(sso::wsfed_signout),
        )
        .route("/saml2/idpresponse", post(sso::acs).get(sso::wsfed_signout))
        .route("/saml/metadata", get(sso::metadata))
        .route(
            crate::saml::sp::SLO_PATH,
            get(slo::redirect).post(slo::post),
        )
        .route(oidc::CALLBACK, get(oidc::callback))
        .route("/{account}/no-sso", get(account::no_sso_page))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/device/login", post(device::device_login))
        .route(
            "/api/v1/tenants",
            get(api_tenants::list_tenants).post(api_tenants::create_tenant),
        )
        .route(
            "/api/v1/tenants/{account}",
            get(api_tenants::get_tenant)
                .patch(api_tenants::patch_tenant)
                .delete(api_tenants::delete_tenant),
        )
        .route(
            "/api/v1/tenants/{account}/idp-metadata",
            put(api_tenants::put_metadata),
        )
        .route(
            "/api/v1/tenants/{account}/domains",
            get(api_tenants::list_domains),
        )
        .route(
            "/api/v1/tenants/{account}/domains/{domain}/verify",
            post(api_tenants::verify_domain),
        )
        .route(
            "/api/v1/tenants/{account}/users",
            get(api_users::list_users).post(api_users::create_user),
        )
        .route(
            "/api/v1/tenants/{account}/users/import",
            post(api_onboarding::import_users),
        )
        .route(
            "/api/v1/tenants/{account}/users/invite",
            post(api_onboarding::invite_user),
        )
        .route(
            "/api/v1/tenants/{account}/users/{id}",
            get(api_users::get_user)
                .patch(api_users::patch_user)
                .delete(api_users::delete_user),
        )
        .route(
            "/api/v1/tenants/{account}/users/{id}/approve",
            post(api_onboarding::approve_user),
        )
        .route(
            "/api/v1/tenants/{account}/users/{id}/deny",
            post(api_onboarding::deny_user),
        )
        .route(
            "/api/v1/clients",
            get(api_clients::list_clients).post(api_clients::create_client),
        )
        .route(
            "/api/v1/clients/{client_id}",
            get(api_clients::get_client)
                .patch(api_clients::patch_client)
                .delete(api_clients::delete_client),
        )
        .route(
            "/api/v1/clients/{client_id}/secret",
            post(api_clients::rotate_secret),
        )
        .route("/api/v1/audit", get(api_audit::audit))
        .route(
            "/api/v1/tenants/{account}/login-traces",
            get(api_audit::login_traces),
        )
        .route(
            "/scim/v2/{account}/Users",
            get(scim::list_users).post(scim::create_user),
        )
        .route(
            "/scim/v2/{account}/Users/{id}",
            get(scim::get_user)
                .put(scim::put_user)
                .patch(scim::patch_user)
                .delete(scim::delete_user),
        )
        .route(
            "/scim/v2/{account}/Groups",
            get(scim::list_groups).post(scim::create_group),
        )
        .route(
            "/scim/v2/{account}/Groups/{id}",
            get(scim::get_group)
                .put(scim::put_group)
                .patch(scim::patch_group)
                .delete(scim::delete_group),
        )
        .route(
            "/scim/v2/{account}/ServiceProviderConfig",
            get(scim::service_provider_config),
        )
        .route(
            "/scim/v2/{account}/ResourceTypes",
            get(scim::resource_types),
        )
        .route(
            "/scim/v2/{account}/ResourceTypes/{id}",
            get(scim::resource_type),
        )
        .route("/scim/v2/{account}/Schemas", get(scim::schemas))
        .route("/scim/v2/{account}/Schemas/{id}", get(scim::schema))
        .route("/scim/v2/{account}/.search", post(scim::search_all))
        .route("/scim/v2/{account}/Users/.search", post(scim::search_users))
        .route(
            "/scim/v2/{account}/Groups/.search",
            post(scim::search_groups),
        )
        .route("/scim/v2/{account}/{*rest}", any(scim::unknown))
        .route(
            "/oauth2/device_authorization",
            post(device::device_authorization),
        )
        .route(
            "/device",
            get(device::device_page).post(device::device_code_form),
        )
        .route("/device/decide", post(device::device_decide))
        .route("/oauth2/authorize", get(authorize::authorize))
        .route("/oauth2/resume", get(authorize::resume))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/revoke", post(token::revoke))
        .route("/.well-known/jwks.json", get(token::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(token::metadata),
        )
        .route("/.well-known/webfinger", get(webfinger::webfinger))
        .route(
            "/.well-known/openid-configuration",
            get(openid::configuration),
        )
        .route(
            "/oauth2/userinfo",
            get(openid::userinfo).post(openid::userinfo),
        )
        .route(
            "/oauth2/logout",
            get(openid::end_session_get).post(openid::end_session_post),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/static/{file}", get(ops::static_file))
        .route("/lang/{tag}", get(lang::switch))
        .route(
            "/password/forgot",
            get(reset::forgot_page).post(reset::forgot),
        )
        .route("/password/set", get(reset::set_page).post(reset::set))
        .route("/{account}", get(discover::account_page))
        .merge(console_routes())
        .fallback(ops::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), envelope))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // The same bound as the connections' header-read timeout (`app::run`), for one
        // setting and for speed: tokio wakes its timer driver whenever a new timer is the
        // earliest, and a request timer shorter than the connections' was the earliest on
        // every request (discovery fell from 0.51 to 0.46 of hello-world at 30 s vs 75 s).
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(state.config.http_timeout_seconds),
        ))
        .with_state(state)
}

/// The account admin console's routes (`web::console`), each behind its guard.
fn console_routes() -> Router<SharedState> {
    use console::{audit, domains, home, sso, sso_test, traces, users};
    Router::new()
        .route("/{account}/admin", get(home::page))
        .route("/{account}/admin/users", get(users::page).post(users::add))
        .route("/{account}/admin/users/import", post(users::import))
        .route("/{account}/admin/users/invite", post(users::invite))
        .route("/{account}/admin/users/{id}/approve", post(users::approve))
        .route("/{account}/admin/users/{id}/deny", post(users::deny))
        .route(
            "/{account}/admin/users/{id}/status",
            post(users::set_status),
        )
        .route("/{account}/admin/users/{id}/admin", post(users::set_admin))
        .route(
            "/{account}/admin/domains",
            get(domains::page).post(domains::add),
        )
        .route(
            "/{account}/admin/domains/{domain}/verify",
            post(domains::verify),
        )
        .route(
            "/{account}/admin/domains/{domain}/remove",
            post(domains::remove),
        )
        .route("/{account}/admin/audit", get(audit::page))
        .route("/{account}/admin/traces", get(traces::page))
        .route("/{account}/admin/sso", get(sso::page).post(sso::save))
        .route("/{account}/admin/sso/metadata", post(sso::metadata))
        .route("/{account}/admin/sso/test", post(sso_test::start))
        .route("/{account}/admin/sso/test/{test}", get(sso_test::result))
}

/// What every answer gets, in one layer: security headers, `Connection: close` while
/// draining, and the request metrics. One layer rather than three because axum clones the
/// boxed inner service and boxes a future for each `from_fn` layer on every request.
///
/// Metrics are by route template (never by raw path: that would let clients create
/// unbounded metric series) and status. While the instance drains before a stop, every
/// client is asked to reconnect (to another instance) after this response, so no idle
/// keep-alive connection is left for the listener's close to cut under a request.
async fn envelope(
    axum::extract::State(state): axum::extract::State<SharedState>,
    req: Request,
    next: Next,
) -> Response {
    let route = HTTP_METRICS.route(
        req.extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str),
    );
    let method = method_label(req.method());
    let is_static = req.uri().path().starts_with("/static/");
    let context = lang::page_context(&state, req.method(), req.uri(), req.headers());
    let start = Instant::now();
    let mut res = pages::with_context(context, next.run(req)).await;
    guard::security_headers(res.headers_mut(), is_static);
    // Pages differ by language: caches must not hand one person's language to another.
    res.headers_mut().append(
        axum::http::header::VARY,
        axum::http::HeaderValue::from_static("Accept-Language, Cookie"),
    );
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        res.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    route.duration.record(start.elapsed().as_secs_f64());
    route.count(method, res.status().as_u16());
    res
}

/// A bounded label for the method: anything outside the standard ones is "other", so
/// invented methods cannot create metric series either.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Metric handles per route template, resolved once and then found without allocating:
/// building the label set and looking it up in the registry on every request cost about
/// as much as a discovery decision.
static HTTP_METRICS: LazyLock<HttpMetrics> = LazyLock::new(HttpMetrics::default);

#[derive(Default)]
struct HttpMetrics {
    /// Keyed by route template; bounded by the router's routes plus "unmatched".
    routes: RwLock<HashMap<Box<str>, Arc<RouteMetrics>>>,
}

struct RouteMetrics {
    route: Box<str>,
    duration: Histogram,
    /// Keyed by method label and status code; both bounded.
    requests: RwLock<HashMap<(&'static str, u16), Counter>>,
}

impl HttpMetrics {
    fn route(&self, route: &str) -> Arc<RouteMetrics> {
        if let Some(found) = read(&self.routes).get(route) {
            return found.clone();
        }
        write(&self.routes)
            .entry(route.into())
            .or_insert_with(|| {
                Arc::new(RouteMetrics {
                    route: route.into(),
                    duration: metrics::histogram!(
                        "realmgate_http_request_duration_seconds",
                        "route" => route.to_owned()
                    ),
                    requests: RwLock::default(),
                })
            })
            .clone()
    }
}

impl RouteMetrics {
    fn count(&self, method: &'static str, status: u16) {
        if let Some(counter) = read(&self.requests).get(&(method, status)) {
            counter.increment(1);
            return;
        }
        write(&self.requests)
            .entry((method, status))
            .or_insert_with(|| {
                metrics::counter!(
                    "realmgate_http_requests_total",
                    "route" => self.route.to_string(),
                    "method" => method,
                    "status" => status.to_string()
                )
            })
            .increment(1);
    }
}

/// The maps only ever gain entries, so a panic elsewhere cannot leave one inconsistent:
/// a poisoned lock is still safe to use.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
