//! The ACS decision path with real stores and a fixed clock, on responses signed by
//! `tests/testdata/saml/generate.py`: the browser binding, the replay cache, unsolicited
//! responses, cross-tenant emails and the account decision.

mod common;

use chrono::{DateTime, Utc};
use realmgate::accounts::{Refusal, Status};
use realmgate::login::{LoginError, SsoOutcome};

const REQUEST_ID: &str = "_0123456789abcdef0123456789abcdef";

fn now() -> DateTime<Utc> {
    "2030-01-01T00:01:00Z".parse().unwrap()
}

fn response(name: &str) -> String {
    common::saml::response_b64(&common::saml::testdata().join(format!("{name}.xml")))
}

/// A gateway whose SP values are those the test responses were made for, with `contoso`
/// trusting the test IdP.
async fn app(jit: &str, idp_initiated: bool) -> common::TestApp {
    app_with(jit, idp_initiated, |_| {}).await
}

async fn app_with(
    jit: &str,
    idp_initiated: bool,
    tweak: impl FnOnce(&mut realmgate::config::Config),
) -> common::TestApp {
    let sso = format!(
        "[sso]\nidp_metadata = \"idp-metadata.xml\"\njit = \"{jit}\"\nallow_idp_initiated = {idp_initiated}\n\
         email_claim = \"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"\n"
    );
    common::spawn_app_with(
        move |dir| {
            std::fs::copy(
                common::saml::testdata().join("idp-metadata.xml"),
                dir.join("idp-metadata.xml"),
            )
            .unwrap();
            std::fs::write(
                dir.join("contoso.toml"),
                format!("account = \"contoso\"\ndomains = [\"contoso.com\"]\n{sso}"),
            )
            .unwrap();
        },
        |c| {
            c.public_url = "https://login.example.com".parse().unwrap();
            tweak(c);
        },
    )
    .await
}

async fn pending(app: &common::TestApp, binding: &str) -> String {
    app.state
        .login
        .remember_pending(REQUEST_ID, "contoso", None, binding)
        .await
        .unwrap()
}

async fn complete(
    app: &common::TestApp,
    name: &str,
    relay: Option<&str>,
    binding: Option<&str>,
) -> Result<SsoOutcome, LoginError> {
    app.state
        .login
        .complete_sso(&response(name), relay, binding, now())
        .await
        .map_err(|r| r.error)
}

#[tokio::test]
async fn provisioned_user_signs_in_once_and_the_assertion_cannot_be_replayed() {
    let app = app("deny", false).await;
    common::add_user(
        &app,
        "contoso",
        "alice@contoso.com",
        None,
        false,
        Status::Active,
    )
    .await;
    let relay = pending(&app, "browser-1").await;
    match complete(
        &app,
        "valid_assertion_signed",
        Some(&relay),
        Some("browser-1"),
    )
    .await
    {
        Ok(SsoOutcome::SignedIn { session, .. }) => assert_eq!(session.email, "alice@contoso.com"),
        Err(e) => panic!("refused: {e}"),
        Ok(_) => panic!("not signed in"),
    }
    // The same RelayState again: the pending request was taken once.
    let again = complete(
        &app,
        "valid_assertion_signed",
        Some(&relay),
        Some("browser-1"),
    )
    .await;
    assert!(
        matches!(again, Err(LoginError::NoPendingRequest)),
        "{:?}",
        again.err()
    );
    // The same assertion under a fresh pending request for the same request ID: replay.
    let relay = pending(&app, "browser-1").await;
    let replay = complete(&app, "valid_both_signed", Some(&relay), Some("browser-1")).await;
    assert!(
        matches!(replay, Err(LoginError::Replay(_))),
        "{:?}",
        replay.err()
    );
}

#[tokio::test]
async fn a_response_is_accepted_only_from_the_browser_that_started_the_login() {
    let app = app("create", false).await;
    let relay = pending(&app, "victim-browser").await;
    for binding in [Some("attacker-browser"), None] {
        let r = complete(&app, "valid_assertion_signed", Some(&relay), binding).await;
        assert!(
            matches!(
                r,
                Err(LoginError::OtherBrowser | LoginError::NoPendingRequest)
            ),
            "{:?}",
            r.err()
        );
    }
    // An InResponseTo of another request is refused even with the right browser.
    let relay = pending(&app, "b").await;
    let r = complete(&app, "other_request", Some(&relay), Some("b")).await;
    assert_eq!(r.err().map(|e| e.code()), Some("in_response_to_mismatch"));
}

#[tokio::test]
async fn another_browsers_post_does_not_cancel_the_pending_login() {
    let app = app("create", false).await;
    // The victim starts a login (RelayState R, binding cookie C1); an attacker who learnt
    // R posts it with their own cookie C2, and with none.
    let relay = pending(&app, "victim-browser").await;
    for binding in [Some("attacker-browser"), None] {
        let r = complete(&app, "valid_assertion_signed", Some(&relay), binding).await;
        assert!(matches!(r, Err(LoginError::OtherBrowser)), "{:?}", r.err());
    }
    // The victim's own response still finds the pending login.
    let r = complete(
        &app,
        "valid_assertion_signed",
        Some(&relay),
        Some("victim-browser"),
    )
    .await;
    match r {
        Ok(SsoOutcome::SignedIn { session, .. }) => assert_eq!(session.email, "alice@contoso.com"),
        Err(e) => panic!("refused: {e}"),
        Ok(_) => panic!("not signed in"),
    }
}

