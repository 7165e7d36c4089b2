//! WS-Trust device login on AD FS tenants (issue #15, item 2): `POST /api/v1/device/login`
//! with an email and a password for a tenant with `wstrust_url` goes to the test STS
//! (`tests/idp/wstrust_sts.py`, over HTTPS, signing with xmlsec1 at request time), whose
//! token is checked by the passive ACS's rules and admitted like any SSO login. Each bad
//! answer of the STS is refused with its reason in the log and the tenant's traces, and the
//! connector gets the answer of a wrong password; the password is in no log line; the
//! device allow-list, the rate limits and the timeout apply. The STS role comes from the
//! STS's Federation Metadata URL (`idp_metadata_url` for `protocol = "wsfed"`).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::sts::Sts;
use common::{TestApp, spawn_app_with, standard_tenants};
use realmgate::config::OAuthClient;
use realmgate::login::{TraceProtocol, TraceResult};
use serde_json::{Value, json};

/// Every user's password at the STS (and of the password tenant's user): unique enough
/// that finding it in the log can only mean it was logged.
const PASSWORD: &str = "Tr0ub4dor&3-wstrust-9f2c";
/// A wrong password, as unique.
const WRONG: &str = "wrong-Password-7e1a&<x>";
const CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";

/// Every log line of this test binary at every level (the gateway's and its libraries'),
/// for the tests that look for reasons and for passwords in them.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
        buffer
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// The STS, and a gateway trusting its certificate with: `contoso` (AD FS with WS-Trust,
/// its STS role from the metadata URL), `tailspin` (the same, devices allowed from
/// 203.0.113.0/24 only), `woodgrove` (AD FS without WS-Trust) and the standard password
/// tenant `fabrikam`. Waits until the STS role is fetched.
async fn setup(lockout_after_failures: u64) -> Option<(TestApp, Sts)> {
    logs();
    let sts = Sts::start(PASSWORD)?;
    let (ca, endpoint, metadata) = (sts.ca.clone(), sts.endpoint.clone(), sts.metadata.clone());
    let app = spawn_app_with(
        move |dir| {
            standard_tenants(dir);
            let adfs = |account: &str, domain: &str, extra: &str, trust: bool| {
                let trust = if trust {
                    format!("wstrust_url = \"{endpoint}\"\n")
                } else {
                    String::new()
                };
                std::fs::write(
                    dir.join(format!("{account}.toml")),
                    format!(
                        "account = \"{account}\"\ndomains = [\"{domain}\"]\n{extra}[sso]\n\
                         protocol = \"wsfed\"\nidp_metadata_url = \"{metadata}\"\n{trust}\
                         jit = \"create\"\nemail_claim = \"{CLAIM}\"\n"
                    ),
                )
                .unwrap();
            };
            adfs("contoso", "contoso.com", "", true);
            adfs(
                "tailspin",
                "tailspin.com",
                "device_allowlist = [\"203.0.113.0/24\"]\n",
                true,
            );
            adfs("woodgrove", "woodgrove.com", "", false);
        },
        move |c| {
            c.idp_metadata_ca = Some(ca);
            c.lockout_after_failures = lockout_after_failures;
            c.login_attempts_per_minute = 1000;
            c.oauth_clients = vec![OAuthClient {
                client_id: "mfp".into(),
                redirect_uris: vec![],
                ..Default::default()
            }];
        },
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while ["contoso", "tailspin", "woodgrove"]
        .iter()
        .any(|a| app.state.login.idps.get(a).is_none())
    {
        assert!(
            Instant::now() < deadline,
            "the STS metadata was never fetched"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some((app, sts))
}

async fn device_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.at("/api/v1/device/login"))
        .json(&json!({"email": email, "password": password, "client_id": "mfp"}))
        .send()
        .await
        .unwrap()
}

/// The fetched STS role is the one the Federation Metadata publishes for WS-Federation:
/// its passive requestor endpoint and its own key, not the SAML IdP role's.
#[tokio::test]
async fn the_sts_role_comes_from_the_metadata_url() {
    let Some((app, _sts)) = setup(5).await else {
        return;
    };
    let sts = app.state.login.idps.get("contoso").unwrap();
    assert_eq!(sts.entity_id, "http://adfs.contoso.com/adfs/services/trust");
    assert_eq!(
        sts.sso_redirect.as_ref().map(|u| u.as_str()),
        Some("https://adfs.contoso.com/adfs/ls/")
    );
    let pem = |name: &str| {
        let text = std::fs::read_to_string(common::saml::testdata().join(name)).unwrap();
        realmgate::saml::metadata::parse_cert_text(&text)
            .unwrap()
            .der
    };
    let ders: Vec<&[u8]> = sts.certs.iter().map(|c| c.der.as_slice()).collect();
    assert_eq!(
        ders,
        [pem("idp-cert.pem").as_slice()],
        "the STS role's key only"
    );
}

#[tokio::test]
async fn a_device_signs_in_through_the_sts_and_gets_working_tokens() {
    let Some((app, sts)) = setup(5).await else {
        return;
    };
    let res = device_login(&app, "Alice@contoso.com", PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    // What the STS was asked: the email as typed as the username, our realm, Issue, Bearer.
    let asked = sts.last_request().await;
    assert_eq!(asked["username"], "Alice@contoso.com");
    assert_eq!(asked["password_ok"], true);
    assert_eq!(asked["applies_to"], app.state.login.sp.entity_id.as_str());
    assert_eq!(asked["to"], sts.endpoint.as_str());
    assert!(
        asked["content_type"]
            .as_str()
            .unwrap()
            .starts_with("application/soap+xml")
    );
    // The access token works: userinfo names the person the STS vouched for, created by JIT.
    let user = app
        .state
        .users
        .by_email(
            "contoso",
            &realmgate::discovery::Email::parse("alice@contoso.com").unwrap(),
        )
        .await
        .unwrap()
        .expect("JIT created the user");
    let info = reqwest::Client::new()
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["sub"], user.id.to_string());
    // So does the refresh token.
    let res = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("client_id", "mfp"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The tenant's administrator sees the attempt.
    let traces = app
        .state
        .login
        .traces
        .list("contoso", 10, chrono::Utc::now())
        .await
        .unwrap();
    let t = &traces[0];
    assert_eq!(
        (t.protocol, t.result, t.code.as_str()),
        (TraceProtocol::Wstrust, TraceResult::Success, "signed_in")
    );
    assert_eq!(
        t.email.as_deref(),
        Some("Alice@contoso.com"),
        "as the STS vouched"
    );
    assert_eq!(
        t.issuer.as_deref(),
        Some("http://adfs.contoso.com/adfs/services/trust")
    );
    assert!(!log_text().contains(PASSWORD), "the password was logged");
}

/// Each bad answer of the STS: refused, with its own code in the log line and the trace,
/// and for the connector exactly the bytes of a wrong password at a password tenant.
#[tokio::test]
async fn every_bad_sts_answer_is_refused_uniformly_with_its_reason_logged() {
    let Some((app, _sts)) = setup(1000).await else {
        return;
    };
    let uniform = device_login(&app, "nobody@fabrikam.com", WRONG).await;
    assert_eq!(uniform.status(), 401);
    let uniform = uniform.bytes().await.unwrap();
    // The same token twice: admitted once, then a replay.
    assert_eq!(
        device_login(&app, "replay@contoso.com", PASSWORD)
            .await
            .status(),
        200
    );
    let cases = [
        ("alice@contoso.com", WRONG, "sts_fault"),
        ("nobody@contoso.com", WRONG, "sts_fault"),
        ("unsigned@contoso.com", PASSWORD, "signature_missing"),
        ("foreign@contoso.com", PASSWORD, "signature_invalid"),
        ("samlrole@contoso.com", PASSWORD, "signature_invalid"),
        ("appliesto@contoso.com", PASSWORD, "applies_to_mismatch"),
        ("audience@contoso.com", PASSWORD, "audience_mismatch"),
        ("expired@contoso.com", PASSWORD, "expired"),
        ("replay@contoso.com", PASSWORD, "replayed_assertion"),
        ("doctype@contoso.com", PASSWORD, "dtd_forbidden"),
        ("other@contoso.com", PASSWORD, "sts_other_user"),
    ];
    for (email, password, code) in cases {
        let res = device_login(&app, email, password).await;
        assert_eq!(res.status(), 401, "{email}");
        assert_eq!(res.bytes().await.unwrap(), uniform, "{email}: not uniform");
        let line = log_text()
            .lines()
            .find(|l| l.contains("method=\"wstrust\"") && l.contains(&format!("code=\"{code}\"")))
            .map(str::to_string);
        assert!(line.is_some(), "{email}: no log line with code {code}");
    }
    // The traces, newest first, say the same.
    let traces = app
        .state
        .login
        .traces
        .list("contoso", 50, chrono::Utc::now())
        .await
        .unwrap();
    let codes: Vec<&str> = traces.iter().rev().map(|t| t.code.as_str()).collect();
    let expected: Vec<&str> = std::iter::once("signed_in")
        .chain(cases.iter().map(|c| c.2))
        .collect();
    assert_eq!(codes, expected);
    assert!(
        traces.iter().all(|t| t.protocol == TraceProtocol::Wstrust
            && t.reason.is_some() == (t.code != "signed_in"))
    );
    // Nobody was let in but the first replay token's user.
    let users = app.state.users.list(Some("contoso"), None).await.unwrap();
    let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["replay@contoso.com"]);
    let text = log_text();
    assert!(
        !text.contains(PASSWORD) && !text.contains(WRONG),
        "a password was logged"
    );
}

/// The tenant's allow-list applies before any password leaves for the STS; a tenant
/// without `wstrust_url` keeps the device flow.
#[tokio::test]
async fn the_allowlist_applies_and_tenants_without_wstrust_keep_the_device_flow() {
    let Some((app, sts)) = setup(5).await else {
        return;
    };
    let res = device_login(&app, "dan@tailspin.com", PASSWORD).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "ip_not_allowed");
    assert!(
        sts.last_request().await.get("username").is_none(),
        "a refused address's password reached the STS"
    );
    let res = device_login(&app, "erin@woodgrove.com", PASSWORD).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "sso_required");
    assert_eq!(body["account"], "woodgrove");
}

