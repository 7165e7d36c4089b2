//! The gateway's JSON API as its callers speak it: management tokens minted directly in
//! the store (as `realmgate token create` does), requests with or without one, and answers
//! read as JSON once their status is the expected one.
#![allow(dead_code)]

use realmgate::admin::{Actor, Scope};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::TestApp;

/// A new token named `name` of `account` (none: the operator's, every tenant) and `scope`;
/// its value, shown once.
pub async fn token(app: &TestApp, name: &str, account: Option<&str>, scope: Scope) -> String {
    app.state
        .admin
        .tokens
        .create(&Actor::Cli, name, account, scope)
        .await
        .unwrap()
        .1
}

/// `method path` with `token` as its bearer (none: no `Authorization`) and `body` as JSON.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new().request(method, app.at(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// The answer's JSON body, once its status is `status`; panics showing the URL and the
/// body otherwise, or when the body is not JSON (every answer of the API is, errors too).
pub async fn json_of(res: reqwest::Response, status: StatusCode) -> Value {
    let (got, url) = (res.status(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

/// The audit events of `account`, as `token` reads them.
pub async fn audit_events(app: &TestApp, token: &str, account: &str) -> Vec<Value> {
    let path = format!("/api/v1/audit?account={account}");
    let body = json_of(
        call(app, Method::GET, &path, Some(token), None).await,
        StatusCode::OK,
    )
    .await;
    body["events"].as_array().unwrap().clone()
}

/// `PUT /api/v1/tenants/{account}/idp-metadata` with `xml` as the body, as `token`.
pub async fn put_idp_metadata(
    app: &TestApp,
    account: &str,
    token: &str,
    xml: impl Into<String>,
) -> reqwest::Response {
    reqwest::Client::new()
        .put(app.at(&format!("/api/v1/tenants/{account}/idp-metadata")))
        .bearer_auth(token)
        .body(xml.into())
        .send()
        .await
        .unwrap()
}

/// The discovery API's answer for `email` (`method`, `account`, ...), which must be a 200.
pub async fn discover(app: &TestApp, email: &str) -> Value {
    json_of(
        call(
            app,
            Method::POST,
            "/api/v1/discover",
            None,
            Some(json!({ "email": email })),
        )
        .await,
        StatusCode::OK,
    )
    .await
}
