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
