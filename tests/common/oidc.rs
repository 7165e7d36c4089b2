//! The npm `oidc-provider` test IdP (`tests/peers/oidc_idp.mjs`) as a child process over
//! HTTPS with a certificate made here, and the sign-in a browser makes through it, spoken
//! with plain HTTP clients.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CLIENT_ID: &str = "realmgate";
pub const CLIENT_SECRET: &str = "a-test-client-secret-of-32-bytes-at-least";

/// A running provider; killed on drop.
pub struct OidcIdp {
    pub issuer: String,
    /// The CA (its own certificate) realmgate must trust (`idp_metadata_ca`).
    pub ca: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for OidcIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The provider's TLS certificate, made before the gateway starts (which must trust it)
/// and before the provider (which must know the gateway's redirect URI).
pub struct OidcTls {
    /// The certificate, to trust as `idp_metadata_ca`.
    pub ca: PathBuf,
    dir: tempfile::TempDir,
}

impl OidcTls {
    /// `None` (skip) when node or the npm peers are missing outside CI (`scripts/test.sh`
    /// installs them).
    pub fn new() -> Option<OidcTls> {
        if !super::require_program("/usr/bin/node") {
            return None;
        }
        if !peers().join("node_modules/oidc-provider").exists() {
            assert!(
                !super::under_ci(),
                "tests/peers/node_modules is missing (npm ci)"
            );
            eprintln!("skipped: tests/peers/node_modules is missing (npm ci in tests/peers)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        super::tls_leaf(dir.path());
        Some(OidcTls {
            ca: dir.path().join("cert.pem"),
            dir,
        })
    }

    /// Starts the provider with one client redirecting to `redirect_uri`, and a second one
    /// (`{CLIENT_ID}-key`) authenticating with `private_key_jwt` by `key_client`, a public
    /// JWK, when given.
    pub fn start(self, redirect_uri: &str, key_client: Option<&serde_json::Value>) -> OidcIdp {
        let p = |n: &str| self.dir.path().join(n);
        let mut cmd = Command::new("/usr/bin/node");
        cmd.arg(peers().join("oidc_idp.mjs"))
            .env("OIDC_PORT", super::free_port().to_string())
            .env("OIDC_CERT", p("cert.pem"))
            .env("OIDC_KEY", p("key.pem"))
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URI", redirect_uri)
            .env("OIDC_READY_FILE", p("ready.json"))
            .stdout(Stdio::null());
        if let Some(jwk) = key_client {
            cmd.env("OIDC_KEY_CLIENT_JWK", jwk.to_string());
        }
        if std::env::var_os("IDP_LOG").is_none() {
            cmd.stderr(Stdio::null());
        }
        let child = cmd.spawn().unwrap();
        let ready = super::wait_for_file(&p("ready.json"), "the OIDC test IdP");
        let v: serde_json::Value = serde_json::from_str(&ready).unwrap();
        OidcIdp {
            issuer: v["issuer"].as_str().unwrap().to_string(),
            ca: self.ca,
            child,
            _dir: self.dir,
        }
    }
}

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

impl OidcIdp {
    /// A client of the provider's pages: keeps cookies, trusts its certificate, follows its
    /// redirects but stops at the gateway's (`app_url`), as a browser would hand over.
    pub fn browser(&self, app_url: &str) -> reqwest::Client {
        let app_url = app_url.to_string();
        reqwest::Client::builder()
            .cookie_store(true)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&self.ca).unwrap()).unwrap(),
            )
            .redirect(reqwest::redirect::Policy::custom(move |a| {
                if a.url().as_str().starts_with(&app_url) {
                    a.stop()
                } else {
                    a.follow()
                }
            }))
            .build()
            .unwrap()
    }

