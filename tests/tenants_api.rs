//! Tenants through the management API against the real gateway, on SQLite and PostgreSQL:
//! creation, change and deletion in force at once; the refusals (no token, another
//! account's token, a file tenant, a domain another tenant holds, bad metadata) with their
//! codes, problems listed and nothing changed; and the audit events of each change.

mod common;

use common::api::{self, audit_events, call, json_of, put_idp_metadata, token};
use common::{TestApp, example_idp_metadata, spawn_app};
use realmgate::admin::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Where `email` signs in, by the discovery API: `saml2` or `password`, and the account.
async fn discover(app: &TestApp, email: &str) -> (String, Option<String>) {
    let body = api::discover(app, email).await;
    (
        body["method"].as_str().unwrap().to_string(),
        body["account"].as_str().map(str::to_string),
    )
}

async fn audit_actions(app: &TestApp, op: &str, account: &str) -> Vec<String> {
    audit_events(app, op, account)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

/// The whole tenant life cycle and its refusals, on whichever database `app` uses.
async fn life_cycle(app: &TestApp) {
    let op = token(app, "ops", None, Scope::Admin).await;
    let fabrikam = token(app, "fabrikam-admin", Some("fabrikam"), Scope::Admin).await;

    // No token: 401 on every new route.
    for (method, path) in [
        (Method::POST, "/api/v1/tenants"),
        (Method::PATCH, "/api/v1/tenants/acme"),
        (Method::DELETE, "/api/v1/tenants/acme"),
        (Method::PUT, "/api/v1/tenants/acme/idp-metadata"),
        (Method::GET, "/api/v1/tenants/acme/domains"),
        (
            Method::POST,
            "/api/v1/tenants/acme/domains/acme.test/verify",
        ),
    ] {
        let res = call(app, method.clone(), path, None, Some(json!({}))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }

    // An account token may not create tenants.
    let new = json!({"account": "acme", "name": "Acme", "domains": ["acme.test"]});
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&fabrikam),
        Some(new.clone()),
    )
    .await;
    assert_eq!(
        json_of(res, StatusCode::FORBIDDEN).await["error"],
        "forbidden"
    );

    let created = json_of(
        call(
            app,
            Method::POST,
            "/api/v1/tenants",
            Some(&op),
            Some(new.clone()),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["source"], "database");
    assert_eq!(created["domains"], json!(["acme.test"]));
    // In force at once: discovery routes the domain to the tenant's password step.
    assert_eq!(
        discover(app, "x@acme.test").await,
        ("password".to_string(), Some("acme".to_string()))
    );
    let listed = json_of(
        call(app, Method::GET, "/api/v1/tenants", Some(&op), None).await,
        StatusCode::OK,
    )
    .await;
    let sources: Vec<(String, String)> = listed["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["account"].as_str().unwrap().into(),
                t["source"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(sources.contains(&("acme".into(), "database".into())));
    assert!(sources.contains(&("contoso".into(), "file".into())));

    // The same account again, a file's account, a file's domain: refused, nothing changed.
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(new.clone()),
    )
    .await;
    assert_eq!(
        json_of(res, StatusCode::CONFLICT).await["error"],
        "conflict"
    );
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(json!({"account": "contoso", "domains": ["other.test"]})),
    )
    .await;
    let body = json_of(res, StatusCode::CONFLICT).await;
    assert_eq!(body["error"], "managed_in_file");
    assert!(
        body["message"].as_str().unwrap().contains("contoso.toml"),
        "{body}"
    );
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(json!({"account": "thief", "domains": ["thief.test", "fabrikam.com", "acme.test"]})),
    )
    .await;
    let body = json_of(res, StatusCode::CONFLICT).await;
    assert_eq!(body["error"], "conflict");
    let problems = body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{body}");
    let text = body.to_string();
    assert!(
        !text.contains("\"fabrikam\"") && !text.contains("acme\\\""),
        "names the holder: {text}"
    );
    assert_eq!(discover(app, "x@thief.test").await.1, None);

    // The check `check` runs: every problem, in its words, nothing written.
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(json!({"account": "Bad Slug", "domains": ["not a domain"], "sso": {"button": ""}})),
    )
    .await;
    let body = json_of(res, StatusCode::BAD_REQUEST).await;
    let problems: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems.iter().any(|p| p.contains("URL slug")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("is not a valid domain name")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("exactly one of")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("button label")),
        "{problems:?}"
    );
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(json!({"account": "typo", "domain": ["typo.test"]})),
    )
    .await;
    let body = json_of(res, StatusCode::BAD_REQUEST).await;
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .contains("unknown field `domain`"),
        "{body}"
    );
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(json!({"account": "sneaky", "domains": ["sneaky.test"], "sso": {"idp_metadata": "/etc/passwd"}})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = call(app, Method::GET, "/api/v1/tenants/sneaky", Some(&op), None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Another account's token: the same 404 as an absent account, on every route.
    for (method, path, body) in [
        (Method::GET, "/api/v1/tenants/acme", None),
        (
            Method::PATCH,
            "/api/v1/tenants/acme",
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, "/api/v1/tenants/acme", None),
        (Method::GET, "/api/v1/tenants/acme/domains", None),
        (
            Method::POST,
            "/api/v1/tenants/acme/domains/acme.test/verify",
            None,
        ),
    ] {
        let theirs = call(app, method.clone(), path, Some(&fabrikam), body.clone()).await;
        let absent = call(
            app,
            method.clone(),
            &path.replace("acme", "nobody"),
            Some(&fabrikam),
            body,
        )
        .await;
        assert_eq!(theirs.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(
            theirs.json::<Value>().await.unwrap()["error"],
            absent.json::<Value>().await.unwrap()["error"]
        );
    }
    let res = put_idp_metadata(app, "acme", &fabrikam, example_idp_metadata()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // File tenants are the operator's.
    for (method, path, body) in [
        (
            Method::PATCH,
            "/api/v1/tenants/fabrikam",
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, "/api/v1/tenants/fabrikam", None),
        (
            Method::POST,
            "/api/v1/tenants/fabrikam/domains/fabrikam.com/verify",
            None,
        ),
    ] {
        let body = json_of(
            call(app, method.clone(), path, Some(&fabrikam), body).await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(body["error"], "managed_in_file", "{method} {path}");
        assert!(body["message"].as_str().unwrap().contains("fabrikam.toml"));
    }
    let res = put_idp_metadata(app, "fabrikam", &fabrikam, example_idp_metadata()).await;
    assert_eq!(
        json_of(res, StatusCode::CONFLICT).await["error"],
        "managed_in_file"
    );

    // Bad metadata: 400 with the parser's problem; the tenant stays a password tenant.
    let res = put_idp_metadata(app, "acme", &op, "<EntityDescriptor>not metadata").await;
    let body = json_of(res, StatusCode::BAD_REQUEST).await;
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("identity provider:"),
        "{body}"
    );
    let got = json_of(
        call(app, Method::GET, "/api/v1/tenants/acme", Some(&op), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["sso"], Value::Null);

    // Good metadata: an SSO tenant, but its unproven domain stays on the password step.
    let res = put_idp_metadata(app, "acme", &op, example_idp_metadata()).await;
    let body = json_of(res, StatusCode::OK).await;
    assert!(
        body["entity_id"].as_str().unwrap().starts_with("https://"),
        "{body}"
    );
    assert_eq!(body["tenant"]["sso"]["button"], "Log In with SSO");
    assert_eq!(discover(app, "x@acme.test").await.0, "password");
    let domains = json_of(
        call(
            app,
            Method::GET,
            "/api/v1/tenants/acme/domains",
            Some(&op),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(domains["domains"][0]["domain"], "acme.test");
    assert_eq!(domains["domains"][0]["verified"], false);
    assert_eq!(domains["domains"][0]["record_name"], "_realmgate.acme.test");
    assert!(
        domains["domains"][0]["record_value"]
            .as_str()
            .unwrap()
            .starts_with("realmgate-verification=")
    );

    // PATCH: a merge patch; a domain of another tenant refused and nothing changed.
    let res = call(
        app,
        Method::PATCH,
        "/api/v1/tenants/acme",
        Some(&op),
        Some(json!({"domains": ["acme.test", "contoso.com"], "name": "Acme 2"})),
    )
    .await;
    assert_eq!(
        json_of(res, StatusCode::CONFLICT).await["error"],
        "conflict"
    );
    let patched = json_of(
        call(
            app,
            Method::PATCH,
            "/api/v1/tenants/acme",
            Some(&op),
            Some(json!({"domains": ["acme.test", "acme.example"], "name": "Acme 2", "sso": {"button": "Acme SSO"}})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["name"], "Acme 2");
    assert_eq!(patched["sso"]["button"], "Acme SSO");
    assert_eq!(
        discover(app, "y@acme.example").await.1.as_deref(),
        Some("acme")
    );

    // DELETE: gone at once, its domains free again.
    let res = call(app, Method::DELETE, "/api/v1/tenants/acme", Some(&op), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(discover(app, "x@acme.test").await.1, None);
    let res = call(app, Method::GET, "/api/v1/tenants/acme", Some(&op), None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    assert_eq!(
        audit_actions(app, &op, "acme").await,
        [
            "tenant_added",
            "tenant_metadata_changed",
            "tenant_changed",
            "tenant_deleted"
        ]
    );
}

#[tokio::test]
async fn tenants_through_the_api_on_sqlite() {
    let app = spawn_app(|_| {}).await;
    life_cycle(&app).await;
}

#[tokio::test]
async fn tenants_through_the_api_on_postgresql() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let url = schema.url.clone();
    let app = spawn_app(move |c| c.database_url = Some(url)).await;
    life_cycle(&app).await;
    drop(app);
    schema.drop().await;
}

/// Two gateways on one PostgreSQL users' database: a tenant created through one is
/// served by the other within 2 s (the NOTIFY of its write), and so is its deletion.
#[tokio::test]
async fn a_second_instance_sees_a_change_within_two_seconds() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let (u1, u2) = (schema.url.clone(), schema.url.clone());
    let one = spawn_app(move |c| c.database_url = Some(u1)).await;
    let two = spawn_app(move |c| c.database_url = Some(u2)).await;
    // Cache a miss on the second first: the notification must make it forget it.
    assert_eq!(discover(&two, "x@shared.test").await.1, None);
    let op = token(&one, "ops", None, Scope::Admin).await;
    let res = call(
        &one,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(json!({"account": "shared", "domains": ["shared.test"]})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let seen = |want: Option<&'static str>| {
        let two = &two;
        async move {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_secs(2) {
                if discover(two, "x@shared.test").await.1.as_deref() == want {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(seen(Some("shared")).await, "not seen within 2 s");
    let res = call(
        &one,
        Method::DELETE,
        "/api/v1/tenants/shared",
        Some(&op),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(seen(None).await, "deletion not seen within 2 s");
    drop((one, two));
    schema.drop().await;
}

/// The fields of a new tenant `account` whose IdP (`protocol`) comes from `url`.
fn url_tenant(account: &str, protocol: &str, url: &str) -> Value {
    json!({
        "account": account,
        "domains": [format!("{account}.test")],
        "sso": {"protocol": protocol, "idp_metadata_url": url},
    })
}

/// The problems of a 400 `invalid`.
async fn problems_of(res: reqwest::Response) -> Vec<String> {
    let body = json_of(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "invalid", "{body}");
    body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

/// Asserts `problems` is the one problem of a metadata URL: naming `idp_metadata_url`, in
/// `check`'s words, with `reason`.
fn assert_url_problem(problems: &[String], reason: &str, case: &str) {
    assert!(
        problems.len() == 1
            && problems[0].starts_with("idp_metadata_url")
            && problems[0].contains(reason),
        "{case}: {problems:?}"
    );
}

/// A metadata URL of the management API reaches public addresses only (unless the
/// operator sets `allow_private_idp_urls`): by name (localhost), by literal address (v4,
/// v6, the cloud metadata service), or through a redirect. Each is refused with the same
/// reason, before any request reaches the server, and nothing is written: an account admin
/// cannot make the gateway probe the operator's network.
#[tokio::test]
async fn metadata_urls_of_the_api_reach_no_private_address() {
    let idp = common::metadata::federation_idp().await;
    let ca = idp.ca.clone();
    let app = spawn_app(move |c| c.idp_metadata_ca = Some(ca)).await;
    let op = token(&app, "ops", None, Scope::Admin).await;
    let port = idp.base.rsplit(':').next().unwrap().to_string();
    for url in [
        idp.url("/saml.xml"),
        format!("https://127.0.0.1:{port}/saml.xml"),
        format!("https://[::1]:{port}/saml.xml"),
        "https://169.254.169.254/latest/meta-data/".to_string(),
        "https://10.0.0.1/FederationMetadata.xml".to_string(),
    ] {
        let res = call(
            &app,
            Method::POST,
            "/api/v1/tenants",
            Some(&op),
            Some(url_tenant("probe", "saml2", &url)),
        )
        .await;
        assert_url_problem(&problems_of(res).await, "not a public address", &url);
    }
    assert_eq!(idp.hits(), 0, "no request reached the private server");
    let res = call(&app, Method::GET, "/api/v1/tenants/probe", Some(&op), None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(audit_actions(&app, &op, "probe").await.is_empty());
}

/// Metadata URLs (issue #14) are fetched and checked when saved, through the trusted
/// internal CA of `idp` (`untrusted` has another): every way a URL gives no usable IdP is
/// refused on create and on patch with `check`'s reason naming `idp_metadata_url`, nothing
/// written and nothing audited; an accepted URL answers what an upload answers and primes
/// the registry, so the first login does not fetch.
async fn metadata_urls(
    app: &TestApp,
    idp: &common::metadata::MetadataServer,
    untrusted: &common::metadata::MetadataServer,
) {
    let op = token(app, "ops", None, Scope::Admin).await;
    let refusals = [
        ("saml2", idp.url("/gone.xml"), "HTTP 404"),
        ("saml2", idp.url("/down.xml"), "HTTP 503"),
        (
            "saml2",
            common::metadata::closed_url(),
            "Connection refused",
        ),
        ("saml2", idp.url("/text"), "not well-formed XML"),
        (
            "saml2",
            idp.url("/login.html"),
            "neither md:EntityDescriptor nor md:EntitiesDescriptor",
        ),
        (
            "saml2",
            idp.url("/sp.xml"),
            "no EntityDescriptor with a SAML 2.0 IDPSSODescriptor",
        ),
        (
            "wsfed",
            idp.url("/saml.xml"),
            "no EntityDescriptor with a RoleDescriptor of type fed:SecurityTokenServiceType",
        ),
        (
            "saml2",
            idp.url("/encryption-only.xml"),
            "no signing certificate",
        ),
        ("saml2", idp.url("/huge.xml"), "exceeds 4194304 bytes"),
        ("saml2", idp.url("/to-http"), "not an https URL"),
        (
            "saml2",
            untrusted.url("/saml.xml"),
            "TLS: invalid peer certificate",
        ),
        (
            "saml2",
            "http://localhost/FederationMetadata.xml".to_string(),
            "must be https",
        ),
    ];
    // Create: refused, the tenant never exists.
    for (protocol, url, reason) in &refusals {
        let res = call(
            app,
            Method::POST,
            "/api/v1/tenants",
            Some(&op),
            Some(url_tenant("badurl", protocol, url)),
        )
        .await;
        assert_url_problem(&problems_of(res).await, reason, url);
    }
    let res = call(app, Method::GET, "/api/v1/tenants/badurl", Some(&op), None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(audit_actions(app, &op, "badurl").await.is_empty());
    assert_eq!(discover(app, "x@badurl.test").await.1, None);

    // Patch of a password tenant: refused, the tenant as it was.
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(json!({"account": "plain", "domains": ["plain.test"]})),
    )
    .await;
    let created = json_of(res, StatusCode::CREATED).await;
    assert!(created.get("fetched_metadata").is_none(), "{created}");
    for (protocol, url, reason) in &refusals {
        let res = call(
            app,
            Method::PATCH,
            "/api/v1/tenants/plain",
            Some(&op),
            Some(json!({"sso": {"protocol": protocol, "idp_metadata_url": url}})),
        )
        .await;
        assert_url_problem(&problems_of(res).await, reason, url);
    }
    let got = json_of(
        call(app, Method::GET, "/api/v1/tenants/plain", Some(&op), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["sso"], Value::Null);
    assert_eq!(audit_actions(app, &op, "plain").await, ["tenant_added"]);

    // Accepted: the IdP and its certificates in the answer, as an upload's.
    let saml = idp.url("/saml.xml");
    let res = call(
        app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(url_tenant("adfs", "saml2", &saml)),
    )
    .await;
    let created = json_of(res, StatusCode::CREATED).await;
    assert_eq!(created["source"], "database");
    assert_eq!(created["sso"]["idp_metadata_url"], saml.as_str());
    let fetched = &created["fetched_metadata"];
    assert_eq!(
        fetched["entity_id"], "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
        "{created}"
    );
    assert_eq!(
        fetched["certificates_not_after"].as_array().unwrap().len(),
        1
    );
    assert!(
        fetched["certificates_not_after"][0].is_string(),
        "{created}"
    );
    assert_eq!(fetched["warnings"], json!([]));
    // Primed: the IdP a first login reads (`Login::start_sso`) is there without a fetch.
    let hits = idp.hits();
    let tenant = app.state.tenant_admin.get("adfs").await.unwrap();
    let served = app.state.login.idps.for_tenant(&tenant).await;
    assert_eq!(
        served.map(|m| m.entity_id.clone()).as_deref(),
        Some("https://sts.windows.net/00000000-0000-0000-0000-000000000000/")
    );
    assert_eq!(idp.hits(), hits, "the first login fetched the metadata");

    // A patch that leaves the URL alone fetches nothing and answers no metadata.
    let patched = json_of(
        call(
            app,
            Method::PATCH,
            "/api/v1/tenants/adfs",
            Some(&op),
            Some(json!({"name": "AD FS"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(patched.get("fetched_metadata").is_none(), "{patched}");
    assert_eq!(idp.hits(), hits);

    // Another URL whose certificate expires within 30 days: accepted, with the warning.
    let patched = json_of(
        call(
            app,
            Method::PATCH,
            "/api/v1/tenants/adfs",
            Some(&op),
            Some(json!({"sso": {"idp_metadata_url": idp.url("/soon.xml")}})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let warnings = patched["fetched_metadata"]["warnings"].as_array().unwrap();
    assert!(
        warnings.len() == 1 && warnings[0].as_str().unwrap().contains("expires on"),
        "{patched}"
    );

    // Another protocol reads another role of the same URL: checked again, though the URL
    // is not named; that document has no STS role.
    let res = call(
        app,
        Method::PATCH,
        "/api/v1/tenants/adfs",
        Some(&op),
        Some(json!({"sso": {"protocol": "wsfed"}})),
    )
    .await;
    assert_url_problem(
        &problems_of(res).await,
        "fed:SecurityTokenServiceType",
        "protocol change",
    );
    // WS-Federation with AD FS's document: its STS role.
    let patched = json_of(
        call(
            app,
            Method::PATCH,
            "/api/v1/tenants/adfs",
            Some(&op),
            Some(json!({"sso": {"protocol": "wsfed", "idp_metadata_url": idp.url("/sts.xml")}})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["sso"]["protocol"], "wsfed");
    assert_eq!(
        patched["fetched_metadata"]["entity_id"], "http://adfs.contoso.com/adfs/services/trust",
        "{patched}"
    );
    assert_eq!(
        audit_actions(app, &op, "adfs").await,
        [
            "tenant_added",
            "tenant_changed",
            "tenant_changed",
            "tenant_changed"
        ]
    );
}

#[tokio::test]
async fn metadata_urls_are_checked_when_saved_on_sqlite() {
    let idp = common::metadata::federation_idp().await;
    let untrusted = common::metadata::federation_idp().await;
    let ca = idp.ca.clone();
    let app = spawn_app(move |c| {
        c.idp_metadata_ca = Some(ca);
        c.allow_private_idp_urls = true;
    })
    .await;
    metadata_urls(&app, &idp, &untrusted).await;
}

#[tokio::test]
async fn metadata_urls_are_checked_when_saved_on_postgresql() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let idp = common::metadata::federation_idp().await;
    let untrusted = common::metadata::federation_idp().await;
    let (url, ca) = (schema.url.clone(), idp.ca.clone());
    let app = spawn_app(move |c| {
        c.database_url = Some(url);
        c.idp_metadata_ca = Some(ca);
        c.allow_private_idp_urls = true;
    })
    .await;
    metadata_urls(&app, &idp, &untrusted).await;
    drop(app);
    schema.drop().await;
}

/// A metadata URL whose server never answers is refused within `check`'s bound (15 s),
/// with that reason, and nothing is written.
#[tokio::test]
async fn a_metadata_url_that_never_answers_is_refused_in_time() {
    let app = spawn_app(|c| c.allow_private_idp_urls = true).await;
    let op = token(&app, "ops", None, Scope::Admin).await;
    let started = std::time::Instant::now();
    let res = call(
        &app,
        Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(url_tenant(
            "stalled",
            "saml2",
            &common::metadata::silent_url().await,
        )),
    )
    .await;
    assert_url_problem(
        &problems_of(res).await,
        "no complete answer within 15 s",
        "silent",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
    let res = call(
        &app,
        Method::GET,
        "/api/v1/tenants/stalled",
        Some(&op),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(audit_actions(&app, &op, "stalled").await.is_empty());
}
