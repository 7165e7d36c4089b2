//! The console's Single Sign-On section and Test SSO over the real gateway: what the IdP
//! administrator needs is shown; a save goes through the management API's tenant
//! operation (checked like `check`, whole or not at all, audited with the admin); a file
//! tenant is read-only; saving needs a recent sign-in; a Test SSO runs a real round trip
//! through the pysaml2 IdP and ends in a result bound to the admin's session, never in a
//! session or an account. (Every route is also in tests/console.rs's cross-account and CSRF
//! loops, which read the routes from src/web/mod.rs.)

mod common;

use chrono::{Duration, Utc};
use common::console::{Signed, events, sign_in};
use common::idp::{Idp, test_sso, use_idp};
use common::{TestApp, add_user, spawn_app, unescape};
use realmgate::accounts::{Status, User};
use realmgate::admin::Actor;
use realmgate::discovery::{Email, JitPolicy, SsoSettings};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::json;

/// The example IdP's signing certificate as Entra's "Certificate (Base64)" file gives it.
fn entra_pem() -> String {
    let md = common::example_idp_metadata();
    let start = md.find("<X509Certificate>").unwrap() + "<X509Certificate>".len();
    let b64 = &md[start..start + md[start..].find('<').unwrap()];
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\r\n{}\r\n-----END CERTIFICATE-----\r\n",
        lines.join("\r\n")
    )
}

/// The database tenant `litware` (password login until its admin sets SSO) and its admin.
async fn litware(app: &TestApp) -> User {
    app.state
        .tenant_admin
        .create(
            &Actor::Cli,
            json!({"account": "litware", "name": "Litware", "domains": ["litware.com"]}),
        )
        .await
        .unwrap();
    add_user(
        app,
        "litware",
        "boss@litware.com",
        None,
        true,
        Status::Active,
    )
    .await
}

async fn stored_sso(app: &TestApp, account: &str) -> Option<SsoSettings> {
    app.state
        .tenant_admin
        .get(account)
        .await
        .unwrap()
        .sso
        .clone()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()[LOCATION].to_str().unwrap().to_string()
}

/// The Entra settings of the example IdP, as an admin types them.
fn entra_form(pem: &str) -> Vec<(&'static str, String)> {
    vec![
        ("protocol", "saml2".into()),
        ("button", "Log In with Litware".into()),
        ("jit", "waiting_room".into()),
        (
            "issuer",
            "https://sts.windows.net/00000000-0000-0000-0000-000000000000/".into(),
        ),
        (
            "sso_url",
            "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/saml2".into(),
        ),
        ("certificate", pem.to_string()),
    ]
}

