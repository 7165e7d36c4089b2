//! Attacks on our SingleLogoutService (`/saml/slo`): LogoutRequests and LogoutResponses
//! built here at test time and signed with the real test IdP's key (pysaml2's, generated
//! by `tests/common/idp.rs`) or with the attacker's key of `tests/testdata/saml`. Each is
//! refused with its reason and never ends alice's session; a well-formed control message
//! then does, so the refusals are not an endpoint that ends nothing.

mod common;

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use common::TestApp;
use common::idp::{Idp, through_idp};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

const SIG_ALG: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

fn attacker_key() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testdata/saml/attacker-key.pem"
    ))
    .unwrap()
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A LogoutRequest as an IdP sends it.
struct Request<'a> {
    id: String,
    issuer: &'a str,
    destination: String,
    name_id: &'a str,
    issued: DateTime<Utc>,
}

impl Request<'_> {
    fn xml(&self) -> String {
        format!(
            r#"<samlp:LogoutRequest xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}"><saml:Issuer>{}</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{}</saml:NameID></samlp:LogoutRequest>"#,
            self.id,
            instant(self.issued),
            self.destination,
            self.issuer,
            self.name_id
        )
    }
}

fn response_xml(id: &str, issuer: &str, destination: &str, in_response_to: &str) -> String {
    format!(
        r#"<samlp:LogoutResponse xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" ID="{id}" Version="2.0" IssueInstant="{}" Destination="{destination}" InResponseTo="{in_response_to}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
        instant(Utc::now())
    )
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The HTTP-Redirect binding of `xml` to `url`, query-signed with `key` (PEM) when given.
fn redirect(url: &str, param: &str, xml: &str, relay: Option<&str>, key: Option<&str>) -> String {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(xml.as_bytes()).unwrap();
    let mut query = format!("{param}={}", enc(&STANDARD.encode(z.finish().unwrap())));
    if let Some(r) = relay {
        query.push_str(&format!("&RelayState={}", enc(r)));
    }
    if let Some(key) = key {
        query.push_str(&format!("&SigAlg={}", enc(SIG_ALG)));
        let key = PKey::private_key_from_pem(key.as_bytes()).unwrap();
        let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
        let sig = signer.sign_oneshot_to_vec(query.as_bytes()).unwrap();
        query.push_str(&format!("&Signature={}", enc(&STANDARD.encode(sig))));
    }
    format!("{url}?{query}")
}

fn new_id() -> String {
    format!("_{}", realmgate::secrets::random_token().replace('-', "a"))
}

struct Setup {
    app: TestApp,
    idp: Idp,
    alice: reqwest::Client,
}

impl Setup {
    async fn start() -> Option<Setup> {
        let (app, idp) = common::idp::with_alice().await?;
        let alice = app.client();
        let res = through_idp(
            &app.url,
            &alice,
            "alice@contoso.com",
            Some("password"),
            None,
        )
        .await
        .submit(&alice)
        .await;
        assert_eq!(res.status(), 303);
        Some(Setup { app, idp, alice })
    }

    fn request(&self, name_id: &'static str) -> Request<'_> {
        Request {
            id: new_id(),
            issuer: &self.idp.entity_id,
            destination: self.app.at("/saml/slo"),
            name_id,
            issued: Utc::now(),
        }
    }

    /// GETs `url` as alice's browser; the status and the page.
    async fn get(&self, url: &str) -> (u16, String, Option<String>) {
        let res = self.alice.get(url).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (status, res.text().await.unwrap(), location)
    }

    async fn refused(&self, url: &str, code: &str) {
        let (status, page, _) = self.get(url).await;
        assert_eq!(status, 400, "{code}: {page}");
        assert!(
            page.contains(&format!("<code>{code}</code>")),
            "{code}: {page}"
        );
        assert!(self.alive().await, "{code}: the session ended");
    }

    /// `POST /logout`: the RelayState and the ID of our LogoutRequest to the IdP.
    async fn sign_out(&self) -> (String, String) {
        let csrf = common::csrf(&self.app, &self.alice).await;
        let res = self
            .alice
            .post(self.app.at("/logout"))
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        let to_idp = res.headers()["location"].to_str().unwrap().to_string();
        let relay = query_param(&to_idp, "RelayState").expect("RelayState");
        let request = inflate(&query_param(&to_idp, "SAMLRequest").unwrap());
        let start = request.find(" ID=\"").unwrap() + 5;
        let id = request[start..start + request[start..].find('"').unwrap()].to_string();
        (relay, id)
    }

    async fn alive(&self) -> bool {
        let res = self
            .alice
            .get(self.app.at("/auth/verify"))
            .send()
            .await
            .unwrap();
        res.status() == 200
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn inflate(b64: &str) -> String {
    let raw = STANDARD.decode(b64).unwrap();
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn forged_or_misdirected_logout_requests_are_refused() {
    let Some(s) = Setup::start().await else {
        return;
    };
    let slo = s.app.at("/saml/slo");
    let key = s.idp.key_pem();
    let send = |r: &Request<'_>, key: Option<&str>| {
        redirect(&slo, "SAMLRequest", &r.xml(), Some("rs"), key)
    };
    let alice = s.request("alice@contoso.com");
    // No signature at all, in either binding.
    s.refused(&send(&alice, None), "signature_missing").await;
    let res = s
        .alice
        .post(&slo)
        .form(&[("SAMLRequest", STANDARD.encode(alice.xml()))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("<code>signature_missing</code>")
    );
    // Signed, but with a key the IdP's metadata does not have.
    s.refused(&send(&alice, Some(&attacker_key())), "signature_invalid")
        .await;
    // Signed by the IdP, but meant for another SP.
    let elsewhere = Request {
        destination: "https://other-sp.example/saml/slo".into(),
        ..s.request("alice@contoso.com")
    };
    s.refused(&send(&elsewhere, Some(&key)), "destination_mismatch")
        .await;
    // An issuer no tenant has.
    let stranger = Request {
        issuer: "https://stranger.example/idp",
        ..s.request("alice@contoso.com")
    };
    s.refused(&send(&stranger, Some(&attacker_key())), "unknown_issuer")
        .await;
    // Issued an hour ago (captured and held back).
    let old = Request {
        issued: Utc::now() - Duration::hours(1),
        ..s.request("alice@contoso.com")
    };
    s.refused(&send(&old, Some(&key)), "expired").await;
    // A DOCTYPE, even signed: refused before anything else reads it.
    let doctype = format!("<!DOCTYPE r [<!ENTITY a \"alice\">]>{}", alice.xml());
    let url = redirect(&slo, "SAMLRequest", &doctype, None, Some(&key));
    s.refused(&url, "dtd_forbidden").await;
    // Oversize: refused on its size, before base64 or the parser.
    let big = "A".repeat(200 * 1024);
    let res = s
        .alice
        .post(&slo)
        .form(&[("SAMLRequest", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("<code>too_large</code>"));
    assert!(s.alive().await);

    // The control: the same request, properly signed, ends the session.
    let valid = send(&alice, Some(&key));
    let (status, page, location) = s.get(&valid).await;
    assert_eq!(status, 302, "{page}");
    let answer = location.unwrap();
    assert!(answer.starts_with(&format!("{}/slo/redirect?", s.idp.base_url)));
    assert_eq!(query_param(&answer, "RelayState").as_deref(), Some("rs"));
    assert!(!s.alive().await);
    // Replayed: refused (its ID is spent).
    let (status, page, _) = s.get(&valid).await;
    assert_eq!(status, 400);
    assert!(page.contains("<code>replayed_assertion</code>"), "{page}");
}

/// The Status of our LogoutResponse to the LogoutRequest at `url`: everything of the
/// answer but its IDs and times.
async fn status_of_answer(s: &Setup, url: &str) -> String {
    let (status, page, location) = s.get(url).await;
    assert_eq!(status, 302, "{page}");
    let xml = inflate(&query_param(&location.unwrap(), "SAMLResponse").unwrap());
    let start = xml.find("<samlp:Status>").unwrap();
    xml[start..].to_string()
}

#[tokio::test]
async fn an_unknown_name_id_is_answered_like_a_known_one() {
    let Some(s) = Setup::start().await else {
        return;
    };
    let key = s.idp.key_pem();
    let slo = s.app.at("/saml/slo");
    let nobody = s.request("nobody@contoso.com");
    let unknown = status_of_answer(
        &s,
        &redirect(&slo, "SAMLRequest", &nobody.xml(), None, Some(&key)),
    )
    .await;
    assert!(
        s.alive().await,
        "another principal's request ended alice's session"
    );
    let alice = s.request("alice@contoso.com");
    let known = status_of_answer(
        &s,
        &redirect(&slo, "SAMLRequest", &alice.xml(), None, Some(&key)),
    )
    .await;
    assert_eq!(unknown, known);
    assert!(known.contains("status:Success"), "{known}");
    assert!(!s.alive().await);
}

#[tokio::test]
async fn a_logout_response_must_answer_this_browsers_request() {
    let Some(s) = Setup::start().await else {
        return;
    };
    let (relay, request_id) = s.sign_out().await;
    let request_id = request_id.as_str();
    let key = s.idp.key_pem();
    let slo = s.app.at("/saml/slo");
    let answer = |irt: &str, key: &str| {
        redirect(
            &slo,
            "SAMLResponse",
            &response_xml(&new_id(), &s.idp.entity_id, &slo, irt),
            Some(&relay),
            Some(key),
        )
    };
    // Another request's answer, signed by the IdP: refused, and the pending logout is spent
    // (a guessed answer does not get a second try).
    let (status, page, _) = s.get(&answer("_someone-elses-request", &key)).await;
    assert_eq!(status, 400);
    assert!(
        page.contains("<code>in_response_to_mismatch</code>"),
        "{page}"
    );
    let (status, page, _) = s.get(&answer(request_id, &key)).await;
    assert_eq!(status, 400);
    assert!(page.contains("<code>no_pending_request</code>"), "{page}");
}

#[tokio::test]
async fn a_logout_response_from_another_browser_or_key_is_refused() {
    let Some(s) = Setup::start().await else {
        return;
    };
    let (relay, request_id) = s.sign_out().await;
    let request_id = request_id.as_str();
    let slo = s.app.at("/saml/slo");
    let answer = |key: &str| {
        redirect(
            &slo,
            "SAMLResponse",
            &response_xml(&new_id(), &s.idp.entity_id, &slo, request_id),
            Some(&relay),
            Some(key),
        )
    };
    let valid = answer(&s.idp.key_pem());
    // Another browser: refused without spending this browser's pending logout.
    let res = s.app.client().get(&valid).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("request_from_other_browser")
    );
    // The attacker's key: refused.
    let (status, page, _) = s.get(&answer(&attacker_key())).await;
    assert_eq!(status, 400);
    assert!(page.contains("<code>signature_invalid</code>"), "{page}");
}
