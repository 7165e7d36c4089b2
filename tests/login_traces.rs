//! Login traces end to end, on the memory store and on Redis: a response refused at the
//! ACS for a bad signature (signed by `generate.py`'s attacker key) appears in its
//! tenant's `GET /api/v1/tenants/{account}/login-traces` with its code, the reason of the
//! log line and the claims the IdP administrator needs, a successful login too, a response
//! of no known tenant nowhere, and never a secret. Another account's token gets 404.
//!
//! Each gateway serves a tenant under a random account name: Redis is shared, and the
//! traces live under the account's key.

mod common;

use chrono::{DateTime, Utc};
use common::TestApp;
use common::api::{call, token};
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use rand::Rng;
use realmgate::accounts::Status;
use realmgate::admin::Scope;
use realmgate::login::SsoOutcome;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const REQUEST_ID: &str = "_0123456789abcdef0123456789abcdef";
const ACS: &str = "https://login.example.com/auth/saml/callback";
const BINDING: &str = "browser-binding-value-1";

/// The test responses' validity window.
fn now() -> DateTime<Utc> {
    "2030-01-01T00:01:00Z".parse().unwrap()
}

fn response(name: &str) -> String {
    common::saml::response_b64(&common::saml::testdata().join(format!("{name}.xml")))
}

