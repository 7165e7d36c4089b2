//! The sign-on pages in real Chromium: a person types an email and sees the next step.

mod common;

use fantoccini::Locator;

#[tokio::test]
async fn email_first_in_chromium() {
    let Some(browser) = common::Browser::start().await else {
        return;
    };
    let app = common::spawn_app(|_| {}).await;
    let c = &browser.client;

    // An SSO email: Continue shows the tenant's button.
    c.goto(&app.at("/")).await.unwrap();
    let email = browser.wait_for("input#email").await;
    assert_eq!(email.attr("type").await.unwrap().as_deref(), Some("email"));
    assert_eq!(
        email.attr("autocomplete").await.unwrap().as_deref(),
        Some("username")
    );
    browser.continue_with("alice@contoso.com").await;
    let button = browser.wait_for("a#sso-button").await;
    assert_eq!(button.text().await.unwrap(), "Log In with Microsoft");
    let href = button.attr("href").await.unwrap().unwrap();
    assert_eq!(href, "/sso/contoso/start?login_hint=alice%40contoso.com");

    // Another email: the password step, with the email filled in.
    c.goto(&app.at("/")).await.unwrap();
    browser.continue_with("carol@fabrikam.com").await;
    browser.wait_for("input#password").await;
    let prefilled = c.find(Locator::Css("input#email")).await.unwrap();
    assert_eq!(
        prefilled.prop("value").await.unwrap().as_deref(),
        Some("carol@fabrikam.com")
    );

    // A typo: the same page again with a clear message (the browser's own validation is
    // off so the server's message is what people see without JavaScript too).
    c.goto(&app.at("/")).await.unwrap();
    browser.continue_with("carol.fabrikam.com").await;
    let error = browser.wait_for("#error").await;
    assert!(error.text().await.unwrap().contains("exactly one @"));

    browser.close().await;
}
