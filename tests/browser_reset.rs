//! "Forgot password?" in real Chromium: a password tenant's user asks for a link, the
//! test reads it from the outbox, the person sets a password and signs in with it, and
//! the link no longer works.

mod common;

use fantoccini::Locator;

#[tokio::test]
async fn forgot_password_in_chromium() {
    let Some(browser) = common::Browser::start().await else {
        return;
    };
    let app = common::spawn_app(|_| {}).await;
    common::add_active(&app, "fabrikam", "carol@fabrikam.com", "old password 1").await;
    let c = &browser.client;

    c.goto(&app.at("/")).await.unwrap();
    browser.continue_with("carol@fabrikam.com").await;
    browser.wait_for("input#password").await;
    browser.click("a#forgot").await;
    browser.wait_for("button#send").await;
    browser.type_into("input#email", "carol@fabrikam.com").await;
    browser.click("button#send").await;
    let sent = browser.wait_for("#message").await.text().await.unwrap();
    assert!(sent.contains("30 minutes"), "{sent}");

    let mail = common::mail::wait_for(&app.data.join("outbox"), 1)
        .await
        .remove(0);
    let link = common::mail::link(&mail, "/password/set").expect("a set-password link");
    c.goto(&link).await.unwrap();
    browser
        .wait_for("input#password")
        .await
        .send_keys("a new password")
        .await
        .unwrap();
    browser.type_into("input#confirm", "a new password").await;
    browser.click("button#save").await;
    let saved = browser.wait_for("#message").await.text().await.unwrap();
    assert!(saved.contains("Sign in with the new password"), "{saved}");

    browser.click("a#next").await;
    browser.continue_with("carol@fabrikam.com").await;
    browser
        .wait_for("input#password")
        .await
        .send_keys("a new password")
        .await
        .unwrap();
    browser.click("button#sign-in").await;
    let me = browser.wait_for("#message").await.text().await.unwrap();
    assert!(me.contains("You are signed in"), "{me}");

    // The used link: refused, with the way to ask for another.
    c.goto(&link).await.unwrap();
    let refused = browser.wait_for("#message").await.text().await.unwrap();
    assert!(refused.contains("already used"), "{refused}");
    assert!(c.find(Locator::Css("input#password")).await.is_err());

    browser.close().await;
}