#[tokio::test]
async fn unsolicited_responses_only_where_allowed_and_never_twice() {
    let app_denied = app("create", false).await;
    let r = complete(&app_denied, "unsolicited_allowed", None, None).await;
    assert!(
        matches!(r, Err(LoginError::Unsolicited(_))),
        "{:?}",
        r.err()
    );
    // A RelayState we never issued is not an IdP-initiated login.
    let r = complete(
        &app_denied,
        "unsolicited_allowed",
        Some("forged-relay"),
        None,
    )
    .await;
    assert!(
        matches!(r, Err(LoginError::NoPendingRequest)),
        "{:?}",
        r.err()
    );

    let app = app("create", true).await;
    let first = complete(&app, "unsolicited_allowed", None, None).await;
    assert!(
        matches!(first, Ok(SsoOutcome::SignedIn { .. })),
        "{:?}",
        first.err()
    );
    let second = complete(&app, "unsolicited_allowed", None, None).await;
    assert!(
        matches!(second, Err(LoginError::Replay(_))),
        "{:?}",
        second.err()
    );
}

/// Issue 11.1: a captured IdP-initiated assertion, posted with the attacker's own pending
/// login and that request's ID written on the unsigned Response, must not become a
/// solicited login on a tenant that refuses IdP-initiated ones.
#[tokio::test]
async fn an_unsolicited_assertion_cannot_borrow_a_pending_request() {
    let app = app("create", false).await;
    let relay = pending(&app, "attacker-browser").await;
    let r = complete(
        &app,
        "unsigned_response_in_response_to",
        Some(&relay),
        Some("attacker-browser"),
    )
    .await;
    assert_eq!(
        r.err().map(|e| e.code()),
        Some("in_response_to_mismatch"),
        "signed in from an unsolicited assertion"
    );
    assert!(
        app.state
            .users
            .list(Some("contoso"), None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn email_outside_the_tenant_is_refused() {
    let app = app("create", false).await;
    let relay = pending(&app, "b").await;
    // NameID and email read as the whole text: alice@contoso.com<!---->.evil.example.
    let r = complete(&app, "comment_in_nameid", Some(&relay), Some("b")).await;
    assert!(
        matches!(r, Err(LoginError::Refused(Refusal::ForeignDomain))),
        "{:?}",
        r.err()
    );
    assert!(
        app.state
            .users
            .list(Some("contoso"), None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn jit_policies_and_subject_binding() {
    // waiting_room: a waiting user is created, no session.
    let app_w = app("waiting_room", false).await;
    let relay = pending(&app_w, "b").await;
    match complete(&app_w, "valid_assertion_signed", Some(&relay), Some("b")).await {
        Ok(SsoOutcome::Waiting(user)) => {
            assert_eq!(user.status, Status::Waiting);
            assert_eq!(user.email.as_str(), "alice@contoso.com");
        }
        other => panic!("expected the waiting room, got {:?}", other.err()),
    }
    // deny: refused, nobody created.
    let app_d = app("deny", false).await;
    let relay = pending(&app_d, "b").await;
    let r = complete(&app_d, "valid_assertion_signed", Some(&relay), Some("b")).await;
    assert!(
        matches!(r, Err(LoginError::Refused(Refusal::NotProvisioned))),
        "{:?}",
        r.err()
    );
    // A user already bound to another IdP subject is refused (same email, other person).
    let app_b = app("create", false).await;
    let user = common::add_user(
        &app_b,
        "contoso",
        "alice@contoso.com",
        None,
        false,
        Status::Active,
    )
    .await;
    assert!(
        app_b
            .state
            .users
            .bind_subject(user.id, "someone-else")
            .await
            .unwrap()
    );
    let relay = pending(&app_b, "b").await;
    let r = complete(&app_b, "valid_assertion_signed", Some(&relay), Some("b")).await;
    assert!(
        matches!(r, Err(LoginError::Refused(Refusal::SubjectMismatch))),
        "{:?}",
        r.err()
    );
    // Disabled users are refused.
    let app_x = app("create", false).await;
    common::add_user(
        &app_x,
        "contoso",
        "alice@contoso.com",
        None,
        false,
        Status::Disabled,
    )
    .await;
    let relay = pending(&app_x, "b").await;
    let r = complete(&app_x, "valid_assertion_signed", Some(&relay), Some("b")).await;
    assert!(
        matches!(r, Err(LoginError::Refused(Refusal::Disabled))),
        "{:?}",
        r.err()
    );
}

#[tokio::test]
async fn cancelled_at_the_idp_gives_the_reason() {
    let app = app("create", false).await;
    let relay = pending(&app, "b").await;
    let r = complete(&app, "status_responder", Some(&relay), Some("b")).await;
    assert_eq!(r.err().map(|e| e.code()), Some("status_not_success"));
}

#[tokio::test]
async fn an_unproven_domain_is_refused_even_with_a_valid_assertion() {
    // require_verified_domains with a DNS server that never answers: no proof, so the
    // ACS must refuse a perfectly signed assertion for that domain (fail closed).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = silent.local_addr().unwrap();
    let app = app_with("create", false, |c| {
        c.require_verified_domains = true;
        c.dns_server = Some(dns);
    })
    .await;
    let relay = pending(&app, "b").await;
    let r = complete(&app, "valid_assertion_signed", Some(&relay), Some("b")).await;
    assert!(
        matches!(r, Err(LoginError::Refused(Refusal::ForeignDomain))),
        "{:?}",
        r.err()
    );
    assert!(
        app.state
            .users
            .list(Some("contoso"), None)
            .await
            .unwrap()
            .is_empty()
    );
    drop(silent);
}
