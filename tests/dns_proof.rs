//! DNS proof of domain ownership against a real DNS server (dnsmasq) on loopback.

mod common;

use std::process::Command;

use realmgate::discovery::DomainProof;
use realmgate::discovery::proof::Outcome;
use serde_json::json;

use common::api;
use common::dns::{Dns, SECRET, start as start_dns, token};

#[tokio::test]
async fn txt_records_are_checked_against_a_real_server() {
    let good = token("contoso", "contoso.com");
    let Some(dns) = start_dns(&[
        ("_realmgate.contoso.com", &good),
        ("_realmgate.wrong.example", "realmgate-verification=0000"),
    ]) else {
        return;
    };
    let proof = DomainProof::new(Some(dns.addr), SECRET.as_bytes()).unwrap();
    assert_eq!(
        proof.check("contoso", "contoso.com").await,
        Outcome::Verified
    );
    // The token is bound to the account: another tenant cannot reuse it.
    assert!(matches!(
        proof.check("adatum", "contoso.com").await,
        Outcome::WrongToken { .. }
    ));
    assert!(matches!(
        proof.check("wrong", "wrong.example").await,
        Outcome::WrongToken { found } if found == vec!["realmgate-verification=0000".to_string()]
    ));
    assert_eq!(proof.check("x", "missing.example").await, Outcome::Missing);
}

/// The standard tenants, plus `adatum`, an SSO tenant that publishes no proof.
fn proof_tenants(dir: &std::path::Path) {
    common::standard_tenants(dir);
    std::fs::write(dir.join("adatum.idp.xml"), common::example_idp_metadata()).unwrap();
    std::fs::write(
        dir.join("adatum.toml"),
        "account = \"adatum\"\ndomains = [\"adatum.com\"]\n[sso]\nidp_metadata = \"adatum.idp.xml\"\n",
    )
    .unwrap();
}

fn require_proofs(c: &mut realmgate::config::Config, dns: &Dns) {
    c.require_verified_domains = true;
    c.dns_server = Some(dns.addr);
    c.secret = Some(SECRET.into());
}

/// contoso proved contoso.com (so its subdomains too); adatum proved nothing.
async fn only_proven_domains_go_to_sso(app: &common::TestApp) {
    let method =
        |email: &'static str| async move { api::discover(app, email).await["method"].clone() };
    assert_eq!(method("alice@contoso.com").await, "saml2");
    assert_eq!(method("alice@eu.contoso.com").await, "saml2");
    assert_eq!(method("alice@contoso.co.uk").await, "password");
    assert_eq!(method("bob@adatum.com").await, "password");
    // The Sign-on URL of an unverified tenant does not start SSO either.
    let res = app.client().get(app.at("/adatum")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn unverified_domains_are_never_routed_to_sso() {
    let good = token("contoso", "contoso.com");
    let Some(dns) = start_dns(&[("_realmgate.contoso.com", &good)]) else {
        return;
    };
    let app = common::spawn_app_with(proof_tenants, |c| require_proofs(c, &dns)).await;
    only_proven_domains_go_to_sso(&app).await;
}

#[tokio::test]
async fn with_tenants_in_postgres_each_domain_is_proven_when_first_needed() {
    let good = token("contoso", "contoso.com");
    let Some(dns) = start_dns(&[("_realmgate.contoso.com", &good)]) else {
        return;
    };
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    proof_tenants(dir.path());
    realmgate::app::import_tenants(&schema.url, dir.path())
        .await
        .unwrap();
    let url = schema.url.clone();
    let app = common::spawn_app_with(
        |_| {},
        |c| {
            require_proofs(c, &dns);
            c.tenant_source = url;
        },
    )
    .await;
    only_proven_domains_go_to_sso(&app).await;
    schema.drop().await;
}

#[tokio::test]
async fn cli_prints_the_outcome() {
    let good = token("contoso", "contoso.com");
    let Some(dns) = start_dns(&[("_realmgate.contoso.com", &good)]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    common::standard_tenants(dir.path());
    let run = |domain: &str| {
        Command::new(env!("CARGO_BIN_EXE_realmgate"))
            .args(["domain", "verify", domain])
            .env("REALMGATE_DOMAINS_DIR", dir.path())
            .env("REALMGATE_DATA_DIR", dir.path().join("data"))
            .env("REALMGATE_DNS_SERVER", dns.addr.to_string())
            .env("REALMGATE_SECRET", SECRET)
            .output()
            .unwrap()
    };
    let ok = run("contoso.com");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}");
    assert!(
        out.contains("verified: contoso.com belongs to account contoso"),
        "{out}"
    );
    let missing = run("contoso.co.uk");
    let out = String::from_utf8_lossy(&missing.stdout);
    assert_eq!(missing.status.code(), Some(1), "{out}");
    assert!(
        out.contains("_realmgate.contoso.co.uk. TXT \"realmgate-verification="),
        "{out}"
    );
}

/// A tenant created through the management API routes a domain to SSO only once that
/// domain's proof held, even with `require_verified_domains` off: otherwise any API client
/// could list another company's domain and capture its logins.
#[tokio::test]
async fn an_api_domain_goes_to_sso_only_after_verify() {
    let good = token("acme", "acme.example");
    let Some(dns) = start_dns(&[("_realmgate.acme.example", &good)]) else {
        return;
    };
    let addr = dns.addr;
    let app = common::spawn_app(move |c| {
        c.dns_server = Some(addr);
        c.secret = Some(SECRET.into());
    })
    .await;
    let op = api::token(&app, "ops", None, realmgate::admin::Scope::Admin).await;
    let res = api::call(
        &app,
        reqwest::Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(json!({"account": "acme", "domains": ["acme.example", "other.example"]})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let res = api::put_idp_metadata(&app, "acme", &op, common::example_idp_metadata()).await;
    assert_eq!(res.status(), 200);
    let method = |email: &'static str| {
        let app = &app;
        async move { api::discover(app, email).await["method"].clone() }
    };
    assert_eq!(method("a@acme.example").await, "password");
    let verify = |domain: &'static str| {
        let (app, op) = (&app, &op);
        async move {
            let path = format!("/api/v1/tenants/acme/domains/{domain}/verify");
            let res = api::call(app, reqwest::Method::POST, &path, Some(op), None).await;
            api::json_of(res, reqwest::StatusCode::OK).await
        }
    };
    let missing = verify("other.example").await;
    assert_eq!(missing["outcome"], "missing");
    assert_eq!(missing["verified"], false);
    assert_eq!(method("a@acme.example").await, "password");
    let proven = verify("acme.example").await;
    assert_eq!(proven["outcome"], "verified", "{proven}");
    assert_eq!(proven["verified"], true);
    assert_eq!(proven["record_value"].as_str().unwrap(), good);
    assert_eq!(method("a@acme.example").await, "saml2");
    assert_eq!(method("a@other.example").await, "password");
}
