//! Load and soak with fault injection (issue #6), driven by `bench/soak.sh`, which builds,
//! starts Redis and PostgreSQL of its own, writes the tenants and creates the users.
//!
//! This program owns the two gateway processes (it needs their PIDs for resident memory,
//! SIGTERM and exit status) and runs, for a bounded time, a paced mixed workload over both:
//! discovery (JSON API and page), SSO start, ACS with responses signed in-process by the
//! test IdP key (samael's XML-DSig, libxmlsec1; started on one instance, finished on
//! either), forward-auth and password logins. Meanwhile it injects faults through
//! `soak.sh ctl` (Redis stop/start, PostgreSQL connection loss and stop/start), a bad
//! tenant file and a SIGTERM, checks what the gateways do, and prints per-route latency,
//! status classes and a table of targets. Exit status 1 when a target is missed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use hdrhistogram::Histogram;
use rand::Rng;
use rand::seq::IndexedRandom;
use samael::crypto::{CryptoProvider, XmlSec};

#[derive(Parser)]
#[command(about = "Mixed load over two realmgate instances with faults injected mid-run")]
struct Args {
    /// The `realmgate` binary to run.
    #[arg(long)]
    bin: PathBuf,
    /// Scratch directory prepared by soak.sh (domains/ inside; gateway logs go here).
    #[arg(long)]
    work: PathBuf,
    /// Command that injects faults: run with `redis stop|start`, `pg stop|start|terminate`.
    #[arg(long)]
    ctl: String,
    /// Total run time in seconds.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Ports of gateway A and B.
    #[arg(long, num_args = 2)]
    ports: Vec<u16>,
    /// Redis port (to see when the restarted server accepts connections).
    #[arg(long)]
    redis_port: u16,
    /// Operations per second over all workers (an SSO login is two requests).
    #[arg(long, default_value_t = 150.0)]
    rate: f64,
    /// Concurrent workers (simulated browsers).
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// PEM key the test IdP signs responses with.
    #[arg(long)]
    idp_key: PathBuf,
    /// SSO users `sso{i}@contoso.com` imported beforehand, i in 1..=N.
    #[arg(long)]
    sso_users: usize,
    /// Password users `pw{i}@fabrikam.com` added beforehand, i in 1..=N.
    #[arg(long)]
    password_users: usize,
    /// Their password.
    #[arg(long)]
    password: String,
    /// How long each Redis and PostgreSQL outage lasts, in seconds.
    #[arg(long, default_value_t = 10)]
    outage: u64,
}

/// The test IdP (tests/testdata/saml/idp-metadata.xml) and the email claim that the
/// contoso tenant soak.sh writes reads.
const IDP_ISSUER: &str = "https://idp.example.com/";
const EMAIL_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
/// A request that takes longer than this counts as hung.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request meeting a dead backend must be answered within this ("fail fast").
const FAIL_FAST: Duration = Duration::from_secs(2);
/// The gateways must serve again within this after the backend returns.
const RECOVERY: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Route {
    DiscoverApi,
    EmailPage,
    DiscoverForm,
    SsoStart,
    Acs,
    Verify,
    Password,
}

impl Route {
    const ALL: [Route; 7] = [
        Route::DiscoverApi,
        Route::EmailPage,
        Route::DiscoverForm,
        Route::SsoStart,
        Route::Acs,
        Route::Verify,
        Route::Password,
    ];

    fn name(self) -> &'static str {
        match self {
            Route::DiscoverApi => "POST /api/v1/discover",
            Route::EmailPage => "GET /",
            Route::DiscoverForm => "POST /login/discover",
            Route::SsoStart => "GET /sso/{account}/start",
            Route::Acs => "POST /auth/saml/callback",
            Route::Verify => "GET /auth/verify",
            Route::Password => "POST /login/password",
        }
    }
}

/// One request as the client saw it.
#[derive(Clone, Copy)]
struct Event {
    /// Milliseconds since the load started, when the request was sent.
    at_ms: u32,
    route: Route,
    /// 0 = gateway A, 1 = gateway B.
    instance: u8,
    /// HTTP status, or 0 for a transport failure (refused, reset, timed out).
    status: u16,
    latency_us: u32,
    /// A 5xx whose body names the stable code `temporarily_unavailable`.
    clear_code: bool,
}

/// A span of the run in which a fault is active: failures there are expected (if fast and
/// clear); failures anywhere else miss the target.
struct Window {
    name: &'static str,
    from_ms: u32,
    to_ms: u32,
    /// Only requests to this instance (the one being drained) sent after the window
    /// opened, and only to report them: a drain excuses no failure.
    drained: Option<u8>,
}

