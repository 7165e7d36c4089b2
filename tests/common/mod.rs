//! Test helpers: start the real gateway on a loopback port with its own tenant files and
//! data directory, and talk HTTP to it.
#![allow(dead_code)]

pub mod api;
pub mod authorize;
pub mod axe;
pub mod console;
pub mod dns;
pub mod idp;
pub mod jwks;
pub mod mail;
pub mod metadata;
pub mod oidc;
pub mod saml;
pub mod sts;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use realmgate::app;
use realmgate::config::Config;
use tokio::sync::oneshot;

/// A running gateway.
pub struct TestApp {
    pub addr: SocketAddr,
    pub url: String,
    /// The metrics listener (`metrics_listen`), apart from the public one.
    pub metrics_url: String,
    pub domains: PathBuf,
    pub data: PathBuf,
    pub state: realmgate::web::state::SharedState,
    _dirs: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

impl TestApp {
    /// A client that keeps cookies and does not follow redirects (tests look at them).
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    pub fn write_tenant(&self, name: &str, text: &str) {
        write_atomic(&self.domains.join(name), text);
    }
}

/// Writes through a rename so a watcher never reads half a file.
pub fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The shipped example IdP metadata (an Entra-shaped document).
pub fn example_idp_metadata() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/domains/contoso.idp.xml"
    ))
    .unwrap()
}

/// The standard test tenants: an SSO tenant (with subdomains), a password tenant, and a
/// tenant of another region.
pub fn standard_tenants(dir: &Path) {
    std::fs::write(dir.join("contoso.idp.xml"), example_idp_metadata()).unwrap();
    std::fs::write(
        dir.join("contoso.toml"),
        r#"account = "contoso"
name = "Contoso Ltd"
domains = ["contoso.com", "contoso.co.uk"]
include_subdomains = true

[sso]
button = "Log In with Microsoft"
idp_metadata = "contoso.idp.xml"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("fabrikam.toml"),
        "account = \"fabrikam\"\nname = \"Fabrikam\"\ndomains = [\"fabrikam.com\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("northwind.toml"),
        "account = \"northwind\"\ndomains = [\"northwind.eu\"]\nregion = \"eu\"\n",
    )
    .unwrap();
}

/// Starts a gateway with the standard tenants; `tweak` adjusts the configuration.
pub async fn spawn_app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(standard_tenants, tweak).await
}

