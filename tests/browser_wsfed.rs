//! A whole WS-Federation sign-on in real Chromium against the npm `wsfed` package as the
//! AD FS stand-in (tests/peers/wsfed_idp.js, its key generated here): email page → the
//! tenant's button → the STS's login page (`localhost`, another site) with the email as
//! `login_hint` → wsfed's auto-posting `wresult` form back to the gateway's ACS (HTTPS on
//! `127.0.0.1`) → signed in on `return_to` with the SAML 1.1 token's email.

mod common;

use std::process::Command;

use common::{Browser, Process};

struct Node(std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl_pair(dir: &std::path::Path, name: &str, cn: &str, ip: bool) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    let mut c = Command::new("openssl");
    c.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
    ])
    .arg(format!("/CN={cn}"));
    if ip {
        c.args(["-addext", "subjectAltName=IP:127.0.0.1"]);
    }
    let ok = c
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(ok.status.success());
    (cert.display().to_string(), key.display().to_string())
}

#[tokio::test]
async fn wsfed_login_with_the_npm_wsfed_sts_in_chromium() {
    if !common::require_program("/usr/bin/node") {
        return;
    }
    let peers = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    if !peers.join("node_modules/wsfed").exists() {
        assert!(
            !common::under_ci(),
            "tests/peers/node_modules is installed by scripts/test.sh"
        );
        eprintln!("skipped: tests/peers/node_modules/wsfed is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("domains");
    std::fs::create_dir_all(&domains).unwrap();
    let (tls_cert, tls_key) = openssl_pair(dir.path(), "tls", "127.0.0.1", true);
    let (sts_cert, sts_key) = openssl_pair(dir.path(), "sts", "wsfed test STS", false);
    let port = common::free_port();
    let public = format!("https://127.0.0.1:{port}");
    let sts_port = common::free_port();
    let _sts = Node(
        Command::new("/usr/bin/node")
            .arg(peers.join("wsfed_idp.js"))
            .arg(sts_port.to_string())
            .args([&sts_key, &sts_cert])
            .arg(format!("{public}/auth/saml/callback"))
            .spawn()
            .unwrap(),
    );
    // The STS's Federation Metadata, saved beside the tenant file as an admin would.
    let md_url =
        format!("http://localhost:{sts_port}/FederationMetadata/2007-06/FederationMetadata.xml");
    let mut metadata = None;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(&md_url).await
            && r.status().is_success()
        {
            metadata = Some(r.text().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let metadata = metadata.expect("the wsfed STS serves its metadata");
    std::fs::write(domains.join("contoso.sts.xml"), metadata).unwrap();
    std::fs::write(
        domains.join("contoso.toml"),
        "account = \"contoso\"\nname = \"Contoso\"\ndomains = [\"contoso.com\"]\n[sso]\n\
         protocol = \"wsfed\"\nbutton = \"Log In with AD FS\"\nidp_metadata = \"contoso.sts.xml\"\n\
         jit = \"create\"\nemail_claim = \"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"\n",
    )
    .unwrap();
    let env = vec![
        ("REALMGATE_PUBLIC_URL", public.clone()),
        ("REALMGATE_DOMAINS_DIR", domains.display().to_string()),
        (
            "REALMGATE_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("REALMGATE_TLS_CERT", tls_cert),
        ("REALMGATE_TLS_KEY", tls_key),
    ];
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
    assert_eq!(button.text().await.unwrap(), "Log In with AD FS");
    button.click().await.unwrap();
    // At the STS (another site), the typed email arrived as login_hint.
    let username = browser.wait_for("input#username").await;
    let here = c.current_url().await.unwrap();
    assert_eq!(here.host_str(), Some("localhost"), "{here}");
    let q: std::collections::HashMap<String, String> = here.query_pairs().into_owned().collect();
    assert_eq!(q.get("wa").map(String::as_str), Some("wsignin1.0"));
    assert_eq!(
        q.get("wtrealm").map(String::as_str),
        Some(format!("{public}/").as_str())
    );
    assert_eq!(
        username.prop("value").await.unwrap().as_deref(),
        Some("alice@contoso.com")
    );
    browser.click("button#login").await;
    // wsfed's form posted the wresult back; signed in on return_to.
    let message = browser.wait_for("#message").await;
    assert!(
        message.text().await.unwrap().contains("You are signed in"),
        "{}",
        c.source().await.unwrap()
    );
    let here = c.current_url().await.unwrap();
    assert_eq!(here.as_str(), format!("{}/me", gateway.url));
    assert!(c.source().await.unwrap().contains("alice@contoso.com"));
    browser.close().await;
}
