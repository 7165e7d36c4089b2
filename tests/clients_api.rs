//! OAuth / OpenID Connect clients through the management API against the real gateway, on
//! SQLite and PostgreSQL: a created client signs in at `/oauth2/token` (a service client
//! with `client_credentials` and the printed secret, a confidential web app through the
//! code flow); a PATCH of its redirect URIs, a secret rotation and a deletion take effect
//! at once; the refusals (no token, another account's token on every route, a
//! configuration client, an invalid body) with their codes, problems listed and nothing
//! changed; the audit events, which never hold the secret or its hash; and a second
//! instance on PostgreSQL serving a created client within 2 s.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::api::{audit_events, call, json_of, token};
use common::authorize::through_password_step;
use common::{TestApp, add_active, spawn_app};
use realmgate::admin::Scope;
use realmgate::config::{Config, OAuthClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The configuration's own client, read-only through the API.
const FILE_CLIENT: &str = "file-portal";
const REDIRECT: &str = "https://rp.example/cb";
const MOVED: &str = "https://rp.example/moved";

fn with_file_client(c: &mut Config) {
    c.oauth_clients = vec![OAuthClient {
        client_id: FILE_CLIENT.into(),
        redirect_uris: vec![REDIRECT.into()],
        account: Some("fabrikam".into()),
        ..Default::default()
    }];
}

/// `POST /oauth2/token` with HTTP Basic credentials: the status and the `error`, if any.
async fn token_request(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}"))),
        )
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn client_credentials(app: &TestApp, client_id: &str, secret: &str) -> (u16, Value) {
    token_request(
        app,
        client_id,
        secret,
        &[("grant_type", "client_credentials")],
    )
    .await
}

fn authorize_url(app: &TestApp, client_id: &str, redirect: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "st-1"),
            ("nonce", "nonce-1"),
            ("login_hint", "carol@fabrikam.com"),
        ])
        .finish();
    app.at(&format!("/oauth2/authorize?{q}"))
}

/// Follows an authorization request through the password step (as carol); answers the
/// code the app's `redirect` URI receives.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, url: &str, redirect: &str) -> String {
    let login = ("carol@fabrikam.com", "correct horse");
    through_password_step(app, browser, url, login, redirect).await["code"].clone()
}