impl Window {
    /// Whether `e` belongs to the window. A backend fault excuses the failure of every
    /// request in flight at any time of it (sent before it, it still met the dead backend).
    fn covers(&self, e: &Event) -> bool {
        match self.drained {
            Some(instance) => e.instance == instance && e.at_ms >= self.from_ms,
            None => {
                let end = e.at_ms.saturating_add(e.latency_us / 1000 + 1);
                e.at_ms <= self.to_ms && end >= self.from_ms
            }
        }
    }
}

struct Check {
    name: String,
    measured: String,
    target: String,
    pass: bool,
}

/// State shared by the workers and the fault driver.
struct Shared {
    started: Instant,
    stop: AtomicBool,
    /// Instances still given traffic (a load balancer stops sending to one it drains).
    live: [AtomicBool; 2],
    urls: [String; 2],
    /// Session cookies of logged-in users, replaced when the gateway no longer knows them.
    sessions: Mutex<Vec<String>>,
    signer: Signer,
    args: Args,
}

impl Shared {
    fn ms(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX)
    }

    fn pick_instance(&self, rng: &mut impl Rng) -> u8 {
        let first: u8 = rng.random_range(0..2);
        if self.live[first as usize].load(Ordering::Relaxed) {
            first
        } else {
            1 - first
        }
    }

    fn add_session(&self, cookie: String) {
        let mut s = self.sessions.lock().unwrap();
        // Bounded: a soak must not measure its own memory growth.
        if s.len() >= 2_000 {
            s.swap_remove(0);
        }
        s.push(cookie);
    }
}

/// Signs SAML Responses as the test IdP, with a real XML-DSig implementation.
struct Signer {
    key_der: Vec<u8>,
}

impl Signer {
    fn new(pem: &[u8]) -> Self {
        let key = openssl::pkey::PKey::private_key_from_pem(pem).expect("IdP key PEM");
        let key_der = key.private_key_to_der().expect("IdP key DER");
        Self { key_der }
    }

