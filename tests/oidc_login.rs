//! OpenID Connect sign-in against a real provider nobody here wrote (npm `oidc-provider`,
//! `tests/peers/oidc_idp.mjs`, over HTTPS): the whole round trip, a key rotation between
//! two sign-ins (unknown `kid` → key-set refresh → success), the refusals the callback
//! owns (replayed or foreign `state`, email outside the tenant, `email_verified: false`),
//! and the same sign-in in real Chromium.

mod common;

use std::time::Duration;

use common::oidc::{CLIENT_ID, OidcIdp, OidcTls, to_callback, use_oidc_client, use_oidc_idp};
use common::{Browser, TestApp, spawn_app};
use realmgate::discovery::reach::Guarded;
use realmgate::oidc::provider::KEY_REFRESH_INTERVAL;

async fn setup() -> Option<(TestApp, OidcIdp)> {
    common::oidc::oidc_app("create").await
}

async fn signed_in_as(app: &TestApp, gateway: &reqwest::Client) -> String {
    let me = gateway.get(app.at("/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    me.text().await.unwrap()
}

#[tokio::test]
async fn sign_in_through_the_provider_and_across_its_key_rotation() {
    let Some((app, idp)) = setup().await else {
        return;
    };
    let gateway = app.client();
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "alice@contoso.com").await;
    let res = gateway.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert!(
        signed_in_as(&app, &gateway)
            .await
            .contains("alice@contoso.com")
    );
    // Subject binding: iss + sub.
    let user = app
        .state
        .users
        .by_subject("contoso", &format!("{}#alice@contoso.com", idp.issuer))
        .await
        .unwrap()
        .expect("user bound to iss#sub");
    assert_eq!(user.email.as_str(), "alice@contoso.com");

    // The provider rotates its key; the gateway still holds the old set. The next token
    // names the new kid: the gateway refreshes (once the bounded interval allows) and accepts.
    let new_kid = idp.rotate().await;
    tokio::time::sleep(KEY_REFRESH_INTERVAL + Duration::from_millis(200)).await;
    let gateway = app.client();
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "bob@contoso.com").await;
    let res = gateway.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert!(
        signed_in_as(&app, &gateway)
            .await
            .contains("bob@contoso.com")
    );
    let tenant = app
        .state
        .discovery
        .directory
        .by_account("contoso")
        .await
        .unwrap()
        .unwrap();
    let provider = app.state.login.oidc.for_tenant(&tenant).await.unwrap();
    let kids: Vec<String> = provider
        .keys()
        .keys()
        .iter()
        .filter_map(|k| openidconnect::JsonWebKey::key_id(k).map(|id| id.as_str().to_string()))
        .collect();
    assert_eq!(kids, [new_kid], "the key set was not refreshed");
}