/// SHA-256 of a PEM certificate's DER, as the traces print it (computed by OpenSSL, not
/// by the code under test).
fn sha256_of(pem_file: &str) -> String {
    let pem = std::fs::read(common::saml::testdata().join(pem_file)).unwrap();
    let digest = X509::from_pem(&pem)
        .unwrap()
        .digest(MessageDigest::sha256())
        .unwrap();
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A gateway whose SP values are those the test responses were made for, serving an SSO
/// tenant for contoso.com under a random account, and `fabrikam` (password).
async fn app(session_store: Option<String>) -> (TestApp, String) {
    let account = format!("contoso-{:08x}", rand::rng().random::<u32>());
    let name = account.clone();
    let app = common::spawn_app_with(
        move |dir| {
            std::fs::copy(
                common::saml::testdata().join("idp-metadata.xml"),
                dir.join("idp-metadata.xml"),
            )
            .unwrap();
            std::fs::write(
                dir.join("contoso.toml"),
                format!(
                    "account = \"{name}\"\ndomains = [\"contoso.com\"]\n[sso]\nidp_metadata = \"idp-metadata.xml\"\n\
                     email_claim = \"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"\n"
                ),
            )
            .unwrap();
            std::fs::write(
                dir.join("fabrikam.toml"),
                "account = \"fabrikam\"\ndomains = [\"fabrikam.com\"]\n",
            )
            .unwrap();
        },
        |c| {
            c.public_url = "https://login.example.com".parse().unwrap();
            if let Some(url) = session_store {
                c.session_store = url;
            }
        },
    )
    .await;
    (app, account)
}

async fn traces(app: &TestApp, account: &str, token: &str, query: &str) -> (StatusCode, String) {
    let path = format!("/api/v1/tenants/{account}/login-traces{query}");
    let res = call(app, Method::GET, &path, Some(token), None).await;
    (res.status(), res.text().await.unwrap())
}

/// Posts `name` to the ACS as the IdP's form would, from the browser holding `BINDING`.
async fn post_acs(app: &TestApp, name: &str, relay: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.at("/auth/saml/callback"))
        .header("cookie", format!("__Host-realmgate_sso={BINDING}"))
        .form(&[
            ("SAMLResponse", response(name)),
            ("RelayState", relay.into()),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

async fn refused_then_signed_in(session_store: Option<String>) {
    let (app, account) = app(session_store).await;
    let admin = token(&app, "ops", None, Scope::Admin).await;
    let (status, body) = traces(&app, &account, &admin, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["traces"],
        serde_json::json!([])
    );

    // A response signed by a key that is not in the metadata, its certificate in KeyInfo.
    let relay = app
        .state
        .login
        .remember_pending(REQUEST_ID, &account, None, BINDING)
        .await
        .unwrap();
    let status = post_acs(&app, "attacker_signed_response", &relay).await;
    assert!(status.is_client_error(), "{status}");
    // One of no tenant: an unknown RelayState names none, so it is traced nowhere.
    let status = post_acs(&app, "valid_assertion_signed", "relay-nobody-issued").await;
    assert!(status.is_client_error(), "{status}");

    let (status, body) = traces(&app, &account, &admin, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let all = list["traces"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{body}");
    let t = &all[0];
    assert_eq!(t["result"], "refused");
    assert_eq!(t["code"], "signature_invalid");
    let reason = t["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("SAML response refused: signature verification failed"),
        "{reason}"
    );
    assert_eq!(t["issuer"], "https://idp.example.com/");
    assert_eq!(t["destination"], ACS);
    assert_eq!(t["in_response_to"], REQUEST_ID);
    assert_eq!(t["name_id"], "alice@contoso.com");
    assert_eq!(t["email"], "alice@contoso.com");
    assert_eq!(
        t["signing_certificate"]["sha256"],
        sha256_of("attacker-cert.pem").as_str()
    );
    assert_eq!(t["signing_certificate"]["in_metadata"], false);
    assert_eq!(
        t["signing_certificate"]["thumbprint"]
            .as_str()
            .map(str::len),
        Some(40)
    );
    let at: DateTime<Utc> = t["at"].as_str().unwrap().parse().unwrap();
    assert!((Utc::now() - at).num_seconds().abs() < 60, "{at}");
    // No secret: not the RelayState, the browser's binding cookie, or the response itself
    // (not its base64, not its signature value).
    let posted =
        std::fs::read_to_string(common::saml::testdata().join("attacker_signed_response.xml"))
            .unwrap();
    let signature_value = posted
        .split("SignatureValue>")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim();
    assert!(signature_value.len() > 20, "{signature_value}");
    for secret in [
        relay.as_str(),
        BINDING,
        signature_value,
        &response("attacker_signed_response")[..40],
    ] {
        assert!(!body.contains(secret), "{secret:?} in {body}");
    }

    // A login that succeeds is traced too, with what the signature vouched for.
    common::add_user(
        &app,
        &account,
        "alice@contoso.com",
        None,
        false,
        Status::Active,
    )
    .await;
    let relay = app
        .state
        .login
        .remember_pending(REQUEST_ID, &account, None, BINDING)
        .await
        .unwrap();
    // The generated response's assertion ID is fixed, and a shared Redis keeps the replay
    // cache's entry for it some minutes: a rerun would be refused as a replay. Forget it.
    app.state
        .store
        .take(&replay_key(&response("valid_assertion_signed")))
        .await
        .unwrap();
    let outcome = app
        .state
        .login
        .complete_sso(
            &response("valid_assertion_signed"),
            Some(&relay),
            Some(BINDING),
            now(),
        )
        .await;
    assert!(matches!(outcome, Ok(SsoOutcome::SignedIn { .. })));
    let (_, body) = traces(&app, &account, &admin, "").await;
    let list: Value = serde_json::from_str(&body).unwrap();
    let newest = &list["traces"][0];
    assert_eq!(list["traces"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(newest["result"], "success");
    assert_eq!(newest["code"], "signed_in");
    assert_eq!(newest["reason"], Value::Null);
    assert_eq!(newest["at"], "2030-01-01T00:01:00Z");
    assert_eq!(newest["email"], "alice@contoso.com");
    assert_eq!(
        newest["signing_certificate"]["sha256"],
        sha256_of("idp-cert.pem").as_str()
    );
    assert_eq!(newest["signing_certificate"]["in_metadata"], true);
    assert_eq!(list["traces"][1]["code"], "signature_invalid");
    // `limit` keeps the newest.
    let (_, body) = traces(&app, &account, &admin, "?limit=1").await;
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["traces"].as_array().unwrap().len(), 1);
    assert_eq!(list["traces"][0]["code"], "signed_in");
}

/// The replay cache's key of the (base64) response's assertion: `replay:` + SHA-256 of the
/// Issuer + SHA-256 of the assertion ID, as `login` writes it.
fn replay_key(b64: &str) -> String {
    use base64::Engine;
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    let attr = |after: &str, name: &str| {
        let at = xml.find(after).unwrap();
        let rest = &xml[at..];
        let start = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        rest[start..start + rest[start..].find('"').unwrap()].to_string()
    };
    let id = attr("<saml:Assertion", "ID");
    let issuer_at = xml.find("<saml:Assertion").unwrap();
    let rest = &xml[issuer_at..];
    let i = rest.find("<saml:Issuer").unwrap();
    let open_end = i + rest[i..].find('>').unwrap() + 1;
    let issuer = &rest[open_end..open_end + rest[open_end..].find('<').unwrap()];
    let hex = |s: &str| {
        openssl::sha::sha256(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    format!("replay:{}:{}", hex(issuer.trim()), hex(&id))
}

#[tokio::test]
async fn a_bad_signature_is_traced_with_its_reason_on_the_memory_store() {
    refused_then_signed_in(None).await;
}

#[tokio::test]
async fn a_bad_signature_is_traced_with_its_reason_on_redis() {
    let Some(url) = common::redis_url() else {
        return;
    };
    refused_then_signed_in(Some(url)).await;
}

/// Only a token of the account (or the operator's) reads its traces; any other account's
/// token gets the 404 of an absent account, a SCIM token 403, none 401.
#[tokio::test]
async fn another_accounts_token_gets_404() {
    let (app, account) = app(None).await;
    let relay = app
        .state
        .login
        .remember_pending(REQUEST_ID, &account, None, BINDING)
        .await
        .unwrap();
    post_acs(&app, "attacker_signed_response", &relay).await;
    let other = token(&app, "fabrikam-hr", Some("fabrikam"), Scope::Admin).await;
    let (status, body) = traces(&app, &account, &other, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(!body.contains("signature"), "{body}");
    let (absent, absent_body) = traces(&app, "no-such-account", &other, "").await;
    assert_eq!(absent, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        serde_json::from_str::<Value>(&absent_body).unwrap()["error"]
    );
    let scim = token(&app, "entra", Some(&account), Scope::Scim).await;
    assert_eq!(
        traces(&app, &account, &scim, "").await.0,
        StatusCode::FORBIDDEN
    );
    let res = reqwest::Client::new()
        .get(app.at(&format!("/api/v1/tenants/{account}/login-traces")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The account's own token reads them; a limit that is no number is a 400.
    let own = token(&app, "contoso-it", Some(&account), Scope::Admin).await;
    let (status, body) = traces(&app, &account, &own, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["traces"][0]["code"],
        "signature_invalid"
    );
    let (status, body) = traces(&app, &account, &own, "?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "invalid"
    );
}