/// Every route answers 401 without a token, and every route of a client another account
/// owns answers 404, like an absent client.
async fn refusals_without_reach(app: &TestApp, other: &str, id: &str) {
    let routes = [
        (Method::GET, "/api/v1/clients".to_string(), None),
        (Method::POST, "/api/v1/clients".to_string(), Some(json!({}))),
        (Method::GET, format!("/api/v1/clients/{id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/clients/{id}"),
            Some(json!({"redirect_uris": [MOVED]})),
        ),
        (Method::DELETE, format!("/api/v1/clients/{id}"), None),
        (Method::POST, format!("/api/v1/clients/{id}/secret"), None),
    ];
    for (method, path, body) in &routes {
        let res = call(app, method.clone(), path, None, body.clone()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    // An unknown token too (once: misses count towards the lockout of this address).
    let res = call(
        app,
        Method::GET,
        "/api/v1/clients",
        Some("rg_not-a-token"),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    for (method, path, body) in routes.iter().skip(2) {
        let res = call(app, method.clone(), path, Some(other), body.clone()).await;
        let body = json_of(res, StatusCode::NOT_FOUND).await;
        assert_eq!(body["error"], "not_found", "{method} {path}");
    }
    // Nor can the other account list it, or create a client for an account not its own.
    let list = json_of(
        call(app, Method::GET, "/api/v1/clients", Some(other), None).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        !list["clients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == id),
        "{list}"
    );
    let res = call(
        app,
        Method::POST,
        "/api/v1/clients",
        Some(other),
        Some(json!({"account": "fabrikam", "redirect_uris": [REDIRECT]})),
    )
    .await;
    json_of(res, StatusCode::NOT_FOUND).await;
}

async fn life_cycle(app: &TestApp) {
    add_active(app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let op = token(app, "ops", None, Scope::Admin).await;
    let fabrikam = token(app, "fabrikam-hr", Some("fabrikam"), Scope::Admin).await;
    let contoso = token(app, "contoso-hr", Some("contoso"), Scope::Admin).await;

    // A service client of fabrikam, its id generated, its secret printed once.
    let created = json_of(
        call(
            app,
            Method::POST,
            "/api/v1/clients",
            Some(&fabrikam),
            Some(json!({"grant_types": ["client_credentials"], "secret": true})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let mfp = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert_eq!(mfp.len(), 43, "{created}");
    assert_eq!(created["account"], "fabrikam");
    assert_eq!(created["source"], "database");
    assert_eq!(created["has_secret"], true);
    assert!(created.get("client_secret_hash").is_none(), "{created}");
    let (s, b) = client_credentials(app, &mfp, &secret).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["access_token"].is_string());
    let (s, b) = client_credentials(app, &mfp, "wrong").await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    // Read back: no secret, and the GET never shows it again.
    let got = json_of(
        call(
            app,
            Method::GET,
            &format!("/api/v1/clients/{mfp}"),
            Some(&fabrikam),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(got.get("client_secret").is_none(), "{got}");
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["created_at"], created["created_at"]);

    refusals_without_reach(app, &contoso, &mfp).await;

    // Rotation: the new secret works, the old one is refused.
    let rotated = json_of(
        call(
            app,
            Method::POST,
            &format!("/api/v1/clients/{mfp}/secret"),
            Some(&fabrikam),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let (s, b) = client_credentials(app, &mfp, &secret).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    let (s, b) = client_credentials(app, &mfp, &new_secret).await;
    assert_eq!(s, 200, "{b}");

    // A confidential web app, created by the operator, signs a person in with the code flow.
    let web = json_of(
        call(
            app,
            Method::POST,
            "/api/v1/clients",
            Some(&op),
            Some(json!({"client_id": "portal", "redirect_uris": [REDIRECT], "account": "fabrikam", "secret": true})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let web_secret = web["client_secret"].as_str().unwrap().to_string();
    let browser = app.client();
    let code = sign_in(
        app,
        &browser,
        &authorize_url(app, "portal", REDIRECT),
        REDIRECT,
    )
    .await;
    let grant = |code: &str, redirect: &str| {
        [
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", redirect.to_string()),
        ]
    };
    let form = grant(&code, REDIRECT);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, b) = token_request(app, "portal", &web_secret, &form).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["id_token"].is_string(), "{b}");

    // PATCH of the redirect URIs: in force for the next request, the old URI refused.
    let patched = json_of(
        call(
            app,
            Method::PATCH,
            "/api/v1/clients/portal",
            Some(&fabrikam),
            Some(json!({"redirect_uris": [MOVED]})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["redirect_uris"], json!([MOVED]));
    assert_eq!(patched["has_secret"], true, "a patch keeps the secret");
    let res = browser
        .get(authorize_url(app, "portal", REDIRECT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let code = sign_in(app, &browser, &authorize_url(app, "portal", MOVED), MOVED).await;
    let form = grant(&code, MOVED);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, b) = token_request(app, "portal", &web_secret, &form).await;
    assert_eq!(s, 200, "{b}");

    // Invalid bodies: 400 with every problem, nothing written or changed.
    let before = json_of(
        call(app, Method::GET, "/api/v1/clients", Some(&op), None).await,
        StatusCode::OK,
    )
    .await;
    let bad = json_of(
        call(
            app,
            Method::POST,
            "/api/v1/clients",
            Some(&op),
            Some(json!({"client_id": "bad", "grant_types": ["client_credentials", "password"], "redirect_uris": ["not a uri"]})),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(bad["error"], "invalid");
    let problems = bad["problems"].to_string();
    for word in [
        "password",
        "not a uri",
        "client_secret_hash or jwks",
        "account",
    ] {
        assert!(problems.contains(word), "{word}: {problems}");
    }
    let bad = json_of(
        call(
            app,
            Method::POST,
            "/api/v1/clients",
            Some(&op),
            Some(json!({"client_id": "ghost", "account": "nowhere"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        bad["problems"].to_string().contains("not a tenant"),
        "{bad}"
    );
    let bad = json_of(
        call(
            app,
            Method::POST,
            "/api/v1/clients",
            Some(&op),
            Some(json!({"client_id": "hashed", "client_secret_hash": "00"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(bad["error"], "invalid");
    for patch in [
        json!({"redirect_uris": ["relative/path"]}),
        json!({"grant_types": ["client_credentials"], "account": null}),
        json!({"client_id": "renamed"}),
        json!({"secret": true}),
        json!({"jwks": {"keys": [{"kty": "nope"}]}}),
        json!(["not", "an", "object"]),
    ] {
        let res = call(
            app,
            Method::PATCH,
            &format!("/api/v1/clients/{mfp}"),
            Some(&op),
            Some(patch.clone()),
        )
        .await;
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["error"], "invalid", "{patch}");
    }
    // An account token cannot move its client to another account.
    let res = call(
        app,
        Method::PATCH,
        &format!("/api/v1/clients/{mfp}"),
        Some(&fabrikam),
        Some(json!({"account": "contoso"})),
    )
    .await;
    json_of(res, StatusCode::BAD_REQUEST).await;
    let after = json_of(
        call(app, Method::GET, "/api/v1/clients", Some(&op), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(before, after, "a refused change wrote nothing");
    let (s, _) = client_credentials(app, &mfp, &new_secret).await;
    assert_eq!(s, 200);

    // The configuration's client: listed and readable, every change 409 managed_in_file.
    let file = json_of(
        call(
            app,
            Method::GET,
            &format!("/api/v1/clients/{FILE_CLIENT}"),
            Some(&fabrikam),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(file["source"], "file");
    assert!(
        after["clients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == FILE_CLIENT)
    );
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/clients".to_string(),
            Some(json!({"client_id": FILE_CLIENT, "redirect_uris": [REDIRECT]})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/clients/{FILE_CLIENT}"),
            Some(json!({"redirect_uris": [MOVED]})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/clients/{FILE_CLIENT}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/clients/{FILE_CLIENT}/secret"),
            None,
        ),
    ] {
        let res = call(app, method.clone(), &path, Some(&op), body).await;
        let body = json_of(res, StatusCode::CONFLICT).await;
        assert_eq!(body["error"], "managed_in_file", "{method} {path}");
    }
    // Another account's token does not learn the configuration client exists.
    let res = call(
        app,
        Method::GET,
        &format!("/api/v1/clients/{FILE_CLIENT}"),
        Some(&contoso),
        None,
    )
    .await;
    json_of(res, StatusCode::NOT_FOUND).await;
    // A taken id.
    let res = call(
        app,
        Method::POST,
        "/api/v1/clients",
        Some(&op),
        Some(json!({"client_id": "portal", "redirect_uris": [REDIRECT]})),
    )
    .await;
    assert_eq!(
        json_of(res, StatusCode::CONFLICT).await["error"],
        "conflict"
    );

    // Deletion: the client's credentials are refused from now on.
    let res = call(
        app,
        Method::DELETE,
        &format!("/api/v1/clients/{mfp}"),
        Some(&fabrikam),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (s, b) = client_credentials(app, &mfp, &new_secret).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    let res = call(
        app,
        Method::GET,
        &format!("/api/v1/clients/{mfp}"),
        Some(&fabrikam),
        None,
    )
    .await;
    json_of(res, StatusCode::NOT_FOUND).await;

    // The audit log: each change by the token that made it, before and after, never the
    // secret or its hash.
    let events = audit_events(app, &op, "fabrikam").await;
    let clients: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("client_"))
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("client_added", "fabrikam-hr", mfp.as_str()),
        ("client_secret_rotated", "fabrikam-hr", mfp.as_str()),
        ("client_added", "ops", "portal"),
        ("client_changed", "fabrikam-hr", "portal"),
        ("client_deleted", "fabrikam-hr", mfp.as_str()),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(clients, expected);
    let changed = events
        .iter()
        .find(|e| e["action"] == "client_changed")
        .unwrap();
    assert_eq!(changed["before"]["redirect_uris"], json!([REDIRECT]));
    assert_eq!(changed["after"]["redirect_uris"], json!([MOVED]));
    let log = serde_json::to_string(&events).unwrap();
    for s in [&secret, &new_secret, &web_secret] {
        assert!(!log.contains(s.as_str()), "a secret in the audit log");
        let hash = realmgate::oauth::client_auth::secret_hash(s);
        assert!(!log.contains(&hash), "a secret's hash in the audit log");
    }
}

#[tokio::test]
async fn clients_through_the_api_on_sqlite() {
    let app = spawn_app(with_file_client).await;
    life_cycle(&app).await;
}

/// A stored row is checked again when read: one edited into something `check` refuses (a
/// service client without its account) authenticates nobody.
#[tokio::test]
async fn a_stored_client_that_no_longer_passes_the_check_is_refused() {
    let app = spawn_app(|_| {}).await;
    let op = token(&app, "ops", None, Scope::Admin).await;
    let created = json_of(
        call(
            &app,
            Method::POST,
            "/api/v1/clients",
            Some(&op),
            Some(json!({"client_id": "edited", "grant_types": ["client_credentials"], "account": "fabrikam", "secret": true})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert_eq!(client_credentials(&app, "edited", &secret).await.0, 200);
    let db = realmgate::accounts::open(&app.state.config.database_url())
        .await
        .unwrap();
    let realmgate::accounts::Pool::Sqlite(pool) = db.pool() else {
        panic!("the default database is SQLite");
    };
    let registration = json!({
        "client_id": "edited",
        "redirect_uris": [],
        "client_secret_hash": realmgate::oauth::client_auth::secret_hash(&secret),
        "grant_types": ["client_credentials"],
    });
    sqlx::query("UPDATE oauth_clients SET registration = $1 WHERE client_id = 'edited'")
        .bind(registration.to_string())
        .execute(&pool)
        .await
        .unwrap();
    // Past the lookup cache's second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, b) = client_credentials(&app, "edited", &secret).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn clients_through_the_api_on_postgresql() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let url = schema.url.clone();
    let app = spawn_app(move |c| {
        with_file_client(c);
        c.database_url = Some(url);
    })
    .await;
    life_cycle(&app).await;
    drop(app);
    schema.drop().await;
}

/// Two gateways on one PostgreSQL users' database: a client created through one signs in
/// at the other within 2 s (after that one cached its absence), and so does its deletion.
#[tokio::test]
async fn a_second_instance_serves_a_created_client_within_two_seconds() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let (u1, u2) = (schema.url.clone(), schema.url.clone());
    let one = spawn_app(move |c| c.database_url = Some(u1)).await;
    let two = spawn_app(move |c| c.database_url = Some(u2)).await;
    let (s, _) = client_credentials(&two, "shared-mfp", "x").await;
    assert_eq!(s, 401, "unknown before it is created");
    let op = token(&one, "ops", None, Scope::Admin).await;
    let created = json_of(
        call(
            &one,
            Method::POST,
            "/api/v1/clients",
            Some(&op),
            Some(json!({"client_id": "shared-mfp", "grant_types": ["client_credentials"], "account": "fabrikam", "secret": true})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let within_2s = |want: u16| {
        let (two, secret) = (&two, secret.clone());
        async move {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(2) {
                if client_credentials(two, "shared-mfp", &secret).await.0 == want {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(within_2s(200).await, "not served within 2 s");
    let res = call(
        &one,
        Method::DELETE,
        "/api/v1/clients/shared-mfp",
        Some(&op),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(within_2s(401).await, "deletion not seen within 2 s");
    drop((one, two));
    schema.drop().await;
}
