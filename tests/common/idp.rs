//! The pysaml2 test IdP (`tests/idp/idp.py`) as a child process, and the SAML round trip a
//! browser makes through it, spoken with plain HTTP clients.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running IdP; killed on drop.
pub struct Idp {
    pub base_url: String,
    pub entity_id: String,
    pub metadata: String,
    /// Its signing certificate, PEM: what Entra's "Certificate (Base64)" download holds.
    pub certificate: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3")
}

impl Idp {
    /// Starts the IdP trusting `sp_metadata`; `None` (skip) when the venv is missing
    /// outside CI (`scripts/test.sh` creates it).
    pub fn start(sp_metadata: &str, extra: &[&str]) -> Option<Idp> {
        let py = python();
        if !super::require_program(py.to_str().unwrap()) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("sp.xml"), sp_metadata).unwrap();
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=test-idp",
            ])
            .arg("-keyout")
            .arg(p("idp-key.pem"))
            .arg("-out")
            .arg(p("idp-cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl req failed");
        let mut cmd = Command::new(&py);
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/idp/idp.py"))
            .args(["--port", "0", "--host", "localhost"])
            .arg("--sp-metadata")
            .arg(p("sp.xml"))
            .arg("--metadata-out")
            .arg(p("idp.xml"))
            .arg("--key")
            .arg(p("idp-key.pem"))
            .arg("--cert")
            .arg(p("idp-cert.pem"))
            .arg("--ready-file")
            .arg(p("ready.json"))
            .args(extra)
            .stdout(Stdio::null());
        if std::env::var_os("IDP_LOG").is_none() {
            cmd.stderr(Stdio::null());
        }
        let child = cmd.spawn().unwrap();
        let ready = super::wait_for_file(&p("ready.json"), "the test IdP");
        let v: serde_json::Value = serde_json::from_str(&ready).unwrap();
        Some(Idp {
            base_url: v["base_url"].as_str().unwrap().to_string(),
            entity_id: v["entity_id"].as_str().unwrap().to_string(),
            metadata: std::fs::read_to_string(p("idp.xml")).unwrap(),
            certificate: std::fs::read_to_string(p("idp-cert.pem")).unwrap(),
            child,
            _dir: dir,
        })
    }
}

impl Idp {
    /// Its Sign In URL: the HTTP-Redirect SingleSignOnService of its metadata.
    pub fn sso_url(&self) -> String {
        let binding = "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\"";
        // Each element's own attributes only (up to its '>'): the metadata's other
        // elements (its SingleLogoutService among them) have HTTP-Redirect bindings too.
        let service = self
            .metadata
            .split("SingleSignOnService")
            .skip(1)
            .map(|s| &s[..s.find('>').unwrap_or(s.len())])
            .find(|s| s.contains(binding))
            .expect("an HTTP-Redirect SingleSignOnService");
        let start = service.find("Location=\"").expect("its Location") + 10;
        service[start..start + service[start..].find('"').unwrap()].to_string()
    }

    /// The IdP's signing key (PEM), for tests that sign messages as this IdP would.
    pub fn key_pem(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("idp-key.pem")).unwrap()
    }
}

