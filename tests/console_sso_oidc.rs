//! The console's Test SSO for an OpenID Connect tenant, through a real provider nobody here
//! wrote (npm `oidc-provider`, `tests/peers/oidc_idp.mjs`, over HTTPS), spoken with plain
//! HTTP clients as tests/oidc_login.rs does: the admin posts the Test SSO form, signs in at
//! the provider, and the callback ends in a result page with the claims received (issuer,
//! email, `sub`), never in a session, a user or a change in the Waiting Room, whatever the
//! JIT policy would do for a real sign-in; the result is read only by the session that
//! started the test. A refusal is a result too, with the stable code and the precise reason
//! of the login trace. The SAML and WS-Federation tests are in tests/console_sso.rs and
//! tests/wsfed_flow.rs: the three protocols share `login::sso_test`.

mod common;

use chrono::Utc;
use common::console::{Signed, sign_in};
use common::oidc::{OidcIdp, cancel_at_provider, oidc_app, test_sso};
use common::{TestApp, add_user, unescape};
use realmgate::accounts::{Status, User};
use realmgate::discovery::Email;
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

/// Tenant `contoso` on the provider with JIT `waiting_room` (a real sign-in of a newcomer
/// would put them in the Waiting Room), its admin boss, alice (active, never signed in, no
/// subject bound yet) and wes (waiting).
async fn setup() -> Option<(TestApp, OidcIdp, User)> {
    let (app, idp) = oidc_app("waiting_room").await?;
    let boss = add_user(
        &app,
        "contoso",
        "boss@contoso.com",
        None,
        true,
        Status::Active,
    )
    .await;
    add_user(
        &app,
        "contoso",
        "alice@contoso.com",
        None,
        false,
        Status::Active,
    )
    .await;
    add_user(
        &app,
        "contoso",
        "wes@contoso.com",
        None,
        false,
        Status::Waiting,
    )
    .await;
    Some((app, idp, boss))
}

async fn users(app: &TestApp, status: Option<Status>) -> Vec<User> {
    app.state.users.list(Some("contoso"), status).await.unwrap()
}

/// A Test SSO as `login`, with a provider browser of its own (no provider session left
/// from an earlier test): the result's path ([`result_of`]).
async fn tested(
    app: &TestApp,
    idp: &OidcIdp,
    me: &Signed,
    window: &reqwest::Client,
    login: &str,
) -> String {
    let res = test_sso(app, me, window, &idp.browser(&app.url), login).await;
    result_of(res, login).await
}

/// The path of the result a Test SSO's callback answer `res` leads to, after checking that
/// it is the way there and sets no session cookie.
async fn result_of(res: reqwest::Response, what: &str) -> String {
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{what}: {}",
        res.text().await.unwrap()
    );
    assert!(
        res.headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("realmgate_session=")),
        "{what}: a test opens no session"
    );
    let result = res.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        result.starts_with("/contoso/admin/sso/test/"),
        "{what}: {result}"
    );
    result
}

