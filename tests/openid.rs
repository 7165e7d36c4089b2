//! The OpenID Connect provider over HTTP: ID tokens verified with the JWKS, userinfo, the
//! discovery document, confidential clients (`client_secret_basic`, `client_secret_post`,
//! `private_key_jwt`), service clients (`client_credentials`), `prompt`, RP-initiated
//! logout and back-channel logout (on logout and on disabling the user), and each refusal
//! with its error code.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::authorize::{query_of, through_password_step};
use common::{TestApp, add_active, spawn_app};
use realmgate::admin::Scope;
use realmgate::config::OAuthClient;
use realmgate::oauth::client_auth::secret_hash;
use serde_json::Value;
use tokio::sync::mpsc;

const WEB: &str = "web-app";
const SECRET: &str = "correct-web-app-secret-of-enough-length-0001";
const REDIRECT: &str = "https://rp.example/cb";
const AFTER_LOGOUT: &str = "https://rp.example/signed-out";
const CAROL: (&str, &str) = ("carol@fabrikam.com", "correct horse");
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An app that records what is POSTed to it: the apps' back-channel logout endpoint.
async fn logout_receiver() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |axum::Form(f): axum::Form<HashMap<String, String>>| {
            let tx = tx.clone();
            async move {
                tx.send(f.get("logout_token").cloned().unwrap_or_default())
                    .unwrap();
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, rx)
}

/// A service client's registration with its secret.
fn service(id: &str, grants: &[&str]) -> OAuthClient {
    OAuthClient {
        client_id: id.into(),
        client_secret_hash: Some(secret_hash(SECRET)),
        grant_types: grants.iter().map(|g| g.to_string()).collect(),
        account: Some("fabrikam".into()),
        ..Default::default()
    }
}

async fn app_with(backchannel: Option<String>, extra: Vec<OAuthClient>) -> TestApp {
    spawn_app(move |c| {
        let mut clients = vec![OAuthClient {
            client_id: WEB.into(),
            redirect_uris: vec![REDIRECT.into()],
            client_secret_hash: Some(secret_hash(SECRET)),
            post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
            backchannel_logout_uri: backchannel,
            ..Default::default()
        }];
        clients.extend(extra);
        c.oauth_clients = clients;
    })
    .await
}

/// The web app's authorization request, `extra` replacing or adding parameters.
fn authorize_url(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", WEB),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st-1"),
        ("nonce", "nonce-1"),
        ("login_hint", "carol@fabrikam.com"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        params.push((k, v));
    }
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    app.at(&format!("/oauth2/authorize?{q}"))
}

/// Follows the authorization request through the password step (as carol) and answers
/// the query the app's redirect URI receives.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, url: &str) -> HashMap<String, String> {
    through_password_step(app, browser, url, CAROL, REDIRECT).await
}

