//! The application state every handler reads. It lives in `web`, the layer that serves it:
//! `app` builds it, the modules below get only the service structs it holds
//! ([`Login`], [`Devices`]), never the whole of it.

use std::sync::{Arc, Mutex};

use metrics_exporter_prometheus::PrometheusHandle;

use crate::accounts::UserStore;
use crate::admin::clients::ClientAdmin;
use crate::admin::{Admin, TenantAdmin};
use crate::config::Config;
use crate::discovery::pg::Listener;
use crate::discovery::{Discovery, FileSource, PgSource};
use crate::login::Login;
use crate::oauth::OAuth;
use crate::oauth::device::Devices;
use crate::session::{RateLimiter, Sessions, Store};

use super::pages::Pages;

/// Where tenants come from (`tenant_source`), chosen once at start-up; handlers see only
/// the `Directory` and `IdpRegistry` in front of it.
pub enum Tenants {
    /// The `domains/` files, swapped whole on reload (the management API's tenants beside
    /// them are in the users' database), and, when that database is PostgreSQL, its
    /// notification subscription until `spawn_reloader` runs it.
    Files(Arc<FileSource>, Mutex<Option<(Arc<PgSource>, Listener)>>),
    /// PostgreSQL, and its notification subscription until `spawn_reloader` runs it.
    Postgres(Arc<PgSource>, Mutex<Option<Listener>>),
}

/// Everything a request handler may need; cheap to clone behind an `Arc`.
pub struct AppState {
    /// The configuration in force.
    pub config: Config,
    /// Home-realm discovery (shared with [`Login`]).
    pub discovery: Arc<Discovery>,
    /// The tenant source, kept to swap in reloaded maps or follow notifications.
    pub tenants: Tenants,
    /// Compiled templates.
    pub pages: Arc<Pages>,
    /// Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// The management operations over the users' database: what the management API calls.
    pub admin: Admin,
    /// The tenant operations (API and console).
    pub tenant_admin: Arc<TenantAdmin>,
    /// The OAuth client operations (API).
    pub client_admin: Arc<ClientAdmin>,
    /// Shared short-lived state: pending SAML requests, replay cache, sessions, limits.
    pub store: Arc<dyn Store>,
    /// Login sessions on top of `store`.
    pub sessions: Sessions,
    /// Rate limits on top of `store` (shared by every instance using the same store).
    pub limiter: RateLimiter,
    /// Whether a user is still active, by id, for at most 30 s: a session of a user that
    /// was disabled (by the CLI, possibly in another process) stops working within that
    /// time, without a database query on every forward-auth request.
    /// It also holds when the user's sessions were last ended (a password reset).
    pub active_users: moka::future::Cache<i64, super::account::UserGate>,
    /// The OAuth authorization server for native apps and device connectors.
    pub oauth: Arc<OAuth>,
    /// Password and SSO login: what the sign-on pages and the ACS call.
    pub login: Arc<Login>,
    /// Device connectors' logins and the device flow.
    pub devices: Devices,
    /// Set by `app::drain` once SIGTERM arrives: `/readyz` answers 503 and responses close
    /// their connections, so traffic moves to other instances before the listener closes.
    pub draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// A user's status changed or the user is gone (API, SCIM, next the console): this
    /// instance stops trusting its cached "still active" at once, so the user's sessions end
    /// here now and on other instances when their entry expires (30 s). A user no longer
    /// active has their sessions ended through the one hook, which tells the apps.
    pub async fn forget_user_status(&self, user_id: i64) {
        self.active_users.invalidate(&user_id).await;
        match self.users.by_id(user_id).await {
            Ok(Some(u)) if u.status == crate::accounts::Status::Active => {}
            Ok(_) => self.sessions.end_user(user_id).await,
            Err(e) => {
                tracing::warn!(user_id, error = %e, "could not re-read a changed user; the apps are not told now");
            }
        }
    }
}

/// The handle handlers extract with axum's `State`.
pub type SharedState = Arc<AppState>;
