//! End to end against a real SAML IdP nobody here wrote (pysaml2 + xmlsec1): signed
//! HTTP-Redirect AuthnRequests verified by the IdP, signed Responses verified by us.

mod common;

use common::idp::{Idp, alice_at_new_idp, through_idp, use_idp};
use common::spawn_app;

async fn metadata(app: &common::TestApp) -> String {
    reqwest::get(app.at("/saml/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn pre_provisioned_user_signs_in_and_lands_on_return_to() {
    let app = spawn_app(|_| {}).await;
    let Some((_idp, _)) = alice_at_new_idp(&app).await else {
        return;
    };
    let browser = app.client();
    let post = through_idp(
        &app.url,
        &browser,
        "alice@contoso.com",
        Some("password"),
        Some("/inbox"),
    )
    .await;
    assert_eq!(post.acs, app.at("/auth/saml/callback"));
    let res = post.submit(&browser).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(res.headers()["location"], app.at("/inbox"));
    let verify = browser.get(app.at("/auth/verify")).send().await.unwrap();
    assert_eq!(verify.status(), 200);
    assert_eq!(verify.headers()["x-realmgate-email"], "alice@contoso.com");
    // The user is now bound to the IdP subject.
    let user = app
        .state
        .users
        .by_email(
            "contoso",
            &realmgate::discovery::Email::parse("alice@contoso.com").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(user.subject.is_some());
    // Posting the same response again (back button, or a thief) opens nothing.
    let again = post.submit(&app.client()).await;
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn waiting_room_then_approval_then_access() {
    let app = spawn_app(|_| {}).await;
    let Some(idp) = Idp::start(&metadata(&app).await, &[]) else {
        return;
    };
    use_idp(&app, &idp, "waiting_room").await;
    let browser = app.client();
    let res = through_idp(
        &app.url,
        &browser,
        "bob@contoso.com",
        Some("password"),
        None,
    )
    .await
    .submit(&browser)
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/waiting-room");
    // The Waiting Room tells this browser, which the sign-in sent there, what happened.
    let room = browser.get(app.at("/waiting-room")).send().await.unwrap();
    let room = room.text().await.unwrap();
    assert!(room.contains("your account was created"), "{room}");
    assert_eq!(
        browser
            .get(app.at("/auth/verify"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Later logins land there too until an admin approves with the CLI.
    let res = through_idp(
        &app.url,
        &browser,
        "bob@contoso.com",
        Some("password"),
        None,
    )
    .await
    .submit(&browser)
    .await;
    assert_eq!(res.headers()["location"], "/waiting-room");
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_realmgate"))
        .args(["user", "list", "--waiting"])
        .env("REALMGATE_DATA_DIR", &app.data)
        .env("REALMGATE_DOMAINS_DIR", &app.domains)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("bob@contoso.com"));
    let approve = std::process::Command::new(env!("CARGO_BIN_EXE_realmgate"))
        .args([
            "user",
            "approve",
            "--account",
            "contoso",
            "--email",
            "bob@contoso.com",
        ])
        .env("REALMGATE_DATA_DIR", &app.data)
        .env("REALMGATE_DOMAINS_DIR", &app.domains)
        .output()
        .unwrap();
    assert!(
        approve.status.success(),
        "{}",
        String::from_utf8_lossy(&approve.stderr)
    );
    let res = through_idp(
        &app.url,
        &browser,
        "bob@contoso.com",
        Some("password"),
        None,
    )
    .await
    .submit(&browser)
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/me");
    let verify = browser.get(app.at("/auth/verify")).send().await.unwrap();
    assert_eq!(verify.headers()["x-realmgate-email"], "bob@contoso.com");
}

#[tokio::test]
async fn refusals_over_http() {
    let app = spawn_app(|_| {}).await;
    let Some(idp) = Idp::start(&metadata(&app).await, &[]) else {
        return;
    };
    use_idp(&app, &idp, "create").await;
    // Cancelled at the IdP: a friendly page with the reason's code, no session.
    let browser = app.client();
    let res = through_idp(&app.url, &browser, "alice@contoso.com", None, None)
        .await
        .submit(&browser)
        .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("status_not_success") && page.contains("cancelled"),
        "{page}"
    );
    // A response POSTed by another browser than the one that started the login.
    let post = through_idp(
        &app.url,
        &browser,
        "alice@contoso.com",
        Some("password"),
        None,
    )
    .await;
    let res = post.submit(&app.client()).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("request_from_other_browser")
    );
    // The IdP vouches for an address outside the tenant's domains.
    let res = through_idp(
        &app.url,
        &browser,
        "mallory@fabrikam.com",
        Some("password"),
        None,
    )
    .await
    .submit(&browser)
    .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("email_outside_tenant"));
    assert_eq!(
        browser
            .get(app.at("/auth/verify"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let metrics = browser
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "realmgate_login_errors_total{code=\"email_outside_tenant\",account=\"contoso\"}"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn post_binding_when_the_idp_offers_only_post() {
    let app = spawn_app(|_| {}).await;
    let Some(mut idp) = Idp::start(&metadata(&app).await, &[]) else {
        return;
    };
    // Keep only the IdP's HTTP-POST SingleSignOnService.
    let redirect = idp
        .metadata
        .split('<')
        .find(|el| el.contains("SingleSignOnService") && el.contains("HTTP-Redirect"))
        .map(|el| format!("<{el}"))
        .expect("the IdP offers HTTP-Redirect");
    idp.metadata = idp.metadata.replace(&redirect, "");
    use_idp(&app, &idp, "create").await;
    let browser = app.client();
    let res = browser
        .get(app.at("/sso/contoso/start?login_hint=alice%40contoso.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = common::unescape(&res.text().await.unwrap());
    let action = common::idp::form_action(&html);
    assert!(
        action.starts_with(&format!("{}/sso/post", idp.base_url)),
        "{action}"
    );
    assert!(
        html.contains("/static/autosubmit.js"),
        "no auto-submit script"
    );
    let fields = [
        (
            "SAMLRequest",
            common::idp::hidden(&html, "SAMLRequest").unwrap(),
        ),
        (
            "RelayState",
            common::idp::hidden(&html, "RelayState").unwrap(),
        ),
    ];
    // The IdP verifies the enveloped signature of the POSTed request, then asks to sign in.
    let page = browser.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(
        page.status(),
        200,
        "the IdP refused the POSTed AuthnRequest"
    );
    let page = page.text().await.unwrap();
    let key = common::idp::hidden(&page, "key").unwrap();
    let html = browser
        .post(format!("{}/login", idp.base_url))
        .form(&[
            ("key", key.as_str()),
            ("username", "alice@contoso.com"),
            ("password", "password"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let post = common::idp::IdpPost {
        acs: common::idp::form_action(&html),
        saml_response: common::idp::hidden(&html, "SAMLResponse").unwrap(),
        relay_state: common::idp::hidden(&html, "RelayState"),
    };
    let res = post.submit(&browser).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        browser
            .get(app.at("/auth/verify"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
