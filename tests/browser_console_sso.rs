//! The console's Single Sign-On section in real Chromium, for a database tenant: created
//! through the management API, its domain proven with a TXT record served by a real DNS
//! server (dnsmasq), signing in with a first pysaml2 IdP. Its admin signs in through that
//! IdP, opens the console, pastes the Issuer, Sign In URL and certificate of a second
//! pysaml2 IdP (its own key and entity ID), saves, runs Test SSO in a new window and sees
//! success; then a new person signs in through the second IdP, lands in the Waiting Room,
//! the admin approves them in the console, and they sign in.

mod common;

use common::dns::{self, SECRET};
use common::idp::{Idp, sign_in_in_chromium};
use common::{Browser, add_user, api, spawn_app};
use fantoccini::Locator;
use realmgate::accounts::Status;
use realmgate::admin::Scope;
use reqwest::Method;
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

/// From the email page at `start` to the IdP: types `email`, Continue, then the SSO button.
async fn sign_on(browser: &Browser, start: &str, email: &str) {
    browser.client.goto(start).await.unwrap();
    browser.continue_with(email).await;
    browser
        .wait_for("a#sso-button")
        .await
        .click()
        .await
        .unwrap();
}

/// At the IdP's login page: signs in as `email`.
async fn idp_login(browser: &Browser, email: &str) {
    sign_in_in_chromium(browser, Some(email), "password").await;
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
    let token = api::token(&app, "provisioning", None, Scope::Admin).await;
    let tenant = json!({
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
    });
    let res = api::call(
        &app,
        Method::POST,
        "/api/v1/tenants",
        Some(&token),
        Some(tenant),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let verify = "/api/v1/tenants/litware/domains/litware.com/verify";
    let res = api::call(&app, Method::POST, verify, Some(&token), None).await;
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
    // The console's own navigation first: the IdP's pages on the way have an h1 too, which
    // goes stale as the browser moves on.
    admin.wait_for("a#nav-sso").await;
    let h1 = admin.wait_for("h1").await;
    assert_eq!(
        h1.text().await.unwrap(),
        "Overview",
        "{}",
        c.source().await.unwrap()
    );

    // Single Sign-On: paste the second IdP's Issuer, Sign In URL and certificate.
    admin.click("a#nav-sso").await;
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
    admin.fill("input#issuer", &second.entity_id).await;
    admin.fill("input#sso_url", &second.sso_url()).await;
    // A certificate cut short by the copy: refused with the problem, nothing changed.
    admin
        .fill("textarea#certificate", &second.certificate[..200])
        .await;
    admin.click("button#save").await;
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
    admin
        .fill("textarea#certificate", &second.certificate)
        .await;
    admin.click("select#jit option[value=waiting_room]").await;
    admin.click("button#save").await;
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
    admin.click("button#test-sso").await;
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
    admin.click("a#nav-users").await;
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
