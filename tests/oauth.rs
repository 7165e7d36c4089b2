//! OAuth 2.0 for native apps, driven by the `oauth2` crate (a client library nobody here
//! wrote): PKCE S256 with `login_hint` through a password tenant and through a real SAML
//! IdP (pysaml2), code exchange, refresh rotation, reuse detection, revocation, and the
//! refusals with their RFC 6749 error codes. Access tokens are verified against the JWKS.

mod common;

use common::idp::{alice_at_new_idp, hidden, through_idp};
use common::{TestApp, add_active, spawn_app};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    RevocationUrl, TokenResponse, TokenUrl,
};
use realmgate::accounts::Status;
use realmgate::config::OAuthClient;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet>;

const LOOPBACK: &str = "http://127.0.0.1/callback";
const CUSTOM: &str = "com.example.app:/oauth/cb";

async fn app() -> TestApp {
    spawn_app(|c| {
        c.oauth_clients = vec![
            OAuthClient {
                client_id: "mobile".into(),
                redirect_uris: vec![CUSTOM.into(), LOOPBACK.into()],
                ..Default::default()
            },
            OAuthClient {
                client_id: "other".into(),
                redirect_uris: vec![CUSTOM.into()],
                ..Default::default()
            },
        ];
    })
    .await
}

fn client(app: &TestApp, client_id: &str, redirect: &str) -> Client {
    BasicClient::new(ClientId::new(client_id.into()))
        .set_auth_uri(AuthUrl::new(app.at("/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(app.at("/oauth2/token")).unwrap())
        .set_revocation_url(RevocationUrl::new(app.at("/oauth2/revoke")).unwrap())
        .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap())
}

/// The HTTP client the library uses for back-channel requests: no redirects (as the
/// `oauth2` crate documents, against SSRF).
fn backchannel() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The authorization URL with PKCE S256 and `login_hint`, and the secrets the app keeps.
fn start(oauth: &Client, hint: Option<&str>) -> (String, CsrfToken, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = oauth
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    if let Some(h) = hint {
        req = req.add_extra_param("login_hint", h);
    }
    let (url, csrf) = req.url();
    (url.to_string(), csrf, verifier)
}

/// Follows `/oauth2/resume` to the app's redirect URI and returns its query.
async fn code_from_resume(
    browser: &reqwest::Client,
    resume: &str,
    redirect_prefix: &str,
) -> std::collections::HashMap<String, String> {
    let res = browser.get(resume).send().await.unwrap();
    assert!(
        res.status().is_redirection(),
        "{}",
        res.text().await.unwrap()
    );
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(redirect_prefix), "{loc}");
    url::Url::parse(&loc)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Signs in through the password step the authorize endpoint shows and returns the
/// redirect's query.
async fn password_flow(
    app: &TestApp,
    browser: &reqwest::Client,
    auth_url: &str,
    email: &str,
    password: &str,
    redirect_prefix: &str,
) -> std::collections::HashMap<String, String> {
    let res = browser.get(auth_url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    // Discovery ran at once: the password step, email filled in.
    assert!(html.contains("action=\"/login/password\""), "{html}");
    assert!(html.contains(&format!("value=\"{email}\"")), "{html}");
    let return_to = hidden(&html, "return_to").expect("return_to to resume");
    assert!(return_to.contains("/oauth2/resume?request="), "{return_to}");
    let csrf = common::csrf_of(&html);
    let res = browser
        .post(app.at("/login/password"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", &csrf),
            ("return_to", &return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let resume = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(resume, return_to);
    code_from_resume(browser, &resume, redirect_prefix).await
}

async fn jwks_key(app: &TestApp) -> (jsonwebtoken::DecodingKey, String) {
    let set = common::jwks::jwks(app).await;
    let jwk = &set.keys[0];
    (
        jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        jwk.common.key_id.clone().unwrap(),
    )
}

/// Verifies an access token with the JWKS, as a resource server would.
async fn verified_claims(app: &TestApp, token: &str, aud: &str) -> serde_json::Value {
    let (key, kid) = jwks_key(app).await;
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[aud]);
    validation.set_issuer(&[app.url.as_str()]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .unwrap()
        .claims
}

fn server_error<T: std::error::Error + 'static>(
    e: RequestTokenError<T, oauth2::basic::BasicErrorResponse>,
) -> BasicErrorResponseType {
    match e {
        RequestTokenError::ServerResponse(r) => r.error().clone(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

/// Asserts that the server refuses refresh token `rt` presented by `oauth`: `invalid_grant`.
async fn refresh_is_refused(oauth: &Client, rt: &RefreshToken) {
    let e = oauth
        .exchange_refresh_token(rt)
        .request_async(&backchannel())
        .await
        .unwrap_err();
    assert_eq!(server_error(e), BasicErrorResponseType::InvalidGrant);
}

/// Exchanges `code` and returns the OAuth error the server answered with.
async fn exchange_error(
    oauth: &Client,
    code: String,
    verifier: PkceCodeVerifier,
) -> BasicErrorResponseType {
    let e = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&backchannel())
        .await
        .unwrap_err();
    server_error(e)
}

#[tokio::test]
async fn password_tenant_code_exchange_refresh_rotation_and_reuse_detection() {
    let app = app().await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    // A loopback redirect URI on whatever port the app bound (RFC 8252 §7.3).
    let redirect = "http://127.0.0.1:47113/callback";
    let oauth = client(&app, "mobile", redirect);
    let (url, csrf, verifier) = start(&oauth, Some("carol@fabrikam.com"));
    let browser = app.client();
    let q = password_flow(
        &app,
        &browser,
        &url,
        "carol@fabrikam.com",
        "correct horse",
        redirect,
    )
    .await;
    assert_eq!(q["state"], *csrf.secret());
    assert_eq!(q["iss"], app.url);
    assert!(q["code"].len() >= 43, "at least 128 bits: {}", q["code"]);
    let http = backchannel();
    let tokens = oauth
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let claims = verified_claims(&app, tokens.access_token().secret(), "mobile").await;
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["email"], "carol@fabrikam.com");
    assert_eq!(claims["account"], "fabrikam");
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 600);
    // Rotation: each use answers a new refresh token.
    let first = tokens.refresh_token().unwrap().clone();
    let second = oauth
        .exchange_refresh_token(&first)
        .request_async(&http)
        .await
        .unwrap();
    let second_rt = second.refresh_token().unwrap().clone();
    assert_ne!(second_rt.secret(), first.secret());
    verified_claims(&app, second.access_token().secret(), "mobile").await;
    // The old one again: reuse, and the whole family dies, including the newest token.
    refresh_is_refused(&oauth, &first).await;
    refresh_is_refused(&oauth, &second_rt).await;
}

#[tokio::test]
async fn sso_tenant_through_the_saml_idp_then_revocation() {
    let app = app().await;
    let Some((_idp, user)) = alice_at_new_idp(&app).await else {
        return;
    };
    let oauth = client(&app, "mobile", CUSTOM);
    let (url, csrf, verifier) = start(&oauth, Some("alice@contoso.com"));
    let browser = app.client();
    // With a hint for an SSO domain, straight to the tenant's SSO start, return_to resume.
    let res = browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/sso/contoso/start?"), "{loc}");
    let return_to: String = url::Url::parse(&app.at(&loc))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "return_to")
        .unwrap()
        .1
        .into_owned();
    assert!(return_to.starts_with(&app.at("/oauth2/resume?request=")));
    let post = through_idp(
        &app.url,
        &browser,
        "alice@contoso.com",
        Some("password"),
        Some(&return_to),
    )
    .await;
    let res = post.submit(&browser).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], return_to.as_str());
    let q = code_from_resume(&browser, &return_to, CUSTOM).await;
    assert_eq!(q["state"], *csrf.secret());
    let http = backchannel();
    let tokens = oauth
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let claims = verified_claims(&app, tokens.access_token().secret(), "mobile").await;
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["account"], "contoso");
    // RFC 7009: revoking the refresh token ends the grant. (Posted by hand: the `oauth2`
    // crate refuses a revocation endpoint that is not https, and this test server is http.)
    let rt = tokens.refresh_token().unwrap().clone();
    let revoke = |token: String| {
        let http = http.clone();
        let url = app.at("/oauth2/revoke");
        async move {
            http.post(url)
                .form(&[
                    ("token", token.as_str()),
                    ("token_type_hint", "refresh_token"),
                    ("client_id", "mobile"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = revoke(rt.secret().clone()).await;
    assert_eq!(res.status(), 200);
    refresh_is_refused(&oauth, &rt).await;
    // Revoking an unknown token is not an error either (nothing to learn by probing).
    assert_eq!(revoke("nonsense".into()).await.status(), 200);
}

/// Signs carol in and returns a fresh code with the verifier that goes with it.
async fn fresh_code(app: &TestApp, oauth: &Client, redirect: &str) -> (String, PkceCodeVerifier) {
    let (url, _, verifier) = start(oauth, Some("carol@fabrikam.com"));
    let browser = app.client();
    let q = password_flow(
        app,
        &browser,
        &url,
        "carol@fabrikam.com",
        "correct horse",
        redirect,
    )
    .await;
    (q["code"].clone(), verifier)
}

#[tokio::test]
async fn codes_are_bound_to_verifier_redirect_uri_and_client_and_used_once() {
    let app = app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let http = backchannel();
    let oauth = client(&app, "mobile", CUSTOM);

    // A tampered verifier: invalid_grant, and the code is burnt for the right one too.
    let (code, verifier) = fresh_code(&app, &oauth, CUSTOM).await;
    let mut wrong = verifier.secret().clone();
    wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
    assert_eq!(
        exchange_error(&oauth, code.clone(), PkceCodeVerifier::new(wrong)).await,
        BasicErrorResponseType::InvalidGrant
    );
    assert_eq!(
        exchange_error(&oauth, code, verifier).await,
        BasicErrorResponseType::InvalidGrant
    );

    // Another registered redirect URI than the one authorized.
    let (code, verifier) = fresh_code(&app, &oauth, CUSTOM).await;
    assert_eq!(
        exchange_error(
            &client(&app, "mobile", "http://127.0.0.1:5000/callback"),
            code,
            verifier
        )
        .await,
        BasicErrorResponseType::InvalidGrant
    );

    // Another client with the same redirect URI.
    let (code, verifier) = fresh_code(&app, &oauth, CUSTOM).await;
    assert_eq!(
        exchange_error(&client(&app, "other", CUSTOM), code, verifier).await,
        BasicErrorResponseType::InvalidGrant
    );

    // An unknown client.
    let (code, verifier) = fresh_code(&app, &oauth, CUSTOM).await;
    assert_eq!(
        exchange_error(&client(&app, "nobody", CUSTOM), code, verifier).await,
        BasicErrorResponseType::InvalidClient
    );

    // A good exchange, then the same code again.
    let (code, verifier) = fresh_code(&app, &oauth, CUSTOM).await;
    let again = PkceCodeVerifier::new(verifier.secret().clone());
    oauth
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        exchange_error(&oauth, code, again).await,
        BasicErrorResponseType::InvalidGrant
    );

    // No verifier at all: invalid_request (PKCE is not optional).
    let (code, _) = fresh_code(&app, &oauth, CUSTOM).await;
    let res = http
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CUSTOM),
            ("client_id", "mobile"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    // An unknown grant type.
    let res = http
        .post(app.at("/oauth2/token"))
        .form(&[("grant_type", "password"), ("client_id", "mobile")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
}

fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.at("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[tokio::test]
async fn authorize_errors_before_the_redirect_uri_is_known_good_are_pages() {
    let app = app().await;
    let browser = app.client();
    let base = [
        ("response_type", "code"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
    ];
    for extra in [
        vec![("client_id", "nobody"), ("redirect_uri", CUSTOM)],
        vec![
            ("client_id", "mobile"),
            ("redirect_uri", "https://evil.example/cb"),
        ],
        vec![
            ("client_id", "mobile"),
            ("redirect_uri", "com.example.app:/oauth/cb/x"),
        ],
        vec![
            ("client_id", "mobile"),
            ("redirect_uri", "http://localhost:5000/callback"),
        ],
        vec![("client_id", "mobile")],
        vec![
            ("client_id", "mobile"),
            ("redirect_uri", CUSTOM),
            ("redirect_uri", "https://evil.example/cb"),
        ],
    ] {
        let mut params = base.to_vec();
        params.extend(extra.iter().copied());
        let res = browser
            .get(authorize_url(&app, &params))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{extra:?}");
        assert!(res.headers().get("location").is_none(), "{extra:?}");
    }
}

#[tokio::test]
async fn authorize_errors_after_the_redirect_uri_go_back_to_the_app() {
    let app = app().await;
    let browser = app.client();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (vec![("code_challenge", CHALLENGE)], "invalid_request"),
        (vec![("code_challenge_method", "S256")], "invalid_request"),
        (
            vec![
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("scope", "admin"),
            ],
            "invalid_scope",
        ),
    ];
    for (extra, code) in cases {
        let mut params = vec![
            ("client_id", "mobile"),
            ("redirect_uri", CUSTOM),
            ("response_type", "code"),
            ("state", "xyz"),
        ];
        params.extend(extra.iter().copied());
        let res = browser
            .get(authorize_url(&app, &params))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{extra:?}");
        let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        assert!(loc.as_str().starts_with(CUSTOM), "{loc}");
        let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
        assert_eq!(q["error"], code, "{extra:?}");
        assert_eq!(q["state"], "xyz");
        assert!(!q.contains_key("code"));
    }
    let res = browser
        .get(authorize_url(
            &app,
            &[
                ("client_id", "mobile"),
                ("redirect_uri", CUSTOM),
                ("response_type", "token"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(loc.contains("error=unsupported_response_type"), "{loc}");
}

#[tokio::test]
async fn without_a_hint_the_email_page_and_a_signed_in_browser_goes_straight_back() {
    let app = app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let oauth = client(&app, "mobile", CUSTOM);
    let browser = app.client();
    let (url, _, _) = start(&oauth, None);
    let res = browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/?return_to=%2Foauth2%2Fresume"), "{loc}");
    // Sign in on the password page, then authorize again: no second sign-in.
    let res = common::password_login(
        &app,
        &browser,
        &[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (url, _, _) = start(&oauth, Some("carol@fabrikam.com"));
    let res = browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let resume = app.at(res.headers()["location"].to_str().unwrap());
    assert!(resume.contains("/oauth2/resume?request="), "{resume}");
    let q = code_from_resume(&browser, &resume, CUSTOM).await;
    assert!(q.contains_key("code"));
    // The same resume link again mints nothing.
    let res = browser.get(&resume).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_resume_link_opened_in_another_browser_mints_no_code() {
    let app = app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let oauth = client(&app, "mobile", CUSTOM);
    // The attacker starts a request (keeping the verifier) ...
    let attacker = app.client();
    let (url, _, _) = start(&oauth, Some("carol@fabrikam.com"));
    let html = attacker
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resume = hidden(&html, "return_to").unwrap();
    // ... and sends the resume link to carol, who is signed in.
    let victim = app.client();
    let res = common::password_login(
        &app,
        &victim,
        &[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = victim.get(&resume).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn metadata_and_jwks_describe_the_server() {
    let app = app().await;
    let m: serde_json::Value = reqwest::get(app.at("/.well-known/oauth-authorization-server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["issuer"], app.url);
    assert_eq!(m["token_endpoint"], app.at("/oauth2/token"));
    assert_eq!(m["authorization_endpoint"], app.at("/oauth2/authorize"));
    assert_eq!(m["jwks_uri"], app.at("/.well-known/jwks.json"));
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let (_, kid) = jwks_key(&app).await;
    assert!(!kid.is_empty());
    // The key survives a restart on the same data_dir.
    let pem = std::fs::read_to_string(app.data.join("oauth-signing-key.pem")).unwrap();
    let again = realmgate::oauth::TokenKeys::from_pem(&pem).unwrap();
    assert_eq!(again.kid(), kid);
}

#[tokio::test]
async fn refresh_tokens_belong_to_their_client_and_their_active_user() {
    let app = app().await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let http = backchannel();
    let oauth = client(&app, "mobile", CUSTOM);
    let other = client(&app, "other", CUSTOM);
    let exchange = |code: String, verifier: PkceCodeVerifier| {
        let oauth = oauth.clone();
        let http = http.clone();
        async move {
            oauth
                .exchange_code(AuthorizationCode::new(code))
                .set_pkce_verifier(verifier)
                .request_async(&http)
                .await
                .unwrap()
        }
    };
    // Revocation by another client leaves the token alone (RFC 7009 §2.1) ...
    let (code, verifier) = fresh_code(&app, &oauth, CUSTOM).await;
    let rt = exchange(code, verifier)
        .await
        .refresh_token()
        .unwrap()
        .clone();
    let res = http
        .post(app.at("/oauth2/revoke"))
        .form(&[("token", rt.secret().as_str()), ("client_id", "other")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // ... but presenting it as another client burns its family.
    refresh_is_refused(&other, &rt).await;
    refresh_is_refused(&oauth, &rt).await;

    // A disabled user's refresh token gets nothing more.
    let (code, verifier) = fresh_code(&app, &oauth, CUSTOM).await;
    let rt = exchange(code, verifier)
        .await
        .refresh_token()
        .unwrap()
        .clone();
    app.state
        .users
        .set_status(
            "fabrikam",
            &realmgate::discovery::Email::parse("carol@fabrikam.com").unwrap(),
            Status::Disabled,
        )
        .await
        .unwrap();
    refresh_is_refused(&oauth, &rt).await;
}

/// The metadata advertises what is served, and only that is granted: a scope nobody serves
/// is refused (`invalid_scope`) instead of granted and silently not honoured.
#[tokio::test]
async fn only_served_scopes_are_advertised_and_granted() {
    let app = app().await;
    let m: serde_json::Value = reqwest::get(app.at("/.well-known/oauth-authorization-server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        m["scopes_supported"],
        serde_json::json!(["openid", "profile", "email", "offline_access"])
    );
    let browser = app.client();
    for (scope, refused) in [
        ("email offline_access", false),
        ("openid", false),
        ("openid email profile", false),
        ("admin", true),
        ("openid phone", true),
    ] {
        let params = [
            ("client_id", "mobile"),
            ("redirect_uri", CUSTOM),
            ("response_type", "code"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", scope),
        ];
        let res = browser
            .get(authorize_url(&app, &params))
            .send()
            .await
            .unwrap();
        let loc = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            loc.starts_with(CUSTOM) && loc.contains("error=invalid_scope"),
            refused,
            "{scope}: {loc}"
        );
    }
}

/// A password reset ends the refresh tokens issued before it (the family began before the
/// user's sessions were ended), and not those of a login after it.
#[tokio::test]
async fn a_password_reset_ends_earlier_refresh_tokens() {
    use realmgate::session::{LinkClaim, Purpose};
    let app = app().await;
    let user = add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let http = backchannel();
    let oauth = client(&app, "mobile", CUSTOM);
    let (code, verifier) = fresh_code(&app, &oauth, CUSTOM).await;
    let tokens = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let rt = tokens.refresh_token().unwrap().clone();
    let claim = LinkClaim {
        user_id: user.id,
        account: "fabrikam".into(),
        purpose: Purpose::Reset,
        issued_at: chrono::Utc::now(),
    };
    let login = &app.state.login;
    let token = login
        .links
        .issue(&claim, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    login
        .set_password(
            &token,
            "battery staple",
            "battery staple",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    refresh_is_refused(&oauth, &rt).await;
}