    /// A Response to `request_id` for `user`, assertion signed (Entra's default), valid now.
    fn response(&self, acs: &str, audience: &str, request_id: &str, user: usize) -> String {
        let now = chrono::Utc::now();
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let (issued, not_before, not_after) = (
            fmt(now),
            fmt(now - chrono::Duration::seconds(60)),
            fmt(now + chrono::Duration::seconds(300)),
        );
        let rid = format!("_r{}", uuid::Uuid::new_v4().simple());
        let aid = format!("_a{}", uuid::Uuid::new_v4().simple());
        let email = format!("sso{user}@contoso.com");
        let xml = format!(
            r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{issued}" Destination="{acs}" InResponseTo="{request_id}"><saml:Issuer>{IDP_ISSUER}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{aid}" IssueInstant="{issued}" Version="2.0"><saml:Issuer>{IDP_ISSUER}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{aid}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{request_id}" NotOnOrAfter="{not_after}" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="{EMAIL_CLAIM}"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##
        );
        let signed = XmlSec::sign_xml(xml.as_bytes(), &self.key_der).expect("xmlsec signs");
        STANDARD.encode(signed)
    }
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The AuthnRequest ID and RelayState of an HTTP-Redirect binding URL.
fn authn_request(location: &str) -> Option<(String, String)> {
    use std::io::Read;
    let url = url::Url::parse(location).ok()?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let deflated = STANDARD.decode(param("SAMLRequest")?).ok()?;
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .ok()?;
    let start = xml.find(" ID=\"")? + 5;
    let id = xml[start..start + xml[start..].find('"')?].to_string();
    Some((id, param("RelayState")?))
}

/// One worker: a browser-like client with its own CSRF cookie, sending a paced mix.
struct Worker {
    shared: Arc<Shared>,
    http: reqwest::Client,
    csrf: String,
    events: Vec<Event>,
    rng: rand::rngs::StdRng,
}

/// Weights of the operations, per 100.
const MIX: [(Op, u32); 6] = [
    (Op::DiscoverApi, 30),
    (Op::DiscoverPage, 12),
    (Op::SsoStart, 8),
    (Op::SsoLogin, 10),
    (Op::Verify, 37),
    (Op::Password, 3),
];

#[derive(Clone, Copy)]
enum Op {
    DiscoverApi,
    DiscoverPage,
    SsoStart,
    SsoLogin,
    Verify,
    Password,
}

/// What one request came back with.
struct Outcome {
    status: u16,
    response: Option<reqwest::Response>,
}

impl Worker {
    async fn send(&mut self, route: Route, instance: u8, req: reqwest::RequestBuilder) -> Outcome {
        let at_ms = self.shared.ms();
        let t = Instant::now();
        let res = req.timeout(CLIENT_TIMEOUT).send().await;
        let (status, response, clear_code) = match res {
            Ok(r) if r.status().is_server_error() => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                (status, None, body.contains("temporarily_unavailable"))
            }
            Ok(r) => (r.status().as_u16(), Some(r), false),
            Err(e) => {
                eprintln!(
                    "transport error at {:.3} s, {} on {}: {e:?}",
                    f64::from(at_ms) / 1000.0,
                    route.name(),
                    ["A", "B"][usize::from(instance)]
                );
                (0, None, false)
            }
        };
        self.events.push(Event {
            at_ms,
            route,
            instance,
            status,
            latency_us: u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX),
            clear_code,
        });
        Outcome { status, response }
    }

    async fn run(mut self, pace: Duration) -> Vec<Event> {
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        // Spread the workers' first requests over one period.
        let mut next = Instant::now() + pace.mul_f64(self.rng.random::<f64>());
        while !self.shared.stop.load(Ordering::Relaxed) {
            tokio::time::sleep_until(next.into()).await;
            // A worker that fell behind does not burst to catch up.
            next = (next + pace).max(Instant::now());
            let mut roll = self.rng.random_range(0..total);
            let op = MIX
                .iter()
                .find(|(_, w)| {
                    let hit = roll < *w;
                    roll = roll.saturating_sub(*w);
                    hit
                })
                .map_or(Op::DiscoverApi, |(op, _)| *op);
            let instance = self.shared.pick_instance(&mut self.rng);
            match op {
                Op::DiscoverApi => self.discover_api(instance).await,
                Op::DiscoverPage => self.discover_page(instance).await,
                Op::SsoStart => {
                    self.sso_start(instance).await;
                }
                Op::SsoLogin => self.sso_login(instance).await,
                Op::Verify => self.verify(instance).await,
                Op::Password => self.password(instance).await,
            }
        }
        self.events
    }

    fn url(&self, instance: u8, path: &str) -> String {
        format!("{}{path}", self.shared.urls[instance as usize])
    }

    async fn discover_api(&mut self, instance: u8) {
        let emails = [
            "alice@contoso.com",
            "bob@fabrikam.com",
            "carol@unknown.example",
            "not an email",
        ];
        let email = *emails.choose(&mut self.rng).unwrap();
        let req = self
            .http
            .post(self.url(instance, "/api/v1/discover"))
            .json(&serde_json::json!({ "email": email }));
        self.send(Route::DiscoverApi, instance, req).await;
    }

    async fn discover_page(&mut self, instance: u8) {
        let req = self.http.get(self.url(instance, "/"));
        self.send(Route::EmailPage, instance, req).await;
        let email = if self.rng.random_bool(0.5) {
            "alice@contoso.com"
        } else {
            "dave@fabrikam.com"
        };
        let req = self
            .http
            .post(self.url(instance, "/login/discover"))
            .header("cookie", format!("realmgate_csrf={}", self.csrf))
            .form(&[("email", email), ("csrf", &self.csrf)]);
        self.send(Route::DiscoverForm, instance, req).await;
    }

    /// Starts SSO; returns the request ID, RelayState and binding cookie of a 302.
    async fn sso_start(&mut self, instance: u8) -> Option<(String, String, String)> {
        let req = self.http.get(self.url(instance, "/sso/contoso/start"));
        let res = self.send(Route::SsoStart, instance, req).await.response?;
        let location = res.headers().get("location")?.to_str().ok()?.to_string();
        let binding = set_cookie(&res, "realmgate_sso")?;
        let (id, relay) = authn_request(&location)?;
        Some((id, relay, binding))
    }

    /// A whole SSO login: started on `instance`, the IdP's POST lands on either.
    async fn sso_login(&mut self, instance: u8) {
        let Some((request_id, relay, binding)) = self.sso_start(instance).await else {
            return;
        };
        let user = self.rng.random_range(1..=self.shared.args.sso_users);
        let public = self.shared.urls[0].clone();
        let acs = format!("{public}/auth/saml/callback");
        let response = self
            .shared
            .signer
            .response(&acs, &format!("{public}/"), &request_id, user);
        let finish = self.shared.pick_instance(&mut self.rng);
        let req = self
            .http
            .post(self.url(finish, "/auth/saml/callback"))
            .header("cookie", format!("realmgate_sso={binding}"))
            .form(&[("SAMLResponse", response), ("RelayState", relay)]);
        if let Some(res) = self.send(Route::Acs, finish, req).await.response
            && let Some(session) = set_cookie(&res, "realmgate_session")
        {
            self.shared.add_session(session);
        }
    }

    async fn verify(&mut self, instance: u8) {
        let session = {
            let s = self.shared.sessions.lock().unwrap();
            s.choose(&mut self.rng).cloned()
        };
        let Some(session) = session else {
            return self.password(instance).await;
        };
        let req = self
            .http
            .get(self.url(instance, "/auth/verify"))
            .header("cookie", format!("realmgate_session={session}"));
        if self.send(Route::Verify, instance, req).await.status == 401 {
            // Lost with a Redis restart (no persistence): log in again later.
            self.shared
                .sessions
                .lock()
                .unwrap()
                .retain(|s| *s != session);
        }
    }

    async fn password(&mut self, instance: u8) {
        let user = self.rng.random_range(1..=self.shared.args.password_users);
        let email = format!("pw{user}@fabrikam.com");
        let req = self
            .http
            .post(self.url(instance, "/login/password"))
            .header("cookie", format!("realmgate_csrf={}", self.csrf))
            .form(&[
                ("email", email.as_str()),
                ("password", self.shared.args.password.as_str()),
                ("csrf", self.csrf.as_str()),
            ]);
        if let Some(res) = self.send(Route::Password, instance, req).await.response
            && let Some(session) = set_cookie(&res, "realmgate_session")
        {
            self.shared.add_session(session);
        }
    }
}

