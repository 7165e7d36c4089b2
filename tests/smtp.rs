//! Mail through a real SMTP server on the loopback: `aiosmtpd` (from the Python test
//! peers' virtualenv, `tests/smtp_sink.py`) receives the password-reset message that
//! lettre sends, and the link in it sets the password. A relay that is down costs the
//! person nothing: the same answer, the failure logged and counted.

mod common;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use common::{add_active, ask_reset, csrf_of, free_port, spawn_app};
use reqwest::StatusCode;

/// The sink process; stopped (its standard input closed, then killed) on drop.
struct Sink {
    child: Child,
}

impl Drop for Sink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sink(port: u16, dir: &std::path::Path) -> Option<Sink> {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    if !common::require_program(python) {
        return None;
    }
    let mut child = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py"))
        .arg(port.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the SMTP sink did not start (is aiosmtpd in .venv?)"
    );
    Some(Sink { child })
}

#[tokio::test]
async fn the_reset_mail_arrives_through_smtp_and_its_link_works() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let Some(_sink) = start_sink(port, dir.path()) else {
        return;
    };
    let app = spawn_app(|c| c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
    add_active(&app, "fabrikam", "ann@fabrikam.com", "old password 1").await;
    assert_eq!(
        ask_reset(&app, &app.client(), "ann@fabrikam.com")
            .await
            .status(),
        StatusCode::OK
    );
    let mail = common::mail::wait_for(dir.path(), 1).await.remove(0);
    assert!(
        mail.contains("To: ann@fabrikam.com") && mail.contains("text/html"),
        "{mail}"
    );
    assert!(
        !app.data.join("outbox").exists(),
        "SMTP configured: nothing in the outbox"
    );
    let link = common::mail::link(&mail, "/password/set").expect("a set-password link");

    let client = app.client();
    let html = client
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let res = client
        .post(app.at("/password/set"))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("token", &token),
            ("password", "new password 2"),
            ("confirm", "new password 2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = common::password_login(
        &app,
        &client,
        &[
            ("email", "ann@fabrikam.com"),
            ("password", "new password 2"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_relay_that_is_down_is_counted_not_shown() {
    let port = free_port();
    let app = spawn_app(|c| c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
    add_active(&app, "fabrikam", "ann@fabrikam.com", "old password 1").await;
    assert_eq!(
        ask_reset(&app, &app.client(), "ann@fabrikam.com")
            .await
            .status(),
        StatusCode::OK
    );
    let metrics = app.client();
    for _ in 0..200 {
        let text = metrics
            .get(format!("{}/metrics", app.metrics_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.lines().any(|l| {
            l.starts_with("realmgate_mail_failures_total{")
                && l.contains("password_reset")
                && l.contains("smtp")
        }) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the failed delivery was never counted");
}
