//! axe-core (WCAG 2.1 A and AA) on every page people see, in English and French, at a
//! desktop width and at 400 px: zero violations. Pages reached through a form are reached
//! through it, as a person would.

mod common;

use fantoccini::Locator;
use realmgate::session::{LinkClaim, Purpose};

#[tokio::test]
async fn every_page_passes_axe_in_both_languages_and_at_400_px() {
    let Some(axe) = common::axe::source() else {
        return;
    };
    let Some(browser) = common::Browser::start().await else {
        return;
    };
    let app = common::spawn_app(|_| {}).await;
    let user = common::add_active(&app, "fabrikam", "carol@fabrikam.com", "old password 1").await;
    let c = &browser.client;
    for (width, height) in [(1280, 900), (400, 800)] {
        c.set_window_size(width, height).await.unwrap();
        for lang in ["en", "fr"] {
            let at = |what: &str| format!("{what} ({lang}, {width} px)");
            c.goto(&app.at(&format!("/lang/{lang}"))).await.unwrap();
            let token = app
                .state
                .login
                .links
                .issue(
                    &LinkClaim {
                        user_id: user.id,
                        account: "fabrikam".into(),
                        purpose: Purpose::Reset,
                        issued_at: chrono::Utc::now(),
                    },
                    std::time::Duration::from_secs(600),
                )
                .await
                .unwrap();
            for (path, what) in [
                ("/", "sign-on page"),
                ("/fabrikam", "password step (Sign-on URL)"),
                ("/contoso/no-sso", "no-sso page"),
                ("/waiting-room", "Waiting Room"),
                ("/no/such/page", "error page"),
                ("/device", "device code page"),
                ("/password/forgot", "forgot-password page"),
                (&format!("/password/set?token={token}"), "set-password page"),
                ("/password/set?token=used", "invalid link page"),
                ("/oauth2/logout", "app sign-out page"),
                ("/oauth2/logout?id_token_hint=x", "sign-out problem page"),
            ] {
                common::axe::assert_accessible(&browser, &axe, &app.at(path), &at(what)).await;
            }
            // Through forms: the SSO button, a refused email, a wrong password, signed in.
            c.goto(&app.at("/")).await.unwrap();
            browser
                .wait_for("input#email")
                .await
                .send_keys("alice@contoso.com")
                .await
                .unwrap();
            c.find(Locator::Css("button#continue"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            browser.wait_for("a#sso-button").await;
            common::axe::check_current(&browser, &axe, &at("SSO button page")).await;
            c.goto(&app.at("/")).await.unwrap();
            browser
                .wait_for("input#email")
                .await
                .send_keys("not-an-email")
                .await
                .unwrap();
            c.find(Locator::Css("button#continue"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            browser.wait_for("#error").await;
            common::axe::check_current(&browser, &axe, &at("email error")).await;
            c.goto(&app.at("/fabrikam")).await.unwrap();
            browser
                .wait_for("input#email")
                .await
                .send_keys("carol@fabrikam.com")
                .await
                .unwrap();
            c.find(Locator::Css("input#password"))
                .await
                .unwrap()
                .send_keys("wrong password")
                .await
                .unwrap();
            c.find(Locator::Css("button#sign-in"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            browser.wait_for("#error").await;
            common::axe::check_current(&browser, &axe, &at("wrong password")).await;
            c.find(Locator::Css("input#email"))
                .await
                .unwrap()
                .clear()
                .await
                .unwrap();
            c.find(Locator::Css("input#email"))
                .await
                .unwrap()
                .send_keys("carol@fabrikam.com")
                .await
                .unwrap();
            c.find(Locator::Css("input#password"))
                .await
                .unwrap()
                .send_keys("old password 1")
                .await
                .unwrap();
            c.find(Locator::Css("button#sign-in"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            browser.wait_for("button#logout").await;
            common::axe::check_current(&browser, &axe, &at("signed-in page")).await;
            // An app's RP-initiated logout without a hint asks first (OpenID provider).
            c.goto(&app.at("/oauth2/logout")).await.unwrap();
            browser.wait_for("p.who").await;
            common::axe::check_current(&browser, &axe, &at("sign-out confirmation")).await;
            c.find(Locator::Css("button#logout"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            browser.wait_for("input#email").await;
        }
    }
    browser.close().await;
}

/// The console pages reached by URL, as `(path, what)`, for the administrator of the
/// password account `acme` (a 403 page: another account's console). A console section
/// added later is checked by adding its line here.
const CONSOLE_PAGES: &[(&str, &str)] = &[
    ("/acme/admin", "console overview"),
    (
        "/acme/admin/users",
        "console users, with a Waiting Room entry",
    ),
    ("/acme/admin/domains", "console domains"),
    ("/acme/admin/sso", "console single sign-on"),
    ("/acme/admin/traces", "console login traces"),
    ("/acme/admin/audit", "console audit log"),
    ("/contoso/admin", "console 403 page"),
];

/// Gives the browser `session` as its session cookie (set by script on a page of the
/// gateway: WebDriver's cookie command refuses an IP address as the cookie's domain).
async fn use_session(browser: &common::Browser, app: &common::TestApp, session: &str) {
    let c = &browser.client;
    c.goto(&app.at("/static/favicon.svg")).await.unwrap();
    c.execute(
        "document.cookie = 'realmgate_session=' + arguments[0] + '; path=/';",
        vec![serde_json::json!(session)],
    )
    .await
    .unwrap();
}

/// Types `text` into the field `css`.
async fn type_into(browser: &common::Browser, css: &str, text: &str) {
    browser.wait_for(css).await.send_keys(text).await.unwrap();
}

async fn click(browser: &common::Browser, css: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Test SSO results of tenant `contoso`, for the axe run: the session of the admin who ran
/// them, and each result's path, what it is, and an element only that result shows.
struct TestSsoResults {
    session: String,
    pages: Vec<(String, &'static str, &'static str)>,
}

/// Runs `contoso`'s admin's Test SSO through real IdPs, from the console's form, with a
/// plain HTTP client as the admin's window (the results are then pages of that session,
/// opened by URL): a SAML success (the pysaml2 IdP: NameID, attributes table, signing
/// certificate), then, the tenant moved to the OpenID Connect provider of `tls`, a success
/// (issuer, email, `sub`) and a refusal (an email outside the tenant: code and reason).
/// `None` (those pages unchecked) when an IdP cannot run here, which only happens outside
/// CI.
async fn test_sso_results(
    app: &common::TestApp,
    tls: common::oidc::OidcTls,
) -> Option<TestSsoResults> {
    use common::console::sign_in;
    use realmgate::accounts::Status;
    let boss = common::add_user(
        app,
        "contoso",
        "boss@contoso.com",
        None,
        true,
        Status::Active,
    )
    .await;
    let me = sign_in(app, &boss, chrono::Utc::now()).await;
    let window = me.window(app);
    let result = |res: reqwest::Response| {
        assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER);
        res.headers()[reqwest::header::LOCATION]
            .to_str()
            .unwrap()
            .to_string()
    };
    let sp = reqwest::get(app.at("/saml/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let saml = common::idp::Idp::start(&sp, &[])?;
    common::idp::use_idp(app, &saml, "create").await;
    let saml_passed = result(common::idp::test_sso(app, &me, &window, "alice@contoso.com").await);
    let oidc = tls.start(&app.at("/auth/oidc/callback"), None);
    common::oidc::use_oidc_idp(app, &oidc, "create").await;
    let mut tested = Vec::new();
    for login in ["alice@contoso.com", "mallory@evil.example"] {
        let provider = oidc.browser(&app.url);
        tested.push(result(
            common::oidc::test_sso(app, &me, &window, &provider, login).await,
        ));
    }
    let [oidc_passed, oidc_refused] = <[String; 2]>::try_from(tested).unwrap();
    Some(TestSsoResults {
        session: me.session.id.clone(),
        pages: vec![
            (
                saml_passed,
                "console Test SSO result, SAML, passed",
                "table#attributes",
            ),
            (
                oidc_passed,
                "console Test SSO result, OpenID Connect, passed",
                "dd#claim-subject",
            ),
            (
                oidc_refused,
                "console Test SSO result, OpenID Connect, refused",
                "p#reason",
            ),
        ],
    })
}

#[tokio::test]
async fn every_console_page_passes_axe_in_both_languages_and_at_400_px() {
    use realmgate::accounts::Status;
    let Some(axe) = common::axe::source() else {
        return;
    };
    let Some(browser) = common::Browser::start().await else {
        return;
    };
    // The OpenID Connect provider's certificate is the test's own: realmgate trusts it.
    let tls = common::oidc::OidcTls::new();
    let ca = tls.as_ref().map(|t| t.ca.clone());
    let app = common::spawn_app(|c| c.idp_metadata_ca = ca).await;
    let results = match tls {
        Some(tls) => test_sso_results(&app, tls).await,
        None => None,
    };
    app.state
        .tenant_admin
        .create(
            &realmgate::admin::Actor::Cli,
            serde_json::json!({"account": "acme", "name": "Acme", "domains": ["acme.test"]}),
        )
        .await
        .unwrap();
    let boss = common::add_user(&app, "acme", "boss@acme.test", None, true, Status::Active).await;
    common::add_user(&app, "acme", "wes@acme.test", None, false, Status::Waiting).await;
    common::add_user(&app, "acme", "ann@acme.test", None, false, Status::Active).await;
    let csv = app.data.join("users.csv");
    std::fs::write(
        &csv,
        "email,name,admin\nada@acme.test,Ada,false\nx@elsewhere.test,X,false\n",
    )
    .unwrap();
    let fresh = common::open_session(&app, &boss, chrono::Utc::now()).await;
    let stale = common::open_session(
        &app,
        &boss,
        chrono::Utc::now() - chrono::Duration::minutes(20),
    )
    .await;
    let c = &browser.client;
    for (width, height) in [(1280, 900), (400, 800)] {
        c.set_window_size(width, height).await.unwrap();
        for lang in ["en", "fr"] {
            let at = |what: &str| format!("{what} ({lang}, {width} px)");
            c.goto(&app.at(&format!("/lang/{lang}"))).await.unwrap();
            use_session(&browser, &app, &fresh.id).await;
            for (path, what) in CONSOLE_PAGES {
                common::axe::assert_accessible(&browser, &axe, &app.at(path), &at(what)).await;
            }
            // Through forms: the import report, a refused change, a stale sign-in.
            c.goto(&app.at("/acme/admin/users")).await.unwrap();
            type_into(&browser, "input#csv-file", csv.to_str().unwrap()).await;
            click(&browser, "button#import").await;
            browser.wait_for("#import-report").await;
            common::axe::check_current(&browser, &axe, &at("console import report")).await;
            c.goto(&app.at("/acme/admin/users")).await.unwrap();
            type_into(&browser, "input#new-email", "eve@elsewhere.test").await;
            click(&browser, "button#add-user").await;
            browser.wait_for("#code").await;
            common::axe::check_current(&browser, &axe, &at("console problem page")).await;
            use_session(&browser, &app, &stale.id).await;
            c.goto(&app.at("/acme/admin/domains")).await.unwrap();
            type_into(&browser, "input#new-domain", "late.acme.test").await;
            click(&browser, "button#add-domain").await;
            browser.wait_for("#sign-in-again").await;
            common::axe::check_current(&browser, &axe, &at("console stale sign-in page")).await;
            // The Test SSO results, read by the session that ran the tests.
            if let Some(results) = &results {
                use_session(&browser, &app, &results.session).await;
                for (path, what, shown) in &results.pages {
                    common::axe::assert_accessible(&browser, &axe, &app.at(path), &at(what)).await;
                    browser.wait_for(shown).await;
                    browser.wait_for(&format!("html[lang={lang}]")).await;
                }
            }
        }
    }
    browser.close().await;
}
