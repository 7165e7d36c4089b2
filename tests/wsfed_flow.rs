//! The WS-Federation ACS decision path with real stores and a fixed clock, on `wresult`s
//! signed by `tests/testdata/wsfed/generate.py`: the `wctx` binding to this browser and its
//! single use, the replay cache, emails outside the tenant, answers of the other protocol,
//! and the sign-in and sign-out redirects.

mod common;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use realmgate::accounts::{Refusal, Status};
use realmgate::login::{LoginError, SsoOutcome};

fn now() -> DateTime<Utc> {
    "2030-01-01T00:01:00Z".parse().unwrap()
}

fn wsfed_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/wsfed")
}

fn wresult(name: &str) -> String {
    std::fs::read_to_string(wsfed_data().join(format!("{name}.xml"))).unwrap()
}

/// A gateway with the realm the tokens were made for: `contoso` on the test STS
/// (WS-Federation), `fabrikam` on the test SAML IdP.
async fn app(jit: &str) -> common::TestApp {
    let jit = jit.to_string();
    common::spawn_app_with(
        move |dir| {
            std::fs::copy(
                wsfed_data().join("sts-metadata.xml"),
                dir.join("sts-metadata.xml"),
            )
            .unwrap();
            std::fs::copy(
                common::saml::testdata().join("idp-metadata.xml"),
                dir.join("idp-metadata.xml"),
            )
            .unwrap();
            std::fs::write(
                dir.join("contoso.toml"),
                format!(
                    "account = \"contoso\"\ndomains = [\"contoso.com\"]\n[sso]\nprotocol = \"wsfed\"\n\
                     idp_metadata = \"sts-metadata.xml\"\njit = \"{jit}\"\nwhr = \"urn:contoso\"\n\
                     email_claim = \"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"\n"
                ),
            )
            .unwrap();
            std::fs::write(
                dir.join("fabrikam.toml"),
                "account = \"fabrikam\"\ndomains = [\"fabrikam.com\"]\n[sso]\nidp_metadata = \"idp-metadata.xml\"\n",
            )
            .unwrap();
        },
        |c| c.public_url = "https://login.example.com".parse().unwrap(),
    )
    .await
}

async fn pending(app: &common::TestApp, account: &str, binding: &str) -> String {
    app.state
        .login
        .remember_pending("", account, None, binding)
        .await
        .unwrap()
}

async fn complete(
    app: &common::TestApp,
    name: &str,
    wctx: Option<&str>,
    binding: Option<&str>,
) -> Result<SsoOutcome, LoginError> {
    app.state
        .login
        .complete_wsfed(&wresult(name), wctx, binding, now())
        .await
        .map_err(|r| r.error)
}

#[tokio::test]
async fn a_token_signs_in_once_and_neither_wctx_nor_token_can_be_replayed() {
    let app = app("deny").await;
    common::add_user(
        &app,
        "contoso",
        "alice@contoso.com",
        None,
        false,
        Status::Active,
    )
    .await;
    let wctx = pending(&app, "contoso", "browser-1").await;
    match complete(&app, "valid_saml11", Some(&wctx), Some("browser-1")).await {
        Ok(SsoOutcome::SignedIn { session, .. }) => assert_eq!(session.email, "alice@contoso.com"),
        Err(e) => panic!("refused: {e}"),
        Ok(_) => panic!("not signed in"),
    }
    // The same wctx again: the pending sign-in was used.
    let again = complete(&app, "valid_saml11", Some(&wctx), Some("browser-1")).await;
    assert!(
        matches!(again, Err(LoginError::NoPendingRequest)),
        "{:?}",
        again.err()
    );
    // The same token under a fresh sign-in: its AssertionID is in the replay cache.
    let wctx = pending(&app, "contoso", "browser-1").await;
    let replay = complete(
        &app,
        "valid_saml11_no_applies_to",
        Some(&wctx),
        Some("browser-1"),
    )
    .await;
    assert!(
        matches!(replay, Err(LoginError::Replay(_))),
        "{:?}",
        replay.err()
    );
    // A SAML 2.0 token of the same STS is its own assertion: admitted.
    let wctx = pending(&app, "contoso", "browser-1").await;
    let saml2 = complete(&app, "valid_saml2", Some(&wctx), Some("browser-1")).await;
    assert!(
        matches!(saml2, Ok(SsoOutcome::SignedIn { .. })),
        "{:?}",
        saml2.err()
    );
}

