//! The application: shared state, start-up, the tenant-map reload loop, and `run`, which
//! serves a router on a listener until shutdown (tests call it on port 0).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::accounts::{self, AccountsError, Passwords, UserStore};
use crate::config::{Config, Problem};
use crate::discovery::{Directory, Discovery, DomainProof, FileSource, TenantMap, map};
use crate::saml::{IdpRegistry, SamlError, Sp, SpKeys};
use crate::session::{self, RateLimitPolicy, RateLimiter, Sessions, Store, StoreError};
use crate::telemetry;
use crate::web::{self, pages::Pages};

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The tenant files have problems.
    #[error("tenant files have problems:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Tenants(Vec<Problem>),
    /// A file of `data_dir` could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A template does not compile.
    #[error("template: {0}")]
    Template(#[from] Box<handlebars::TemplateError>),
    /// The DNS resolver could not be set up.
    #[error(transparent)]
    Proof(#[from] crate::discovery::proof::ProofError),
    /// The SP key or the IdP metadata could not be loaded.
    #[error(transparent)]
    Saml(#[from] SamlError),
    /// The OAuth signing key could not be loaded or generated.
    #[error("OAuth: {0}")]
    OAuth(#[from] crate::oauth::OAuthError),
    /// The user database could not be opened or migrated.
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    /// The session store could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything a request handler may need; cheap to clone behind an `Arc`.
pub struct AppState {
    /// The configuration in force.
    pub config: Config,
    /// Home-realm discovery.
    pub discovery: Discovery,
    /// The file source, kept to swap in reloaded maps.
    pub tenants: Arc<FileSource>,
    /// Compiled templates.
    pub pages: Arc<Pages>,
    /// Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// Our SAML SP: entity ID, ACS URLs, keys.
    pub sp: Arc<Sp>,
    /// Every SSO tenant's IdP metadata, swapped with the tenant map.
    pub idps: Arc<IdpRegistry>,
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Password hashing, off the async runtime.
    pub passwords: Passwords,
    /// Shared short-lived state: pending SAML requests, replay cache, sessions, limits.
    pub store: Arc<dyn Store>,
    /// Login sessions on top of `store`.
    pub sessions: Sessions,
    /// Rate limits on top of `store` (shared by every instance using the same store).
    pub limiter: RateLimiter,
    /// Bounds concurrent SAML validations: each is CPU work on a blocking thread, and an
    /// unbounded flood of POSTs must not grow the blocking pool without limit.
    pub saml_slots: tokio::sync::Semaphore,
    /// Whether a user is still active, by id, for at most 30 s: a session of a user that
    /// was disabled (by the CLI, possibly in another process) stops working within that
    /// time, without a database query on every forward-auth request.
    pub active_users: moka::future::Cache<i64, bool>,
    /// The OAuth authorization server for native apps and device connectors.
    pub oauth: Arc<crate::oauth::OAuth>,
    /// Set by [`drain`] once SIGTERM arrives: `/readyz` answers 503 and responses close
    /// their connections, so traffic moves to other instances before the listener closes.
    pub draining: std::sync::atomic::AtomicBool,
}

/// Shared state handle.
pub type State = Arc<AppState>;

/// Builds the state from a configuration: loads tenants (refusing to start on any problem),
/// the gateway secret and the templates.
pub async fn build(config: Config) -> Result<State, AppError> {
    install_crypto_provider();
    let map = map::load_dir(&config.domains_dir).map_err(AppError::Tenants)?;
    let idps = Arc::new(IdpRegistry::new(
        IdpRegistry::build(&map).map_err(AppError::Tenants)?,
    ));
    idps.record_metrics(chrono::Utc::now());
    let sources = IdpRegistry::url_sources(&map);
    if !sources.is_empty() {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SamlError::Metadata(e.to_string()))?;
        IdpRegistry::spawn_refresher(&idps, sources, client);
    }
    let keys = Arc::new(SpKeys::load_or_generate(&config)?);
    let sp = Arc::new(Sp::from_config(&config, keys));
    let users: Arc<dyn UserStore> = Arc::new(accounts::open(&config.database_url()).await?);
    let store = session::open(&config.session_store).await?;
    let secret = secret(&config)?;
    let proof = if config.require_verified_domains {
        let proof = Arc::new(DomainProof::new(config.dns_server, &secret)?);
        proof.refresh(&map).await;
        Some(proof)
    } else {
        None
    };
    let oauth = Arc::new(crate::oauth::OAuth::new(
        crate::oauth::Clients::new(config.oauth_clients.clone()),
        crate::oauth::TokenKeys::load_or_generate(&config.data_dir)?,
        config.public_url.as_str().trim_end_matches('/').to_string(),
        store.clone(),
        users.clone(),
    ));
    let tenants = Arc::new(FileSource::new(map));
    let discovery = Discovery {
        directory: Directory::new(tenants.clone(), 1_000_000, Duration::from_secs(300)),
        proof,
        region: config.region.clone(),
        regions: config.regions.clone(),
    };
    Ok(Arc::new(AppState {
        discovery,
        tenants,
        pages: Arc::new(Pages::new().map_err(Box::new)?),
        metrics: telemetry::metrics(),
        sp,
        idps,
        users,
        passwords: Passwords::new()?,
        sessions: Sessions::new(
            store.clone(),
            Duration::from_secs(config.session_idle_seconds),
            Duration::from_secs(config.session_max_seconds),
        ),
        limiter: RateLimiter::new(
            store.clone(),
            RateLimitPolicy {
                limit: config.login_attempts_per_minute,
                lockout_after: config.lockout_after_failures,
                ..RateLimitPolicy::default()
            },
        ),
        store,
        oauth,
        active_users: moka::future::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(Duration::from_secs(30))
            .build(),
        saml_slots: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()) * 4,
        ),
        draining: std::sync::atomic::AtomicBool::new(false),
        config,
    }))
}

/// Serves the gateway on `listener` until `shutdown` completes, then drains in-flight
/// requests.
pub async fn run(
    listener: TcpListener,
    state: State,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The first step of a graceful stop: for `drain_seconds`, keep serving while `/readyz`
/// reports not ready and every response carries `Connection: close`. A request a load
/// balancer or a keep-alive client sends in that time is served, whereas once the listener
/// closes it would meet a refused or reset connection. Then `run`'s shutdown drains the
/// requests in flight.
pub async fn drain(state: &AppState) {
    state
        .draining
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let seconds = state.config.drain_seconds;
    tracing::info!(
        seconds,
        "draining: not ready, closing connections after each response"
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

/// Reloads `domains/`. On any problem the last good map stays in service and the problems
/// are returned (and logged by the caller).
pub async fn reload(state: &AppState) -> Result<usize, Vec<Problem>> {
    let dir = state.config.domains_dir.clone();
    let loaded = tokio::task::spawn_blocking(move || map::load_dir(&dir))
        .await
        .map_err(|e| {
            vec![Problem {
                source: "reload".into(),
                line: None,
                message: e.to_string(),
            }]
        })?;
    let loaded = loaded.and_then(|map| IdpRegistry::build(&map).map(|idps| (map, idps)));
    match loaded {
        Ok((map, idps)) => {
            state.idps.replace(idps);
            state.idps.record_metrics(chrono::Utc::now());
            let count = map.domain_count();
            apply(state, map).await;
            metrics::counter!("realmgate_reloads_total", "result" => "ok").increment(1);
            Ok(count)
        }
        Err(problems) => {
            metrics::counter!("realmgate_reloads_total", "result" => "rejected").increment(1);
            Err(problems)
        }
    }
}

async fn apply(state: &AppState, map: TenantMap) {
    if let Some(proof) = &state.discovery.proof {
        proof.refresh(&map).await;
    }
    state.tenants.replace(map);
    state.discovery.directory.invalidate();
}

/// Reloads on SIGHUP and whenever a file of `domains/` changes (debounced, so an editor's
/// write-rename-chmod sequence triggers one reload).
pub fn spawn_reloader(state: State) -> Result<(), notify::Error> {
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(16);
    let fs_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok_and(|e| !e.kind.is_access()) {
            let _ = fs_tx.try_send(());
        }
    })?;
    watcher.watch(&state.config.domains_dir, RecursiveMode::NonRecursive)?;
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut hup) = signal(SignalKind::hangup()) {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading tenant files");
                if tx.send(()).await.is_err() {
                    break;
                }
            }
        }
    });
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        while rx.recv().await.is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            while rx.try_recv().is_ok() {}
            match reload(&state).await {
                Ok(domains) => tracing::info!(domains, "tenant map reloaded"),
                Err(problems) => {
                    for p in &problems {
                        tracing::error!(problem = %p, "tenant reload rejected; keeping the last good map");
                    }
                }
            }
        }
    });
    Ok(())
}

/// The gateway secret (CSRF, DNS proof tokens): from config, else generated once into
/// `data_dir/secret` with owner-only permissions.
pub fn secret(config: &Config) -> Result<Vec<u8>, AppError> {
    if let Some(s) = &config.secret {
        return Ok(s.as_bytes().to_vec());
    }
    let path = config.data_dir.join("secret");
    let io = |source| AppError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= 32 => Ok(bytes),
        _ => {
            std::fs::create_dir_all(&config.data_dir).map_err(io)?;
            let secret = web::guard::random_token().into_bytes();
            write_private(&path, &secret).map_err(io)?;
            Ok(secret)
        }
    }
}

/// Selects aws-lc-rs as rustls' process-wide provider. Both it and ring are compiled in
/// (reqwest brings ring), and rustls refuses to guess between two.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
