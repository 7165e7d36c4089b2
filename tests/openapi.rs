//! The OpenAPI document at `/api/v1/openapi.json`: fetched from a running gateway, checked
//! by an OpenAPI validator nobody here wrote (`openapi-spec-validator`), and used by
//! `schemathesis` to throw generated requests at `/api/v1/*` (the management routes with
//! a valid operator token) and the JSON well-known endpoints, none of which may answer
//! with a server error.

mod common;

use std::path::{Path, PathBuf};

use common::api::token;
use common::{TestApp, spawn_app};
use realmgate::admin::Scope;
use realmgate::config::OAuthClient;
use serde_json::Value;

fn venv_tool(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name)
}

async fn app() -> TestApp {
    spawn_app(|c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "mfp".into(),
            redirect_uris: vec![],
            ..Default::default()
        }];
    })
    .await
}

async fn document(app: &TestApp) -> Value {
    let res = reqwest::get(app.at("/api/v1/openapi.json")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_document_is_served_and_covers_the_machine_endpoints() {
    let app = app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{doc}"
    );
    for (path, method) in [
        ("/api/v1/discover", "post"),
        ("/api/v1/device/login", "post"),
        ("/oauth2/token", "post"),
        ("/oauth2/device_authorization", "post"),
        ("/oauth2/revoke", "post"),
        ("/.well-known/webfinger", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/.well-known/oauth-authorization-server", "get"),
        ("/api/v1/tenants", "get"),
        ("/api/v1/tenants/{account}", "get"),
        ("/api/v1/tenants/{account}/users", "get"),
        ("/api/v1/tenants/{account}/users", "post"),
        ("/api/v1/tenants/{account}/users/{id}", "get"),
        ("/api/v1/tenants/{account}/users/{id}", "patch"),
        ("/api/v1/tenants/{account}/users/{id}", "delete"),
        ("/api/v1/tenants/{account}/users/{id}/approve", "post"),
        ("/api/v1/tenants/{account}/users/{id}/deny", "post"),
        ("/api/v1/tenants/{account}/users/invite", "post"),
        ("/api/v1/tenants/{account}/users/import", "post"),
        ("/api/v1/audit", "get"),
        ("/api/v1/tenants", "post"),
        ("/api/v1/tenants/{account}", "patch"),
        ("/api/v1/tenants/{account}", "delete"),
        ("/api/v1/tenants/{account}/idp-metadata", "put"),
        ("/api/v1/tenants/{account}/domains", "get"),
        ("/api/v1/tenants/{account}/domains/{domain}/verify", "post"),
        ("/api/v1/clients", "get"),
        ("/api/v1/clients", "post"),
        ("/api/v1/clients/{client_id}", "get"),
        ("/api/v1/clients/{client_id}", "patch"),
        ("/api/v1/clients/{client_id}", "delete"),
        ("/api/v1/clients/{client_id}/secret", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    // A client is created with `secret: true` to get its secret: the body's schema says so,
    // and no answer's schema carries a secret hash.
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["ClientFields"]["properties"]["secret"].is_object(),
        "{}",
        schemas["ClientFields"]
    );
    assert!(
        schemas["ManagedClient"]
            .to_string()
            .find("client_secret_hash")
            .is_none()
    );
    // The management routes name the bearer scheme, and the document defines it.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["paths"]["/api/v1/audit"]["get"]["security"][0]["bearer"],
        serde_json::json!([])
    );
    // The token endpoint takes a form and answers RFC 6749 errors with their codes.
    let token = &doc["paths"]["/oauth2/token"]["post"];
    assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    let schemas = &doc["components"]["schemas"];
    let oauth_codes = schemas["OAuthErrorCode"]["enum"].as_array().unwrap();
    for c in [
        "invalid_grant",
        "authorization_pending",
        "slow_down",
        "expired_token",
    ] {
        assert!(oauth_codes.iter().any(|v| v == c), "{c}");
    }
    let api_codes = schemas["ApiErrorCode"]["enum"].as_array().unwrap();
    for c in [
        "invalid_email",
        "invalid_credentials",
        "sso_required",
        "ip_not_allowed",
    ] {
        assert!(api_codes.iter().any(|v| v == c), "{c}");
    }
    // What the API really sends matches the documented error shape.
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/discover"))
        .json(&serde_json::json!({"email": "not an email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(api_codes.iter().any(|v| *v == body["error"]), "{body}");
    assert!(body["message"].is_string());
}

/// Runs `program` with `args` in `dir` (schemathesis writes its cache into the working
/// directory), without blocking the runtime the gateway answers on.
async fn run(program: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_validates_and_schemathesis_finds_no_server_error() {
    let validator = venv_tool("openapi-spec-validator");
    let schemathesis = venv_tool("schemathesis");
    if !common::require_program(validator.to_str().unwrap())
        || !common::require_program(schemathesis.to_str().unwrap())
    {
        return;
    }
    let app = app().await;
    let doc = document(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    let out = run(&validator, dir.path(), &[file.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The management routes are fuzzed past their authentication, with the operator's token:
    // without it every generated request would stop at the 401.
    let operator = token(&app, "schemathesis", None, Scope::Admin).await;
    let authorization = format!("Authorization: Bearer {operator}");
    let schema_url = app.at("/api/v1/openapi.json");
    let out = run(
        &schemathesis,
        dir.path(),
        &[
            "run",
            &schema_url,
            "--url",
            &app.url,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "50",
            "--include-path-regex",
            "^/(api/v1/|\\.well-known/(jwks\\.json|oauth-authorization-server|webfinger))",
            "--header",
            &authorization,
            "--no-color",
        ],
    )
    .await;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(out.status.success(), "schemathesis: {report}");
    // Guard against a filter that silently matched (almost) nothing: the discover, device
    // login, WebFinger, JWKS and metadata operations and the twenty-two management ones
    // (the six of OAuth clients included) must all have been exercised.
    let tested: usize = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        tested >= 27,
        "schemathesis tested {tested} operations: {report}"
    );
}