#[tokio::test]
async fn a_token_is_accepted_only_with_the_wctx_of_this_browser() {
    let app = app("create").await;
    let wctx = pending(&app, "contoso", "victim-browser").await;
    for binding in [Some("attacker-browser"), None] {
        let r = complete(&app, "valid_saml11", Some(&wctx), binding).await;
        assert!(matches!(r, Err(LoginError::OtherBrowser)), "{:?}", r.err());
    }
    // No wctx, or one never issued: there is no IdP-initiated WS-Federation login.
    for wctx in [None, Some(""), Some("never-issued")] {
        let r = complete(&app, "valid_saml11", wctx, Some("victim-browser")).await;
        assert!(
            matches!(r, Err(LoginError::NoPendingRequest)),
            "{:?}",
            r.err()
        );
    }
    // The victim's own login still works: the attempts above did not consume it.
    let ok = complete(&app, "valid_saml11", Some(&wctx), Some("victim-browser")).await;
    assert!(
        matches!(ok, Ok(SsoOutcome::SignedIn { .. })),
        "{:?}",
        ok.err()
    );
}

#[tokio::test]
async fn an_email_outside_the_tenant_is_refused() {
    let app = app("create").await;
    let wctx = pending(&app, "contoso", "b").await;
    let r = complete(&app, "email_outside_tenant", Some(&wctx), Some("b")).await;
    assert!(
        matches!(r, Err(LoginError::Refused(Refusal::ForeignDomain))),
        "{:?}",
        r.err()
    );
}

/// A refused token (here: a forged one) names the tenant and opens nothing.
#[tokio::test]
async fn a_forged_token_is_refused_with_its_reason() {
    let app = app("create").await;
    let wctx = pending(&app, "contoso", "b").await;
    let r = app
        .state
        .login
        .complete_wsfed(&wresult("foreign_key"), Some(&wctx), Some("b"), now())
        .await;
    match r {
        Err(refusal) => {
            assert_eq!(refusal.account.as_deref(), Some("contoso"));
            assert_eq!(refusal.error.code(), "signature_invalid");
        }
        Ok(_) => panic!("a forged token signed in"),
    }
}

/// Each protocol's answer only for a login of that protocol.
#[tokio::test]
async fn an_answer_of_the_other_protocol_is_refused() {
    let app = app("create").await;
    // A wresult with the handle of a SAML login.
    let relay = pending(&app, "fabrikam", "b").await;
    let r = complete(&app, "valid_saml11", Some(&relay), Some("b")).await;
    assert!(
        matches!(r, Err(LoginError::WrongProtocol { .. })),
        "{:?}",
        r.err()
    );
    // A SAML Response with the handle of a WS-Federation sign-in.
    let wctx = pending(&app, "contoso", "b").await;
    let saml =
        common::saml::response_b64(&common::saml::testdata().join("valid_assertion_signed.xml"));
    let r = app
        .state
        .login
        .complete_sso(&saml, Some(&wctx), Some("b"), now())
        .await
        .map_err(|r| r.error);
    assert!(
        matches!(r, Err(LoginError::WrongProtocol { .. })),
        "{:?}",
        r.err()
    );
}