/// `POST /oauth2/token` with `form` and optional HTTP Basic credentials.
async fn token(app: &TestApp, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn redeem(app: &TestApp, code: &str) -> Value {
    let (status, body) = token(
        app,
        Some((WEB, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Verifies `jwt` with the JWKS as an app would, for audience `aud`; answers its header
/// type and claims.
async fn verified(app: &TestApp, jwt: &str, aud: &str) -> (String, Value) {
    let set = common::jwks::jwks(app).await;
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[aud]);
    v.set_issuer(&[app.url.as_str()]);
    let claims =
        jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
            .unwrap()
            .claims;
    (header.typ.unwrap_or_default(), claims)
}

#[tokio::test]
async fn code_flow_gives_a_verifiable_id_token_and_userinfo() {
    let app = app_with(None, vec![]).await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let doc: Value = reqwest::get(app.at("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.url);
    assert_eq!(doc["userinfo_endpoint"], app.at("/oauth2/userinfo"));
    assert_eq!(doc["end_session_endpoint"], app.at("/oauth2/logout"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    assert!(
        doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "private_key_jwt")
    );

    let browser = app.client();
    // A confidential client may go without PKCE.
    let q = sign_in(&app, &browser, &authorize_url(&app, &[])).await;
    assert_eq!(q["state"], "st-1");
    let body = redeem(&app, &q["code"]).await;
    let (typ, id) = verified(&app, body["id_token"].as_str().unwrap(), WEB).await;
    assert_eq!(typ, "JWT");
    assert_eq!(id["sub"], user.id.to_string());
    assert_eq!(id["nonce"], "nonce-1");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id["email"], "carol@fabrikam.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["account"], "fabrikam");
    assert!(id["acr"].is_null(), "a password sign-in has no IdP context");
    let now = chrono::Utc::now().timestamp();
    assert!((now - id["auth_time"].as_i64().unwrap()).abs() < 60);
    assert!(id["sid"].as_str().is_some_and(|s| s.len() == 43));

    // Userinfo with the access token; nothing without one, nothing with the ID token.
    let access = body["access_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let info: Value = http
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], user.id.to_string());
    assert_eq!(info["email"], "carol@fabrikam.com");
    for bad in [None, Some(body["id_token"].as_str().unwrap()), Some("junk")] {
        let mut req = http.get(app.at("/oauth2/userinfo"));
        if let Some(t) = bad {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert!(
            res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }

    // The same session, a second request with another nonce: that ID token carries it.
    let q = sign_in(
        &app,
        &browser,
        &authorize_url(&app, &[("nonce", "nonce-2")]),
    )
    .await;
    let body = redeem(&app, &q["code"]).await;
    let (_, second) = verified(&app, body["id_token"].as_str().unwrap(), WEB).await;
    assert_eq!(second["nonce"], "nonce-2");
    assert_eq!(second["sid"], id["sid"]);
    assert_eq!(second["auth_time"], id["auth_time"]);
}

#[tokio::test]
async fn confidential_clients_must_prove_who_they_are() {
    let app = app_with(None, vec![]).await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let browser = app.client();
    let q = sign_in(&app, &browser, &authorize_url(&app, &[])).await;
    let code = q["code"].clone();
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    // Wrong secret (basic and post), no secret: 401 invalid_client, and the code survives
    // (it is only taken once the client is known).
    let (s, b) = token(&app, Some((WEB, "wrong")), &grant).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    let post: Vec<_> = grant
        .iter()
        .copied()
        .chain([("client_id", WEB), ("client_secret", "wrong")])
        .collect();
    let (s, b) = token(&app, None, &post).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    let public: Vec<_> = grant.iter().copied().chain([("client_id", WEB)]).collect();
    let (s, b) = token(&app, None, &public).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    // Two methods at once.
    let both: Vec<_> = grant
        .iter()
        .copied()
        .chain([("client_secret", SECRET)])
        .collect();
    let (s, b) = token(&app, Some((WEB, SECRET)), &both).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    // client_secret_post with the right secret.
    let good: Vec<_> = grant
        .iter()
        .copied()
        .chain([("client_id", WEB), ("client_secret", SECRET)])
        .collect();
    let (s, b) = token(&app, None, &good).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["id_token"].is_string());

    // A verifier for a request that had no challenge: a PKCE downgrade, refused.
    let q = sign_in(&app, &browser, &authorize_url(&app, &[])).await;
    let with_verifier = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let (s, b) = token(&app, Some((WEB, SECRET)), &with_verifier).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    // With a challenge, the confidential client must send its verifier too.
    let q = sign_in(
        &app,
        &browser,
        &authorize_url(
            &app,
            &[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        ),
    )
    .await;
    let pkce = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (s, b) = token(&app, Some((WEB, SECRET)), &pkce).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    let q = sign_in(
        &app,
        &browser,
        &authorize_url(
            &app,
            &[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        ),
    )
    .await;
    let pkce = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let (s, b) = token(&app, Some((WEB, SECRET)), &pkce).await;
    assert_eq!(s, 200, "{b}");

    // An unregistered redirect URI is shown on a page, never redirected to.
    let res = browser
        .get(authorize_url(&app, &[]).replace("rp.example%2Fcb", "rp.example%2Fcb%2Fevil"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn client_credentials_only_for_service_clients_of_an_allowed_network() {
    let app = app_with(
        None,
        vec![
            service("mfp-shared", &["client_credentials"]),
            service("mfp-people", &["authorization_code"]),
        ],
    )
    .await;
    let cc = [("grant_type", "client_credentials")];
    let (s, b) = token(&app, Some(("mfp-shared", SECRET)), &cc).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["refresh_token"].is_null() && b["id_token"].is_null());
    let (typ, claims) = verified(&app, b["access_token"].as_str().unwrap(), "mfp-shared").await;
    assert_eq!(typ, "at+jwt");
    assert_eq!(claims["sub"], "mfp-shared");
    assert_eq!(claims["account"], "fabrikam");
    assert!(claims["email"].is_null());
    // The service token names no person: userinfo refuses it.
    let res = reqwest::Client::new()
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(b["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Clients that do not list the grant: unauthorized_client; a wrong secret first fails
    // authentication.
    for who in [("mfp-people", SECRET), (WEB, SECRET)] {
        let (s, b) = token(&app, Some(who), &cc).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (400, Some("unauthorized_client")),
            "{who:?}"
        );
    }
    let (s, b) = token(&app, Some(("mfp-shared", "wrong")), &cc).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    // A service client asking for a person's grant.
    let (s, b) = token(
        &app,
        Some(("mfp-shared", SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unauthorized_client")));

    // The tenant restricts its devices to another network: refused from here.
    app.write_tenant(
        "fabrikam.toml",
        "account = \"fabrikam\"\nname = \"Fabrikam\"\ndomains = [\"fabrikam.com\"]\ndevice_allowlist = [\"203.0.113.0/24\"]\n",
    );
    let mut refused = None;
    for _ in 0..50 {
        let (s, b) = token(&app, Some(("mfp-shared", SECRET)), &cc).await;
        if s != 200 {
            refused = Some((s, b));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, b) = refused.expect("the reloaded allowlist applies");
    assert_eq!(
        (s, b["error"].as_str()),
        (403, Some("ip_not_allowed")),
        "{b}"
    );
}

/// An ES256 key pair for a `private_key_jwt` client: its PKCS#8 PEM and its public JWK.
fn client_key(kid: &str) -> (String, jsonwebtoken::jwk::Jwk) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = pair.public_key_raw();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = serde_json::from_value(serde_json::json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": kid,
        "x": b64(&point[1..33]), "y": b64(&point[33..65]),
    }))
    .unwrap();
    (pair.serialize_pem(), jwk)
}

fn assertion(pem: &str, kid: &str, client: &str, aud: &str, jti: &str, lifetime: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        &serde_json::json!({"iss": client, "sub": client, "aud": aud, "jti": jti, "iat": now, "exp": now + lifetime}),
        &jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn private_key_jwt_refuses_foreign_keys_reused_jtis_and_bad_claims() {
    let (pem, jwk) = client_key("k1");
    let (foreign_pem, _) = client_key("k1");
    let client = OAuthClient {
        client_id: "job".into(),
        jwks: Some(jsonwebtoken::jwk::JwkSet { keys: vec![jwk] }),
        grant_types: vec!["client_credentials".into()],
        account: Some("fabrikam".into()),
        ..Default::default()
    };
    let app = app_with(None, vec![client]).await;
    let aud = app.at("/oauth2/token");
    let send = |a: String| {
        let app = &app;
        async move {
            token(
                app,
                None,
                &[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &a),
                ],
            )
            .await
        }
    };
    let good = assertion(&pem, "k1", "job", &aud, "jti-1", 60);
    let (s, b) = send(good.clone()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        verified(&app, b["access_token"].as_str().unwrap(), "job")
            .await
            .1["sub"],
        "job"
    );
    for (why, bad) in [
        ("reused jti", good),
        (
            "foreign key",
            assertion(&foreign_pem, "k1", "job", &aud, "jti-2", 60),
        ),
        (
            "wrong audience",
            assertion(&pem, "k1", "job", &app.url, "jti-3", 60),
        ),
        (
            "valid too long",
            assertion(&pem, "k1", "job", &aud, "jti-4", 3600),
        ),
        ("expired", assertion(&pem, "k1", "job", &aud, "jti-5", -120)),
        (
            "another client's name",
            assertion(&pem, "k1", WEB, &aud, "jti-6", 60),
        ),
    ] {
        let (s, b) = send(bad).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (401, Some("invalid_client")),
            "{why}"
        );
    }
}

#[tokio::test]
async fn prompt_none_and_prompt_login() {
    let app = app_with(None, vec![]).await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let browser = app.client();
    // No session: login_required straight back to the app, with its state, no page.
    let res = browser
        .get(authorize_url(&app, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = query_of(loc);
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("login_required", "st-1")
    );

    let first = sign_in(&app, &browser, &authorize_url(&app, &[])).await;
    let first = redeem(&app, &first["code"]).await;
    let (_, first) = verified(&app, first["id_token"].as_str().unwrap(), WEB).await;
    // With the session: a code, no page.
    let q = sign_in(&app, &browser, &authorize_url(&app, &[("prompt", "none")])).await;
    assert!(q.contains_key("code"));
    // max_age=0 and prompt=none: the session is too old, login_required.
    let res = browser
        .get(authorize_url(&app, &[("prompt", "none"), ("max_age", "0")]))
        .send()
        .await
        .unwrap();
    let loc = res.headers()["location"].to_str().unwrap();
    assert_eq!(query_of(loc)["error"], "login_required", "{loc}");
    // prompt=login: the password step again although signed in, then a newer auth_time
    // or at least a new session.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = browser
        .get(authorize_url(&app, &[("prompt", "login")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a page, not straight back");
    let q = sign_in(&app, &browser, &authorize_url(&app, &[("prompt", "login")])).await;
    let again = redeem(&app, &q["code"]).await;
    let (_, again) = verified(&app, again["id_token"].as_str().unwrap(), WEB).await;
    assert!(again["auth_time"].as_i64() > first["auth_time"].as_i64());
    assert_ne!(again["sid"], first["sid"]);
}

/// Signs carol in to the web app and answers the ID token's claims and the token itself.
async fn signed_in_app(app: &TestApp, browser: &reqwest::Client) -> (Value, String) {
    let q = sign_in(app, browser, &authorize_url(app, &[])).await;
    let body = redeem(app, &q["code"]).await;
    let id_token = body["id_token"].as_str().unwrap().to_string();
    (verified(app, &id_token, WEB).await.1, id_token)
}

async fn next_logout_token(app: &TestApp, rx: &mut mpsc::UnboundedReceiver<String>) -> Value {
    let jwt = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a logout token reaches the app")
        .unwrap();
    let (typ, claims) = verified(app, &jwt, WEB).await;
    assert_eq!(typ, "logout+jwt");
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims["nonce"].is_null());
    claims
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_and_tells_the_apps() {
    let (uri, mut rx) = logout_receiver().await;
    let app = app_with(Some(uri), vec![]).await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let browser = app.client();
    let (id, id_token) = signed_in_app(&app, &browser).await;
    let logout = |extra: &[(&str, &str)]| {
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(extra)
            .finish();
        app.at(&format!("/oauth2/logout?{q}"))
    };
    // Refusals first, none of which ends the session: an unregistered post-logout URI, a
    // post-logout URI without a hint, a forged hint.
    for bad in [
        vec![
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![("post_logout_redirect_uri", AFTER_LOGOUT)],
        vec![("id_token_hint", &id_token[..id_token.len() - 4])],
    ] {
        let res = browser.get(logout(&bad)).send().await.unwrap();
        assert_eq!(res.status(), 400, "{bad:?}");
        assert!(res.headers().get("location").is_none());
    }
    // Without a hint, a signed-in person is asked (a bare link signs nobody out).
    let res = browser.get(logout(&[])).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("id=\"logout\""));
    assert_eq!(
        browser.get(app.at("/me")).send().await.unwrap().status(),
        200
    );
    assert!(rx.try_recv().is_err(), "nothing ended yet");

    let res = browser
        .get(logout(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "bye"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["location"],
        format!("{AFTER_LOGOUT}?state=bye")
    );
    assert_eq!(
        browser.get(app.at("/me")).send().await.unwrap().status(),
        303
    );
    let claims = next_logout_token(&app, &mut rx).await;
    assert_eq!(claims["sid"], id["sid"]);
    assert_eq!(claims["sub"], user.id.to_string());

    // Signing out on the gateway's own page tells the app too.
    let (id, _) = signed_in_app(&app, &browser).await;
    let html = browser
        .get(app.at("/me"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = browser
        .post(app.at("/logout"))
        .form(&[("csrf", common::csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(next_logout_token(&app, &mut rx).await["sid"], id["sid"]);
}

#[tokio::test]
async fn disabling_the_user_through_the_api_logs_them_out_of_the_apps() {
    let (uri, mut rx) = logout_receiver().await;
    let app = app_with(Some(uri), vec![]).await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let browser = app.client();
    signed_in_app(&app, &browser).await;
    let api = common::api::token(&app, "hr", None, Scope::Admin).await;
    let res = common::api::call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/tenants/fabrikam/users/{}", user.id),
        Some(&api),
        Some(serde_json::json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let claims = next_logout_token(&app, &mut rx).await;
    // Every session of the user: `sub` without `sid` (Back-Channel Logout §2.4).
    assert_eq!(claims["sub"], user.id.to_string());
    assert!(claims["sid"].is_null());
    assert_eq!(
        browser.get(app.at("/me")).send().await.unwrap().status(),
        303
    );
}
