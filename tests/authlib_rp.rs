//! The second relying party nobody here wrote: a Flask app on Authlib's OpenID Connect
//! client (`tests/rp/authlib_rp.py`, in `.venv`) signs a password-tenant user in through
//! realmgate with the code flow, PKCE and `client_secret_post`; Authlib validates the ID
//! token against the JWKS and calls userinfo. A wrong secret is refused by realmgate and
//! the app gets no sign-in.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::idp::hidden;
use common::{TestApp, add_active, spawn_app};
use realmgate::config::OAuthClient;
use serde_json::Value;

const SECRET: &str = "flask-rp-secret-of-enough-length-for-the-test-01";

struct Rp(Child);

impl Drop for Rp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the Flask app for `app` with `secret`; `None` (skip) without the venv outside CI.
async fn start_rp(app: &TestApp, port: u16, secret: &str) -> Option<(Rp, String)> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    if !common::require_program(python.to_str().unwrap()) {
        return None;
    }
    let child = Rp(Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/rp/authlib_rp.py"
        ))
        .env("ISSUER", &app.url)
        .env("CLIENT_ID", "flask-rp")
        .env("CLIENT_SECRET", secret)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let rp = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some((child, rp));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the Flask app did not start");
}

/// One sign-in through the app: its /login, realmgate's password step, back to its /cb.
async fn sign_in(app: &TestApp, rp: &str) -> (u16, Value) {
    let browser = app.client();
    let mut next = format!("{rp}/login?hint=carol@fabrikam.com");
    let mut html = String::new();
    // The app's redirect to realmgate, then the password step (discovery ran at once).
    for _ in 0..3 {
        let res = browser.get(&next).send().await.unwrap();
        match res.headers().get("location") {
            Some(l) => next = l.to_str().unwrap().to_string(),
            None => {
                html = res.text().await.unwrap();
                break;
            }
        }
    }
    assert!(html.contains("action=\"/login/password\""), "{html}");
    let res = browser
        .post(app.at("/login/password"))
        .form(&[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
            ("csrf", &common::csrf_of(&html)),
            ("return_to", &hidden(&html, "return_to").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let mut next = res.headers()["location"].to_str().unwrap().to_string();
    loop {
        let res = browser.get(&next).send().await.unwrap();
        match res.headers().get("location") {
            Some(l) => next = l.to_str().unwrap().to_string(),
            None => {
                let status = res.status().as_u16();
                let text = res.text().await.unwrap();
                return (
                    status,
                    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}")),
                );
            }
        }
    }
}

async fn gateway(rp_port: u16) -> TestApp {
    spawn_app(move |c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "flask-rp".into(),
            redirect_uris: vec![format!("http://127.0.0.1:{rp_port}/cb")],
            client_secret_hash: Some(realmgate::oauth::client_auth::secret_hash(SECRET)),
            ..Default::default()
        }];
    })
    .await
}

#[tokio::test]
async fn authlib_flask_app_signs_in_and_reads_userinfo() {
    let port = common::free_port();
    let app = gateway(port).await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let Some((_rp, rp)) = start_rp(&app, port, SECRET).await else {
        return;
    };
    let (status, body) = sign_in(&app, &rp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["claims"]["sub"], user.id.to_string());
    assert_eq!(body["claims"]["email"], "carol@fabrikam.com");
    assert_eq!(body["claims"]["amr"], serde_json::json!(["pwd"]));
    assert_eq!(body["userinfo"]["email"], "carol@fabrikam.com");
    assert_eq!(body["userinfo"]["account"], "fabrikam");
}

#[tokio::test]
async fn authlib_flask_app_with_a_wrong_secret_gets_no_sign_in() {
    let port = common::free_port();
    let app = gateway(port).await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let Some((_rp, rp)) = start_rp(&app, port, "not-the-secret").await else {
        return;
    };
    let (status, body) = sign_in(&app, &rp).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("invalid_client"),
        "{body}"
    );
}
