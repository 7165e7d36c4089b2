//! The application: shared state, start-up, the tenant-map reload loop, and `run`, which
//! serves a router on a listener until shutdown (tests call it on port 0).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::config::{Config, Problem};
use crate::discovery::{Directory, Discovery, DomainProof, FileSource, TenantMap, map};
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
}

/// Shared state handle.
pub type State = Arc<AppState>;

/// Builds the state from a configuration: loads tenants (refusing to start on any problem),
/// the gateway secret and the templates.
pub async fn build(config: Config) -> Result<State, AppError> {
    install_crypto_provider();
    let map = map::load_dir(&config.domains_dir).map_err(AppError::Tenants)?;
    let secret = secret(&config)?;
    let proof = if config.require_verified_domains {
        let proof = Arc::new(DomainProof::new(config.dns_server, &secret)?);
        proof.refresh(&map).await;
        Some(proof)
    } else {
        None
    };
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
    match loaded {
        Ok(map) => {
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