/// A gateway process; killed on drop.
struct Gateway {
    child: Child,
    url: String,
}

impl Gateway {
    fn spawn(args: &Args, name: &'static str, port: u16) -> Gateway {
        let log = std::fs::File::create(args.work.join(format!("gateway-{name}.log")))
            .expect("gateway log file");
        let child = Command::new(&args.bin)
            .arg("serve")
            .env("REALMGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("REALMGATE_METRICS_LISTEN", format!("{METRICS_HOST}:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("realmgate starts");
        Gateway {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }
}

/// VmRSS of a process in KiB from /proc, or 0 once it is gone.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_ready(http: &reqwest::Client, url: &str) {
    for _ in 0..600 {
        if get_status(http, &format!("{url}/readyz")).await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not become ready in 60 s (see its log in the work directory)");
}

/// Status (0 on transport failure), body and latency of a GET.
async fn get_status(http: &reqwest::Client, url: &str) -> (u16, String, Duration) {
    let t = Instant::now();
    match http.get(url).timeout(CLIENT_TIMEOUT).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default(), t.elapsed())
        }
        Err(e) => (0, e.to_string(), t.elapsed()),
    }
}

fn ctl(args: &Args, what: &[&str]) {
    let mut parts = args.ctl.split_whitespace();
    let program = parts.next().expect("--ctl names a command");
    let status = Command::new(program)
        .args(parts)
        .args(what)
        .status()
        .expect("fault command runs");
    assert!(status.success(), "{} {what:?} failed: {status}", args.ctl);
}

/// Where each gateway serves `/metrics`: the port of its public listener on another
/// loopback address, so the two never collide.
const METRICS_HOST: &str = "127.0.0.2";