/// The result page as `window` reads it.
async fn page(app: &TestApp, window: &reqwest::Client, result: &str) -> String {
    let res = window.get(app.at(result)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{result}");
    assert!(res.headers().get(SET_COOKIE).is_none(), "{result}");
    unescape(&res.text().await.unwrap())
}

#[tokio::test]
async fn an_oidc_test_shows_the_claims_and_changes_nobody() {
    let Some((app, idp, boss)) = setup().await else {
        return;
    };
    let me = sign_in(&app, &boss, Utc::now()).await;
    let window = me.window(&app);
    // The section offers Test SSO for an OpenID Connect tenant.
    let (status, html) = me.get(&app, "/contoso/admin/sso").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"test-form\""), "{html}");
    let everyone = users(&app, None).await;
    let waiting = users(&app, Some(Status::Waiting)).await;
    assert_eq!(waiting.len(), 1);

    // alice: a real sign-in would bind her subject, record the login and open her session.
    let result = tested(&app, &idp, &me, &window, "alice@contoso.com").await;
    let html = page(&app, &window, &result).await;
    assert!(html.contains("id=\"test-passed\""), "{html}");
    assert!(
        html.contains("<code id=\"code\">test_passed</code>"),
        "{html}"
    );
    for (id, value) in [
        ("claim-issuer", idp.issuer.as_str()),
        ("claim-email", "alice@contoso.com"),
        ("claim-subject", "alice@contoso.com"),
    ] {
        assert!(
            html.contains(&format!("<dd id=\"{id}\">{value}</dd>")),
            "{id}: {html}"
        );
    }
    // No SAML claims: an ID token has no NameID, and its claims are not attributes.
    assert!(!html.contains("id=\"claim-name-id\"") && !html.contains("id=\"attributes\""));
    assert!(!html.contains("id=\"reason\""));
    assert!(html.contains("id=\"nothing-changed\""));
    let traces = app
        .state
        .login
        .traces
        .list("contoso", 10, Utc::now())
        .await
        .unwrap();
    assert_eq!(traces[0].code, "test_passed");
    assert_eq!(traces[0].protocol, realmgate::login::TraceProtocol::Oidc);

    // nina, unknown: the JIT policy would park her in the Waiting Room; wes, waiting: a
    // real sign-in would show him the Waiting Room. Both pass the test, and nothing moves.
    for login in ["nina@contoso.com", "wes@contoso.com"] {
        let result = tested(&app, &idp, &me, &window, login).await;
        let html = page(&app, &window, &result).await;
        assert!(html.contains("id=\"test-passed\""), "{login}: {html}");
        assert!(
            html.contains(&format!("<dd id=\"claim-email\">{login}</dd>")),
            "{login}: {html}"
        );
    }
    // Nobody was created, bound, signed in or moved: every user is as before, alice's
    // subject unbound and her last login unrecorded.
    assert_eq!(users(&app, None).await, everyone);
    assert_eq!(users(&app, Some(Status::Waiting)).await, waiting);
    let alice = app
        .state
        .users
        .by_email("contoso", &Email::parse("alice@contoso.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(alice.subject.is_none() && alice.last_login_at.is_none());
    assert!(
        app.state
            .users
            .by_subject("contoso", &format!("{}#nina@contoso.com", idp.issuer))
            .await
            .unwrap()
            .is_none()
    );
    // The window is still the admin's, and only the admin's.
    let who = window.get(app.at("/me")).send().await.unwrap();
    let who = who.text().await.unwrap();
    assert!(
        who.contains("boss@contoso.com") && !who.contains("alice@"),
        "{who}"
    );
}

#[tokio::test]
async fn an_oidc_test_result_is_read_only_by_the_session_that_started_it() {
    let Some((app, idp, boss)) = setup().await else {
        return;
    };
    let me = sign_in(&app, &boss, Utc::now()).await;
    let window = me.window(&app);
    let result = tested(&app, &idp, &me, &window, "alice@contoso.com").await;
    assert!(
        page(&app, &window, &result)
            .await
            .contains("id=\"test-passed\"")
    );
    // Read again by its session: a result is kept for reading, not taken.
    assert_eq!(me.get(&app, &result).await.0, StatusCode::OK);

    // Another session of the same admin finds nothing.
    let other = sign_in(&app, &boss, Utc::now()).await;
    let (status, html) = other.get(&app, &result).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("alice@contoso.com"), "{html}");
    // Nor does a user of the account who is no admin.
    let ann = add_user(
        &app,
        "contoso",
        "ann@contoso.com",
        None,
        false,
        Status::Active,
    )
    .await;
    let (status, html) = sign_in(&app, &ann, Utc::now())
        .await
        .get(&app, &result)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("alice@contoso.com"), "{html}");
    // Nor another account's admin, at this account's path or at its own.
    let fab = add_user(
        &app,
        "fabrikam",
        "boss@fabrikam.com",
        None,
        true,
        Status::Active,
    )
    .await;
    let fab = sign_in(&app, &fab, Utc::now()).await;
    let (status, html) = fab.get(&app, &result).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("alice@contoso.com"), "{html}");
    let id = result.rsplit('/').next().unwrap();
    let (status, _) = fab
        .get(&app, &format!("/fabrikam/admin/sso/test/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nor a browser without a session (the provider's, say): it is sent to the account's
    // sign-in.
    let anonymous = idp
        .browser(&app.url)
        .get(app.at(&result))
        .send()
        .await
        .unwrap();
    assert!(
        anonymous.status().is_redirection(),
        "{}",
        anonymous.status()
    );
    assert!(
        anonymous.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/contoso?return_to="),
        "{:?}",
        anonymous.headers()[LOCATION]
    );
    // An unknown id is no result either.
    assert_eq!(
        me.get(&app, "/contoso/admin/sso/test/unknown").await.0,
        StatusCode::NOT_FOUND
    );
}

/// The refused result `result` as `window` reads it: the failure, `code` and the precise
/// reason of the attempt's login trace (the newest), and the issuer that answered. Gives
/// the page and the reason.
async fn refused(
    app: &TestApp,
    idp: &OidcIdp,
    window: &reqwest::Client,
    result: &str,
    code: &str,
) -> (String, String) {
    let html = page(app, window, result).await;
    let trace = app
        .state
        .login
        .traces
        .list("contoso", 10, Utc::now())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(trace.code, code);
    let reason = trace.reason.expect("a refusal has its reason");
    assert!(html.contains("id=\"test-failed\""), "{code}: {html}");
    assert!(!html.contains("id=\"test-passed\""), "{code}: {html}");
    assert!(
        html.contains(&format!("<code id=\"code\">{code}</code>")),
        "{code}: {html}"
    );
    assert!(
        html.contains(&format!(
            "<p class=\"trace-reason\" id=\"reason\">{reason}</p>"
        )),
        "{code}: {reason:?} in {html}"
    );
    assert!(
        html.contains(&format!("<dd id=\"claim-issuer\">{}</dd>", idp.issuer)),
        "{code}: {html}"
    );
    (html, reason)
}

#[tokio::test]
async fn a_refused_oidc_test_shows_the_code_and_the_reason_of_the_trace() {
    let Some((app, idp, boss)) = setup().await else {
        return;
    };
    let me = sign_in(&app, &boss, Utc::now()).await;
    let window = me.window(&app);
    let everyone = users(&app, None).await;

    // The provider vouches for an address outside the tenant's domains: the token passed
    // every check, so what it said is shown, with why it was refused. A refusal is a
    // result too, not an error page.
    let result = tested(&app, &idp, &me, &window, "mallory@evil.example").await;
    let (html, reason) = refused(&app, &idp, &window, &result, "email_outside_tenant").await;
    assert!(reason.contains("identity refused"), "{reason}");
    assert!(
        html.contains("<dd id=\"claim-email\">mallory@evil.example</dd>"),
        "{html}"
    );

    // The provider says the address is not verified: refused inside token validation, so
    // no validated email or subject to show.
    let result = tested(&app, &idp, &me, &window, "unverified.carol@contoso.com").await;
    let (html, reason) = refused(&app, &idp, &window, &result, "email_unverified").await;
    assert!(reason.contains("carol"), "{reason}");
    assert!(!html.contains("id=\"claim-email\"") && !html.contains("id=\"claim-subject\""));

    // The admin cancels at the provider: its own refusal (`error=access_denied`) is a
    // result, and the test's state is used up (its replay is no second result).
    let auth = me.start_test_sso(&app, &window).await;
    let callback = cancel_at_provider(&app, &idp.browser(&app.url), &auth).await;
    let res = window.get(&callback).send().await.unwrap();
    let result = result_of(res, "cancel").await;
    let (_, reason) = refused(&app, &idp, &window, &result, "idp_error").await;
    assert!(reason.contains("access_denied"), "{reason}");
    let again = window.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.text().await.unwrap().contains("no_pending_request"));

    // The refusals changed nobody either.
    assert_eq!(users(&app, None).await, everyone);
    assert!(
        app.state
            .users
            .by_email("contoso", &Email::parse("carol@contoso.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}