#[tokio::test]
async fn a_callback_is_used_once_and_only_by_its_browser() {
    let Some((app, idp)) = setup().await else {
        return;
    };
    let gateway = app.client();
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "alice@contoso.com").await;
    // Another browser (no binding cookie) cannot use, nor cancel, the callback.
    let other = app.client().get(&callback).send().await.unwrap();
    assert_eq!(other.status(), 400);
    assert!(
        other
            .text()
            .await
            .unwrap()
            .contains("request_from_other_browser")
    );
    let res = gateway.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    // Replayed state: the pending login was taken.
    let again = gateway.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("no_pending_request"));
    // RFC 9207: an answer naming another provider is refused (and uses up the login).
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "alice@contoso.com").await;
    assert!(callback.contains("iss="), "{callback}");
    let mut mixed = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = mixed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "https://evil.example".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    let res = gateway.get(mixed.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("issuer_mismatch"));
    // A state we never issued.
    let forged = gateway
        .get(app.at("/auth/oidc/callback?code=x&state=never-issued"))
        .send()
        .await
        .unwrap();
    assert!(forged.text().await.unwrap().contains("no_pending_request"));
    // An OpenID Connect state is no SAML RelayState.
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "alice@contoso.com").await;
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let acs = gateway
        .post(app.at("/auth/saml/callback"))
        .form(&[
            ("SAMLResponse", "PHNhbWxwOlJlc3BvbnNlLz4="),
            ("RelayState", &state),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(acs.status(), 400);
    assert!(acs.text().await.unwrap().contains("no_pending_request"));
}

#[tokio::test]
async fn foreign_and_unverified_emails_are_refused() {
    let Some((app, idp)) = setup().await else {
        return;
    };
    for (login, code) in [
        ("mallory@evil.example", "email_outside_tenant"),
        ("unverified.carol@contoso.com", "email_unverified"),
    ] {
        let gateway = app.client();
        let callback = to_callback(&app, &gateway, &idp.browser(&app.url), login).await;
        let res = gateway.get(&callback).send().await.unwrap();
        assert!(res.status().is_client_error(), "{login}: {}", res.status());
        let page = res.text().await.unwrap();
        assert!(page.contains(code), "{login}: {page}");
        let me = gateway.get(app.at("/me")).send().await.unwrap();
        assert_eq!(me.status(), 303, "{login} got a session");
    }
}

#[tokio::test]
async fn oidc_sign_in_in_chromium() {
    let Some((app, _idp)) = setup().await else {
        return;
    };
    // The provider's certificate is the test's own; realmgate checks it (idp_metadata_ca),
    // the browser is told to accept it.
    let Some(browser) = Browser::start_with(&["--ignore-certificate-errors"]).await else {
        return;
    };
    let c = &browser.client;
    c.goto(&app.at("/?return_to=/me")).await.unwrap();
    browser.continue_with("alice@contoso.com").await;
    let button = browser.wait_for("a#sso-button").await;
    assert_eq!(button.text().await.unwrap(), "Log In with Contoso");
    button.click().await.unwrap();
    // At the provider: the email arrived as login_hint.
    let login = browser.wait_for("input[name=login]").await;
    assert_eq!(
        login.prop("value").await.unwrap().as_deref(),
        Some("alice@contoso.com")
    );
    browser.type_into("input[name=password]", "any").await;
    browser.click("button.login-submit").await;
    let message = browser.wait_for("#message").await;
    assert!(
        message.text().await.unwrap().contains("You are signed in"),
        "{}",
        c.source().await.unwrap()
    );
    assert_eq!(c.current_url().await.unwrap().as_str(), app.at("/me"));
    browser.close().await;
}

#[tokio::test]
async fn private_key_jwt_client_authentication() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let Some(tls) = OidcTls::new() else {
        return;
    };
    let ca = tls.ca.clone();
    let app = spawn_app(|c| c.idp_metadata_ca = Some(ca)).await;
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let jwk = serde_json::json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "realmgate-client",
        "n": B64.encode(rsa.n().to_vec()), "e": B64.encode(rsa.e().to_vec()),
    });
    std::fs::write(
        app.domains.join("contoso.key"),
        rsa.private_key_to_pem().unwrap(),
    )
    .unwrap();
    let idp = tls.start(&app.at("/auth/oidc/callback"), Some(&jwk));
    use_oidc_client(
        &app,
        &idp,
        "create",
        &format!("client_id = \"{CLIENT_ID}-key\"\nclient_key = \"contoso.key\"\n"),
    )
    .await;
    let gateway = app.client();
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "alice@contoso.com").await;
    let res = gateway.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert!(
        signed_in_as(&app, &gateway)
            .await
            .contains("alice@contoso.com")
    );

    // Another key than the registered one: the provider refuses the assertion.
    std::fs::write(
        app.domains.join("contoso.key"),
        openssl::rsa::Rsa::generate(2048)
            .unwrap()
            .private_key_to_pem()
            .unwrap(),
    )
    .unwrap();
    let gateway = app.client();
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "alice@contoso.com").await;
    let res = gateway.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("token_exchange_failed"));
}

/// The account decision is SAML's: `waiting_room` parks a new user, and a user bound to
/// another subject (`iss#sub`) is refused.
#[tokio::test]
async fn jit_waiting_room_and_subject_binding_apply() {
    let Some((app, idp)) = setup().await else {
        return;
    };
    use_oidc_idp(&app, &idp, "waiting_room").await;
    let gateway = app.client();
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "dave@contoso.com").await;
    let res = gateway.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/waiting-room");
    let dave = app
        .state
        .users
        .by_subject("contoso", &format!("{}#dave@contoso.com", idp.issuer))
        .await
        .unwrap()
        .expect("a waiting user bound to iss#sub");
    assert_eq!(dave.status, realmgate::accounts::Status::Waiting);

    // Erin exists, bound to another IdP subject: the provider's Erin is not her.
    let erin = common::add_user(
        &app,
        "contoso",
        "erin@contoso.com",
        None,
        false,
        realmgate::accounts::Status::Active,
    )
    .await;
    assert!(
        app.state
            .users
            .bind_subject(erin.id, "https://other-idp.example#erin")
            .await
            .unwrap()
    );
    let gateway = app.client();
    let callback = to_callback(&app, &gateway, &idp.browser(&app.url), "erin@contoso.com").await;
    let res = gateway.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("subject_mismatch"));
}