/// Starts a gateway with tenants written by `tenants`.
pub async fn spawn_app_with(
    tenants: impl FnOnce(&Path),
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let dirs = tempfile::tempdir().unwrap();
    let domains = dirs.path().join("domains");
    let data = dirs.path().join("data");
    std::fs::create_dir_all(&domains).unwrap();
    tenants(&domains);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}", metrics.local_addr().unwrap());
    let mut config = Config::load(None, Vec::new()).unwrap();
    config.listen = addr;
    config.public_url = format!("http://127.0.0.1:{}", addr.port()).parse().unwrap();
    config.domains_dir = domains.clone();
    config.data_dir = data.clone();
    config.region = Some("us".into());
    config
        .regions
        .insert("eu".into(), "https://eu.login.example.com".parse().unwrap());
    tweak(&mut config);
    let state = app::build(config).await.unwrap();
    app::spawn_reloader(state.clone()).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = state.clone();
    tokio::spawn(async move {
        let listeners = app::Listeners {
            public: listener,
            tls: None,
            metrics: Some(metrics),
        };
        app::run(listeners, served, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        url: format!("http://127.0.0.1:{}", addr.port()),
        metrics_url,
        addr,
        domains,
        data,
        state,
        _dirs: dirs,
        _stop: stop,
    }
}

/// The CSRF token in a rendered form.
pub fn csrf_of(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("form has a csrf field")
        + 19;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

/// Loads the email page and returns its CSRF token (the client keeps the cookie).
pub async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    let html = client
        .get(app.at("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_of(&html)
}

/// True when running under CI: missing peers then fail tests instead of skipping them.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Skips (locally) or fails (CI) when an external program is missing.
pub fn require_program(path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    assert!(
        !under_ci(),
        "{path} is required under CI (install it in .ci/run)"
    );
    eprintln!("skipped: {path} is not installed");
    false
}

/// Undoes handlebars' HTML escaping of attribute values (`=` is written `&#x3D;`).
pub fn unescape(html: &str) -> String {
    html.replace("&#x3D;", "=")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// A fresh schema in the PostgreSQL at `TEST_POSTGRES_URL`, so parallel tests and old data
/// never meet.
pub struct PgSchema {
    /// The database URL with `search_path` set to the schema.
    pub url: String,
    name: String,
    pool: sqlx::PgPool,
}

/// Creates a [`PgSchema`]; `None` (skip) when PostgreSQL is unreachable, except under CI,
/// where that fails.
pub async fn pg_schema() -> Option<PgSchema> {
    let base = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let pool = match sqlx::PgPool::connect(&base).await {
        Ok(pool) => pool,
        Err(e) => {
            assert!(!under_ci(), "PostgreSQL is required under CI: {e}");
            eprintln!("skipped: postgresql unreachable ({e})");
            return None;
        }
    };
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
        .execute(&pool)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(PgSchema {
        url: format!("{base}{sep}options=-c%20search_path%3D{name}"),
        name,
        pool,
    })
}

impl PgSchema {
    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{}\" CASCADE",
            self.name
        )))
        .execute(&self.pool)
        .await
        .unwrap();
    }
}

/// Real headless Chromium driven through chromedriver (WebDriver).
pub struct Browser {
    pub client: fantoccini::Client,
    driver: std::process::Child,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium profile; `None` (skip) when they
    /// are not installed outside CI.
    pub async fn start() -> Option<Browser> {
        Self::start_with(&[]).await
    }

    /// Like `start`, with extra Chromium flags.
    pub async fn start_with(extra: &[&str]) -> Option<Browser> {
        if !require_program("/usr/bin/chromedriver") || !require_program("/usr/bin/chromium") {
            return None;
        }
        app::install_crypto_provider();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = std::process::Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap().keep();
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let caps: serde_json::Map<String, serde_json::Value> =
            serde_json::from_value(serde_json::json!({
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
            }))
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match fantoccini::ClientBuilder::rustls()
                .unwrap()
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => return Some(Browser { client, driver }),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start: {last:?}");
    }

    /// Waits for an element by CSS selector.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(std::time::Duration::from_secs(15))
            .for_element(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
    }

