//! WebFinger (RFC 7033): the sign-in link for an email's organisation, decided by domain
//! only, rate-limited per client address.

mod common;

use common::{TestApp, add_active, spawn_app};
use serde_json::Value;

const SIGN_IN: &str = "https://realmgate.dev/rel/sign-in";

async fn finger(app: &TestApp, query: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.at("/.well-known/webfinger"))
        .query(query)
        .send()
        .await
        .unwrap()
}

fn link<'a>(jrd: &'a Value, rel: &str) -> Option<&'a str> {
    jrd["links"].as_array()?.iter().find(|l| l["rel"] == rel)?["href"].as_str()
}

#[tokio::test]
async fn sign_in_links_follow_the_domain() {
    let app = spawn_app(|_| {}).await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "pw").await;
    let res = finger(&app, &[("resource", "acct:alice@contoso.com")]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jrd+json");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let jrd: Value = res.json().await.unwrap();
    assert_eq!(jrd["subject"], "acct:alice@contoso.com");
    assert_eq!(
        link(&jrd, SIGN_IN).unwrap(),
        app.at("/sso/contoso/start?login_hint=alice%40contoso.com")
    );
    // The OpenID Connect issuer (OIDC Discovery §2), and its configuration is served.
    let issuer = link(&jrd, "http://openid.net/specs/connect/1.0/issuer").unwrap();
    let config: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["issuer"], issuer);
    // The same answer as the JSON discovery API.
    let api: Value = reqwest::Client::new()
        .post(app.at("/api/v1/discover"))
        .json(&serde_json::json!({"email": "alice@contoso.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["login_url"], link(&jrd, SIGN_IN).unwrap());
    // Domain only: an existing and a non-existing user of one tenant get the same bytes
    // (apart from the subject echoed back).
    let known: Value = finger(&app, &[("resource", "acct:carol@fabrikam.com")])
        .await
        .json()
        .await
        .unwrap();
    let unknown: Value = finger(&app, &[("resource", "acct:nobody@fabrikam.com")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        link(&known, SIGN_IN).unwrap().replace("carol", "X"),
        link(&unknown, SIGN_IN).unwrap().replace("nobody", "X")
    );
    // Another region's tenant: that region's gateway.
    let jrd: Value = finger(&app, &[("resource", "acct:x@northwind.eu")])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        link(&jrd, SIGN_IN)
            .unwrap()
            .starts_with("https://eu.login.example.com/")
    );
    // `rel` filters the links.
    let jrd: Value = finger(
        &app,
        &[("resource", "acct:alice@contoso.com"), ("rel", SIGN_IN)],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(jrd["links"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_resources_and_rate_limits() {
    let app = spawn_app(|c| c.login_attempts_per_minute = 5).await;
    assert_eq!(finger(&app, &[]).await.status(), 400);
    assert_eq!(
        finger(&app, &[("resource", "https://contoso.com/")])
            .await
            .status(),
        404
    );
    assert_eq!(
        finger(&app, &[("resource", "acct:not-an-email")])
            .await
            .status(),
        404
    );
    let mut last = 0;
    for _ in 0..5 {
        last = finger(&app, &[("resource", "acct:alice@contoso.com")])
            .await
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
}
