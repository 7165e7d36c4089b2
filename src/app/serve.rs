//! Serving: the listeners, one accept loop for plain HTTP and TLS, the metrics listener,
//! and the graceful stop (drain, then grace).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::AppError;
use crate::config::Config;
use crate::web;
use crate::web::state::{AppState, SharedState};

/// How long in-flight requests may take to finish once `shutdown` completes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What the gateway listens on.
pub struct Listeners {
    /// The public listener: the gateway's routes, never `/metrics`.
    pub public: TcpListener,
    /// TLS on the public listener (`tls_cert`, `tls_key`), HTTP/2 or HTTP/1.1 by ALPN.
    pub tls: Option<TlsAcceptor>,
    /// `metrics_listen`: Prometheus exposition only, apart from the public listener
    /// because the series name every tenant's account, which discovery never enumerates.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds `listen` and `metrics_listen` and loads the TLS files, when configured.
    pub async fn bind(config: &Config) -> Result<Self, AppError> {
        let bind = |addr: std::net::SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| AppError::Io {
                    path: format!("binding {addr}"),
                    source,
                })
        };
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                super::install_crypto_provider();
                let loaded = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .map_err(|source| AppError::Io {
                        path: format!("TLS files {} and {}", cert.display(), key.display()),
                        source,
                    })?;
                Some(TlsAcceptor::from(loaded.get_inner()))
            }
            _ => None,
        };
        Ok(Self {
            public: bind(config.listen).await?,
            tls,
            metrics: Some(bind(config.metrics_listen).await?),
        })
    }
}

/// Serves the gateway on `listeners` until `shutdown` completes, then stops accepting and
/// lets in-flight requests finish (idle connections close at once) for at most the grace
/// period. The metrics listener stops with the public one.
pub async fn run(
    listeners: Listeners,
    state: SharedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = Duration::from_secs(state.config.http_timeout_seconds);
    let metrics = listeners.metrics.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "metrics listening");
        }
        tokio::spawn(accept_loop(
            listener,
            None,
            web::metrics_router(state.clone()),
            header_timeout,
            std::future::pending(),
        ))
    });
    accept_loop(
        listeners.public,
        listeners.tls,
        web::router(state),
        header_timeout,
        shutdown,
    )
    .await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    Ok(())
}

/// Accepts connections on `listener` and serves `app` on each until `shutdown`, then waits
/// up to the grace period for the connections in flight.
///
/// hyper's connections directly rather than `axum::serve`: `axum::serve` gives hyper no
/// timer, which leaves the header-read timeout (`http_timeout_seconds`) off, and a client
/// that never finished its headers held its socket forever. Plain connections are
/// HTTP/1.1 only: they come through a proxy or the loopback, where sniffing every one for
/// HTTP/2 costs without serving anyone; TLS clients choose by ALPN.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2.timer(TokioTimer::new());
    let (http1, http2) = (Arc::new(http1), Arc::new(http2));
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
        let service = hyper_util::service::TowerToHyperService::new(app.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        ));
        let watcher = connections.watcher();
        let (http1, http2, tls) = (http1.clone(), http2.clone(), tls.clone());
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    watcher
                        .watch(http1.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(tls) => {
                    // The handshake is bounded like a request's headers: a client that
                    // opens a connection and sends nothing must not hold it.
                    let stream =
                        match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                        watcher
                            .watch(http2.serve_connection(TokioIo::new(stream), service))
                            .await
                    } else {
                        watcher
                            .watch(http1.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                }
            };
            if let Err(e) = served {
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

/// Completes on Ctrl-C at once, and on SIGTERM (an orchestrated stop) after [`drain`];
/// in-flight requests then drain.
pub async fn shutdown_signal(state: SharedState) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => drain(&state).await,
    }
    tracing::info!("shutdown requested; draining in-flight requests");
}
