//! Device connectors (MFP in user-prompt mode): the email + password API, the SSO answer
//! that sends the connector to the device flow, and the per-tenant IP allow-list.

mod common;

use common::{TestApp, add_active, add_user, spawn_app_with, standard_tenants};
use realmgate::accounts::Status;
use realmgate::config::OAuthClient;
use realmgate::oauth::device;
use realmgate::session::rate_limit::Guesser;
use serde_json::{Value, json};

/// The standard tenants plus one that allows devices only from a documentation network
/// (so not from 127.0.0.1) and one that allows loopback.
async fn app() -> TestApp {
    spawn_app_with(
        |dir| {
            standard_tenants(dir);
            std::fs::write(
                dir.join("tailspin.toml"),
                "account = \"tailspin\"\ndomains = [\"tailspin.com\"]\ndevice_allowlist = [\"203.0.113.0/24\"]\n",
            )
            .unwrap();
            std::fs::write(
                dir.join("litware.toml"),
                "account = \"litware\"\ndomains = [\"litware.com\"]\ndevice_allowlist = [\"203.0.113.0/24\", \"127.0.0.0/8\"]\n",
            )
            .unwrap();
        },
        |c| {
            c.oauth_clients = vec![OAuthClient {
                client_id: "mfp".into(),
                redirect_uris: vec![],
                ..Default::default()
            }];
        },
    )
    .await
}

