//! SAML Single Logout both ways against a real IdP nobody here wrote (pysaml2 + xmlsec1,
//! `tests/idp/idp.py`): our signed LogoutRequest verified by pysaml2 and its signed
//! LogoutResponse verified by us; its signed LogoutRequest (HTTP-Redirect and HTTP-POST
//! bindings) ending exactly the sessions it names, and our signed LogoutResponse verified
//! by pysaml2.

mod common;

use common::TestApp;
use common::idp::{form_action, hidden, through_idp};

/// A browser signed in as alice through the IdP.
async fn signed_in(app: &TestApp) -> reqwest::Client {
    let browser = app.client();
    let res = through_idp(
        &app.url,
        &browser,
        "alice@contoso.com",
        Some("password"),
        None,
    )
    .await
    .submit(&browser)
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(status(app, &browser).await, 200);
    browser
}

async fn status(app: &TestApp, browser: &reqwest::Client) -> u16 {
    browser
        .get(app.at("/auth/verify"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn sp_initiated_logout_reaches_the_idp_and_its_answer_shows_the_signed_out_page() {
    let Some((app, idp)) = common::idp::with_alice().await else {
        return;
    };
    let browser = signed_in(&app).await;
    let csrf = common::csrf(&app, &browser).await;
    let res = browser
        .post(app.at("/logout"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let to_idp = location(&res);
    assert!(
        to_idp.starts_with(&format!("{}/slo/redirect?SAMLRequest=", idp.base_url))
            && to_idp.contains("&SigAlg=")
            && to_idp.contains("&Signature="),
        "{to_idp}"
    );
    // Our session ended before the browser left.
    assert_eq!(status(&app, &browser).await, 401);
    // pysaml2 verifies the query signature with our metadata key, or answers 400.
    let res = browser.get(&to_idp).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let back = location(&res);
    assert!(
        back.starts_with(&app.at("/saml/slo?SAMLResponse=")),
        "{back}"
    );
    let page = browser.get(&back).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("You are signed out"));
    // The answer is spent: the same LogoutResponse again is refused.
    let again = browser.get(&back).send().await.unwrap();
    assert_eq!(again.status(), 400);
    // And it is bound to the browser that signed out: another one gets nothing either.
    let other = app.client().get(&back).send().await.unwrap();
    assert_eq!(other.status(), 400);
}

#[tokio::test]
async fn idp_initiated_logout_ends_the_named_session_only_and_pysaml2_accepts_the_answer() {
    let Some((app, idp)) = common::idp::with_alice().await else {
        return;
    };
    // Two sessions of alice; the IdP's LogoutRequest names the second one's SessionIndex.
    let first = signed_in(&app).await;
    let second = signed_in(&app).await;
    let res = second
        .get(format!(
            "{}/slo/start?email=alice@contoso.com&binding=redirect",
            idp.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let to_us = location(&res);
    assert!(
        to_us.starts_with(&app.at("/saml/slo?SAMLRequest=")),
        "{to_us}"
    );
    let res = second.get(&to_us).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let answer = location(&res);
    assert!(
        answer.starts_with(&format!("{}/slo/redirect?SAMLResponse=", idp.base_url))
            && answer.contains("&Signature="),
        "{answer}"
    );
    let done = second.get(&answer).send().await.unwrap();
    assert_eq!(done.status(), 200, "pysaml2 refused our LogoutResponse");
    let done = done.text().await.unwrap();
    assert!(
        done.contains("urn:oasis:names:tc:SAML:2.0:status:Success"),
        "{done}"
    );
    assert_eq!(status(&app, &second).await, 401);
    assert_eq!(status(&app, &first).await, 200, "another IdP session");
    // The same LogoutRequest again is a replay.
    let replay = second.get(&to_us).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("replayed_assertion"));
}

#[tokio::test]
async fn idp_initiated_logout_with_the_post_binding() {
    let Some((app, idp)) = common::idp::with_alice().await else {
        return;
    };
    let browser = signed_in(&app).await;
    let page = browser
        .get(format!(
            "{}/slo/start?email=alice@contoso.com&binding=post",
            idp.base_url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(form_action(&page), app.at("/saml/slo"));
    let request = hidden(&page, "SAMLRequest").expect("SAMLRequest");
    let relay = hidden(&page, "RelayState").expect("RelayState");
    let res = browser
        .post(app.at("/saml/slo"))
        .form(&[("SAMLRequest", request.as_str()), ("RelayState", &relay)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let done = browser.get(location(&res)).send().await.unwrap();
    assert_eq!(done.status(), 200, "pysaml2 refused our LogoutResponse");
    assert!(done.text().await.unwrap().contains("status:Success"));
    assert_eq!(status(&app, &browser).await, 401);
}
