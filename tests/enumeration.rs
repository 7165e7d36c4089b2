//! No user enumeration through password login: the same bytes and the same timing for an
//! unknown user, a wrong password and a user without a password. Its own test binary, so
//! no other test shares the CPU while latencies are measured.

mod common;

use std::time::{Duration, Instant};

use common::{add_active, add_user, password_login, spawn_app};
use realmgate::accounts::Status;

#[tokio::test]
async fn failures_are_identical_in_body_and_timing() {
    let app = spawn_app(|c| {
        c.login_attempts_per_minute = 10_000;
        c.lockout_after_failures = 10_000;
    })
    .await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    // A user without a password (pre-provisioned for SSO, or imported) answers the same.
    add_user(
        &app,
        "fabrikam",
        "nopass@fabrikam.com",
        None,
        false,
        Status::Active,
    )
    .await;
    let client = app.client();
    let attempt = |email: &'static str| {
        let client = client.clone();
        let app = &app;
        async move {
            let start = Instant::now();
            let res = password_login(
                app,
                &client,
                &[("email", email), ("password", "wrong password")],
            )
            .await;
            let status = res.status();
            let body = res.bytes().await.unwrap();
            (status, body, start.elapsed())
        }
    };
    let (s1, unknown_body, _) = attempt("nobody@fabrikam.com").await;
    let (s2, wrong_body, _) = attempt("carol@fabrikam.com").await;
    let (s3, nopass_body, _) = attempt("nopass@fabrikam.com").await;
    let (s4, unknown_domain_body, _) = attempt("x@unknown.example").await;
    assert_eq!(
        (s1, s2, s3, s4),
        (reqwest::StatusCode::UNAUTHORIZED, s1, s1, s1)
    );
    assert_eq!(
        unknown_body, wrong_body,
        "unknown user and wrong password differ"
    );
    assert_eq!(unknown_body, nopass_body);
    assert_eq!(unknown_body, unknown_domain_body);
    // Timing: medians over 50 interleaved tries differ by less than 10 %.
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    // Alternate which goes first so neither pays for the other's leftovers.
    for i in 0..50 {
        if i % 2 == 0 {
            unknown.push(attempt("nobody@fabrikam.com").await.2);
            wrong.push(attempt("carol@fabrikam.com").await.2);
        } else {
            wrong.push(attempt("carol@fabrikam.com").await.2);
            unknown.push(attempt("nobody@fabrikam.com").await.2);
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (u, w) = (median(&mut unknown), median(&mut wrong));
    let diff = (u - w).abs() / u.max(w);
    eprintln!("median unknown user {u:.4}s, wrong password {w:.4}s");
    assert!(
        diff < 0.10,
        "median unknown {u:.4}s vs wrong password {w:.4}s: {:.1}% apart",
        diff * 100.0
    );
}
