//! The device flow with the person in real Chromium: the MFP starts a flow for an SSO
//! user, the person opens `verification_uri_complete`, signs in at the pysaml2 IdP (on
//! `localhost`, another site than the gateway on `127.0.0.1`), approves, and the device's
//! poll gets tokens.

mod common;

use common::idp::{alice_at_new_idp, sign_in_in_chromium};
use common::{Browser, spawn_app};
use realmgate::config::OAuthClient;
use serde_json::Value;

#[tokio::test]
async fn device_flow_with_sso_in_chromium() {
    let app = spawn_app(|c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "mfp".into(),
            redirect_uris: vec![],
            ..Default::default()
        }];
    })
    .await;
    let Some((_idp, user)) = alice_at_new_idp(&app).await else {
        return;
    };
    let device = reqwest::Client::new();
    let d: Value = device
        .post(app.at("/oauth2/device_authorization"))
        .form(&[("client_id", "mfp"), ("login_hint", "alice@contoso.com")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let c = &browser.client;
    c.goto(d["verification_uri_complete"].as_str().unwrap())
        .await
        .unwrap();
    // Straight to the IdP with the device's email as login hint.
    let username = browser.wait_for("input#username").await;
    assert_eq!(
        username.prop("value").await.unwrap().as_deref(),
        Some("alice@contoso.com")
    );
    sign_in_in_chromium(&browser, None, "password").await;
    // Back on the gateway's approval page, showing the code the device displays.
    let code = browser.wait_for("#user-code").await;
    assert_eq!(code.text().await.unwrap(), d["user_code"].as_str().unwrap());
    browser.click("button#approve").await;
    let message = browser.wait_for("#message").await;
    assert!(
        message
            .text()
            .await
            .unwrap()
            .contains("Your device is signed in"),
        "{}",
        c.source().await.unwrap()
    );
    browser.close().await;
    // The device polls until the interval allows it, then gets tokens.
    let mut body = Value::Null;
    for _ in 0..4 {
        tokio::time::sleep(std::time::Duration::from_millis(5100)).await;
        body = device
            .post(app.at("/oauth2/token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", d["device_code"].as_str().unwrap()),
                ("client_id", "mfp"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body.get("access_token").is_some() {
            break;
        }
    }
    let token = body["access_token"]
        .as_str()
        .expect("tokens after approval");
    let claims = common::jwks::claims(&app, token, "mfp").await;
    assert_eq!(claims["sub"], user.id.to_string());
}
