//! Device connectors (MFP in user-prompt mode): the email + password API, the SSO answer
//! that sends the connector to the device flow, and the per-tenant IP allow-list.

mod common;

use common::{TestApp, add_user, spawn_app_with, standard_tenants};
use realmgate::accounts::Status;
use realmgate::config::OAuthClient;
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

async fn jwks_claims(app: &TestApp, token: &str) -> Value {
    let set: jsonwebtoken::jwk::JwkSet = reqwest::get(app.at("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&["mfp"]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims
}

#[tokio::test]
async fn password_tenant_gets_tokens_and_failures_are_uniform() {
    let app = app().await;
    let user = add_user(
        &app,
        "fabrikam",
        "carol@fabrikam.com",
        Some("correct horse"),
        false,
        Status::Active,
    )
    .await;
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
        }];
        c.lockout_after_failures = 2;
    })
    .await;
    add_user(
        &app,
        "fabrikam",
        "carol@fabrikam.com",
        Some("correct horse"),
        false,
        Status::Active,
    )
    .await;
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
    add_user(
        &app,
        "tailspin",
        "dan@tailspin.com",
        Some("correct horse"),
        false,
        Status::Active,
    )
    .await;
    add_user(
        &app,
        "litware",
        "erin@litware.com",
        Some("correct horse"),
        false,
        Status::Active,
    )
    .await;
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