async fn device_login(app: &TestApp, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.at("/api/v1/device/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The claims of an access token of the `mfp` client, verified with the JWKS.
async fn jwks_claims(app: &TestApp, token: &str) -> Value {
    common::jwks::claims(app, token, "mfp").await
}

#[tokio::test]
async fn password_tenant_gets_tokens_and_failures_are_uniform() {
    let app = app().await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let res = device_login(
        &app,
        json!({"email": "Carol@Fabrikam.com", "password": "correct horse", "client_id": "mfp"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let claims = jwks_claims(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["email"], "carol@fabrikam.com");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 43);
    // The refresh token works at the token endpoint like any other.
    let res = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("client_id", "mfp"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Wrong password and unknown user: the same status and the same bytes.
    let wrong = device_login(
        &app,
        json!({"email": "carol@fabrikam.com", "password": "wrong", "client_id": "mfp"}),
    )
    .await;
    let unknown = device_login(
        &app,
        json!({"email": "nobody@fabrikam.com", "password": "wrong", "client_id": "mfp"}),
    )
    .await;
    let unknown_domain = device_login(
        &app,
        json!({"email": "nobody@unknown.example", "password": "wrong", "client_id": "mfp"}),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(unknown_domain.status(), 401);
    let wrong = wrong.bytes().await.unwrap();
    assert_eq!(wrong, unknown.bytes().await.unwrap());
    assert_eq!(wrong, unknown_domain.bytes().await.unwrap());
    let body: Value = serde_json::from_slice(&wrong).unwrap();
    assert_eq!(body["error"], "invalid_credentials");

    // An unknown client gets nothing, whatever the password.
    let res = device_login(
        &app,
        json!({"email": "carol@fabrikam.com", "password": "correct horse", "client_id": "nope"}),
    )
    .await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn device_logins_share_the_password_page_rate_limits() {
    let app = spawn_app_with(standard_tenants, |c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "mfp".into(),
            redirect_uris: vec![],
            ..Default::default()
        }];
        c.lockout_after_failures = 2;
    })
    .await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    for _ in 0..2 {
        let res = device_login(
            &app,
            json!({"email": "carol@fabrikam.com", "password": "wrong", "client_id": "mfp"}),
        )
        .await;
        assert_eq!(res.status(), 401);
    }
    // Locked out now, even with the right password.
    let res = device_login(
        &app,
        json!({"email": "carol@fabrikam.com", "password": "correct horse", "client_id": "mfp"}),
    )
    .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn sso_tenant_is_told_to_use_the_device_flow() {
    let app = app().await;
    add_user(
        &app,
        "contoso",
        "alice@contoso.com",
        None,
        false,
        Status::Active,
    )
    .await;
    let res = device_login(
        &app,
        json!({"email": "alice@contoso.com", "password": "anything", "client_id": "mfp"}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "sso_required");
    assert_eq!(body["account"], "contoso");
    assert_eq!(
        body["device_authorization_endpoint"],
        app.at("/oauth2/device_authorization")
    );
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn tenant_ip_allowlist_refuses_other_networks() {
    let app = app().await;
    add_active(&app, "tailspin", "dan@tailspin.com", "correct horse").await;
    add_active(&app, "litware", "erin@litware.com", "correct horse").await;
    // The test client calls from 127.0.0.1, outside tailspin's 203.0.113.0/24.
    let res = device_login(
        &app,
        json!({"email": "dan@tailspin.com", "password": "correct horse", "client_id": "mfp"}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "ip_not_allowed");
    // Litware lists loopback too.
    let res = device_login(
        &app,
        json!({"email": "erin@litware.com", "password": "correct horse", "client_id": "mfp"}),
    )
    .await;
    assert_eq!(res.status(), 200);
}

// ---- Device authorization grant (RFC 8628) ----

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn device_start(app: &TestApp, hint: Option<&str>) -> Value {
    let mut form = vec![("client_id", "mfp")];
    if let Some(h) = hint {
        form.push(("login_hint", h));
    }
    let res = reqwest::Client::new()
        .post(app.at("/oauth2/device_authorization"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

async fn poll(app: &TestApp, device_code: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", "mfp"),
        ])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The approval page's form, after following the person's sign-in.
async fn approve_page(browser: &reqwest::Client, url: &str) -> String {
    let res = browser.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("action=\"/device/decide\""), "{html}");
    html
}

async fn decide(app: &TestApp, browser: &reqwest::Client, html: &str, decision: &str) -> String {
    let csrf = common::csrf_of(html);
    let code = common::idp::hidden(html, "user_code").unwrap();
    let res = browser
        .post(app.at("/device/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("user_code", code.as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

#[tokio::test]
async fn device_flow_password_tenant_pending_then_tokens() {
    let app = app().await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let started = std::time::Instant::now();
    let d = device_start(&app, Some("carol@fabrikam.com")).await;
    let user_code = d["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(d["verification_uri"], app.at("/device"));
    assert_eq!(d["expires_in"], 600);
    assert_eq!(d["interval"], 5);
    let device_code = d["device_code"].as_str().unwrap();
    let (status, body) = poll(&app, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    // On the phone: the code page, typed in lower case with a space (CSRF-protected form).
    let browser = app.client();
    let html = browser
        .get(app.at("/device"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = common::csrf_of(&html);
    let typed = user_code.replace('-', " ").to_lowercase();
    let res = browser
        .post(app.at("/device"))
        .form(&[("csrf", csrf.as_str()), ("user_code", typed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let next = app.at(res.headers()["location"].to_str().unwrap());
    assert_eq!(next, d["verification_uri_complete"].as_str().unwrap());
    // Not signed in: discovery with the device's hint, the password step, back to /device.
    let html = browser
        .get(&next)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("action=\"/login/password\""), "{html}");
    let return_to = common::idp::hidden(&html, "return_to").unwrap();
    let res = browser
        .post(app.at("/login/password"))
        .form(&[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
            ("csrf", common::csrf_of(&html).as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_string();
    let html = approve_page(&browser, &back).await;
    assert!(html.contains("carol@fabrikam.com"));
    let done = decide(&app, &browser, &html, "approve").await;
    assert!(done.contains("Device approved"), "{done}");

    // The device's next poll, after the interval: tokens, once.
    let wait = std::time::Duration::from_millis(5100).saturating_sub(started.elapsed());
    tokio::time::sleep(wait).await;
    let (status, body) = poll(&app, device_code).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwks_claims(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], user.id.to_string());
    tokio::time::sleep(std::time::Duration::from_millis(5100)).await;
    let (status, body) = poll(&app, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn device_flow_slow_down_and_denial() {
    let app = app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let d = device_start(&app, None).await;
    let device_code = d["device_code"].as_str().unwrap();
    let (_, body) = poll(&app, device_code).await;
    assert_eq!(body["error"], "authorization_pending");
    // Polling again at once: slow_down, and the interval grows by 5 s (RFC 8628 §3.5).
    let (status, body) = poll(&app, device_code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("slow_down")));
    let slowed = std::time::Instant::now();
    // Signed in already (no hint): straight to the approval page, where the person denies.
    let browser = app.client();
    let res = common::password_login(
        &app,
        &browser,
        &[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let html = approve_page(&browser, d["verification_uri_complete"].as_str().unwrap()).await;
    let done = decide(&app, &browser, &html, "deny").await;
    assert!(done.contains("Device denied"), "{done}");
    // The code cannot be approved after the decision.
    let res = browser
        .get(d["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Five seconds is no longer enough ...
    tokio::time::sleep(std::time::Duration::from_millis(5100).saturating_sub(slowed.elapsed()))
        .await;
    let (_, body) = poll(&app, device_code).await;
    assert_eq!(body["error"], "slow_down");
    // ... and that poll grew the interval again, to fifteen seconds.
    tokio::time::sleep(std::time::Duration::from_millis(15_100)).await;
    let (status, body) = poll(&app, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied"))
    );
}

#[tokio::test]
async fn device_codes_expire_and_only_the_named_user_may_approve() {
    let app = app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    add_active(&app, "fabrikam", "mallory@fabrikam.com", "correct horse").await;
    let d = device_start(&app, Some("carol@fabrikam.com")).await;
    let device_code = d["device_code"].as_str().unwrap();
    let user_code = d["user_code"].as_str().unwrap();
    // Time is passed in: ten minutes and a second later the device hears expired_token,
    // and the code can no longer be found to approve.
    let later = chrono::Utc::now() + chrono::Duration::seconds(601);
    let e = app
        .state
        .oauth
        .device_poll("mfp", device_code, later)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "expired_token");
    let who = Guesser {
        ip: "127.0.0.1".parse().unwrap(),
        session: None,
    };
    assert!(
        app.state
            .devices
            .lookup(user_code, who, later)
            .await
            .unwrap()
            .is_none()
    );
    // Someone else signed in can neither approve nor deny a code issued for carol.
    let subject = realmgate::oauth::Subject {
        user_id: 2,
        email: "mallory@fabrikam.com".into(),
        account: "fabrikam".into(),
    };
    for approve in [true, false] {
        let e = app
            .state
            .devices
            .decide(user_code, approve, subject.clone(), who, chrono::Utc::now())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, device::DeviceError::OAuth(e) if e.code() == "access_denied"),
            "{e}"
        );
    }
    // Over HTTP, mallory's session is sent through sign-in as carol instead of approving.
    let browser = app.client();
    common::password_login(
        &app,
        &browser,
        &[
            ("email", "mallory@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    let html = browser
        .get(d["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("action=\"/login/password\""), "{html}");
    assert!(html.contains("value=\"carol@fabrikam.com\""));
    // A poll from another client with the device code: invalid_grant.
    let res = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn wrong_user_codes_are_rate_limited_and_the_form_needs_csrf() {
    let app = app().await;
    let browser = app.client();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = browser
            .get(app.at("/device?user_code=BCDF-GHJK"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses[0], 400);
    assert!(statuses.contains(&429), "{statuses:?}");
    let res = app
        .client()
        .post(app.at("/device"))
        .form(&[("csrf", "forged"), ("user_code", "BCDF-GHJK")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn approving_needs_the_csrf_token_and_a_session() {
    let app = app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let d = device_start(&app, None).await;
    let user_code = d["user_code"].as_str().unwrap();
    let browser = app.client();
    common::password_login(
        &app,
        &browser,
        &[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    // A cross-site form posted into carol's session, without her CSRF token.
    let res = browser
        .post(app.at("/device/decide"))
        .form(&[
            ("csrf", "forged"),
            ("user_code", user_code),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A valid CSRF pair but no session: sent to sign in, nothing decided.
    let stranger = app.client();
    let token = common::csrf(&app, &stranger).await;
    let res = stranger
        .post(app.at("/device/decide"))
        .form(&[
            ("csrf", token.as_str()),
            ("user_code", user_code),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, body) = poll(&app, d["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "authorization_pending");
    // The code is still there for carol to approve.
    approve_page(&browser, d["verification_uri_complete"].as_str().unwrap()).await;
}

#[tokio::test]
async fn device_authorization_applies_the_hinted_tenants_allowlist() {
    let app = app().await;
    let res = reqwest::Client::new()
        .post(app.at("/oauth2/device_authorization"))
        .form(&[("client_id", "mfp"), ("login_hint", "dan@tailspin.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "ip_not_allowed");
    let res = reqwest::Client::new()
        .post(app.at("/oauth2/device_authorization"))
        .form(&[("client_id", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn device_flow_through_the_saml_idp() {
    let app = app().await;
    let Some((_idp, user)) = common::idp::alice_at_new_idp(&app).await else {
        return;
    };
    let started = std::time::Instant::now();
    // The MFP first tries the password API and is told to use the device flow.
    let res = device_login(
        &app,
        json!({"email": "alice@contoso.com", "password": "x", "client_id": "mfp"}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let d = device_start(&app, Some("alice@contoso.com")).await;
    let browser = app.client();
    let res = browser
        .get(d["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/sso/contoso/start?"), "{loc}");
    let return_to: String = url::Url::parse(&app.at(&loc))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "return_to")
        .unwrap()
        .1
        .into_owned();
    let post = common::idp::through_idp(
        &app.url,
        &browser,
        "alice@contoso.com",
        Some("password"),
        Some(&return_to),
    )
    .await;
    let res = post.submit(&browser).await;
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(back, return_to);
    let html = approve_page(&browser, &back).await;
    decide(&app, &browser, &html, "approve").await;
    tokio::time::sleep(std::time::Duration::from_millis(5100).saturating_sub(started.elapsed()))
        .await;
    let (status, body) = poll(&app, d["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwks_claims(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["account"], "contoso");
}

#[tokio::test]
async fn the_approving_users_tenant_allowlist_applies_to_the_poll() {
    let app = app().await;
    add_active(&app, "tailspin", "dan@tailspin.com", "correct horse").await;
    let started = std::time::Instant::now();
    // No hint: the tenant is known only once dan approves.
    let d = device_start(&app, None).await;
    let browser = app.client();
    let res = common::password_login(
        &app,
        &browser,
        &[("email", "dan@tailspin.com"), ("password", "correct horse")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let html = approve_page(&browser, d["verification_uri_complete"].as_str().unwrap()).await;
    decide(&app, &browser, &html, "approve").await;
    tokio::time::sleep(std::time::Duration::from_millis(5100).saturating_sub(started.elapsed()))
        .await;
    let (status, body) = poll(&app, d["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("ip_not_allowed"))
    );
    assert!(body.get("access_token").is_none());
}

/// A well-formed user code that was never issued, different for each `i`.
fn wrong_code(i: usize) -> String {
    let a = realmgate::oauth::device_flow::USER_CODE_ALPHABET;
    let c = |n: usize| a[n % a.len()] as char;
    format!("BCDF-GH{}{}", c(i / a.len()), c(i))
}

/// 25 wrong codes posted to `/device/decide` by `browsers` in turn (each signed in, with its
/// CSRF token), each request from the address `from(i)`: the statuses.
async fn guess_at_decide(
    app: &TestApp,
    browsers: &[(reqwest::Client, String)],
    from: impl Fn(usize) -> String,
) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..25 {
        let (browser, csrf) = &browsers[i % browsers.len()];
        let code = wrong_code(i);
        let res = browser
            .post(app.at("/device/decide"))
            .header("x-forwarded-for", from(i))
            .form(&[
                ("csrf", csrf.as_str()),
                ("user_code", code.as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
        }
        statuses.push(res.status().as_u16());
    }
    statuses
}

/// The gateway behind a proxy on loopback, so a test can speak from any address.
async fn proxied_app() -> TestApp {
    spawn_app_with(standard_tenants, |c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "mfp".into(),
            redirect_uris: vec![],
            ..Default::default()
        }];
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
}

/// A signed-in browser of carol's and its CSRF token.
async fn signed_in(app: &TestApp) -> (reqwest::Client, String) {
    let browser = app.client();
    let res = common::password_login(
        app,
        &browser,
        &[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let csrf = common::csrf(app, &browser).await;
    (browser, csrf)
}

#[tokio::test]
async fn wrong_codes_at_decide_are_limited_per_session_whatever_the_address() {
    let app = proxied_app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let browsers = [signed_in(&app).await];
    // A fresh address for every guess: only the session can be counted.
    let statuses = guess_at_decide(&app, &browsers, |i| format!("198.51.100.{}", i + 1)).await;
    let allowed = app.state.config.lockout_after_failures as usize;
    assert!(
        statuses[..allowed].iter().all(|s| *s == 400),
        "{statuses:?}"
    );
    assert!(
        statuses[allowed..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn wrong_codes_at_decide_are_limited_per_address_across_sessions() {
    let app = proxied_app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let allowed = app.state.config.lockout_after_failures as usize;
    // As many sessions as misses allowed, taking turns: no session reaches its own limit.
    let mut browsers = Vec::new();
    for _ in 0..allowed {
        browsers.push(signed_in(&app).await);
    }
    let statuses = guess_at_decide(&app, &browsers, |_| "198.51.100.7".into()).await;
    assert!(
        statuses[..allowed].iter().all(|s| *s == 400),
        "{statuses:?}"
    );
    assert!(
        statuses[allowed..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    // The page that looks codes up counts the same guesses.
    let res = browsers[0]
        .0
        .get(app.at(&format!("/device?user_code={}", wrong_code(99))))
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn only_the_user_who_may_approve_may_deny() {
    let app = app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    add_active(&app, "fabrikam", "mallory@fabrikam.com", "correct horse").await;
    let d = device_start(&app, Some("carol@fabrikam.com")).await;
    let user_code = d["user_code"].as_str().unwrap();
    // Mallory, signed in as herself, posts a denial of the code issued for carol.
    let mallory = app.client();
    common::password_login(
        &app,
        &mallory,
        &[
            ("email", "mallory@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    let csrf = common::csrf(&app, &mallory).await;
    let res = mallory
        .post(app.at("/device/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("user_code", user_code),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("another account"), "{html}");
    // Nothing was decided: the device still waits, and carol can still approve.
    let (_, body) = poll(&app, d["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "authorization_pending");
    let carol = app.client();
    common::password_login(
        &app,
        &carol,
        &[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    let html = approve_page(&carol, d["verification_uri_complete"].as_str().unwrap()).await;
    let done = decide(&app, &carol, &html, "approve").await;
    assert!(done.contains("Device approved"), "{done}");
}
