//! Backend outages, deterministically: a redis-server of the test's own on a free port,
//! killed and restarted; the real PostgreSQL behind a loopback TCP proxy that the test cuts
//! (every connection closed, new ones refused) and restores. While a backend is down,
//! `/readyz` answers 503 and requests that need it fail within [`FAIL_FAST`] with the
//! stable code `temporarily_unavailable`; requests that do not need it keep working; once
//! it is back the same gateway, never restarted, serves again within [`RECOVERY`].
//! (`bench/soak.sh` runs the same faults under load against two processes.)

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestApp;
use realmgate::accounts::Status;
use tokio::task::JoinHandle;

/// A request meeting a dead backend must be answered within this.
const FAIL_FAST: Duration = Duration::from_secs(2);
/// The gateway must serve again within this after the backend returns.
const RECOVERY: Duration = Duration::from_secs(2);

/// A redis-server of this test's own; killed (SIGKILL, like a crash) on drop.
struct RedisServer {
    child: std::process::Child,
}

impl RedisServer {
    fn start(port: u16) -> RedisServer {
        let child = std::process::Command::new("/usr/bin/redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = RedisServer { child };
        wait_accepting(port);
        server
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server.
    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_accepting(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nothing accepts connections on port {port}");
}

/// Forwards a loopback port to `target`. Cutting closes every forwarded connection and the
/// listening socket, so the client sees what a stopped server shows: dropped connections,
/// then refused ones. Freezing keeps every connection open but silent, as a network
/// partition or a stuck server does; thawing forwards new connections again (the frozen
/// ones are closed, as their peer would eventually reset them).
struct Proxy {
    addr: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    frozen: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            target,
            tasks: Arc::default(),
            frozen: tokio::sync::watch::Sender::new(false),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (target, tasks, frozen) = (self.target, self.tasks.clone(), self.frozen.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut frozen = frozen.subscribe();
                let forward = tokio::spawn(async move {
                    if !*frozen.borrow_and_update()
                        && let Ok(mut server) = tokio::net::TcpStream::connect(target).await
                    {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                            _ = frozen.wait_for(|f| *f) => {}
                        }
                        // Frozen: hold both sockets open, forwarding nothing.
                        std::future::pending::<()>().await;
                    }
                    std::future::pending::<()>().await;
                });
                tasks.lock().unwrap().push(forward);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        // Aborted tasks drop their sockets at their next poll: retry the bind briefly.
        for _ in 0..100 {
            if let Ok(listener) = tokio::net::TcpListener::bind(self.addr).await {
                return self.serve(listener);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("could not listen on {} again", self.addr);
    }

    fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    async fn thaw(&self) {
        self.cut();
        self.frozen.send_replace(false);
        self.restore().await;
    }
}

/// Status, body and latency of a request.
async fn timed(req: reqwest::RequestBuilder) -> (u16, String, Duration) {
    let t = Instant::now();
    let res = req.timeout(Duration::from_secs(30)).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap(), t.elapsed())
}

/// Asserts the answer of a request meeting a dead backend: 503, the stable code, fast.
fn assert_fails_fast(what: &str, (status, body, took): (u16, String, Duration)) {
    assert_eq!(status, 503, "{what}: {body}");
    assert!(
        body.contains("temporarily_unavailable"),
        "{what}: no stable code in {body}"
    );
    assert!(took < FAIL_FAST, "{what} took {took:?}");
}

async fn readyz(app: &TestApp) -> (u16, String, Duration) {
    timed(reqwest::Client::new().get(app.at("/readyz"))).await
}

async fn discover_api(app: &TestApp) -> u16 {
    reqwest::Client::new()
        .post(app.at("/api/v1/discover"))
        .json(&serde_json::json!({"email": "alice@contoso.com"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls `serving` every 20 ms until it holds; how long that took, at most [`RECOVERY`]
/// plus one second (then the assertion of the caller fails with the figure).
async fn time_to<F: Future<Output = bool>>(mut serving: impl FnMut() -> F) -> Duration {
    let t = Instant::now();
    while !serving().await && t.elapsed() < RECOVERY + Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed()
}

#[tokio::test]
async fn redis_outage_fails_fast_and_recovers_without_restart() {
    if !common::require_program("/usr/bin/redis-server") {
        return;
    }
    let port = common::free_port();
    let mut redis = RedisServer::start(port);
    let app = common::spawn_app(|c| c.session_store = format!("redis://127.0.0.1:{port}")).await;
    let client = app.client();
    let sso_start = || client.get(app.at("/sso/contoso/start"));
    let (status, body, _) = timed(sso_start()).await;
    assert_eq!(status, 302, "{body}");
    assert_eq!(readyz(&app).await.0, 200);

    redis.kill();
    let (status, body, took) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert!(took < FAIL_FAST, "/readyz took {took:?}");
    assert!(body.contains("session store"), "{body}");
    assert_fails_fast("SSO start", timed(sso_start()).await);
    let verify = client.get(app.at("/auth/verify")).header(
        "cookie",
        format!("realmgate_session={}", realmgate::secrets::random_token()),
    );
    assert_fails_fast("forward-auth", timed(verify).await);
    // Discovery needs neither Redis nor the database.
    assert_eq!(discover_api(&app).await, 200);

    let _redis = RedisServer::start(port);
    let took =
        time_to(|| async { readyz(&app).await.0 == 200 && timed(sso_start()).await.0 == 302 })
            .await;
    assert!(took < RECOVERY, "serving again after {took:?}");
}

/// A gateway whose users live in PostgreSQL (a fresh schema of `db`) reached through a proxy,
/// with a password user `pat@fabrikam.com`.
async fn behind_proxy(db: &str) -> (TestApp, Proxy) {
    let mut url = url::Url::parse(db).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let target = tokio::net::lookup_host(target)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(target).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let app = common::spawn_app(|c| {
        c.database_url = Some(url.to_string());
        // Recovery is polled with logins.
        c.login_attempts_per_minute = 10_000;
    })
    .await;
    common::add_user(
        &app,
        "fabrikam",
        "pat@fabrikam.com",
        Some("correct-horse-1"),
        false,
        Status::Active,
    )
    .await;
    (app, proxy)
}

/// Pat's password login: it reads the user from the database.
async fn password_login(app: &TestApp, client: &reqwest::Client) -> (u16, String, Duration) {
    let token = common::csrf(app, client).await;
    timed(client.post(app.at("/login/password")).form(&[
        ("email", "pat@fabrikam.com"),
        ("password", "correct-horse-1"),
        ("csrf", &token),
    ]))
    .await
}

#[tokio::test]
async fn postgres_outage_fails_fast_and_recovers_without_restart() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let (app, proxy) = behind_proxy(&schema.url).await;
    let client = app.client();
    let login = || password_login(&app, &client);
    let (status, body, _) = login().await;
    assert_eq!(status, 303, "{body}");

    proxy.cut();
    let (status, body, took) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert!(took < FAIL_FAST, "/readyz took {took:?}");
    assert_fails_fast("password login", login().await);
    assert_eq!(discover_api(&app).await, 200);

    proxy.restore().await;
    let took = time_to(|| async { readyz(&app).await.0 == 200 && login().await.0 == 303 }).await;
    assert!(took < RECOVERY, "serving again after {took:?}");
}

/// A Redis that accepts connections but never answers (stopped with SIGSTOP, like a server
/// stuck in a slow command or a paused VM): the call timeout, not the kernel, must bound
/// every request, and the gateway must serve again once it answers.
#[tokio::test]
async fn hung_redis_times_out_fast_and_recovers() {
    if !common::require_program("/usr/bin/redis-server") {
        return;
    }
    let port = common::free_port();
    let redis = RedisServer::start(port);
    let app = common::spawn_app(|c| c.session_store = format!("redis://127.0.0.1:{port}")).await;
    let client = app.client();
    let sso_start = || client.get(app.at("/sso/contoso/start"));
    assert_eq!(timed(sso_start()).await.0, 302);

    redis.signal("STOP");
    let (status, body, took) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert!(took < FAIL_FAST, "/readyz took {took:?}");
    let (status, body, took) = timed(sso_start()).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("temporarily_unavailable"), "{body}");
    assert!(took < FAIL_FAST, "SSO start took {took:?}");

    redis.signal("CONT");
    let took =
        time_to(|| async { readyz(&app).await.0 == 200 && timed(sso_start()).await.0 == 302 })
            .await;
    assert!(took < RECOVERY, "serving again after {took:?}");
}

/// PostgreSQL stops answering without closing anything (a partition, a stuck server):
/// requests must still fail fast instead of hanging until the request timeout
/// (`http_timeout_seconds`, 75 s).
#[tokio::test]
async fn partitioned_postgres_fails_fast_and_recovers() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let (app, proxy) = behind_proxy(&schema.url).await;
    let client = app.client();
    let login = || password_login(&app, &client);
    assert_eq!(login().await.0, 303);

    proxy.freeze();
    let (status, body, took) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert!(took < FAIL_FAST, "/readyz took {took:?}");
    assert_fails_fast("password login", login().await);

    proxy.thaw().await;
    let took = time_to(|| async { readyz(&app).await.0 == 200 && login().await.0 == 303 }).await;
    assert!(took < RECOVERY, "serving again after {took:?}");
}

/// SIGTERM: for `drain_seconds` the instance still serves (a request a load balancer sends
/// before it notices is not refused) while `/readyz` says it is going and every response
/// closes its connection; then it stops accepting, finishes what is in flight and exits 0.
#[tokio::test]
async fn sigterm_drains_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("domains");
    std::fs::create_dir_all(&domains).unwrap();
    common::standard_tenants(&domains);
    let port = common::free_port();
    let env = [
        ("REALMGATE_DOMAINS_DIR", domains.display().to_string()),
        (
            "REALMGATE_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("REALMGATE_DRAIN_SECONDS", "2".to_string()),
    ];
    let mut gateway = common::Process::start(port, false, &env).await;
    let client = reqwest::Client::new();
    let discover = || {
        client
            .post(format!("{}/api/v1/discover", gateway.url))
            .json(&serde_json::json!({"email": "alice@contoso.com"}))
            .send()
    };
    let res = discover().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("connection").is_none());

    let stopped = Instant::now();
    gateway.terminate();
    let not_ready = time_to(|| async {
        let res = client.get(format!("{}/readyz", gateway.url)).send().await;
        res.is_ok_and(|r| r.status() == 503)
    })
    .await;
    assert!(
        not_ready < Duration::from_secs(1),
        "/readyz still 200 after {not_ready:?}"
    );
    let res = discover().await.expect("served while draining");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["connection"], "close");

    let status = gateway.exited_within(Duration::from_secs(10)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(
        stopped.elapsed() >= Duration::from_secs(2),
        "stopped before the drain"
    );
}