/// A console's Test SSO of a WS-Federation tenant: the STS's answer passes every check and
/// ends in the result of the admin's session, and JIT (here `create`) makes nobody; the
/// same token cannot then be used to sign in.
#[tokio::test]
async fn a_test_sso_answer_ends_in_its_result_and_admits_nobody() {
    let app = app("create").await;
    let session = |email: &str| realmgate::session::SessionUser {
        user_id: 1,
        account: "contoso".into(),
        email: email.into(),
        name: String::new(),
        amr: "pwd".into(),
        acr: None,
    };
    let admin = app
        .state
        .sessions
        .create(&session("boss@contoso.com"), Utc::now())
        .await
        .unwrap();
    let tenant = app.state.tenant_admin.get("contoso").await.unwrap();
    let (start, id) = app
        .state
        .login
        .start_test(&tenant, &admin, "admin-browser", now())
        .await
        .unwrap();
    let realmgate::saml::request::SsoStart::Redirect(url) = start else {
        panic!("WS-Federation starts with a redirect");
    };
    let wctx = url
        .query_pairs()
        .find(|(k, _)| k == "wctx")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    match complete(&app, "valid_saml11", Some(&wctx), Some("admin-browser")).await {
        Ok(SsoOutcome::Tested(t)) => assert_eq!(
            (t.account.as_str(), t.id.as_str()),
            ("contoso", id.as_str())
        ),
        Err(e) => panic!("refused: {e}"),
        Ok(_) => panic!("a test must end in its result"),
    }
    let alice = realmgate::discovery::Email::parse("alice@contoso.com").unwrap();
    assert!(
        app.state
            .users
            .by_email("contoso", &alice)
            .await
            .unwrap()
            .is_none()
    );
    let result = app
        .state
        .login
        .test_result("contoso", &id, &admin)
        .await
        .unwrap()
        .expect("the admin's result");
    assert_eq!(result.trace.code, "test_passed");
    assert_eq!(result.trace.email.as_deref(), Some("alice@contoso.com"));
    assert!(!result.attributes.is_empty());
    // Another session, or the result asked under another account, finds nothing.
    let other = app
        .state
        .sessions
        .create(&session("boss@contoso.com"), Utc::now())
        .await
        .unwrap();
    assert!(
        app.state
            .login
            .test_result("contoso", &id, &other)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.state
            .login
            .test_result("fabrikam", &id, &admin)
            .await
            .unwrap()
            .is_none()
    );
    // The tested token was used: a real sign-in with it is a replay.
    let wctx = pending(&app, "contoso", "b").await;
    let r = complete(&app, "valid_saml11", Some(&wctx), Some("b")).await;
    assert!(matches!(r, Err(LoginError::Replay(_))), "{:?}", r.err());
}

