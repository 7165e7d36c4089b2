//! A real relying party nobody here wrote: a web app on npm `openid-client` (panva,
//! `tests/peers/openid_rp.mjs`) signs a person in through realmgate and the pysaml2 IdP in
//! Chromium, with the code flow, PKCE, `client_secret_basic` and openid-client's own
//! validation of the discovery document and the ID token, then calls userinfo. The same
//! app refuses an ID token replayed into a sign-in with another nonce, and its
//! back-channel logout endpoint (verifying with jose) is reached when the session ends by
//! RP-initiated logout, by the IdP's SAML Single Logout, and by `realmgate user disable`
//! (the CLI, another process, through the shared Redis store).

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::idp::{Idp, sign_in_in_chromium};
use common::{Browser, Process};
use serde_json::Value;

const SECRET: &str = "node-rp-secret-of-enough-length-for-the-test-0001";

/// The RP's process; killed on drop.
struct Rp(std::process::Child);

impl Drop for Rp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The RP's received logout tokens, waiting until there are `n`.
async fn events(rp: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let got: Vec<Value> = reqwest::get(format!("{rp}/events"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the app received fewer than {n} logout tokens");
}

/// Signs alice (the login hint) in at the IdP's page when it shows, and answers the RP's
/// result page.
async fn through_idp(browser: &Browser) -> String {
    sign_in_in_chromium(browser, None, "password").await;
    browser.wait_for("pre").await.text().await.unwrap()
}

#[tokio::test]
async fn openid_client_web_app_through_the_saml_idp_in_chromium() {
    if !common::require_program("/usr/bin/node") {
        return;
    }
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("domains");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&domains).unwrap();
    common::standard_tenants(&domains);
    let (cert, key) = (dir.path().join("tls.pem"), dir.path().join("tls-key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let port = common::free_port();
    let rp_port = common::free_port();
    let public = format!("https://127.0.0.1:{port}");
    let rp = format!("http://127.0.0.1:{rp_port}");
    let config = dir.path().join("realmgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"session_store = "{redis}"

[[oauth_clients]]
client_id = "node-rp"
redirect_uris = ["{rp}/cb"]
client_secret_hash = "{hash}"
post_logout_redirect_uris = ["{rp}/signed-out"]
backchannel_logout_uri = "{rp}/backchannel-logout"
"#,
            hash = realmgate::oauth::client_auth::secret_hash(SECRET)
        ),
    )
    .unwrap();
    let env = vec![
        ("REALMGATE_CONFIG", config.display().to_string()),
        ("REALMGATE_PUBLIC_URL", public.clone()),
        ("REALMGATE_DOMAINS_DIR", domains.display().to_string()),
        ("REALMGATE_DATA_DIR", data.display().to_string()),
        ("REALMGATE_TLS_CERT", cert.display().to_string()),
        ("REALMGATE_TLS_KEY", key.display().to_string()),
    ];
    let cli = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_realmgate"));
        cmd.args(args);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let sp_metadata = String::from_utf8(cli(&["metadata"]).stdout).unwrap();
    let Some(idp) = Idp::start(&sp_metadata, &[]) else {
        return;
    };
    std::fs::write(domains.join("contoso.idp.xml"), &idp.metadata).unwrap();
    let toml = std::fs::read_to_string(domains.join("contoso.toml")).unwrap();
    std::fs::write(
        domains.join("contoso.toml"),
        toml.replace("[sso]\n", "[sso]\njit = \"create\"\nemail_claim = \"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"\n"),
    )
    .unwrap();
    let _gateway = Process::start(port, true, &env).await;

    let mut child = Command::new("/usr/bin/node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/openid_rp.mjs"
        ))
        .env("ISSUER", &public)
        .env("CLIENT_ID", "node-rp")
        .env("CLIENT_SECRET", SECRET)
        .env("PORT", rp_port.to_string())
        .env("NODE_EXTRA_CA_CERTS", &cert)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _rp = Rp(child);
    let ready = std::io::BufReader::new(stdout)
        .lines()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        ready,
        format!("READY {rp}"),
        "the RP did not start (discovery failed?)"
    );

    let Some(browser) = Browser::start_with(&["--ignore-certificate-errors"]).await else {
        return;
    };
    let c = &browser.client;
    // login_hint: discovery at once, straight to the IdP.
    c.goto(&format!("{rp}/login?hint=alice@contoso.com"))
        .await
        .unwrap();
    let text = through_idp(&browser).await;
    let result: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    let claims = &result["claims"];
    assert_eq!(claims["iss"], public.as_str());
    assert_eq!(claims["aud"], "node-rp");
    assert_eq!(claims["email"], "alice@contoso.com");
    assert_eq!(claims["account"], "contoso");
    assert_eq!(claims["amr"], serde_json::json!(["saml2"]));
    assert_eq!(
        claims["acr"], "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
        "the IdP's AuthnContextClassRef"
    );
    assert_eq!(result["userinfo"]["email"], "alice@contoso.com");
    assert_eq!(result["userinfo"]["sub"], claims["sub"]);

    // An ID token replayed into a sign-in that expects another nonce: openid-client refuses.
    c.goto(&format!("{rp}/login?nonce=previous")).await.unwrap();
    let refused = browser.wait_for("pre#error").await.text().await.unwrap();
    assert!(
        refused.contains("OAUTH_JWT_CLAIM_COMPARISON_FAILED") && refused.contains("claim=nonce"),
        "{refused}"
    );

    // RP-initiated logout: back on the app's page, and its back-channel endpoint told.
    c.goto(&format!("{rp}/login")).await.unwrap();
    let text = browser.wait_for("pre#result").await.text().await.unwrap();
    let second: Value = serde_json::from_str(&text).unwrap();
    c.goto(&format!("{rp}/logout")).await.unwrap();
    assert_eq!(
        browser
            .wait_for("pre#signed-out")
            .await
            .text()
            .await
            .unwrap(),
        "bye"
    );
    let got = events(&rp, 1).await;
    assert_eq!(got[0]["sid"], second["claims"]["sid"], "{got:?}");
    assert_eq!(got[0]["sub"], claims["sub"]);

    // Signed in again (through the IdP: the session is gone), then the IdP ends it with a
    // SAML LogoutRequest (IdP-initiated Single Logout): the app is told of that session.
    c.goto(&format!("{rp}/login?hint=alice@contoso.com"))
        .await
        .unwrap();
    let text = through_idp(&browser).await;
    let third: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    c.goto(&format!(
        "{}/slo/start?email=alice@contoso.com&binding=redirect",
        idp.base_url
    ))
    .await
    .unwrap();
    let status = browser.wait_for("p#status").await.text().await.unwrap();
    assert!(status.ends_with("status:Success"), "{status}");
    let got = events(&rp, 2).await;
    assert_eq!(got[1]["sid"], third["claims"]["sid"], "{got:?}");

    // Signed in again (through the IdP: the session is gone), then disabled by the CLI.
    c.goto(&format!("{rp}/login?hint=alice@contoso.com"))
        .await
        .unwrap();
    let text = through_idp(&browser).await;
    assert!(text.contains("\"claims\""), "{text}");
    let out = cli(&[
        "user",
        "disable",
        "--account",
        "contoso",
        "--email",
        "alice@contoso.com",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = events(&rp, 3).await;
    assert_eq!(got[2]["sub"], claims["sub"], "{got:?}");
    assert!(
        got[2]["sid"].is_null(),
        "every session of the user: {got:?}"
    );
    browser.close().await;
}
