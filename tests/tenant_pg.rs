//! The PostgreSQL tenant source against the real PostgreSQL at `TEST_POSTGRES_URL`, each
//! test in a fresh schema: `tenant import` (in-process and through the binary), discovery,
//! SSO start and the ACS with IdP metadata read from the database, a running gateway
//! following re-imports through NOTIFY (negative cache included), and a 503 when the
//! source fails. Skipped when PostgreSQL is unreachable, except under CI.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{PgSchema, TestApp};
use realmgate::app::{self, AppError};
use realmgate::discovery::PgSource;
use realmgate::discovery::pg::ImportSummary;
use realmgate::login::SsoOutcome;
use serde_json::{Value, json};

/// A gateway reading tenants from `schema`, with an empty `domains/`: everything it knows
/// of tenants, IdP metadata included, comes from the database.
async fn pg_app(schema: &PgSchema, tweak: impl FnOnce(&mut realmgate::config::Config)) -> TestApp {
    let url = schema.url.clone();
    common::spawn_app_with(
        |_| {},
        move |c| {
            c.tenant_source = url;
            tweak(c);
        },
    )
    .await
}

/// Imports a directory written by `tenants`, which is deleted afterwards.
async fn import(schema: &PgSchema, tenants: impl FnOnce(&Path)) -> ImportSummary {
    let dir = tempfile::tempdir().unwrap();
    tenants(dir.path());
    app::import_tenants(&schema.url, dir.path())
        .await
        .unwrap_or_else(|e| panic!("import refused: {e}"))
}