/// `GET /sso/contoso/start` sends the browser to the STS with our realm, ACS, a fresh wctx
/// and the hints; the answer posted there with another wctx is refused over HTTP.
#[tokio::test]
async fn sign_in_redirects_to_the_sts_and_the_acs_tells_the_protocols_apart() {
    let app = app("create").await;
    let client = app.client();
    let res = client
        .get(app.at("/sso/contoso/start?login_hint=alice%40contoso.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        location.as_str().split('?').next(),
        Some("https://adfs.contoso.com/adfs/ls/")
    );
    let q: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(q["wa"], "wsignin1.0");
    assert_eq!(q["wtrealm"], "https://login.example.com/");
    assert_eq!(q["wreply"], "https://login.example.com/auth/saml/callback");
    assert_eq!(q["whr"], "urn:contoso");
    assert_eq!(q["login_hint"], "alice@contoso.com");
    assert!(q["wctx"].len() >= 20, "an unguessable handle");
    // Posted with a wctx of no pending sign-in: refused with a page, no session.
    for form in [
        vec![("wa", "wsignin1.0"), ("wresult", "<x/>"), ("wctx", "nope")],
        vec![("wa", "wsignout1.0"), ("wresult", "<x/>")],
        vec![("wresult", "<x/>"), ("SAMLResponse", "PHgvPg==")],
    ] {
        let res = client
            .post(app.at("/auth/saml/callback"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{form:?}");
        assert!(
            res.headers()
                .get("set-cookie")
                .is_none_or(|c| !c.to_str().unwrap().contains("realmgate_session="))
        );
    }
}

/// Logout of a WS-Federation tenant's session goes on to the STS's `wsignout1.0`; other
/// tenants' sessions end here only.
#[tokio::test]
async fn sign_out_goes_to_the_sts_only_for_a_wsfed_tenant() {
    let app = app("create").await;
    let url = app
        .state
        .login
        .wsfed_signout("contoso", "https://login.example.com/")
        .await
        .expect("a wsignout1.0 URL");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(url.host_str(), Some("adfs.contoso.com"));
    assert_eq!(q["wa"], "wsignout1.0");
    assert_eq!(q["wtrealm"], "https://login.example.com/");
    assert_eq!(q["wreply"], "https://login.example.com/");
    for other in ["fabrikam", "nobody"] {
        assert!(
            app.state
                .login
                .wsfed_signout(other, "https://login.example.com/")
                .await
                .is_none()
        );
    }
}

/// Every WS-Federation attempt of a known tenant is in its login traces, as SAML's and
/// OpenID Connect's are: the verified token's issuer and email on success, the refusal's
/// code and reason otherwise, and the SAML-only fields named as not applicable. An answer
/// naming no pending sign-in has no tenant, so no trace.
#[tokio::test]
async fn sign_in_attempts_are_in_the_tenants_login_traces() {
    use realmgate::login::{TraceProtocol, TraceResult};
    let app = app("create").await;
    let traces = || async {
        app.state
            .login
            .traces
            .list("contoso", 10, now())
            .await
            .unwrap()
    };
    let wctx = pending(&app, "contoso", "b").await;
    assert!(
        complete(&app, "valid_saml11", Some(&wctx), Some("b"))
            .await
            .is_ok()
    );
    let wctx = pending(&app, "contoso", "b").await;
    assert!(
        complete(&app, "expired", Some(&wctx), Some("b"))
            .await
            .is_err()
    );
    assert!(
        complete(&app, "valid_saml2", None, Some("b"))
            .await
            .is_err()
    );
    let list = traces().await;
    assert_eq!(list.len(), 2, "{list:?}");
    let (refused, signed_in) = (&list[0], &list[1]);
    assert_eq!(
        (
            signed_in.protocol,
            signed_in.result,
            signed_in.code.as_str()
        ),
        (TraceProtocol::Wsfed, TraceResult::Success, "signed_in")
    );
    assert_eq!(
        signed_in.issuer.as_deref(),
        Some("http://adfs.contoso.com/adfs/services/trust")
    );
    assert_eq!(signed_in.email.as_deref(), Some("alice@contoso.com"));
    assert_eq!(signed_in.name_id.as_deref(), Some("alice@contoso.com"));
    assert_eq!(signed_in.not_applicable, ["destination", "in_response_to"]);
    assert_eq!(
        (refused.protocol, refused.result, refused.code.as_str()),
        (TraceProtocol::Wsfed, TraceResult::Refused, "expired")
    );
    assert!(
        refused
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("NotOnOrAfter"))
    );
    assert!(
        refused.email.is_none(),
        "an unverified token's claims are not traced"
    );
}

/// A session opened by the WS-Federation token `name`.
async fn wsfed_session(app: &common::TestApp, name: &str) -> realmgate::session::Session {
    let wctx = pending(app, "contoso", "browser-1").await;
    match complete(app, name, Some(&wctx), Some("browser-1")).await {
        Ok(SsoOutcome::SignedIn { session, .. }) => session,
        Err(e) => panic!("refused: {e}"),
        Ok(_) => panic!("not signed in"),
    }
}

/// The STS's `wa=wsignoutcleanup1.0` (and its own `wsignout1.0`) at our ACS paths ends this
/// browser's WS-Federation session and answers 200 with a page, as AD FS expects of the
/// frame it loads; a session of any other tenant survives it (anyone can send a browser
/// there), and another `wa` is refused.
#[tokio::test]
async fn the_sts_sign_out_cleanup_ends_the_wsfed_session_only() {
    let app = app("deny").await;
    common::add_user(
        &app,
        "contoso",
        "alice@contoso.com",
        None,
        false,
        Status::Active,
    )
    .await;
    let saml_tenant = app
        .state
        .sessions
        .create(
            &realmgate::session::SessionUser {
                user_id: 99,
                account: "fabrikam".into(),
                email: "bob@fabrikam.com".into(),
                name: String::new(),
                amr: "saml2".into(),
                acr: None,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let cookie = realmgate::web::guard::cookie_name(
        &app.state.config,
        realmgate::web::guard::SESSION_COOKIE,
    );
    let client = app.client();
    let get = |path: &str, wa: &str, id: &str| {
        client
            .get(app.at(&format!("{path}?wa={wa}")))
            .header("cookie", format!("{cookie}={id}"))
            .send()
    };
    let live = |id: String| {
        let sessions = app.state.sessions.clone();
        async move {
            sessions
                .load(&id, chrono::Utc::now())
                .await
                .unwrap()
                .is_some()
        }
    };
    let res = get("/auth/saml/callback", "wsignoutcleanup1.0", &saml_tenant.id)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        live(saml_tenant.id.clone()).await,
        "not a WS-Federation session"
    );

    let wsfed = wsfed_session(&app, "valid_saml11").await;
    let res = get("/auth/saml/callback", "wsignoutcleanup1.0", &wsfed.id)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cleared = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cleared.starts_with(&format!("{cookie}=;")), "{cleared}");
    assert!(res.text().await.unwrap().contains("You are signed out"));
    assert!(!live(wsfed.id).await);

    let wsfed = wsfed_session(&app, "valid_saml2").await;
    let res = get("/saml2/idpresponse", "wsignout1.0", &wsfed.id)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(!live(wsfed.id).await);

    let res = get("/auth/saml/callback", "wsignin1.0", &saml_tenant.id)
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(live(saml_tenant.id).await);
}