    /// Replaces the provider's signing key (new `kid`, old one unpublished).
    pub async fn rotate(&self) -> String {
        let v: serde_json::Value = self
            .browser("http://unused.invalid")
            .post(format!("{}/_test/rotate", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["kid"].as_str().unwrap().to_string()
    }
}

/// Points tenant `contoso` at `idp` (tenant file rewritten, hot reload) and waits until
/// the gateway uses it.
pub async fn use_oidc_idp(app: &super::TestApp, idp: &OidcIdp, jit: &str) {
    let client = format!("client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n");
    use_oidc_client(app, idp, jit, &client).await
}

/// [`use_oidc_idp`] with the client lines (`client_id`, and a secret or a key) given.
pub async fn use_oidc_client(app: &super::TestApp, idp: &OidcIdp, jit: &str, client: &str) {
    super::write_atomic(
        &app.domains.join("contoso.toml"),
        &format!(
            "account = \"contoso\"\nname = \"Contoso Ltd\"\ndomains = [\"contoso.com\"]\n\n[sso]\nprotocol = \"oidc\"\nbutton = \"Log In with Contoso\"\nissuer = \"{}\"\n{client}jit = \"{jit}\"\n",
            idp.issuer
        ),
    );
    for _ in 0..100 {
        let tenant = app.state.discovery.directory.by_account("contoso").await;
        let policy: realmgate::discovery::JitPolicy =
            serde_json::from_value(serde_json::json!(jit)).unwrap();
        if tenant.ok().flatten().is_some_and(|t| {
            t.sso.as_ref().is_some_and(|s| {
                s.issuer.as_deref() == Some(idp.issuer.as_str()) && s.jit == policy
            })
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the gateway never loaded the OIDC tenant");
}

/// A gateway trusting a fresh provider (`idp_metadata_ca`), its tenant `contoso` signing in
/// through it with the JIT policy `jit`; `None` (skip) when the provider cannot run here.
pub async fn oidc_app(jit: &str) -> Option<(super::TestApp, OidcIdp)> {
    let tls = OidcTls::new()?;
    let ca = tls.ca.clone();
    let app = super::spawn_app(|c| c.idp_metadata_ca = Some(ca)).await;
    let idp = tls.start(&app.at("/auth/oidc/callback"), None);
    use_oidc_idp(&app, &idp, jit).await;
    Some((app, idp))
}

/// One sign-in up to the IdP's redirect back: `/sso/contoso/start` with `gateway` (the
/// gateway's cookies), then the provider's login form as `login` with `idp`. Returns the
/// callback URL the provider sends the browser to.
pub async fn to_callback(
    app: &super::TestApp,
    gateway: &reqwest::Client,
    idp: &reqwest::Client,
    login: &str,
) -> String {
    let start = gateway
        .get(app.at(&format!("/sso/contoso/start?login_hint={login}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302, "{}", start.text().await.unwrap());
    let auth = start.headers()["location"].to_str().unwrap().to_string();
    at_provider(app, idp, &auth, login, Some(login)).await
}

/// At the provider, from the authorization URL `auth` a start sent the browser to: checks
/// the request's PKCE and nonce, then signs in as `login` on the provider's form (which
/// must show `hint`, the `login_hint` sent, when one was). Returns the callback URL the
/// provider sends the browser to.
pub async fn at_provider(
    app: &super::TestApp,
    idp: &reqwest::Client,
    auth: &str,
    login: &str,
    hint: Option<&str>,
) -> String {
    let (url, html) = login_page(idp, auth).await;
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no login form at {url}: {html}"));
    if let Some(hint) = hint {
        let prefilled = format!("value=\"{hint}\"");
        assert!(
            html.contains(&prefilled),
            "login_hint not passed on: {html}"
        );
    }
    let back = idp
        .post(url.join(action).unwrap())
        .form(&[("prompt", "login"), ("login", login), ("password", "any")])
        .send()
        .await
        .unwrap();
    back_to_gateway(app, back)
}

/// At the provider, from the authorization URL `auth`: the person cancels on the login
/// form (its "[ Cancel ]" link), and the provider answers `error=access_denied`. Returns
/// the callback URL it sends the browser to.
pub async fn cancel_at_provider(app: &super::TestApp, idp: &reqwest::Client, auth: &str) -> String {
    let (url, html) = login_page(idp, auth).await;
    let abort = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|href| href.ends_with("/abort"))
        .unwrap_or_else(|| panic!("no cancel link at {url}: {html}"));
    let back = idp.get(url.join(abort).unwrap()).send().await.unwrap();
    back_to_gateway(app, back)
}

/// The provider's login page for the authorization URL `auth` (after checking its PKCE
/// and nonce): where it is, and its HTML.
async fn login_page(idp: &reqwest::Client, auth: &str) -> (url::Url, String) {
    assert!(auth.contains("code_challenge_method=S256"), "{auth}");
    assert!(auth.contains("nonce="), "{auth}");
    let page = idp.get(auth).send().await.unwrap();
    let url = page.url().clone();
    (url, page.text().await.unwrap())
}

/// The provider's last redirect, which must be to the gateway's callback: its URL.
fn back_to_gateway(app: &super::TestApp, back: reqwest::Response) -> String {
    assert!(back.status().is_redirection(), "{}", back.status());
    let location = back.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&app.at("/auth/oidc/callback")),
        "{location}"
    );
    location
}

/// A whole Test SSO through the provider: the admin `me` starts it from `window`
/// ([`Signed::start_test_sso`]), signs in at the provider as `login` with `idp`, and
/// `window` follows the provider's redirect back. Returns the callback's answer (a Test
/// SSO's: the way to its result).
///
/// [`Signed::start_test_sso`]: super::console::Signed::start_test_sso
pub async fn test_sso(
    app: &super::TestApp,
    me: &super::console::Signed,
    window: &reqwest::Client,
    idp: &reqwest::Client,
    login: &str,
) -> reqwest::Response {
    let auth = me.start_test_sso(app, window).await;
    let callback = at_provider(app, idp, &auth, login, None).await;
    window.get(&callback).send().await.unwrap()
}