/// Wrong passwords at the STS count as wrong passwords here: the same lockout.
#[tokio::test]
async fn wrong_passwords_at_the_sts_lock_out_like_password_logins() {
    let Some((app, _sts)) = setup(2).await else {
        return;
    };
    for _ in 0..2 {
        let res = device_login(&app, "bob@contoso.com", WRONG).await;
        assert_eq!(res.status(), 401);
    }
    let res = device_login(&app, "bob@contoso.com", PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}

/// An STS that never answers holds the connector for the client's bound, then a retryable
/// answer that says nothing about the person.
#[tokio::test]
async fn a_hanging_sts_is_cut_off_in_bounded_time() {
    let Some((app, _sts)) = setup(5).await else {
        return;
    };
    let start = Instant::now();
    let res = device_login(&app, "hang@contoso.com", PASSWORD).await;
    let took = start.elapsed();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "sts_unavailable");
    let bound = realmgate::wsfed::trust::TIMEOUT;
    assert!(
        took >= bound - Duration::from_secs(1) && took < bound + Duration::from_secs(5),
        "answered after {took:?}"
    );
    let traces = app
        .state
        .login
        .traces
        .list("contoso", 1, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(traces[0].result, TraceResult::Unavailable);
    assert!(!log_text().contains(PASSWORD), "the password was logged");
}

/// A management-API tenant's `wstrust_url` (an account admin typed it) reaches public
/// addresses only, unless the operator allows others: the loopback STS that signs the
/// operator's `contoso` in is refused, as unavailable with the reason, for the same
/// settings held by an API tenant, and the STS is never asked (no password leaves).
#[tokio::test]
async fn an_api_tenants_sts_reaches_no_private_address() {
    let Some((app, sts)) = setup(5).await else {
        return;
    };
    let contoso = app
        .state
        .discovery
        .directory
        .by_account("contoso")
        .await
        .unwrap()
        .unwrap();
    let endpoint = url::Url::parse(&sts.endpoint).unwrap();
    let alice = realmgate::discovery::Email::parse("alice@contoso.com").unwrap();
    let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let mut api = (*contoso).clone();
    api.origin = realmgate::discovery::TenantOrigin::Api;
    let port = endpoint.port().unwrap();
    for url in [
        endpoint.clone(),
        url::Url::parse(&format!(
            "https://127.0.0.1:{port}/adfs/services/trust/13/usernamemixed"
        ))
        .unwrap(),
    ] {
        let err = app
            .state
            .login
            .wstrust_login(
                &Arc::new(api.clone()),
                &url,
                &alice,
                PASSWORD,
                ip,
                chrono::Utc::now(),
            )
            .await
            .err()
            .expect("refused");
        assert_eq!(err.code(), "sts_unavailable", "{url}: {err}");
        assert!(
            err.to_string().contains("not a public address"),
            "{url}: {err}"
        );
    }
    assert_eq!(
        sts.last_request().await,
        json!({}),
        "the STS was never asked"
    );
    // The operator's tenant, the same endpoint: signed in.
    let ok = app
        .state
        .login
        .wstrust_login(
            &contoso,
            &endpoint,
            &alice,
            PASSWORD,
            ip,
            chrono::Utc::now(),
        )
        .await;
    assert!(ok.is_ok(), "{:?}", ok.err());
}
