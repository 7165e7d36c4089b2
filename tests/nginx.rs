//! realmgate in front of an application with real nginx (`auth_request`): anonymous
//! visitors are sent to sign in, signed-in ones reach the app with identity headers.

mod common;

use std::process::{Child, Command, Stdio};

use axum::http::HeaderMap;
use common::{add_active, password_login, spawn_app};

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The application behind nginx: echoes the identity headers it receives.
async fn upstream() -> String {
    let app = axum::Router::new().fallback(|headers: HeaderMap| async move {
        let get = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string()
        };
        format!(
            "user={} email={} account={}",
            get("x-realmgate-user"),
            get("x-realmgate-email"),
            get("x-realmgate-account")
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn nginx_auth_request_in_front_of_an_app() {
    if !common::require_program("/usr/sbin/nginx") {
        return;
    }
    let app = spawn_app(|_| {}).await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let upstream = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = include_str!("data/nginx.conf")
        .replace("@DIR@", &dir.path().display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@GATEWAY@", &app.url)
        .replace("@UPSTREAM@", &upstream);
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("/usr/sbin/nginx")
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _nginx = Nginx(child);
    let site = format!("http://127.0.0.1:{port}");
    let browser = app.client();
    let mut first = None;
    for _ in 0..100 {
        if let Ok(r) = browser.get(format!("{site}/inbox?x=1")).send().await {
            first = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Anonymous: redirected to realmgate, with the way back.
    let first = first.expect("nginx did not start");
    assert_eq!(first.status(), 302);
    let login = first.headers()["location"].to_str().unwrap().to_string();
    let want = format!("{}/?return_to={site}/inbox?x=1", app.url);
    assert_eq!(login, want);
    // Sign in with that return_to; realmgate sends the browser back through nginx.
    let res = password_login(
        &app,
        &browser,
        &[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
            ("return_to", &format!("{site}/inbox?x=1")),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(back, format!("{site}/inbox?x=1"));
    // A forged identity header from the client is replaced by the real one.
    let page = browser
        .get(&back)
        .header("X-Realmgate-Email", "ceo@fabrikam.com")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(
        body.contains("email=carol@fabrikam.com account=fabrikam"),
        "{body}"
    );
    assert!(!body.contains("user=-"), "{body}");
}