async fn save(me: &Signed, app: &TestApp, form: &[(&'static str, String)]) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    me.post(app, &format!("/{}/admin/sso", me.session.account), &fields)
        .await
}

/// A `multipart/form-data` upload of `file` as the metadata form sends it.
async fn upload(me: &Signed, app: &TestApp, csrf: &str, file: &str) -> reqwest::Response {
    let boundary = "----realmgate-sso-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"federationmetadata.xml\"\r\nContent-Type: text/xml\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    me.client
        .post(app.at(&format!("/{}/admin/sso/metadata", me.session.account)))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_section_shows_what_entra_needs_and_the_fail_safe_url() {
    let app = spawn_app(|_| {}).await;
    let boss = litware(&app).await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let (status, html) = me.get(&app, "/litware/admin/sso").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let html = unescape(&html);
    let sp = &app.state.login.sp;
    let config = &app.state.config;
    for (id, value) in [
        ("sp-entity-id", sp.entity_id.clone()),
        ("sp-reply-url", sp.acs_urls()[0].clone()),
        ("sp-sign-on-url", config.url("/litware")),
        ("fail-safe-url", config.url("/litware/no-sso")),
    ] {
        assert!(
            html.contains(&format!("<code id=\"{id}\">{value}</code>")),
            "{id}: {html}"
        );
        // A copy button for it, hidden until the script shows it (works without it).
        assert!(html.contains(&format!("data-copy=\"{id}\"")), "{id}");
    }
    assert!(html.contains(&config.url("/saml/metadata")));
    assert!(html.contains("<script src=\"/static/copy.js\" defer></script>"));
    assert!(html.contains("id=\"protocol-password\" value=\"password\" checked"));
    // Password login: there is nothing to test yet.
    assert!(!html.contains("id=\"test-form\""));
    let js = app
        .client()
        .get(app.at("/static/copy.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.unwrap().contains("navigator.clipboard"));
    // The nav names the section, in French too.
    let res = me
        .client
        .get(app.at("/litware/admin/sso"))
        .header("accept-language", "fr-CA,fr;q=0.9")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("URL de secours") && html.contains("Authentification unique"));
}

#[tokio::test]
async fn a_save_is_the_tenant_operation_audited_with_the_admin() {
    let app = spawn_app(|_| {}).await;
    let boss = litware(&app).await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let res = save(&me, &app, &entra_form(&entra_pem())).await;
    assert_eq!(location(&res), "/litware/admin/sso?done=saved");
    let sso = stored_sso(&app, "litware").await.expect("SSO now");
    assert_eq!(
        sso.issuer.as_deref(),
        Some("https://sts.windows.net/00000000-0000-0000-0000-000000000000/")
    );
    assert_eq!(sso.button, "Log In with Litware");
    assert_eq!(sso.jit, JitPolicy::WaitingRoom);
    assert_eq!(sso.certificate.len(), 1);
    let last = events(&app, "litware").await.pop().unwrap();
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.target.as_str()
        ),
        ("user:boss@litware.com", "tenant_changed", "litware")
    );
    assert!(last.before.unwrap().get("sso").is_none());
    assert_eq!(
        last.after.unwrap()["sso"]["issuer"],
        "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"
    );
    // The page shows it: the IdP in force, its certificate's expiry, and Test SSO.
    let (_, html) = me.get(&app, "/litware/admin/sso?done=saved").await;
    assert!(html.contains("id=\"notice\""), "{html}");
    assert!(html.contains("expires on"), "{html}");
    assert!(html.contains("id=\"test-form\"") && html.contains("target=\"_blank\""));
    // Back to passwords: the [sso] table goes.
    let res = me
        .post(&app, "/litware/admin/sso", &[("protocol", "password")])
        .await;
    assert_eq!(location(&res), "/litware/admin/sso?done=saved");
    assert!(stored_sso(&app, "litware").await.is_none());
}

#[tokio::test]
async fn a_broken_configuration_is_refused_with_its_problems_and_nothing_changes() {
    let app = spawn_app(|_| {}).await;
    let boss = litware(&app).await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    save(&me, &app, &entra_form(&entra_pem())).await;
    let before = stored_sso(&app, "litware").await;
    let count = events(&app, "litware").await.len();

    // A certificate that is not one: the IdP check refuses it.
    let mut broken = entra_form("this is not a certificate");
    broken[1].1 = "A new label".into();
    let res = save(&me, &app, &broken).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = unescape(&res.text().await.unwrap());
    assert!(html.contains("id=\"problems\""), "{html}");
    assert!(html.contains("identity provider"), "{html}");
    // The form comes back as typed.
    assert!(
        html.contains(">this is not a certificate</textarea>"),
        "{html}"
    );
    assert!(html.contains("value=\"A new label\""));

    // A value the tenant file does not take, and a metadata URL that is not https, at once.
    let mut broken = entra_form(&entra_pem());
    broken[2].1 = "sometimes".into();
    let res = save(&me, &app, &broken).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("sometimes"));
    let res = me
        .post(
            &app,
            "/litware/admin/sso",
            &[
                ("protocol", "saml2"),
                ("idp_metadata_url", "http://login.example/metadata.xml"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("https"));

    // Nothing was applied, nothing recorded.
    assert_eq!(stored_sso(&app, "litware").await, before);
    assert_eq!(events(&app, "litware").await.len(), count);
}

#[tokio::test]
async fn a_file_tenant_is_shown_read_only_naming_its_file() {
    let app = spawn_app(|_| {}).await;
    let boss = add_user(
        &app,
        "contoso",
        "boss@contoso.com",
        None,
        true,
        Status::Active,
    )
    .await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let (status, html) = me.get(&app, "/contoso/admin/sso").await;
    assert_eq!(status, StatusCode::OK);
    let html = unescape(&html);
    assert!(html.contains("id=\"read-only\""), "{html}");
    assert!(html.contains("contoso.toml"), "{html}");
    assert!(html.contains("contoso.idp.xml"), "{html}");
    assert!(html.contains("<fieldset id=\"settings\" disabled>"));
    assert!(!html.contains("id=\"save\"") && !html.contains("id=\"metadata-form\""));
    // Its IdP as in force, with the certificate's expiry; Test SSO works for it too.
    assert!(html.contains("expires on") && html.contains("id=\"test-form\""));

    let file = std::fs::read_to_string(app.domains.join("contoso.toml")).unwrap();
    let count = events(&app, "contoso").await.len();
    let res = save(&me, &app, &entra_form(&entra_pem())).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("managed_in_file"));
    let res = upload(&me, &app, &me.session.csrf, &common::example_idp_metadata()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        std::fs::read_to_string(app.domains.join("contoso.toml")).unwrap(),
        file
    );
    assert_eq!(events(&app, "contoso").await.len(), count);
}

#[tokio::test]
async fn saving_needs_a_sign_in_of_the_last_15_minutes() {
    let app = spawn_app(|_| {}).await;
    let boss = litware(&app).await;
    let stale = sign_in(&app, &boss, Utc::now() - Duration::minutes(20)).await;
    assert_eq!(
        stale.get(&app, "/litware/admin/sso").await.0,
        StatusCode::OK
    );
    let count = events(&app, "litware").await.len();
    let res = save(&stale, &app, &entra_form(&entra_pem())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = unescape(&res.text().await.unwrap());
    assert!(html.contains("reauthentication_required"), "{html}");
    assert!(html.contains("href=\"/litware?return_to=%2Flitware%2Fadmin%2Fsso\""));
    let res = upload(
        &stale,
        &app,
        &stale.session.csrf,
        &common::example_idp_metadata(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(stored_sso(&app, "litware").await.is_none());
    assert_eq!(events(&app, "litware").await.len(), count);
}

#[tokio::test]
async fn federation_metadata_is_uploaded_and_kept_by_later_saves() {
    let app = spawn_app(|_| {}).await;
    let boss = litware(&app).await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    // A forged token costs the upload: nothing stored.
    let res = upload(&me, &app, "forged", &common::example_idp_metadata()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(stored_sso(&app, "litware").await.is_none());
    // A document that is no metadata: refused with the problem, nothing stored.
    let res = upload(&me, &app, &me.session.csrf, "<html>no</html>").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(stored_sso(&app, "litware").await.is_none());

    let res = upload(&me, &app, &me.session.csrf, &common::example_idp_metadata()).await;
    assert_eq!(location(&res), "/litware/admin/sso?done=metadata_saved");
    let tenant = app.state.tenant_admin.get("litware").await.unwrap();
    assert!(tenant.stored_idp_metadata.is_some());
    let last = events(&app, "litware").await.pop().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("user:boss@litware.com", "tenant_metadata_changed")
    );
    let (_, html) = me.get(&app, "/litware/admin/sso").await;
    assert!(html.contains("id=\"uploaded\""), "{html}");
    // The label and JIT policy change; the IdP fields left empty keep the document.
    let res = me
        .post(
            &app,
            "/litware/admin/sso",
            &[
                ("protocol", "saml2"),
                ("button", "Sign in"),
                ("jit", "deny"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/litware/admin/sso?done=saved");
    let tenant = app.state.tenant_admin.get("litware").await.unwrap();
    assert!(tenant.stored_idp_metadata.is_some());
    let sso = tenant.sso.clone().unwrap();
    assert_eq!((sso.button.as_str(), sso.jit), ("Sign in", JitPolicy::Deny));
}

#[tokio::test]
async fn test_sso_shows_the_claims_and_signs_nobody_in() {
    let app = spawn_app(|_| {}).await;
    let sp_metadata = app
        .client()
        .get(app.at("/saml/metadata"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let Some(idp) = Idp::start(&sp_metadata, &[]) else {
        return;
    };
    // JIT would create anyone: a test must still create nobody.
    use_idp(&app, &idp, "create").await;
    let boss = add_user(
        &app,
        "contoso",
        "boss@contoso.com",
        None,
        true,
        Status::Active,
    )
    .await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let window = me.window(&app);

    let res = test_sso(&app, &me, &window, "alice@contoso.com").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("realmgate_session=")),
        "a test opens no session"
    );
    let result = location(&res);
    assert!(result.starts_with("/contoso/admin/sso/test/"), "{result}");
    let res = window.get(app.at(&result)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = unescape(&res.text().await.unwrap());
    assert!(html.contains("id=\"test-passed\""), "{html}");
    assert!(html.contains("<code id=\"code\">test_passed</code>"));
    assert!(
        html.contains("<dd id=\"claim-email\">alice@contoso.com</dd>"),
        "{html}"
    );
    assert!(html.contains(&format!("<dd id=\"claim-issuer\">{}</dd>", idp.entity_id)));
    assert!(html.contains("id=\"claim-name-id\""));
    assert!(html.contains("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"));
    assert!(html.contains("Alice Anderson"), "the attributes: {html}");
    // Nobody was created, and the window is still the admin's.
    let alice = Email::parse("alice@contoso.com").unwrap();
    assert!(
        app.state
            .users
            .by_email("contoso", &alice)
            .await
            .unwrap()
            .is_none()
    );
    let home = window.get(app.at("/contoso/admin")).send().await.unwrap();
    assert!(home.text().await.unwrap().contains("boss@contoso.com"));
    // The login traces show a test.
    let traces = app
        .state
        .login
        .traces
        .list("contoso", 10, Utc::now())
        .await
        .unwrap();
    assert_eq!(traces[0].code, "test_passed");
    // The result is this session's: another session of the same admin finds nothing.
    let other = sign_in(&app, &boss, Utc::now()).await;
    assert_eq!(other.get(&app, &result).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        me.get(&app, "/contoso/admin/sso/test/unknown").await.0,
        StatusCode::NOT_FOUND
    );

    // A refusal is a result too, with the code and the precise reason of the trace.
    let res = test_sso(&app, &me, &window, "mallory@fabrikam.com").await;
    let result = location(&res);
    assert!(result.starts_with("/contoso/admin/sso/test/"), "{result}");
    let html = unescape(
        &window
            .get(app.at(&result))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(html.contains("id=\"test-failed\""), "{html}");
    assert!(html.contains("<code id=\"code\">email_outside_tenant</code>"));
    assert!(html.contains("id=\"reason\""));
    let mallory = Email::parse("mallory@fabrikam.com").unwrap();
    assert!(
        app.state
            .users
            .by_email("contoso", &mallory)
            .await
            .unwrap()
            .is_none()
    );

    // A password tenant has nothing to test.
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
    let res = fab.post(&app, "/fabrikam/admin/sso/test", &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// The console's settings form naming the IdP by its Federation Metadata URL.
fn url_form(protocol: &str, url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("protocol", protocol.into()),
        ("button", "Log In with Litware".into()),
        ("jit", "deny".into()),
        ("idp_metadata_url", url.into()),
    ]
}

/// A Federation Metadata URL (issue #14) is fetched and checked as it is saved: one that
/// gives no usable IdP comes back as the form, as typed, with `check`'s reason naming
/// `idp_metadata_url`, nothing changed nor audited; an accepted one shows the IdP it
/// names and its certificates' expiry (one expiring within 30 days flagged), from the copy
/// the logins now use, with no second fetch.
#[tokio::test]
async fn a_metadata_url_is_fetched_and_checked_when_saved() {
    let idp = common::metadata::federation_idp().await;
    let ca = idp.ca.clone();
    let app = spawn_app(move |c| {
        c.idp_metadata_ca = Some(ca);
        c.allow_private_idp_urls = true;
    })
    .await;
    let boss = litware(&app).await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let count = events(&app, "litware").await.len();
    for (protocol, path, reason) in [
        ("saml2", "/gone.xml", "HTTP 404"),
        (
            "saml2",
            "/sp.xml",
            "no EntityDescriptor with a SAML 2.0 IDPSSODescriptor",
        ),
        ("wsfed", "/saml.xml", "fed:SecurityTokenServiceType"),
    ] {
        let url = idp.url(path);
        let res = save(&me, &app, &url_form(protocol, &url)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let html = unescape(&res.text().await.unwrap());
        assert!(
            html.contains("id=\"problems\"")
                && html.contains("<li>idp_metadata_url: IdP metadata unavailable:")
                && html.contains(reason),
            "{path}: {html}"
        );
        // The form as typed.
        assert!(html.contains(&format!("value=\"{url}\"")), "{html}");
        assert!(html.contains("value=\"Log In with Litware\""), "{html}");
        assert!(html.contains(&format!(
            "id=\"protocol-{protocol}\" value=\"{protocol}\" checked"
        )));
    }
    assert!(stored_sso(&app, "litware").await.is_none());
    assert_eq!(events(&app, "litware").await.len(), count);

    let url = idp.url("/soon.xml");
    let res = save(&me, &app, &url_form("saml2", &url)).await;
    assert_eq!(location(&res), "/litware/admin/sso?done=metadata_fetched");
    let sso = stored_sso(&app, "litware").await.expect("SSO now");
    assert_eq!(sso.idp_metadata_url.map(|u| u.to_string()), Some(url));
    let last = events(&app, "litware").await.pop().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("user:boss@litware.com", "tenant_changed")
    );
    let hits = idp.hits();
    let (status, html) = me
        .get(&app, "/litware/admin/sso?done=metadata_fetched")
        .await;
    assert_eq!(status, StatusCode::OK);
    let html = unescape(&html);
    assert!(html.contains("fetched from its URL and checked"), "{html}");
    assert!(
        html.contains("<code>https://sts.windows.net/00000000-0000-0000-0000-000000000000/</code>"),
        "{html}"
    );
    assert!(
        html.contains("expires on") && html.contains("expires within 30 days"),
        "{html}"
    );
    assert_eq!(idp.hits(), hits, "the page fetched the metadata again");
    // In French too.
    let res = me
        .client
        .get(app.at("/litware/admin/sso?done=metadata_fetched"))
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap();
    assert!(unescape(&res.text().await.unwrap()).contains("lues à leur URL et vérifiées"));

    // WS-Federation with AD FS's document: its STS role.
    let res = save(&me, &app, &url_form("wsfed", &idp.url("/sts.xml"))).await;
    assert_eq!(location(&res), "/litware/admin/sso?done=metadata_fetched");
    let (_, html) = me.get(&app, "/litware/admin/sso").await;
    assert!(
        unescape(&html).contains("<code>http://adfs.contoso.com/adfs/services/trust</code>"),
        "{html}"
    );
}