    /// Clicks the element `css` of the page as it is now.
    pub async fn click(&self, css: &str) {
        self.client
            .find(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Types `text` into the field `css` of the page as it is now, after what it holds.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Replaces what the field `css` of the page as it is now holds with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// On the email page, once it shows: types `email` and presses Continue.
    pub async fn continue_with(&self, email: &str) {
        self.wait_for("input#email")
            .await
            .send_keys(email)
            .await
            .unwrap();
        self.click("button#continue").await;
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Adds a user directly to the gateway's store.
pub async fn add_user(
    app: &TestApp,
    account: &str,
    email: &str,
    password: Option<&str>,
    admin: bool,
    status: realmgate::accounts::Status,
) -> realmgate::accounts::User {
    use realmgate::accounts::{NewUser, Origin};
    let email = realmgate::discovery::Email::parse(email).unwrap();
    let mut new = NewUser::new(account, email, Origin::Cli, chrono::Utc::now());
    new.name = "Test User".into();
    new.admin = admin;
    new.status = status;
    if let Some(p) = password {
        new.password_hash = Some(app.state.login.passwords.hash(p).await.unwrap());
    }
    app.state.users.add(new).await.unwrap()
}

/// A session of `user` that began at `signed_in_at`, as a sign-in would open it: what
/// console tests hand a browser as its `realmgate_session` cookie.
pub async fn open_session(
    app: &TestApp,
    user: &realmgate::accounts::User,
    signed_in_at: chrono::DateTime<chrono::Utc>,
) -> realmgate::session::Session {
    app.state
        .sessions
        .create(
            &realmgate::session::SessionUser {
                user_id: user.id,
                account: user.account.clone(),
                email: user.email.to_string(),
                name: user.name.clone(),
                amr: "pwd".into(),
                acr: None,
            },
            signed_in_at,
        )
        .await
        .unwrap()
}

/// Adds an active, non-admin user with a password: what most tests need.
pub async fn add_active(
    app: &TestApp,
    account: &str,
    email: &str,
    password: &str,
) -> realmgate::accounts::User {
    add_user(
        app,
        account,
        email,
        Some(password),
        false,
        realmgate::accounts::Status::Active,
    )
    .await
}

/// Submits the password form (fetching a CSRF token first) and returns the response.
pub async fn password_login(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = csrf(app, client).await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf", &token));
    client
        .post(app.at("/login/password"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Asks for a password reset link for `email` on the "Forgot password?" page (fetching
/// its CSRF token first) and returns the response.
pub async fn ask_reset(app: &TestApp, client: &reqwest::Client, email: &str) -> reqwest::Response {
    let html = client
        .get(app.at("/password/forgot"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    client
        .post(app.at("/password/forgot"))
        .form(&[("email", email), ("csrf", &csrf_of(&html))])
        .send()
        .await
        .unwrap()
}

/// The real `realmgate serve` binary as a child process; killed on drop.
pub struct Process {
    pub url: String,
    /// The metrics listener (`metrics_listen`).
    pub metrics_url: String,
    child: std::process::Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Process {
    /// Sends SIGTERM, as an orchestrator stopping the instance does.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM");
    }

    /// The exit status, once the process exited within `limit`.
    pub async fn exited_within(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }

    /// Starts `realmgate serve` listening on `port` with `REALMGATE_*` settings `env`,
    /// waiting until `/healthz` answers (over TLS when `https`).
    pub async fn start(port: u16, https: bool, env: &[(&str, String)]) -> Process {
        let metrics_url = format!("http://127.0.0.1:{}", free_port());
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_realmgate"));
        cmd.arg("serve")
            .env("REALMGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "REALMGATE_METRICS_LISTEN",
                metrics_url.trim_start_matches("http://"),
            )
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let scheme = if https { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{port}");
        // Owned by the guard at once, so it is killed whichever way this function ends.
        let process = Process {
            url: url.clone(),
            metrics_url,
            child: cmd.spawn().unwrap(),
        };
        let probe = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        for _ in 0..200 {
            if probe
                .get(format!("{url}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return process;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("realmgate serve did not become healthy on {url}");
    }

    /// Sends a signal (`"HUP"`, `"TERM"`, ...) to the process with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }
}

/// The Redis URL of `TEST_REDIS_URL`; `None` (skip) when it does not answer outside CI.
pub fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    if std::net::TcpStream::connect(&addr).is_ok() {
        Some(url)
    } else {
        assert!(!under_ci(), "Redis is required under CI ({url})");
        eprintln!("skipped: redis unreachable ({url})");
        None
    }
}

/// Writes `cert.pem` and `key.pem` into `dir`: a self-signed TLS leaf for 127.0.0.1, which
/// a test peer serves HTTPS with and the gateway trusts as itself (`idp_metadata_ca`).
pub fn tls_leaf(dir: &Path) {
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A leaf, not a CA (rustls refuses a CA certificate as the server's).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl req failed");
}

/// The text of the file a starting peer writes once it listens; panics, naming `peer`,
/// when it never comes.
pub fn wait_for_file(path: &Path, peer: &str) -> String {
    for _ in 0..300 {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.is_empty()
        {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{peer} did not start (set IDP_LOG=1 to see its log)");
}
