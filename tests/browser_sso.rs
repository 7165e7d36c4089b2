//! The whole sign-on in real Chromium: email page → Continue → "Log In with Microsoft" →
//! the IdP's login page (pysaml2, on `localhost`) → its cross-site POST back to the
//! gateway (HTTPS on `127.0.0.1`, a different site) → signed in on `return_to`.
//! The browser-binding cookie must survive that cross-site POST (SPEC security rule 6).

mod common;

use std::process::Command;

use common::idp::{Idp, sign_in_in_chromium};
use common::{Browser, Process};

#[tokio::test]
async fn sso_login_across_sites_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("domains");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&domains).unwrap();
    common::standard_tenants(&domains);
    // A TLS certificate for 127.0.0.1 (Chromium is told to accept it).
    let (cert, key) = (dir.path().join("tls.pem"), dir.path().join("tls-key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let port = common::free_port();
    let public = format!("https://127.0.0.1:{port}");
    let env = vec![
        ("REALMGATE_PUBLIC_URL", public.clone()),
        ("REALMGATE_DOMAINS_DIR", domains.display().to_string()),
        ("REALMGATE_DATA_DIR", data.display().to_string()),
        ("REALMGATE_TLS_CERT", cert.display().to_string()),
        ("REALMGATE_TLS_KEY", key.display().to_string()),
    ];
    // The SP metadata, as an admin would export it with the CLI.
    let mut md = Command::new(env!("CARGO_BIN_EXE_realmgate"));
    md.arg("metadata");
    for (k, v) in &env {
        md.env(k, v);
    }
    let sp_metadata = String::from_utf8(md.output().unwrap().stdout).unwrap();
    assert!(sp_metadata.contains(&format!("{public}/auth/saml/callback")));
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
    let gateway = Process::start(port, true, &env).await;
    let Some(browser) = Browser::start_with(&["--ignore-certificate-errors"]).await else {
        return;
    };
    let c = &browser.client;

    c.goto(&format!("{}/?return_to=/me", gateway.url))
        .await
        .unwrap();
    browser.continue_with("alice@contoso.com").await;
    let button = browser.wait_for("a#sso-button").await;
    assert_eq!(button.text().await.unwrap(), "Log In with Microsoft");
    button.click().await.unwrap();
    // At the IdP (another site): the email arrived as a login hint.
    let username = browser.wait_for("input#username").await;
    let here = c.current_url().await.unwrap();
    assert_eq!(here.host_str(), Some("localhost"), "{here}");
    assert_eq!(
        username.prop("value").await.unwrap().as_deref(),
        Some("alice@contoso.com")
    );
    sign_in_in_chromium(&browser, None, "password").await;
    // Back on the gateway, signed in, on return_to.
    let message = browser.wait_for("#message").await;
    assert!(
        message.text().await.unwrap().contains("You are signed in"),
        "{}",
        c.source().await.unwrap()
    );
    let here = c.current_url().await.unwrap();
    assert_eq!(here.as_str(), format!("{}/me", gateway.url));
    browser.close().await;
}
