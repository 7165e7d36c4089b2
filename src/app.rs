//! The application: shared state, start-up (where the tenant source is chosen, once),
//! the tenant reload loop (file watcher, or PostgreSQL notifications), and `run`, which
//! serves a router on a listener until shutdown (tests call it on port 0).

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::accounts::{self, AccountsError, Passwords, UserStore};
use crate::config::{Config, Problem};
use crate::discovery::pg::{ImportSummary, ImportTenant, Listener};
use crate::discovery::{
    Change, Directory, DirectoryError, Discovery, DomainProof, FileSource, PgSource, TenantMap,
    TenantSource, map,
};
use crate::saml::{IdpMetadata, IdpRegistry, SamlError, Sp, SpKeys};
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
    /// The tenant database could not be reached.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// Where tenants come from (`tenant_source`), chosen once at start-up; handlers see only
/// the `Directory` and `IdpRegistry` in front of it.
pub enum Tenants {
    /// The `domains/` files, swapped whole on reload.
    Files(Arc<FileSource>),
    /// PostgreSQL, and its notification subscription until `spawn_reloader` runs it.
    Postgres(Arc<PgSource>, Mutex<Option<Listener>>),
}

/// Everything a request handler may need; cheap to clone behind an `Arc`.
pub struct AppState {
    /// The configuration in force.
    pub config: Config,
    /// Home-realm discovery.
    pub discovery: Discovery,
    /// The tenant source, kept to swap in reloaded maps or follow notifications.
    pub tenants: Tenants,
    /// Compiled templates.
    pub pages: Arc<Pages>,
    /// Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// Our SAML SP: entity ID, ACS URLs, keys.
    pub sp: Arc<Sp>,
    /// Every SSO tenant's IdP metadata, swapped with the tenant map (or loaded per
    /// tenant on demand with the database source).
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
    /// unbounded flood of POSTs must not grow the blocking pool without limit. Shared so a
    /// permit can go with the work: a client that hangs up does not free it early.
    pub saml_slots: Arc<tokio::sync::Semaphore>,
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

/// Builds the state from a configuration: loads tenants (refusing to start on any problem)
/// or connects to their database, the gateway secret and the templates.
pub async fn build(config: Config) -> Result<State, AppError> {
    install_crypto_provider();
    let client = crate::saml::metadata::http_client(config.idp_metadata_ca.as_deref())?;
    let secret = secret(&config)?;
    let proof = if config.require_verified_domains {
        Some(DomainProof::new(config.dns_server, &secret)?)
    } else {
        None
    };
    let (tenants, source, idps, proof): (Tenants, Arc<dyn TenantSource>, _, _) = match config
        .tenant_database()
    {
        None => {
            let (map, configured) = load_tenants(&config.domains_dir).map_err(AppError::Tenants)?;
            let idps = Arc::new(IdpRegistry::fetching(client));
            idps.replace(configured, IdpRegistry::url_sources(&map));
            idps.record_metrics(chrono::Utc::now());
            let proof = proof.map(Arc::new);
            if let Some(proof) = &proof {
                proof.refresh(&map).await;
            }
            let files = Arc::new(FileSource::new(map));
            (Tenants::Files(files.clone()), files, idps, proof)
        }
        Some(url) => {
            let pg = Arc::new(PgSource::open(url).await?);
            let listener = pg.listen().await?;
            (
                Tenants::Postgres(pg.clone(), Mutex::new(Some(listener))),
                pg,
                Arc::new(IdpRegistry::on_demand(client)),
                proof.map(|p| Arc::new(p.on_demand())),
            )
        }
    };
    let keys = Arc::new(SpKeys::load_or_generate(&config)?);
    let sp = Arc::new(Sp::from_config(&config, keys));
    let users: Arc<dyn UserStore> = Arc::new(accounts::open(&config.database_url()).await?);
    let store = session::open(&config.session_store).await?;
    let oauth = Arc::new(crate::oauth::OAuth::new(
        crate::oauth::Clients::new(config.oauth_clients.clone()),
        crate::oauth::TokenKeys::load_or_generate(&config.data_dir)?,
        config.public_url.as_str().trim_end_matches('/').to_string(),
        store.clone(),
        users.clone(),
    ));
    let discovery = Discovery {
        directory: Directory::new(source, 1_000_000, Duration::from_secs(300)),
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
        saml_slots: Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()) * 4,
        )),
        draining: std::sync::atomic::AtomicBool::new(false),
        config,
    }))
}

/// How long in-flight requests may take to finish once `shutdown` completes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves the gateway over HTTP/1.1 on `listener` until `shutdown` completes, then stops
/// accepting and lets in-flight requests finish (idle connections close at once).
///
/// hyper's HTTP/1.1 connection directly rather than `axum::serve`: the plain listener is
/// reached through a proxy or the loopback (TLS, with HTTP/2, is served by axum-server), so
/// sniffing every connection for HTTP/2 costs without serving anyone; and `axum::serve`
/// gives hyper no timer, which leaves the header-read timeout (`http_timeout_seconds`) off:
/// a client that never finished its headers held its socket forever.
pub async fn run(
    listener: TcpListener,
    state: State,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let header_timeout = Duration::from_secs(state.config.http_timeout_seconds);
    let app = web::router(state);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: the next accept would fail the
                    // same way at once, so pause instead of spinning.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Handlers that rate-limit by client address read it as axum's `ConnectInfo`.
        let service = app.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        );
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
        let conn = connections.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace period; stopping");
    }
    Ok(())
}