/// The value of a Prometheus counter line (summing matching series) of the gateway at
/// public `url`, 0 when absent.
async fn counter(http: &reqwest::Client, url: &str, series: &str) -> f64 {
    let metrics = url.replacen("127.0.0.1", METRICS_HOST, 1);
    let (_, text, _) = get_status(http, &format!("{metrics}/metrics")).await;
    text.lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

/// The fault driver: runs the phases on a schedule while the workers load the gateways.
struct Driver {
    shared: Arc<Shared>,
    http: reqwest::Client,
    windows: Vec<Window>,
    checks: Vec<Check>,
}

impl Driver {
    fn check(&mut self, name: impl Into<String>, measured: String, target: &str, pass: bool) {
        let name = name.into();
        println!(
            "  [{}] {name}: {measured} (target {target})",
            if pass { "ok" } else { "MISSED" }
        );
        self.checks.push(Check {
            name,
            measured,
            target: target.into(),
            pass,
        });
    }

    async fn until(&self, second: f64) {
        let at = self.shared.started + Duration::from_secs_f64(second);
        tokio::time::sleep_until(at.into()).await;
    }

    fn live_urls(&self) -> Vec<String> {
        (0..2)
            .filter(|i| self.shared.live[*i].load(Ordering::Relaxed))
            .map(|i| self.shared.urls[i].clone())
            .collect()
    }

    /// While a backend is down: `/readyz` answers 503, and a request needing it fails
    /// within [`FAIL_FAST`] with a 503 that names the stable code.
    async fn outage_checks(&mut self, backend: &str, probe: Probe) {
        for url in self.live_urls() {
            let (status, _, took) = get_status(&self.http, &format!("{url}/readyz")).await;
            self.check(
                format!("{backend} down: {url}/readyz"),
                format!("{status} in {} ms", took.as_millis()),
                "503",
                status == 503,
            );
            let (status, body, took) = probe.send(&self.http, &url, &self.shared.args).await;
            let clear = body.contains("temporarily_unavailable");
            self.check(
                format!("{backend} down: {} on {url}", probe.name()),
                format!(
                    "{status}{} in {} ms",
                    if clear {
                        " temporarily_unavailable"
                    } else {
                        ""
                    },
                    took.as_millis()
                ),
                &format!(
                    "503 temporarily_unavailable within {} ms",
                    FAIL_FAST.as_millis()
                ),
                status == 503 && clear && took <= FAIL_FAST,
            );
        }
    }

    /// After the backend returns: time until every live instance is ready and serves the
    /// probe again, without a restart.
    async fn recovery(&mut self, backend: &str, probe: Probe, back: Instant) -> Instant {
        let mut recovered = Instant::now();
        for url in self.live_urls() {
            let deadline = back + Duration::from_secs(30);
            let done = loop {
                let ready = get_status(&self.http, &format!("{url}/readyz")).await.0 == 200;
                if ready && probe.send(&self.http, &url, &self.shared.args).await.0 == probe.ok() {
                    break Some(Instant::now());
                }
                if Instant::now() > deadline {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let took = done.map(|t| t - back);
            self.check(
                format!("{backend} back: {url} serving again"),
                took.map_or("not within 30 s".into(), |t| {
                    format!("{} ms", t.as_millis())
                }),
                &format!("< {} ms", RECOVERY.as_millis()),
                took.is_some_and(|t| t < RECOVERY),
            );
            recovered = recovered.max(done.unwrap_or_else(Instant::now));
        }
        recovered
    }

    async fn redis_outage(&mut self) {
        println!("phase: Redis stopped for {} s", self.shared.args.outage);
        let from = self.shared.ms();
        ctl(&self.shared.args, &["redis", "stop"]);
        let down = Instant::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.outage_checks("Redis", Probe::SsoStart).await;
        tokio::time::sleep_until((down + Duration::from_secs(self.shared.args.outage)).into())
            .await;
        ctl(&self.shared.args, &["redis", "start"]);
        let back = wait_port(self.shared.args.redis_port).await;
        let recovered = self.recovery("Redis", Probe::SsoStart, back).await;
        self.windows.push(Window {
            name: "Redis outage",
            from_ms: from,
            to_ms: self.ms_at(recovered),
            drained: None,
        });
    }

    async fn pg_connection_loss(&mut self) {
        println!("phase: PostgreSQL terminates every gateway connection");
        let from = self.shared.ms();
        ctl(&self.shared.args, &["pg", "terminate"]);
        // The server stays up: the next logins must work at once (pools replace the dead
        // connections) on every instance.
        for url in self.live_urls() {
            let (status, _, took) = Probe::Password
                .send(&self.http, &url, &self.shared.args)
                .await;
            self.check(
                format!("PostgreSQL connections killed: password login on {url}"),
                format!("{status} in {} ms", took.as_millis()),
                "303",
                status == 303,
            );
        }
        self.windows.push(Window {
            name: "PostgreSQL connections killed",
            from_ms: from,
            to_ms: self.shared.ms(),
            drained: None,
        });
    }

    async fn pg_outage(&mut self) {
        println!(
            "phase: PostgreSQL stopped for {} s",
            self.shared.args.outage
        );
        let from = self.shared.ms();
        ctl(&self.shared.args, &["pg", "stop"]);
        let down = Instant::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.outage_checks("PostgreSQL", Probe::Password).await;
        tokio::time::sleep_until((down + Duration::from_secs(self.shared.args.outage)).into())
            .await;
        ctl(&self.shared.args, &["pg", "start"]);
        let back = Instant::now();
        let recovered = self.recovery("PostgreSQL", Probe::Password, back).await;
        self.windows.push(Window {
            name: "PostgreSQL outage",
            from_ms: from,
            to_ms: self.ms_at(recovered),
            drained: None,
        });
    }

    /// A tenant file claiming another tenant's domain: every instance rejects the reload,
    /// keeps the last good map (contoso.com still goes to contoso's SSO), and no request
    /// fails (this is not an excused window).
    async fn bad_tenant_file(&mut self) {
        println!("phase: a bad file dropped into domains/");
        let rejected = "realmgate_reloads_total{result=\"rejected\"}";
        let mut before = Vec::new();
        for url in self.live_urls() {
            before.push(counter(&self.http, &url, rejected).await);
        }
        let path = self.shared.args.work.join("domains/thief.toml");
        let tmp = path.with_extension("tmp~");
        std::fs::write(
            &tmp,
            "account = \"thief\"\ndomains = [\"contoso.com\"]\nthis line is not TOML\n",
        )
        .expect("write the bad file");
        std::fs::rename(&tmp, &path).expect("rename the bad file");
        for (url, before) in self.live_urls().into_iter().zip(before) {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut now = before;
            while now <= before && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
                now = counter(&self.http, &url, rejected).await;
            }
            self.check(
                format!("bad file: {url} {rejected}"),
                format!("{before} -> {now}"),
                "rises",
                now > before,
            );
            let answer = self
                .http
                .post(format!("{url}/api/v1/discover"))
                .json(&serde_json::json!({"email": "alice@contoso.com"}))
                .send()
                .await
                .ok();
            let body = match answer {
                Some(r) => r.text().await.unwrap_or_default(),
                None => String::new(),
            };
            let kept = body.contains("\"account\":\"contoso\"");
            self.check(
                format!("bad file: {url} still routes contoso.com"),
                if kept { "to contoso".into() } else { body },
                "to contoso",
                kept,
            );
        }
        tokio::time::sleep(Duration::from_secs(self.shared.args.outage)).await;
        std::fs::remove_file(&path).expect("remove the bad file");
    }

    /// SIGTERM to gateway B while requests are in flight on it: they all complete, and so do
    /// those the load balancer (the workers) sends it in the second before it notices; B
    /// exits 0.
    async fn sigterm(&mut self, b: &mut Gateway) {
        println!("phase: SIGTERM to gateway B under load");
        let url = self.shared.urls[1].clone();
        // Password logins are slow (Argon2id): a burst of them is surely in flight.
        let burst: Vec<_> = (0..12)
            .map(|_| {
                let http = self.http.clone();
                let url = url.clone();
                let shared = self.shared.clone();
                tokio::spawn(async move { Probe::Password.send(&http, &url, &shared.args).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let term_ms = self.shared.ms();
        println!("  SIGTERM sent at {:.3} s", f64::from(term_ms) / 1000.0);
        let t = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &b.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        // Draining: B says it is going at once, and still serves what the load balancer
        // keeps sending until its health check notices (one second here).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, body, _) = get_status(&self.http, &format!("{url}/readyz")).await;
        self.check(
            "SIGTERM: B's /readyz while it drains",
            format!("{status} {body}"),
            "503",
            status == 503,
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        self.shared.live[1].store(false, Ordering::Relaxed);
        let mut finished = 0;
        let mut statuses = BTreeMap::<u16, usize>::new();
        for task in burst {
            let (status, _, _) = task.await.expect("burst task");
            *statuses.entry(status).or_default() += 1;
            finished += usize::from(status == 303);
        }
        self.check(
            "SIGTERM: in-flight password logins on B",
            format!("{finished}/12 signed in, statuses {statuses:?}"),
            "12/12 (303)",
            finished == 12,
        );
        let exit = loop {
            if let Some(s) = b.child.try_wait().expect("wait for B") {
                break Some(s);
            }
            if t.elapsed() > Duration::from_secs(40) {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.check(
            "SIGTERM: B exits cleanly after draining",
            exit.map_or("still running after 40 s".into(), |s| {
                format!("{s} after {} ms", t.elapsed().as_millis())
            }),
            "exit status 0",
            exit.is_some_and(|s| s.success()),
        );
        self.windows.push(Window {
            name: "B after its SIGTERM (no excuse)",
            from_ms: term_ms,
            to_ms: u32::MAX,
            drained: Some(1),
        });
    }

    fn ms_at(&self, t: Instant) -> u32 {
        u32::try_from((t - self.shared.started).as_millis()).unwrap_or(u32::MAX)
    }
}

/// Waits until the port accepts TCP connections again; returns when it did.
async fn wait_port(port: u16) -> Instant {
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A request that needs one backend, used to see it fail fast and come back.
#[derive(Clone, Copy)]
enum Probe {
    /// Stores a pending request in Redis.
    SsoStart,
    /// Reads the user from PostgreSQL.
    Password,
}

impl Probe {
    fn name(self) -> &'static str {
        match self {
            Probe::SsoStart => "SSO start",
            Probe::Password => "password login",
        }
    }

    fn ok(self) -> u16 {
        match self {
            Probe::SsoStart => 302,
            Probe::Password => 303,
        }
    }

    async fn send(self, http: &reqwest::Client, url: &str, args: &Args) -> (u16, String, Duration) {
        match self {
            Probe::SsoStart => get_status(http, &format!("{url}/sso/contoso/start")).await,
            Probe::Password => {
                let csrf = "probe-csrf-token-0123456789abcdefghijklmnopq";
                let t = Instant::now();
                let res = http
                    .post(format!("{url}/login/password"))
                    .header("cookie", format!("realmgate_csrf={csrf}"))
                    .form(&[
                        ("email", "pw1@fabrikam.com"),
                        ("password", args.password.as_str()),
                        ("csrf", csrf),
                    ])
                    .timeout(CLIENT_TIMEOUT)
                    .send()
                    .await;
                match res {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        (status, r.text().await.unwrap_or_default(), t.elapsed())
                    }
                    Err(e) => (0, e.to_string(), t.elapsed()),
                }
            }
        }
    }
}

fn percentile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Prints the per-route table of the events outside fault windows, and returns their
/// non-4xx failures.
fn report(events: &[Event], windows: &[Window], seconds: f64) -> (u64, BTreeMap<Route, u64>) {
    let excused = |e: &Event| windows.iter().any(|w| w.drained.is_none() && w.covers(e));
    println!(
        "\n{:<26} {:>8} {:>8} {:>8} {:>8} {:>9} {:>7} {:>7} {:>7} {:>6} {:>6} {:>9}",
        "route (outside faults)",
        "count",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "error",
        "failures"
    );
    let mut failures_total = 0;
    let mut successes = BTreeMap::new();
    for route in Route::ALL {
        // Microseconds, up to the client timeout.
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
        let mut classes = [0u64; 6];
        for e in events.iter().filter(|e| e.route == route && !excused(e)) {
            h.saturating_record(u64::from(e.latency_us));
            classes[usize::from(e.status / 100).min(5)] += 1;
        }
        let failures = classes[5] + classes[0];
        failures_total += failures;
        successes.insert(route, classes[2] + classes[3]);
        println!(
            "{:<26} {:>8} {:>8.1} {:>8.2} {:>8.2} {:>9.2} {:>7} {:>7} {:>7} {:>6} {:>6} {:>9}",
            route.name(),
            h.len(),
            h.len() as f64 / seconds,
            percentile_ms(&h, 0.50),
            percentile_ms(&h, 0.99),
            percentile_ms(&h, 0.999),
            classes[2],
            classes[3],
            classes[4],
            classes[5],
            classes[0],
            failures
        );
    }
    for e in events
        .iter()
        .filter(|e| !excused(e) && (e.status == 0 || e.status >= 500))
        .take(20)
    {
        println!(
            "failure: at {:.3} s {} on {} -> {} after {:.1} ms",
            f64::from(e.at_ms) / 1000.0,
            e.route.name(),
            ["A", "B"][usize::from(e.instance)],
            if e.status == 0 {
                "transport error".to_string()
            } else {
                e.status.to_string()
            },
            f64::from(e.latency_us) / 1000.0
        );
    }
    println!(
        "\n{:<32} {:>9} {:>8} {:>12} {:>7} {:>12}",
        "fault window", "requests", "5xx", "5xx unclear", "error", "max ms"
    );
    for w in windows {
        let inside: Vec<&Event> = events.iter().filter(|e| w.covers(e)).collect();
        let five = inside.iter().filter(|e| e.status >= 500).count();
        let unclear = inside
            .iter()
            .filter(|e| e.status >= 500 && !e.clear_code)
            .count();
        let errors = inside.iter().filter(|e| e.status == 0).count();
        let max = inside.iter().map(|e| e.latency_us).max().unwrap_or(0);
        println!(
            "{:<32} {:>9} {:>8} {:>12} {:>7} {:>12.1}",
            w.name,
            inside.len(),
            five,
            unclear,
            errors,
            f64::from(max) / 1000.0
        );
    }
    (failures_total, successes)
}

fn main() -> ExitCode {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(soak(args))
}

async fn soak(args: Args) -> ExitCode {
    assert_eq!(args.ports.len(), 2, "--ports A B");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    // One after the other: the first start generates the shared SP and OAuth keys.
    let a = Gateway::spawn(&args, "a", args.ports[0]);
    wait_ready(&http, &a.url).await;
    let mut b = Gateway::spawn(&args, "b", args.ports[1]);
    wait_ready(&http, &b.url).await;
    let rss_boot = [a.rss_kib(), b.rss_kib()];
    let signer = Signer::new(&std::fs::read(&args.idp_key).expect("IdP key file"));
    let seconds = args.seconds as f64;
    let (workers, rate) = (args.workers, args.rate);
    let shared = Arc::new(Shared {
        started: Instant::now(),
        stop: AtomicBool::new(false),
        live: [AtomicBool::new(true), AtomicBool::new(true)],
        urls: [a.url.clone(), b.url.clone()],
        sessions: Mutex::new(Vec::new()),
        signer,
        args,
    });
    println!(
        "soak: {seconds} s, {rate} operations/s over {workers} workers, gateways {} (pid {}) and {} (pid {})",
        a.url,
        a.child.id(),
        b.url,
        b.child.id()
    );
    // Resident memory of both gateways every second, to show its course over the run.
    let rss_series = {
        let (shared, pids) = (shared.clone(), [a.child.id(), b.child.id()]);
        tokio::spawn(async move {
            let mut series = Vec::new();
            while !shared.stop.load(Ordering::Relaxed) {
                series.push((shared.ms(), pids.map(rss_kib)));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            series
        })
    };
    let pace = Duration::from_secs_f64(workers as f64 / rate);
    let mut tasks = Vec::new();
    for i in 0..workers {
        let (status, html, _) = get_status(&http, &format!("{}/", shared.urls[i % 2])).await;
        assert_eq!(status, 200, "email page");
        let worker = Worker {
            shared: shared.clone(),
            http: http.clone(),
            csrf: csrf_of(&html),
            events: Vec::new(),
            rng: rand::SeedableRng::from_os_rng(),
        };
        tasks.push(tokio::spawn(worker.run(pace)));
    }
    let mut driver = Driver {
        shared: shared.clone(),
        http: http.clone(),
        windows: Vec::new(),
        checks: Vec::new(),
    };
    // The schedule, as fractions of the run: steady load around each fault.
    driver.until(seconds * 0.20).await;
    driver.redis_outage().await;
    // Warmed up (every route, both backends' reconnects and one outage seen): memory from
    // here to the end of the steady load must stay flat.
    driver.until(seconds * 0.35).await;
    let rss_warm = [a.rss_kib(), b.rss_kib()];
    driver.until(seconds * 0.40).await;
    driver.pg_connection_loss().await;
    driver.until(seconds * 0.50).await;
    driver.pg_outage().await;
    driver.until(seconds * 0.70).await;
    driver.bad_tenant_file().await;
    driver.until(seconds * 0.90).await;
    let rss_end = [a.rss_kib(), b.rss_kib()];
    driver.sigterm(&mut b).await;
    driver.until(seconds).await;
    shared.stop.store(true, Ordering::Relaxed);
    let mut events = Vec::new();
    for t in tasks {
        events.extend(t.await.expect("worker"));
    }
    let Driver {
        windows,
        mut checks,
        ..
    } = driver;
    let (failures, successes) = report(&events, &windows, seconds);
    let mut push = |name: String, measured: String, target: &str, pass: bool| {
        checks.push(Check {
            name,
            measured,
            target: target.into(),
            pass,
        })
    };
    push(
        "non-4xx failures outside fault windows".into(),
        failures.to_string(),
        "0",
        failures == 0,
    );
    for (route, ok) in &successes {
        push(
            format!("{} succeeded outside faults", route.name()),
            ok.to_string(),
            "> 0",
            *ok > 0,
        );
    }
    let series = rss_series.await.expect("RSS sampler");
    println!("\nresident memory (MiB) at each tenth of the run:");
    for (i, name) in ["A", "B"].iter().enumerate() {
        let tenths: Vec<String> = (0..=10)
            .filter_map(|t| {
                let at = (seconds * 100.0) as u32 * t;
                series.iter().find(|(ms, _)| *ms >= at).or(series.last())
            })
            .map(|(_, kib)| (kib[i] / 1024).to_string())
            .collect();
        println!("  {name}: {}", tenths.join(" "));
    }
    println!(
        "\n{:<8} {:>12} {:>12} {:>12}",
        "gateway", "RSS boot", "RSS at 35%", "RSS at 90%"
    );
    for (i, name) in ["A", "B"].iter().enumerate() {
        println!(
            "{name:<8} {:>9} MiB {:>9} MiB {:>9} MiB",
            rss_boot[i] / 1024,
            rss_warm[i] / 1024,
            rss_end[i] / 1024
        );
        // Flat: at most 20 % above the warmed-up level, and 24 MiB of slack whatever the
        // size: an Argon2id hash works in 19 MiB, which the allocator may keep resident
        // for one more thread of the blocking pool that ran a hash; a leak grows past it.
        let limit = rss_warm[i] + (rss_warm[i] / 5).max(24 * 1024);
        push(
            format!("gateway {name} resident memory, 35 % -> 90 % of the run"),
            format!("{} -> {} MiB", rss_warm[i] / 1024, rss_end[i] / 1024),
            "flat (< +20 %, 24 MiB slack)",
            rss_end[i] <= limit,
        );
    }
    println!(
        "\n{:<58} {:<36} {:<28} result",
        "target", "measured", "wanted"
    );
    for c in &checks {
        println!(
            "{:<58} {:<36} {:<28} {}",
            c.name,
            c.measured,
            c.target,
            if c.pass { "ok" } else { "MISSED" }
        );
    }
    let missed = checks.iter().filter(|c| !c.pass).count();
    println!("\n{} requests, {missed} target(s) missed", events.len());
    drop(a);
    if missed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The CSRF token of a rendered form.
fn csrf_of(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("form has a csrf field")
        + 19;
    html[start..start + html[start..].find('"').expect("closing quote")].to_string()
}
