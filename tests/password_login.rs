//! Password login over HTTP: sessions, forward-auth, uniform failures (no enumeration by
//! body or timing), rate limits, the no-sso fail-safe, the Waiting Room, sign-out.

mod common;

use common::{TestApp, add_active, add_user, password_login, spawn_app};
use realmgate::accounts::Status;

async fn verify(app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
    client.get(app.at("/auth/verify")).send().await.unwrap()
}

#[tokio::test]
async fn login_opens_a_session_that_forward_auth_trusts_until_logout() {
    let app = spawn_app(|_| {}).await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let client = app.client();
    assert_eq!(verify(&app, &client).await.status(), 401);
    // A session id planted before login must not survive it (fixation).
    let planted = reqwest::Url::parse(&app.url).unwrap();
    let jar = reqwest::cookie::Jar::default();
    jar.add_cookie_str("realmgate_session=planted-by-attacker; Path=/", &planted);
    let res = password_login(
        &app,
        &client,
        &[
            ("email", "Carol@Fabrikam.com"),
            ("password", "correct horse"),
            ("return_to", "/inbox"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("{}/inbox", app.url));
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("realmgate_session="), "{set_cookie}");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("planted-by-attacker"));
    let ok = verify(&app, &client).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-realmgate-user"], user.id.to_string());
    assert_eq!(ok.headers()["x-realmgate-email"], "carol@fabrikam.com");
    assert_eq!(ok.headers()["x-realmgate-account"], "fabrikam");
    // Sign out: the session is gone server-side, not only in this browser.
    let me = client
        .get(app.at("/me"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = common::csrf_of(&me);
    let res = client
        .post(app.at("/logout"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(verify(&app, &client).await.status(), 401);
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_with_growing_lockouts() {
    let app = spawn_app(|_| {}).await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let client = app.client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = password_login(
            &app,
            &client,
            &[("email", "carol@fabrikam.com"), ("password", "guess")],
        )
        .await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry > 0);
        }
    }
    assert_eq!(&statuses[..4], &[401, 401, 401, 401]);
    assert!(statuses[4..].contains(&429), "{statuses:?}");
    // Even the right password waits out the lockout.
    let res = password_login(
        &app,
        &client,
        &[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn sso_tenant_users_cannot_use_passwords_except_admins_through_no_sso() {
    let app = spawn_app(|_| {}).await;
    add_user(
        &app,
        "contoso",
        "admin@contoso.com",
        Some("admin password"),
        true,
        Status::Active,
    )
    .await;
    add_active(&app, "contoso", "user@contoso.com", "user password").await;
    let client = app.client();
    // The ordinary password form refuses an SSO domain outright.
    let res = password_login(
        &app,
        &client,
        &[
            ("email", "admin@contoso.com"),
            ("password", "admin password"),
        ],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("sso_required"));
    // The fail-safe page exists for the SSO account...
    let page = client.get(app.at("/contoso/no-sso")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Administrator fail-safe")
    );
    // ...and refuses a non-admin with the uniform answer, even with the right password.
    let res = no_sso_login(
        &app,
        &client,
        "user@contoso.com",
        "user password",
        "contoso",
    )
    .await;
    assert_eq!(res.status(), 401);
    // The fail-safe of another account does not open this one.
    let res = no_sso_login(
        &app,
        &client,
        "admin@contoso.com",
        "admin password",
        "fabrikam",
    )
    .await;
    assert_ne!(res.status(), 303);
    // An admin gets in.
    let res = no_sso_login(
        &app,
        &client,
        "admin@contoso.com",
        "admin password",
        "contoso",
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        verify(&app, &client).await.headers()["x-realmgate-account"],
        "contoso"
    );
    // A password tenant has no fail-safe page.
    let res = client.get(app.at("/fabrikam/no-sso")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn waiting_and_disabled_users() {
    let app = spawn_app(|_| {}).await;
    add_user(
        &app,
        "fabrikam",
        "wait@fabrikam.com",
        Some("pw for waiting"),
        false,
        Status::Waiting,
    )
    .await;
    add_user(
        &app,
        "fabrikam",
        "off@fabrikam.com",
        Some("pw for disabled"),
        false,
        Status::Disabled,
    )
    .await;
    let client = app.client();
    let res = password_login(
        &app,
        &client,
        &[
            ("email", "wait@fabrikam.com"),
            ("password", "pw for waiting"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/waiting-room");
    assert_eq!(verify(&app, &client).await.status(), 401);
    let room = client
        .get(app.at("/waiting-room"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(room.contains("administrator must approve"));
    let res = password_login(
        &app,
        &client,
        &[
            ("email", "off@fabrikam.com"),
            ("password", "pw for disabled"),
        ],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("user_disabled"));
}

#[tokio::test]
async fn password_form_requires_csrf() {
    let app = spawn_app(|_| {}).await;
    let res = app
        .client()
        .post(app.at("/login/password"))
        .form(&[("email", "carol@fabrikam.com"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn weaker_hashes_are_upgraded_at_login() {
    let app = spawn_app(|_| {}).await;
    let user = add_user(
        &app,
        "fabrikam",
        "old@fabrikam.com",
        None,
        false,
        Status::Active,
    )
    .await;
    let old = realmgate::accounts::Passwords::with_params(8192, 1, 1)
        .unwrap()
        .hash("legacy password")
        .await
        .unwrap();
    app.state
        .users
        .set_password_hash(user.id, Some(&old))
        .await
        .unwrap();
    let client = app.client();
    let res = password_login(
        &app,
        &client,
        &[
            ("email", "old@fabrikam.com"),
            ("password", "legacy password"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let stored = app
        .state
        .users
        .by_id(user.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(stored.contains("m=19456,t=2,p=1"), "{stored}");
    assert!(!app.state.login.passwords.needs_rehash(&stored));
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions() {
    let app = spawn_app(|_| {}).await;
    add_active(&app, "fabrikam", "leaver@fabrikam.com", "correct horse").await;
    let client = app.client();
    let res = password_login(
        &app,
        &client,
        &[
            ("email", "leaver@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(verify(&app, &client).await.status(), 200);
    let email = realmgate::discovery::Email::parse("leaver@fabrikam.com").unwrap();
    app.state
        .users
        .set_status("fabrikam", &email, Status::Disabled)
        .await
        .unwrap();
    // The status is cached for at most 30 s; the test does not wait for that.
    app.state.active_users.invalidate_all();
    assert_eq!(verify(&app, &client).await.status(), 401);
}

/// The administrator fail-safe form of `account`: password login that bypasses SSO.
async fn no_sso_login(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
    account: &str,
) -> reqwest::Response {
    password_login(
        app,
        client,
        &[
            ("email", email),
            ("password", password),
            ("account", account),
            ("no_sso", "1"),
        ],
    )
    .await
}
