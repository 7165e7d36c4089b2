//! realmgate's tokens checked as a resource server checks them: with the keys it publishes
//! at `/.well-known/jwks.json`.
#![allow(dead_code)]

use serde_json::Value;

use super::TestApp;

/// The keys the gateway publishes.
pub async fn jwks(app: &TestApp) -> jsonwebtoken::jwk::JwkSet {
    reqwest::get(app.at("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The claims of `token`, which must verify (ES256) with the first published key and be
/// for audience `aud`.
pub async fn claims(app: &TestApp, token: &str, aud: &str) -> Value {
    let set = jwks(app).await;
    let key = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[aud]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims
}
