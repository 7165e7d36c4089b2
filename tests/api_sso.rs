//! A tenant made entirely through the management API, then a real SSO login: the API
//! creates it, its domain's DNS proof is published on a real DNS server (dnsmasq) and
//! verified, the real IdP's metadata (pysaml2, `tests/idp`) is uploaded, and a person signs
//! in through that IdP. Then the record is taken down and the gateway's periodic re-check
//! stops routing the domain to SSO (audited). On SQLite and on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::dns::{self, SECRET};
use common::idp::{Idp, through_idp_of};
use common::{TestApp, api, spawn_app};
use realmgate::admin::Scope;
use realmgate::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CLAIM_EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";

/// Where `email` signs in, by the discovery API.
async fn method(app: &TestApp, email: &str) -> String {
    api::discover(app, email).await["method"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The gateway of `database` (none: SQLite in its data directory), asking `dns` for proofs
/// and re-checking held ones every second.
async fn gateway(dns: &dns::Dns, database: Option<String>) -> TestApp {
    let addr = dns.addr;
    spawn_app(move |c: &mut Config| {
        c.dns_server = Some(addr);
        c.secret = Some(SECRET.into());
        c.domain_recheck_seconds = 1;
        c.database_url = database;
    })
    .await
}

/// The whole life of an API tenant, from creation to its domain's proof going away.
async fn api_tenant_signs_in_through_the_idp(database: Option<String>) {
    let proof = dns::token("acme", "acme.example");
    let record = ("_realmgate.acme.example", proof.as_str());
    let Some(mut dns) = dns::start(&[record]) else {
        return;
    };
    let app = gateway(&dns, database).await;
    let sp_metadata = reqwest::get(app.at("/saml/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let users = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        users.path(),
        r#"{"ann@acme.example": {"password": "ann-password", "name": "Ann Acme"}}"#,
    )
    .unwrap();
    let Some(idp) = Idp::start(&sp_metadata, &["--users", users.path().to_str().unwrap()]) else {
        return;
    };
    let op = api::token(&app, "ops", None, Scope::Admin).await;
    // The management API as the operator's token calls it: the answer must be a `status`.
    let manage = |method: Method, path: &'static str, body: Option<Value>, status: StatusCode| {
        let (app, op) = (&app, &op);
        async move { api::json_of(api::call(app, method, path, Some(op), body).await, status).await }
    };

    // The tenant, its IdP (the real metadata document) and its settings, by the API alone.
    manage(
        Method::POST,
        "/api/v1/tenants",
        Some(json!({"account": "acme", "name": "Acme", "domains": ["acme.example"]})),
        StatusCode::CREATED,
    )
    .await;
    let uploaded = reqwest::Client::new()
        .put(app.at("/api/v1/tenants/acme/idp-metadata"))
        .bearer_auth(&op)
        .header("content-type", "application/xml")
        .body(idp.metadata.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::OK);
    let uploaded: Value = uploaded.json().await.unwrap();
    assert_eq!(uploaded["entity_id"], idp.entity_id.as_str(), "{uploaded}");
    let patched = manage(
        Method::PATCH,
        "/api/v1/tenants/acme",
        Some(json!({"sso": {"jit": "deny", "email_claim": CLAIM_EMAIL}})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["sso"]["protocol"], "saml2", "{patched}");
    let user = manage(
        Method::POST,
        "/api/v1/tenants/acme/users",
        Some(json!({"email": "ann@acme.example", "name": "Ann Acme"})),
        StatusCode::CREATED,
    )
    .await;

    // Unproven: the password step, and the Sign-on URL does not reach the IdP.
    assert_eq!(method(&app, "ann@acme.example").await, "password");
    let browser = app.client();
    let res = browser
        .get(app.at("/sso/acme/start?login_hint=ann%40acme.example"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/acme");

    let verified = manage(
        Method::POST,
        "/api/v1/tenants/acme/domains/acme.example/verify",
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(verified["outcome"], "verified", "{verified}");
    assert_eq!(method(&app, "ann@acme.example").await, "saml2");

    // A real login through the IdP: the response is signed by the uploaded document's key.
    let post = through_idp_of(
        &app.url,
        "acme",
        &browser,
        "ann@acme.example",
        Some("ann-password"),
        Some("/inbox"),
    )
    .await;
    assert_eq!(post.acs, app.at("/auth/saml/callback"));
    let res = post.submit(&browser).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(res.headers()["location"], app.at("/inbox"));
    let me = browser.get(app.at("/auth/verify")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["x-realmgate-email"], "ann@acme.example");
    assert_eq!(me.headers()["x-realmgate-account"], "acme");
    let traces = manage(
        Method::GET,
        "/api/v1/tenants/acme/login-traces",
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(traces["traces"][0]["result"], "success", "{traces}");
    let id = user["id"].as_i64().unwrap();
    let bound = app.state.users.by_id(id).await.unwrap().unwrap();
    assert!(
        bound.subject.is_some(),
        "the user is bound to the IdP subject"
    );

    // The record is taken down: within a re-check the domain routes to SSO no more.
    dns.republish(&[]);
    let start = Instant::now();
    while method(&app, "ann@acme.example").await != "password" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the domain still routes to SSO after its record went"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = app
        .client()
        .get(app.at("/sso/acme/start?login_hint=ann%40acme.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/acme");
    let domains = manage(
        Method::GET,
        "/api/v1/tenants/acme/domains",
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(domains["domains"][0]["verified"], false, "{domains}");
    let audit = api::audit_events(&app, &op, "acme").await;
    let dropped: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "domain_unverified")
        .collect();
    assert_eq!(dropped.len(), 1, "{audit:?}");
    assert_eq!(dropped[0]["actor"], "gateway");
    assert_eq!(dropped[0]["target"], "acme.example");

    // Published again: verified again by the API, and SSO is back.
    dns.republish(&[record]);
    let again = manage(
        Method::POST,
        "/api/v1/tenants/acme/domains/acme.example/verify",
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["outcome"], "verified", "{again}");
    assert_eq!(method(&app, "ann@acme.example").await, "saml2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_tenant_signs_in_through_a_real_idp_on_sqlite() {
    api_tenant_signs_in_through_the_idp(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_tenant_signs_in_through_a_real_idp_on_postgresql() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    api_tenant_signs_in_through_the_idp(Some(schema.url.clone())).await;
    schema.drop().await;
}