async fn discover(app: &TestApp, email: &str) -> (u16, Value) {
    let res = app
        .client()
        .post(app.at("/api/v1/discover"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// (method, account) of a 200 discovery answer.
async fn route(app: &TestApp, email: &str) -> (String, Value) {
    let (status, v) = discover(app, email).await;
    assert_eq!(status, 200, "{email}: {v}");
    (
        v["method"].as_str().unwrap().to_string(),
        v["account"].clone(),
    )
}

fn sso_tenant(account: &str, domains: &str, metadata: &str) -> String {
    format!(
        "account = \"{account}\"\ndomains = [{domains}]\n\n[sso]\nbutton = \"Log In with Microsoft\"\nidp_metadata = \"{metadata}\"\n"
    )
}

#[tokio::test]
async fn imported_tenants_are_discovered_over_http() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let summary = import(&schema, common::standard_tenants).await;
    assert_eq!((summary.added, summary.domains), (3, 4), "{summary:?}");
    let app = pg_app(&schema, |_| {}).await;

    let (status, v) = discover(&app, "alice@contoso.co.uk").await;
    assert_eq!(status, 200);
    assert_eq!(v["method"], "saml2");
    assert_eq!(v["account"], "contoso");
    assert_eq!(v["button"], "Log In with Microsoft");
    // include_subdomains, answered by the parent-suffix probe.
    assert_eq!(
        route(&app, "bob@eu.sales.contoso.com").await,
        ("saml2".into(), json!("contoso"))
    );
    assert_eq!(
        route(&app, "carol@fabrikam.com").await,
        ("password".into(), json!("fabrikam"))
    );
    // fabrikam does not include subdomains; an unknown domain looks like a password step.
    assert_eq!(
        route(&app, "carol@eu.fabrikam.com").await,
        ("password".into(), Value::Null)
    );
    assert_eq!(
        route(&app, "dan@unknown.example").await,
        ("password".into(), Value::Null)
    );
    let (_, v) = discover(&app, "erin@northwind.eu").await;
    assert_eq!(v["region"], "eu");
    // The Sign-on URL looks the account up in the database too.
    let res = app.client().get(app.at("/fabrikam")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client().get(app.at("/nobody")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    schema.drop().await;
}

#[tokio::test]
async fn sso_start_uses_the_idp_metadata_stored_in_the_database() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    import(&schema, common::standard_tenants).await;
    let app = pg_app(&schema, |_| {}).await;
    let res = app
        .client()
        .get(app.at("/sso/contoso/start?login_hint=alice%40contoso.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(
            "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/saml2?SAMLRequest="
        ),
        "{location}"
    );
    assert!(
        location.contains("login_hint=alice%40contoso.com"),
        "{location}"
    );
    schema.drop().await;
}

fn acs_now() -> DateTime<Utc> {
    "2030-01-01T00:01:00Z".parse().unwrap()
}

fn signed(name: &str) -> String {
    common::saml::response_b64(&common::saml::testdata().join(format!("{name}.xml")))
}

#[tokio::test]
async fn the_acs_verifies_with_stored_metadata_and_finds_idp_initiated_tenants() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    import(&schema, |dir| {
        std::fs::copy(
            common::saml::testdata().join("idp-metadata.xml"),
            dir.join("idp-metadata.xml"),
        )
        .unwrap();
        std::fs::write(
            dir.join("contoso.toml"),
            "account = \"contoso\"\ndomains = [\"contoso.com\"]\n\n[sso]\nidp_metadata = \"idp-metadata.xml\"\n\
             jit = \"create\"\nallow_idp_initiated = true\n\
             email_claim = \"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"\n",
        )
        .unwrap();
    })
    .await;
    let app = pg_app(&schema, |c| {
        c.public_url = "https://login.example.com".parse().unwrap();
    })
    .await;
    let relay = app
        .state
        .login
        .remember_pending(
            "_0123456789abcdef0123456789abcdef",
            "contoso",
            None,
            "browser",
        )
        .await
        .unwrap();
    let r = app
        .state
        .login
        .complete_sso(
            &signed("valid_assertion_signed"),
            Some(&relay),
            Some("browser"),
            acs_now(),
        )
        .await;
    assert!(
        matches!(r, Ok(SsoOutcome::SignedIn { .. })),
        "{:?}",
        r.err()
    );
    // Unsolicited (on a second gateway, whose replay cache has not seen this assertion):
    // the tenant is found by its IdP's entity ID, stored at import.
    let other = pg_app(&schema, |c| {
        c.public_url = "https://login.example.com".parse().unwrap();
    })
    .await;
    let r = other
        .state
        .login
        .complete_sso(&signed("unsolicited_allowed"), None, None, acs_now())
        .await;
    assert!(
        matches!(r, Ok(SsoOutcome::SignedIn { .. })),
        "{:?}",
        r.err()
    );
    schema.drop().await;
}

/// Asks until `email` is routed to `want`, returning how long that took.
async fn until_routed(app: &TestApp, email: &str, want: (&str, Value)) -> Duration {
    let start = Instant::now();
    loop {
        let got = route(app, email).await;
        if got.0 == want.0 && got.1 == want.1 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{email} still routed as {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn a_running_gateway_follows_reimports_through_notify() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let metadata = common::example_idp_metadata();
    let v1 = |dir: &Path| {
        std::fs::write(dir.join("contoso.idp.xml"), &metadata).unwrap();
        std::fs::write(
            dir.join("contoso.toml"),
            sso_tenant("contoso", "\"contoso.com\"", "contoso.idp.xml"),
        )
        .unwrap();
        std::fs::write(
            dir.join("fabrikam.toml"),
            "account = \"fabrikam\"\ndomains = [\"fabrikam.com\"]\n",
        )
        .unwrap();
    };
    import(&schema, v1).await;
    let app = pg_app(&schema, |_| {}).await;
    // Cache a miss and a hit (the cache keeps both for 5 minutes).
    assert_eq!(
        route(&app, "x@newco.com").await,
        ("password".into(), Value::Null)
    );
    assert_eq!(
        route(&app, "y@fabrikam.com").await,
        ("password".into(), json!("fabrikam"))
    );

    // v2: a new tenant for the cached miss, and fabrikam switches to SSO.
    let summary = import(&schema, |dir| {
        v1(dir);
        std::fs::write(
            dir.join("newco.toml"),
            "account = \"newco\"\ndomains = [\"newco.com\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("fabrikam.toml"),
            sso_tenant("fabrikam", "\"fabrikam.com\"", "contoso.idp.xml"),
        )
        .unwrap();
    })
    .await;
    assert_eq!(
        (
            summary.added,
            summary.updated,
            summary.unchanged,
            summary.removed
        ),
        (1, 1, 1, 0),
        "{summary:?}"
    );
    let miss_to_hit = until_routed(&app, "x@newco.com", ("password", json!("newco"))).await;
    let hit_changed = until_routed(&app, "y@fabrikam.com", ("saml2", json!("fabrikam"))).await;
    eprintln!(
        "NOTIFY seen: cached miss became a hit after {} ms; changed tenant after {} more ms",
        miss_to_hit.as_millis(),
        hit_changed.as_millis()
    );
    // The SSO start of the changed tenant uses its new metadata, loaded on demand.
    let res = app
        .client()
        .get(app.at("/sso/fabrikam/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);

    // v3: newco's file is gone, so it is removed.
    let summary = import(&schema, v1).await;
    assert_eq!((summary.removed, summary.updated), (1, 1), "{summary:?}");
    until_routed(&app, "x@newco.com", ("password", Value::Null)).await;
    until_routed(&app, "y@fabrikam.com", ("password", json!("fabrikam"))).await;
    schema.drop().await;
}

#[tokio::test]
async fn a_reconnected_listener_forgets_every_cached_tenant() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    import(&schema, common::standard_tenants).await;
    // Named, so the test can find this gateway's connections among parallel tests'.
    let name = format!("realmgate_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}&application_name={name}", schema.url);
    let app = pg_app(&schema, |c| c.tenant_source = url).await;
    assert_eq!(
        route(&app, "x@newco.com").await,
        ("password".into(), Value::Null)
    );
    // A tenant written without a notification (as if it was sent while the listener was
    // disconnected), then the listener's connection is killed.
    let pool = sqlx::PgPool::connect(&schema.url).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO tenants (account, file_name, content, allow_idp_initiated, include_subdomains, digest) \
         VALUES ('newco', 'newco.toml', 'account = \"newco\"\ndomains = [\"newco.com\"]\n', false, false, '-');\
         INSERT INTO tenant_domains (domain, account) VALUES ('newco.com', 'newco');",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(
        route(&app, "x@newco.com").await,
        ("password".into(), Value::Null),
        "the miss is cached"
    );
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(&name)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(killed, vec![true]);
    let seen = until_routed(&app, "x@newco.com", ("password", json!("newco"))).await;
    eprintln!(
        "listener reconnected and forgot the cache after {} ms",
        seen.as_millis()
    );
    pool.close().await;
    schema.drop().await;
}

#[tokio::test]
async fn a_bad_directory_is_refused_whole_and_the_database_is_unchanged() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    import(&schema, common::standard_tenants).await;
    let dir = tempfile::tempdir().unwrap();
    common::standard_tenants(dir.path());
    std::fs::write(
        dir.path().join("thief.toml"),
        "account = \"thief\"\n\ndomains = [\"contoso.com\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "account = \"typo\"\ndomain = [\"typo.com\"]\n",
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("fabrikam.toml")).unwrap();
    let problems = match app::import_tenants(&schema.url, dir.path()).await {
        Err(AppError::Tenants(problems)) => problems,
        other => panic!("not refused: {other:?}"),
    };
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(
        shown
            .iter()
            .any(|p| p.contains("thief.toml:3:") && p.contains("already claimed")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|p| p.contains("typo.toml:2:") && p.contains("domain")),
        "{shown:#?}"
    );
    // Nothing changed: fabrikam (missing from the bad directory) is still there.
    let map = PgSource::open(&schema.url)
        .await
        .unwrap()
        .load_map()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(map.tenants().count(), 3);
    assert_eq!(map.domain_count(), 4);
    assert_eq!(map.lookup("fabrikam.com").unwrap().account, "fabrikam");
    schema.drop().await;
}

#[tokio::test]
async fn a_failing_source_answers_503_and_cached_answers_still_serve() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    import(&schema, common::standard_tenants).await;
    let app = pg_app(&schema, |_| {}).await;
    assert_eq!(
        route(&app, "carol@fabrikam.com").await,
        ("password".into(), json!("fabrikam"))
    );
    // The tables vanish under the running gateway: every query now fails.
    schema.drop().await;
    let (status, v) = discover(&app, "carol@unknown.example").await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"], "temporarily_unavailable");
    let res = app.client().get(app.at("/fabrikam")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(
        route(&app, "carol@fabrikam.com").await,
        ("password".into(), json!("fabrikam"))
    );
}

fn realmgate(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_realmgate"))
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn the_cli_imports_checks_and_serves() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let bad = dir.path().join("bad");
    let empty = dir.path().join("empty");
    for d in [&good, &bad, &empty] {
        std::fs::create_dir_all(d).unwrap();
    }
    common::standard_tenants(&good);
    common::standard_tenants(&bad);
    std::fs::write(
        bad.join("thief.toml"),
        "account = \"thief\"\ndomains = [\"fabrikam.com\"]\n",
    )
    .unwrap();
    let env = [
        ("REALMGATE_TENANT_SOURCE", schema.url.as_str()),
        ("REALMGATE_DOMAINS_DIR", empty.to_str().unwrap()),
        ("REALMGATE_DATA_DIR", dir.path().to_str().unwrap()),
    ];

    let (ok, out) = realmgate(&["tenant", "import", bad.to_str().unwrap()], &env);
    assert!(!ok, "{out}");
    assert!(
        out.contains("thief.toml:2:") && out.contains("nothing was imported"),
        "{out}"
    );
    let (ok, out) = realmgate(&["check"], &env);
    assert!(ok && out.contains("0 tenant(s)"), "{out}");

    let (ok, out) = realmgate(&["tenant", "import", good.to_str().unwrap()], &env);
    assert!(ok, "{out}");
    assert!(
        out.contains("3 tenant(s) added") && out.contains("4 domain(s)"),
        "{out}"
    );
    let (ok, out) = realmgate(&["tenant", "import", good.to_str().unwrap()], &env);
    assert!(ok && out.contains("3 unchanged"), "{out}");
    let (ok, out) = realmgate(&["check"], &env);
    assert!(
        ok && out.contains("3 tenant(s), 4 domain(s), 1 IdP(s)"),
        "{out}"
    );

    // Without tenant_source the command says what to set.
    let (ok, out) = realmgate(&["tenant", "import", good.to_str().unwrap()], &env[1..]);
    assert!(!ok && out.contains("tenant_source"), "{out}");

    let port = common::free_port();
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let gateway = common::Process::start(port, false, &env).await;
    let v: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/discover", gateway.url))
        .json(&json!({ "email": "alice@eu.contoso.com" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["method"], "saml2", "{v}");
    assert_eq!(v["account"], "contoso");
    drop(gateway);
    schema.drop().await;
}