/// Points tenant `contoso` at `idp` (tenant file rewritten, hot reload) and waits until
/// the gateway uses it.
pub async fn use_idp(app: &super::TestApp, idp: &Idp, jit: &str) {
    std::fs::write(app.domains.join("contoso.idp.xml"), &idp.metadata).unwrap();
    super::write_atomic(
        &app.domains.join("contoso.toml"),
        &format!(
            "account = \"contoso\"\nname = \"Contoso Ltd\"\ndomains = [\"contoso.com\"]\n\n[sso]\nbutton = \"Log In with Microsoft\"\nidp_metadata = \"contoso.idp.xml\"\njit = \"{jit}\"\nemail_claim = \"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"\n"
        ),
    );
    for _ in 0..100 {
        if app
            .state
            .login
            .idps
            .get("contoso")
            .is_some_and(|m| m.entity_id == idp.entity_id)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the gateway never loaded the test IdP's metadata");
}

/// A gateway whose tenant `contoso` signs in through a fresh pysaml2 IdP, with alice
/// pre-provisioned (the Single Logout tests); `None` when the IdP cannot run here.
pub async fn with_alice() -> Option<(super::TestApp, Idp)> {
    let app = super::spawn_app(|_| {}).await;
    let (idp, _) = alice_at_new_idp(&app).await?;
    Some((app, idp))
}

/// Points tenant `contoso` of `app` at a fresh pysaml2 IdP trusting it (JIT `deny`) and
/// pre-provisions alice, active: the IdP and alice; `None` when the IdP cannot run here.
pub async fn alice_at_new_idp(app: &super::TestApp) -> Option<(Idp, realmgate::accounts::User)> {
    let sp = reqwest::get(app.at("/saml/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let idp = Idp::start(&sp, &[])?;
    use_idp(app, &idp, "deny").await;
    let alice = super::add_user(
        app,
        "contoso",
        "alice@contoso.com",
        None,
        false,
        realmgate::accounts::Status::Active,
    )
    .await;
    Some((idp, alice))
}

/// The value of hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle)? + needle.len();
    Some(
        html[start..start + html[start..].find('"')?]
            .replace("&amp;", "&")
            .replace("&#x3D;", "="),
    )
}

/// The `action` of the first form in `html`.
pub fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + 8;
    html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&")
}

/// What the IdP POSTs back: the ACS URL and its fields.
pub struct IdpPost {
    pub acs: String,
    pub saml_response: String,
    pub relay_state: Option<String>,
}

/// [`through_idp_of`] tenant `contoso`, the SSO tenant of the standard test tenants.
pub async fn through_idp(
    gateway: &str,
    browser: &reqwest::Client,
    email: &str,
    password: Option<&str>,
    return_to: Option<&str>,
) -> IdpPost {
    through_idp_of(gateway, "contoso", browser, email, password, return_to).await
}

/// Starts SSO at `gateway` (`/sso/{account}/start`), signs in at the IdP as `email` (or
/// cancels when `password` is `None`), and returns what the IdP would POST to the ACS.
pub async fn through_idp_of(
    gateway: &str,
    account: &str,
    browser: &reqwest::Client,
    email: &str,
    password: Option<&str>,
    return_to: Option<&str>,
) -> IdpPost {
    let mut q = vec![("login_hint", email)];
    if let Some(r) = return_to {
        q.push(("return_to", r));
    }
    let res = browser
        .get(format!("{gateway}/sso/{account}/start"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        302,
        "SSO start: {}",
        res.text().await.unwrap()
    );
    let to_idp = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to_idp.contains("SAMLRequest=") && to_idp.contains("Signature="),
        "{to_idp}"
    );
    let page = login_page(browser, &to_idp).await;
    // Entra-style login hint: the IdP pre-fills the username.
    assert!(page.contains(&format!("value=\"{email}\"")), "{page}");
    answer_login_page(browser, &to_idp, &page, email, password).await
}

/// Signs in as `email` with `password` at the IdP page `to_idp` (where an SSO start sent
/// the browser), and returns what the IdP would POST to the ACS.
pub async fn at_idp(
    browser: &reqwest::Client,
    to_idp: &str,
    email: &str,
    password: &str,
) -> IdpPost {
    let page = login_page(browser, to_idp).await;
    answer_login_page(browser, to_idp, &page, email, Some(password)).await
}

/// The IdP's login page at `to_idp` (its SSO URL with an AuthnRequest), which it must show.
async fn login_page(browser: &reqwest::Client, to_idp: &str) -> String {
    let page = browser.get(to_idp).send().await.unwrap();
    assert_eq!(page.status(), 200, "the IdP refused the AuthnRequest");
    page.text().await.unwrap()
}

/// Submits login `page` of the IdP at `to_idp` as `email` with `password` (`None`: Cancel)
/// and returns the form the IdP answers with, which would POST to the ACS.
async fn answer_login_page(
    browser: &reqwest::Client,
    to_idp: &str,
    page: &str,
    email: &str,
    password: Option<&str>,
) -> IdpPost {
    let key = hidden(page, "key").expect("login form key");
    let idp_base = to_idp.split("/sso/").next().unwrap().to_string();
    let mut form = vec![("key", key), ("username", email.to_string())];
    match password {
        Some(p) => form.push(("password", p.to_string())),
        None => form.push(("cancel", "1".to_string())),
    }
    let res = browser
        .post(format!("{idp_base}/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    IdpPost {
        acs: form_action(&html),
        saml_response: hidden(&html, "SAMLResponse").expect("SAMLResponse in the IdP's form"),
        relay_state: hidden(&html, "RelayState"),
    }
}

/// Signs in at the IdP's login page in Chromium once it shows: as `email` typed over the
/// username it holds (`None`: as that username, the login hint it was given), with
/// `password`.
pub async fn sign_in_in_chromium(browser: &super::Browser, email: Option<&str>, password: &str) {
    browser.wait_for("input#username").await;
    if let Some(email) = email {
        browser.fill("input#username", email).await;
    }
    browser.type_into("input#password", password).await;
    browser.click("button#login").await;
}

impl IdpPost {
    /// POSTs to the ACS as `browser`.
    pub async fn submit(&self, browser: &reqwest::Client) -> reqwest::Response {
        let mut form = vec![("SAMLResponse", self.saml_response.as_str())];
        if let Some(r) = &self.relay_state {
            form.push(("RelayState", r.as_str()));
        }
        browser.post(&self.acs).form(&form).send().await.unwrap()
    }
}

/// A console's Test SSO through the IdP of tenant `contoso` ([`use_idp`]): the admin `me`
/// starts it from `window` ([`Signed::start_test_sso`]), signs in at the IdP as `email`,
/// and `window` makes the IdP's POST back to the ACS. Returns what the ACS answers (a Test
/// SSO's: the way to its result).
///
/// [`Signed::start_test_sso`]: super::console::Signed::start_test_sso
pub async fn test_sso(
    app: &super::TestApp,
    me: &super::console::Signed,
    window: &reqwest::Client,
    email: &str,
) -> reqwest::Response {
    let to_idp = me.start_test_sso(app, window).await;
    assert!(to_idp.contains("SAMLRequest="), "{to_idp}");
    at_idp(window, &to_idp, email, "password")
        .await
        .submit(window)
        .await
}