/// The IdP of each SSO tenant of a map, by account.
pub type TenantIdps = HashMap<String, Arc<IdpMetadata>>;

/// Every tenant of `dir` and the IdP of each, checked as a whole: what the file source
/// serves, `check` reports on, and `tenant import` writes.
pub fn load_tenants(dir: &Path) -> Result<(TenantMap, TenantIdps), Vec<Problem>> {
    let map = map::load_dir(dir)?;
    let idps = IdpRegistry::build(&map)?;
    Ok((map, idps))
}

/// Validates `dir` like `check` and, only when it has no problem at all, makes it the
/// tenant map of the PostgreSQL database at `url` (see [`PgSource::import`]).
pub async fn import_tenants(url: &str, dir: &Path) -> Result<ImportSummary, AppError> {
    let dir = dir.to_path_buf();
    let tenants = tokio::task::spawn_blocking(move || {
        let (map, idps) = load_tenants(&dir)?;
        let mut tenants = Vec::new();
        let mut problems = Vec::new();
        for t in map.tenants() {
            let entity_id = idps.get(&t.account).map(|m| m.entity_id.clone());
            match ImportTenant::read(t, entity_id) {
                Ok(t) => tenants.push(t),
                Err(p) => problems.push(p),
            }
        }
        if problems.is_empty() {
            Ok(tenants)
        } else {
            Err(problems)
        }
    })
    .await
    .map_err(|e| {
        AppError::Tenants(vec![Problem {
            source: "import".into(),
            line: None,
            message: e.to_string(),
        }])
    })?
    .map_err(AppError::Tenants)?;
    let source = PgSource::open(url).await?;
    Ok(source.import(tenants).await?)
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
    let Tenants::Files(files) = &state.tenants else {
        return Err(vec![Problem {
            source: "reload".into(),
            line: None,
            message: "tenants come from PostgreSQL: change them with `realmgate tenant import`"
                .into(),
        }]);
    };
    let dir = state.config.domains_dir.clone();
    let loaded = tokio::task::spawn_blocking(move || load_tenants(&dir))
        .await
        .map_err(|e| {
            vec![Problem {
                source: "reload".into(),
                line: None,
                message: e.to_string(),
            }]
        })?;
    match loaded {
        Ok((map, idps)) => {
            state.idps.replace(idps, IdpRegistry::url_sources(&map));
            state.idps.record_metrics(chrono::Utc::now());
            let count = map.domain_count();
            if let Some(proof) = &state.discovery.proof {
                proof.refresh(&map).await;
            }
            files.replace(map);
            state.discovery.directory.invalidate();
            metrics::counter!("realmgate_reloads_total", "result" => "ok").increment(1);
            Ok(count)
        }
        Err(problems) => {
            metrics::counter!("realmgate_reloads_total", "result" => "rejected").increment(1);
            Err(problems)
        }
    }
}

/// Forgets what the caches hold about changed tenants: cached lookups, IdPs and DNS
/// verdicts loaded on demand.
pub fn forget(state: &AppState, change: &Change) {
    state.discovery.directory.forget(change);
    state.idps.forget(change);
    if let Some(proof) = &state.discovery.proof {
        proof.forget(change);
    }
}

/// Follows tenant changes: for the file source, reloads on SIGHUP and whenever a file of
/// `domains/` changes (debounced, so an editor's write-rename-chmod sequence triggers one
/// reload); for PostgreSQL, forgets what each import notification names, and everything
/// on SIGHUP.
pub fn spawn_reloader(state: State) -> Result<(), notify::Error> {
    match &state.tenants {
        Tenants::Files(_) => spawn_file_reloader(state),
        Tenants::Postgres(source, listener) => {
            let taken = listener.lock().map(|mut l| l.take()).unwrap_or(None);
            if let Some(listener) = taken {
                let source = source.clone();
                let weak = Arc::downgrade(&state);
                tokio::spawn(listener.run(source, move |change| {
                    let Some(state) = weak.upgrade() else {
                        return false;
                    };
                    tracing::info!(?change, "tenants changed in PostgreSQL");
                    forget(&state, change);
                    true
                }));
            }
            #[cfg(unix)]
            {
                let weak = Arc::downgrade(&state);
                tokio::spawn(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    if let Ok(mut hup) = signal(SignalKind::hangup()) {
                        while hup.recv().await.is_some() {
                            let Some(state) = weak.upgrade() else { break };
                            tracing::info!("SIGHUP: forgetting every cached tenant");
                            forget(&state, &Change::All);
                        }
                    }
                });
            }
            Ok(())
        }
    }
}

fn spawn_file_reloader(state: State) -> Result<(), notify::Error> {
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