/// A provider whose configuration is due keeps serving logins from the cache while one
/// background fetch renews it: no login waits on the provider's HTTP after the first.
#[tokio::test]
async fn a_due_provider_is_renewed_in_the_background() {
    let Some((app, idp)) = setup().await else {
        return;
    };
    let client =
        realmgate::oidc::http_client(realmgate::saml::http_client_builder(Some(&idp.ca)).unwrap())
            .unwrap();
    let providers = realmgate::oidc::Providers::with_ttl(
        client.clone(),
        Guarded {
            client,
            public_only: false,
        },
        Duration::ZERO,
    );
    let tenant = app
        .state
        .discovery
        .directory
        .by_account("contoso")
        .await
        .unwrap()
        .unwrap();
    let first = providers.for_tenant(&tenant).await.unwrap();
    // Due at once (ttl 0): this call answers from the cache and starts the renewal.
    let cached = providers.for_tenant(&tenant).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &cached));
    let mut renewed = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = providers.for_tenant(&tenant).await.unwrap();
        if !std::sync::Arc::ptr_eq(&first, &now) {
            renewed = Some(now);
            break;
        }
    }
    let renewed = renewed.expect("the provider was never renewed");
    assert_eq!(renewed.issuer, idp.issuer);
}

/// The provider of a management-API tenant (whose issuer an account admin typed) is reached
/// at public addresses only unless the operator allows others: the loopback provider that
/// serves the operator's own tenant is refused for the same settings held by an API
/// tenant, by the resolver (its name) and by the URL's literal address, before any request.
#[tokio::test]
async fn an_api_tenants_provider_reaches_no_private_address() {
    let Some((app, idp)) = setup().await else {
        return;
    };
    let builder = || realmgate::saml::http_client_builder(Some(&idp.ca)).unwrap();
    let client = realmgate::oidc::http_client(builder()).unwrap();
    let guarded = Guarded {
        client: realmgate::oidc::http_client(realmgate::discovery::reach::restrict(
            builder(),
            true,
        ))
        .unwrap(),
        public_only: true,
    };
    let providers = realmgate::oidc::Providers::new(client, guarded);
    let mut tenant = (*app
        .state
        .discovery
        .directory
        .by_account("contoso")
        .await
        .unwrap()
        .unwrap())
    .clone();
    assert!(
        providers.for_tenant(&tenant).await.is_ok(),
        "the operator's tenant"
    );
    tenant.origin = realmgate::discovery::TenantOrigin::Api;
    let refused = providers.for_tenant(&tenant).await.err().expect("refused");
    assert!(
        refused.to_string().contains("not a public address"),
        "{refused}"
    );
    assert_eq!(refused.code(), "idp_metadata_unavailable");
    let sso = tenant.sso.as_mut().unwrap();
    let port = url::Url::parse(&idp.issuer).unwrap().port().unwrap();
    sso.discovery_url = None;
    sso.issuer = Some(format!("https://127.0.0.1:{port}"));
    let refused = providers.for_tenant(&tenant).await.err().expect("refused");
    assert!(
        refused.to_string().contains("not a public address"),
        "{refused}"
    );
}

/// OpenID Connect callbacks land in the tenant's login traces like SAML responses: result,
/// stable code, reason, issuer, email and subject, and the SAML-only fields named as not
/// applicable instead of filled.
#[tokio::test]
async fn oidc_attempts_are_traced_with_issuer_email_and_subject() {
    let Some((app, idp)) = setup().await else {
        return;
    };
    for login in [
        "alice@contoso.com",
        "mallory@evil.example",
        "unverified.carol@contoso.com",
    ] {
        let gateway = app.client();
        let callback = to_callback(&app, &gateway, &idp.browser(&app.url), login).await;
        gateway.get(&callback).send().await.unwrap();
    }
    let traces = app
        .state
        .login
        .traces
        .list("contoso", 10, chrono::Utc::now())
        .await
        .unwrap();
    let json: Vec<serde_json::Value> = traces
        .iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    assert_eq!(json.len(), 3, "{json:?}");
    let (carol, mallory, alice) = (&json[0], &json[1], &json[2]);
    for t in [carol, mallory, alice] {
        assert_eq!(t["protocol"], "oidc", "{t}");
        assert_eq!(t["issuer"], idp.issuer.as_str(), "{t}");
        assert_eq!(
            t["not_applicable"],
            serde_json::json!(["destination", "in_response_to", "signing_certificate"])
        );
        assert!(t["signing_certificate"].is_null() && t["destination"].is_null());
    }
    assert_eq!(alice["result"], "success");
    assert_eq!(alice["code"], "signed_in");
    assert_eq!(alice["email"], "alice@contoso.com");
    assert_eq!(alice["subject"], "alice@contoso.com");
    assert!(alice["reason"].is_null());
    assert_eq!(mallory["result"], "refused");
    assert_eq!(mallory["code"], "email_outside_tenant");
    assert_eq!(mallory["email"], "mallory@evil.example");
    assert!(!mallory["reason"].as_str().unwrap().is_empty(), "{mallory}");
    // Refused inside token validation: no validated email or subject to show.
    assert_eq!(carol["code"], "email_unverified");
    assert!(carol["reason"].as_str().unwrap().contains("carol"));
    assert!(carol["subject"].is_null() && carol["email"].is_null());
}
