//! The console's Single Sign-On section in real Chromium, for a database tenant: created
//! through the management API, its domain proven with a TXT record served by a real DNS
//! server (dnsmasq), signing in with a first pysaml2 IdP. Its admin signs in through that
//! IdP, opens the console, pastes the Issuer, Sign In URL and certificate of a second
//! pysaml2 IdP (its own key and entity ID), saves, runs Test SSO in a new window and sees
//! success; then a new person signs in through the second IdP, lands in the Waiting Room,
//! the admin approves them in the console, and they sign in.

mod common;

use common::dns::{self, SECRET};
use common::idp::Idp;
use common::{Browser, add_user, spawn_app};
use fantoccini::{Client, Locator};
use realmgate::accounts::Status;
use realmgate::admin::{Actor, Scope};
use serde_json::{Value, json};

/// The people each IdP knows: a JSON file for `--users`.
fn users_file(dir: &std::path::Path, name: &str, users: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, Value> = users
        .iter()
        .map(|(email, name)| {
            (
                email.to_string(),
                json!({"password": "password", "name": name}),
            )
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, Value::Object(map).to_string()).unwrap();
    path.display().to_string()
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn fill(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// At the IdP's login page: signs in as `email`.
async fn idp_login(browser: &Browser, email: &str) {
    let c = &browser.client;
    browser.wait_for("input#username").await;
    fill(c, "input#username", email).await;
    fill(c, "input#password", "password").await;
    click(c, "button#login").await;
}

/// From the email page to the IdP: types `email`, Continue, then the SSO button.
async fn sign_on(browser: &Browser, start: &str, email: &str) {
    let c = &browser.client;
    c.goto(start).await.unwrap();
    browser
        .wait_for("input#email")
        .await
        .send_keys(email)
        .await
        .unwrap();
    click(c, "button#continue").await;
    browser
        .wait_for("a#sso-button")
        .await
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_moves_the_tenant_to_another_idp_tests_it_and_approves_a_newcomer() {
    let record = dns::token("litware", "litware.com");
    let Some(dns) = dns::start(&[("_realmgate.litware.com", &record)]) else {
        return;
    };
    let dns_addr = dns.addr;
    let app = spawn_app(move |c| {
        c.dns_server = Some(dns_addr);
        c.secret = Some(SECRET.into());
    })
    .await;
    let sp_metadata = reqwest::get(app.at("/saml/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first_users = users_file(
        dir.path(),
        "first.json",
        &[("lee@litware.com", "Lee Admin")],
    );
    let second_users = users_file(
        dir.path(),
        "second.json",
        &[
            ("lee@litware.com", "Lee Admin"),
            ("nina@litware.com", "Nina New"),
        ],
    );
    let Some(first) = Idp::start(&sp_metadata, &["--users", &first_users]) else {
        return;
    };
    let Some(second) = Idp::start(&sp_metadata, &["--users", &second_users]) else {
        return;
    };
    assert_ne!(first.entity_id, second.entity_id);

    // The tenant, through the API, on the first IdP; its domain proven by DNS.
    let (_, token) = app
        .state
        .admin
        .tokens
        .create(&Actor::Cli, "provisioning", None, Scope::Admin)
        .await
        .unwrap();
    let api = reqwest::Client::new();
    let res = api
        .post(app.at("/api/v1/tenants"))
        .bearer_auth(&token)
        .json(&json!({
            "account": "litware",
            "name": "Litware",
            "domains": ["litware.com"],
            "sso": {
                "button": "Log In with Litware",
                "issuer": first.entity_id,
                "sso_url": first.sso_url(),
                "certificate": first.certificate,
                "jit": "deny",
                "email_claim": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = api
        .post(app.at("/api/v1/tenants/litware/domains/litware.com/verify"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let verified: Value = res.json().await.unwrap();
    assert_eq!(verified["verified"], true, "{verified}");
    add_user(
        &app,
        "litware",
        "lee@litware.com",
        None,
        true,
        Status::Active,
    )
    .await;

    let Some(axe) = common::axe::source() else {
        return;
    };
    let Some(admin) = Browser::start().await else {
        return;
    };
    let c = &admin.client;
    // The admin signs in through the first IdP and lands in the console.
    c.goto(&app.at("/litware/admin")).await.unwrap();
    idp_login(&admin, "lee@litware.com").await;
    let h1 = admin.wait_for("h1").await;
    assert_eq!(
        h1.text().await.unwrap(),
        "Overview",
        "{}",
        c.source().await.unwrap()
    );

    // Single Sign-On: paste the second IdP's Issuer, Sign In URL and certificate.
    click(c, "a#nav-sso").await;
    admin.wait_for("form#sso-form").await;
    let reply = c
        .find(Locator::Css("code#sp-reply-url"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(reply, app.state.login.sp.acs_urls()[0]);
    // The copy buttons appear with the script.
    let copy = c
        .find(Locator::Css("button[data-copy=sp-entity-id]"))
        .await
        .unwrap();
    assert!(copy.is_displayed().await.unwrap());
    common::axe::check_current(&admin, &axe, "console SSO section").await;
    fill(c, "input#issuer", &second.entity_id).await;
    fill(c, "input#sso_url", &second.sso_url()).await;
    // A certificate cut short by the copy: refused with the problem, nothing changed.
    fill(c, "textarea#certificate", &second.certificate[..200]).await;
    click(c, "button#save").await;
    admin.wait_for("#problems").await;
    common::axe::check_current(&admin, &axe, "console SSO section, refused").await;
    let sso = app
        .state
        .tenant_admin
        .get("litware")
        .await
        .unwrap()
        .sso
        .clone()
        .unwrap();
    assert_eq!(sso.issuer.as_deref(), Some(first.entity_id.as_str()));
    fill(c, "textarea#certificate", &second.certificate).await;
    c.find(Locator::Css("select#jit option[value=waiting_room]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(c, "button#save").await;
    let notice = admin.wait_for("#notice").await;
    assert!(
        notice.text().await.unwrap().contains("saved"),
        "{}",
        c.source().await.unwrap()
    );
    let sso = app
        .state
        .tenant_admin
        .get("litware")
        .await
        .unwrap()
        .sso
        .clone()
        .unwrap();
    assert_eq!(sso.issuer.as_deref(), Some(second.entity_id.as_str()));

    // Test SSO, in a new window, through the second IdP.
    let console = c.window().await.unwrap();
    click(c, "button#test-sso").await;
    let mut handles = Vec::new();
    for _ in 0..50 {
        handles = c.windows().await.unwrap();
        if handles.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let test_window = handles
        .into_iter()
        .find(|h| *h != console)
        .expect("a new window");
    c.switch_to_window(test_window).await.unwrap();
    idp_login(&admin, "lee@litware.com").await;
    let passed = admin.wait_for("#test-passed").await;
    assert!(passed.is_displayed().await.unwrap());
    let email = admin.wait_for("#claim-email").await;
    assert_eq!(email.text().await.unwrap(), "lee@litware.com");
    let issuer = c.find(Locator::Css("#claim-issuer")).await.unwrap();
    assert_eq!(issuer.text().await.unwrap(), second.entity_id);
    common::axe::check_current(&admin, &axe, "Test SSO result").await;
    c.close_window().await.unwrap();
    c.switch_to_window(console).await.unwrap();

    // A newcomer signs in through the second IdP: the Waiting Room.
    let Some(person) = Browser::start().await else {
        return;
    };
    sign_on(&person, &app.at("/"), "nina@litware.com").await;
    idp_login(&person, "nina@litware.com").await;
    person.wait_for("#message").await;
    let here = person.client.current_url().await.unwrap();
    assert_eq!(
        here.path(),
        "/waiting-room",
        "{}",
        person.client.source().await.unwrap()
    );
    let nina = app
        .state
        .users
        .by_email(
            "litware",
            &realmgate::discovery::Email::parse("nina@litware.com").unwrap(),
        )
        .await
        .unwrap()
        .expect("the newcomer waits");
    assert_eq!(nina.status, Status::Waiting);

    // The admin approves them in the console.
    click(c, "a#nav-users").await;
    admin
        .wait_for(&format!("button#approve-{}", nina.id))
        .await
        .click()
        .await
        .unwrap();
    let notice = admin.wait_for("#notice").await;
    assert!(notice.text().await.unwrap().contains("approved"));

    // And they sign in.
    sign_on(&person, &app.at("/?return_to=/me"), "nina@litware.com").await;
    idp_login(&person, "nina@litware.com").await;
    let message = person.wait_for("#message").await;
    assert!(
        message.text().await.unwrap().contains("You are signed in"),
        "{}",
        person.client.source().await.unwrap()
    );
    person.close().await;
    admin.close().await;
    drop(dns);
}
