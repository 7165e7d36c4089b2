//! Email-first discovery over real HTTP: every decision, the guards, reloads.

mod common;

use std::time::Duration;

use common::{csrf, spawn_app};
use serde_json::{Value, json};

async fn discover(app: &common::TestApp, email: &str) -> reqwest::Response {
    let client = app.client();
    let token = csrf(app, &client).await;
    client
        .post(app.at("/login/discover"))
        .form(&[("email", email), ("csrf", &token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sso_domain_shows_the_tenant_button() {
    let app = spawn_app(|_| {}).await;
    let res = discover(&app, "Alice@Contoso.com").await;
    assert_eq!(res.status(), 200);
    let html = common::unescape(&res.text().await.unwrap());
    assert!(html.contains("Log In with Microsoft"), "{html}");
    assert!(
        html.contains("href=\"/sso/contoso/start?login_hint=Alice%40contoso.com\""),
        "{html}"
    );
}

#[tokio::test]
async fn subdomain_routes_to_the_parent_tenant() {
    let app = spawn_app(|_| {}).await;
    let html = discover(&app, "bob@eu.contoso.com")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("/sso/contoso/start"), "{html}");
}

#[tokio::test]
async fn password_domain_and_unknown_domain_get_the_same_password_step() {
    let app = spawn_app(|_| {}).await;
    let known = discover(&app, "carol@fabrikam.com").await;
    assert_eq!(known.status(), 200);
    let known = known.text().await.unwrap();
    assert!(known.contains("type=\"password\""), "{known}");
    assert!(known.contains("value=\"carol@fabrikam.com\""), "{known}");
    let unknown = discover(&app, "carol@nowhere.example")
        .await
        .text()
        .await
        .unwrap();
    assert!(unknown.contains("type=\"password\""));
    // Apart from the email and the CSRF token, the two pages are identical.
    let strip = |s: &str, e: &str| s.replace(e, "EMAIL").replace(&common::csrf_of(s), "CSRF");
    assert_eq!(
        strip(&known, "carol@fabrikam.com"),
        strip(&unknown, "carol@nowhere.example")
    );
}

#[tokio::test]
async fn bad_emails_are_refused_with_a_clear_message() {
    let app = spawn_app(|_| {}).await;
    for (email, message) in [
        ("", "Enter your email address."),
        ("alice", "exactly one @"),
        ("a@b@contoso.com", "exactly one @"),
        ("al ice@contoso.com", "spaces"),
        ("alice@contoso", "not a valid domain"),
    ] {
        let res = discover(&app, email).await;
        assert_eq!(res.status(), 400, "{email:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{email:?}: {html}");
    }
    let long = format!("{}@contoso.com", "a".repeat(250));
    let res = discover(&app, &long).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn other_region_is_sent_to_its_gateway_with_a_login_hint() {
    let app = spawn_app(|_| {}).await;
    let res = discover(&app, "dan@northwind.eu").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "https://eu.login.example.com/?login_hint=dan%40northwind.eu"
    );
}

#[tokio::test]
async fn auto_redirect_tenants_skip_the_button() {
    let app = spawn_app(|_| {}).await;
    let toml = std::fs::read_to_string(app.domains.join("contoso.toml")).unwrap();
    app.write_tenant(
        "contoso.toml",
        &toml.replace("[sso]\n", "[sso]\nauto_redirect = true\n"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let res = discover(&app, "alice@contoso.com").await;
        if res.status() == 303 {
            assert_eq!(
                res.headers()["location"],
                "/sso/contoso/start?login_hint=alice%40contoso.com"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "reload not seen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn csrf_is_required_on_post_forms() {
    let app = spawn_app(|_| {}).await;
    let client = app.client();
    // No cookie, no token.
    let res = client
        .post(app.at("/login/discover"))
        .form(&[("email", "alice@contoso.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("csrf_failed"));
    // Cookie present, wrong token.
    let _ = csrf(&app, &client).await;
    let res = client
        .post(app.at("/login/discover"))
        .form(&[("email", "alice@contoso.com"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Another browser's token.
    let other = app.client();
    let stolen = csrf(&app, &other).await;
    let res = client
        .post(app.at("/login/discover"))
        .form(&[("email", "alice@contoso.com"), ("csrf", &stolen)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn open_redirects_are_refused() {
    let app = spawn_app(|_| {}).await;
    let client = app.client();
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let res = client
            .get(app.at("/"))
            .query(&[("return_to", evil)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{evil}");
        assert!(res.text().await.unwrap().contains("invalid_return_to"));
    }
    let token = csrf(&app, &client).await;
    let res = client
        .post(app.at("/login/discover"))
        .form(&[
            ("email", "alice@contoso.com"),
            ("csrf", &token),
            ("return_to", "https://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // An allowed return_to is carried to the SSO start link.
    let res = client
        .post(app.at("/login/discover"))
        .form(&[
            ("email", "alice@contoso.com"),
            ("csrf", &token),
            ("return_to", "/inbox"),
        ])
        .send()
        .await
        .unwrap();
    let html = common::unescape(&res.text().await.unwrap());
    let want = format!(
        "return_to=http%3A%2F%2F127.0.0.1%3A{}%2Finbox",
        app.addr.port()
    );
    assert!(html.contains(&want), "{html}");
}

#[tokio::test]
async fn json_api_makes_the_same_decisions() {
    let app = spawn_app(|_| {}).await;
    let client = app.client();
    let ask = |email: &'static str| {
        let client = client.clone();
        let url = app.at("/api/v1/discover");
        async move {
            let res = client
                .post(url)
                .json(&json!({"email": email}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, v) = ask("alice@contoso.co.uk").await;
    assert_eq!(status, 200);
    assert_eq!(v["method"], "saml2");
    assert_eq!(v["account"], "contoso");
    assert_eq!(v["button"], "Log In with Microsoft");
    assert_eq!(
        v["login_url"],
        app.at("/sso/contoso/start?login_hint=alice%40contoso.co.uk")
    );
    let (_, v) = ask("carol@fabrikam.com").await;
    assert_eq!(v["method"], "password");
    assert_eq!(v["account"], "fabrikam");
    let (_, v) = ask("carol@unknown.example").await;
    assert_eq!(v["method"], "password");
    assert_eq!(v["account"], Value::Null);
    let (_, v) = ask("dan@northwind.eu").await;
    assert_eq!(v["region"], "eu");
    assert_eq!(
        v["login_url"],
        "https://eu.login.example.com/?login_hint=dan%40northwind.eu"
    );
    let (status, v) = ask("not-an-email").await;
    assert_eq!(status, 400);
    assert_eq!(v["error"], "invalid_email");
    let res = client
        .post(app.at("/api/v1/discover"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "bad_request");
}

#[tokio::test]
async fn account_sign_on_url() {
    let app = spawn_app(|_| {}).await;
    let client = app.client();
    let res = client.get(app.at("/contoso")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sso/contoso/start");
    let res = client.get(app.at("/fabrikam")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("type=\"password\""));
    let res = client.get(app.at("/nobody")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("not_found"));
}

#[tokio::test]
async fn reload_keeps_the_last_good_map() {
    let app = spawn_app(|_| {}).await;
    app.write_tenant(
        "tailspin.toml",
        "account = \"tailspin\"\ndomains = [\"tailspin.example\"]\n",
    );
    let client = app.client();
    let account_of = |email: &'static str| {
        let client = client.clone();
        let url = app.at("/api/v1/discover");
        async move {
            client
                .post(url)
                .json(&json!({"email": email}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["account"]
                .clone()
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while account_of("x@tailspin.example").await != "tailspin" {
        assert!(
            std::time::Instant::now() < deadline,
            "new tenant never loaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A bad file (a domain claimed twice) is rejected whole: the old map keeps serving.
    app.write_tenant(
        "thief.toml",
        "account = \"thief\"\ndomains = [\"contoso.com\", \"thief.example\"]\n",
    );
    app.write_tenant("broken.toml", "account = \"broken\"\ndomains = [\n");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(account_of("x@contoso.com").await, "contoso");
    assert_eq!(account_of("x@thief.example").await, Value::Null);
    assert_eq!(account_of("x@tailspin.example").await, "tailspin");
    let metrics = client
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("realmgate_reloads_total{result=\"rejected\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn operations_endpoints_and_security_headers() {
    let app = spawn_app(|_| {}).await;
    let client = app.client();
    assert_eq!(
        client
            .get(app.at("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client.get(app.at("/readyz")).send().await.unwrap().status(),
        200
    );
    let _ = discover(&app, "alice@contoso.com").await;
    let page = client.get(app.at("/")).send().await.unwrap();
    let h = page.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    for needle in [
        "<label for=\"email\"",
        "type=\"email\"",
        "autocomplete=\"username\"",
        "inputmode=\"email\"",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    let css = client
        .get(app.at("/static/realmgate.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    // Invented methods and raw paths must not mint metric series of their own.
    let odd = reqwest::Method::from_bytes(b"XYZZY").unwrap();
    let res = client
        .request(odd, app.at("/no/such/page-12345"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Metrics name every tenant's account: never on the public listener.
    let public = client.get(app.at("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    assert!(!public.text().await.unwrap().contains("contoso"));
    let metrics = client
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "realmgate_http_requests_total",
        "realmgate_discovery_total{outcome=\"sso\"}",
        "realmgate_tenant_cache_total",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from metrics");
    }
    assert!(
        metrics.contains(r#"route="unmatched",method="other",status="404""#),
        "{metrics}"
    );
    assert!(!metrics.contains("XYZZY") && !metrics.contains("page-12345"));
}

/// A client that opens a connection and never finishes its request headers (slowloris)
/// is disconnected after `http_timeout_seconds`, so such sockets cannot pile up until the
/// gateway runs out of file descriptors; others are served meanwhile.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(|c| c.http_timeout_seconds = 2).await;
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let start = std::time::Instant::now();
    let res = app.client().get(app.at("/healthz")).send().await.unwrap();
    assert_eq!(
        res.status(),
        200,
        "others are served while one client stalls"
    );
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the stalled connection is still open after 10 s"
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "cut off after {waited:?}"
    );
}

/// SIGHUP reloads `domains/` even when no file changed (an operator's "re-read now", e.g.
/// after editing a metadata file in a subdirectory the watcher does not see). Without the
/// handler the default action of SIGHUP would end the process.
#[tokio::test]
async fn sighup_reloads_the_tenant_files() {
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("domains");
    std::fs::create_dir_all(&domains).unwrap();
    common::standard_tenants(&domains);
    let port = common::free_port();
    let gateway = common::Process::start(
        port,
        false,
        &[
            ("REALMGATE_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
            ("REALMGATE_DOMAINS_DIR", domains.display().to_string()),
            (
                "REALMGATE_DATA_DIR",
                dir.path().join("data").display().to_string(),
            ),
        ],
    )
    .await;
    let reloads = || async {
        let text = reqwest::get(format!("{}/metrics", gateway.metrics_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("realmgate_reloads_total{result=\"ok\"} "))
            .map_or(0.0, |v| v.trim().parse::<f64>().unwrap())
    };
    let before = reloads().await;
    gateway.signal("HUP");
    for _ in 0..100 {
        if reloads().await > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reload within 5 s of SIGHUP");
}

/// The Sign-on URL of a tenant homed in another region forwards to that region's own
/// Sign-on URL, as discovery does, rather than offering a password step here.
#[tokio::test]
async fn sign_on_url_of_another_regions_tenant_forwards_to_its_gateway() {
    let app = spawn_app(|_| {}).await;
    let res = app.client().get(app.at("/northwind")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "https://eu.login.example.com/northwind"
    );
    let res = app
        .client()
        .get(app.at("/northwind?login_hint=dan@northwind.eu&return_to=/app"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "https://eu.login.example.com/northwind?login_hint=dan%40northwind.eu&return_to=http%3A%2F%2F127.0.0.1%3A"
            .to_string()
            + &app.addr.port().to_string()
            + "%2Fapp"
    );
}

/// The fail-safe page and the SSO start of a tenant homed in another region are there too:
/// its users (and admins) live in that region's database.
#[tokio::test]
async fn no_sso_and_sso_start_of_another_regions_tenant_forward_to_its_gateway() {
    let app = spawn_app(|_| {}).await;
    let res = app
        .client()
        .get(app.at("/northwind/no-sso"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "https://eu.login.example.com/northwind/no-sso"
    );
    let res = app
        .client()
        .get(app.at("/sso/northwind/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/northwind");
}

/// A tenant whose region the gateway does not know would be served here, away from its
/// home: `check`, start-up and reloads refuse it like any other tenant problem.
#[tokio::test]
async fn a_tenant_of_an_unconfigured_region_is_a_tenant_problem() {
    let ap = "account = \"kiwi\"\ndomains = [\"kiwi.nz\"]\nregion = \"ap\"\n";
    // Reload: the last good map stays.
    let app = spawn_app(|_| {}).await;
    std::fs::write(app.domains.join("kiwi.toml"), ap).unwrap();
    let problems = realmgate::app::reload(&app.state).await.unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = problems[0].to_string();
    assert!(p.contains("kiwi.toml:3:") && p.contains("\"ap\""), "{p}");
    let res = app.client().get(app.at("/kiwi")).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // Start-up.
    let mut config = app.state.config.clone();
    config.data_dir = app.data.join("second");
    match realmgate::app::build(config).await {
        Err(realmgate::app::AppError::Tenants(p)) => {
            assert!(p[0].to_string().contains("kiwi.toml:3:"), "{p:?}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a gateway started serving a tenant of region \"ap\" here"),
    }

    // `check`, with the regions of the environment.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_realmgate"))
        .arg("check")
        .env("REALMGATE_DOMAINS_DIR", &app.domains)
        .env("REALMGATE_DATA_DIR", app.data.join("third"))
        .env("REALMGATE_REGION", "eu")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("kiwi.toml:3: region \"ap\""), "{stdout}");
    // northwind's "eu" is this gateway's own region: no problem.
    assert!(!stdout.contains("northwind"), "{stdout}");
}
