//! Logout messages arriving at our SingleLogoutService: decoded from either binding into a
//! [`Received`] (sizes bounded before and after inflating, one of each parameter), then
//! [`verify`]: nothing of a message is believed before its signature checked out with the
//! tenant IdP's metadata keys, and everything read afterwards comes from signed bytes.

use std::io::Read;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use libxml::tree::{Document, Node};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;

use super::MESSAGE_LIFETIME;
use crate::saml::error::{SamlError, malformed, unsupported};
use crate::saml::metadata::IdpMetadata;
use crate::saml::profile::{check_status, has_unicode_space, time_attr};
use crate::saml::signature::{Scan, check_signature_shape, verify as verify_xml};
use crate::saml::xml::{self, NS_ASSERTION, NS_PROTOCOL, b64_engine};

/// Largest logout message accepted, as base64 and as XML (logout messages are a few
/// hundred bytes). The bound after inflating is what stops a deflate bomb: a few KB of
/// query can inflate to megabytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The digest of a query signature algorithm we accept (bindings 3.4.4.1): RSA with SHA-2
/// only, never SHA-1.
fn query_digest(sig_alg: &str) -> Option<MessageDigest> {
    match sig_alg {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Some(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Some(MessageDigest::sha384()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

/// Which message arrived, by its parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SAMLRequest`: the IdP asks us to end a principal's sessions.
    Request,
    /// `SAMLResponse`: the IdP answers our LogoutRequest.
    Response,
}

impl Kind {
    fn root(self) -> &'static str {
        match self {
            Kind::Request => "LogoutRequest",
            Kind::Response => "LogoutResponse",
        }
    }
}

/// The HTTP-Redirect binding's signature: the octets it covers, rebuilt from the query's
/// own encoded values in the order of bindings 3.4.4.1, and the signature over them.
#[derive(Debug, Clone)]
struct QuerySignature {
    signed: String,
    sig_alg: String,
    signature: Vec<u8>,
}

/// How the message came.
#[derive(Debug, Clone)]
enum Binding {
    /// HTTP-Redirect; `None` when the query carried no `SigAlg`/`Signature`.
    Redirect(Option<QuerySignature>),
    /// HTTP-POST: the signature is in the XML.
    Post,
}

/// A logout message as it arrived: decoded, not yet trusted.
#[derive(Debug, Clone)]
pub struct Received {
    kind: Kind,
    xml: String,
    relay_state: Option<String>,
    binding: Binding,
}

impl Received {
    /// From the raw query string of an HTTP-Redirect binding GET.
    pub fn from_query(raw_query: &str) -> Result<Self, SamlError> {
        if raw_query.len() > 2 * MAX_MESSAGE_BYTES {
            return Err(SamlError::TooLarge(raw_query.len()));
        }
        let mut raw: [Option<&str>; 5] = [None; 5];
        const NAMES: [&str; 5] = [
            "SAMLRequest",
            "SAMLResponse",
            "RelayState",
            "SigAlg",
            "Signature",
        ];
        for part in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            if let Some(i) = NAMES.iter().position(|n| *n == name)
                && raw[i].replace(value).is_some()
            {
                // Which copy was signed and which is read would be a guess.
                return Err(malformed(format!("{name} given twice")));
            }
        }
        let [request, response, relay, sig_alg, signature] = raw;
        let (kind, name, message) = match (request, response) {
            (Some(m), None) => (Kind::Request, "SAMLRequest", m),
            (None, Some(m)) => (Kind::Response, "SAMLResponse", m),
            _ => {
                return Err(malformed(
                    "need exactly one of SAMLRequest and SAMLResponse",
                ));
            }
        };
        let decoded = |v: &str| -> String {
            form_urlencoded::parse(format!("v={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let query_signature = match (sig_alg, signature) {
            (Some(alg), Some(sig)) => {
                let mut signed = format!("{name}={message}");
                if let Some(r) = relay {
                    signed.push_str(&format!("&RelayState={r}"));
                }
                signed.push_str(&format!("&SigAlg={alg}"));
                let signature = b64_engine()
                    .decode(compact(&decoded(sig)))
                    .map_err(|e| malformed(format!("Signature is not base64: {e}")))?;
                Some(QuerySignature {
                    signed,
                    sig_alg: decoded(alg),
                    signature,
                })
            }
            _ => None,
        };
        let deflated = base64(&decoded(message))?;
        Ok(Self {
            kind,
            xml: inflate(&deflated)?,
            relay_state: relay.map(decoded),
            binding: Binding::Redirect(query_signature),
        })
    }

    /// From the form fields of an HTTP-POST binding.
    pub fn from_post(
        saml_request: Option<&str>,
        saml_response: Option<&str>,
        relay_state: Option<&str>,
    ) -> Result<Self, SamlError> {
        let (request, response) = (
            saml_request.filter(|v| !v.is_empty()),
            saml_response.filter(|v| !v.is_empty()),
        );
        let (kind, message) = match (request, response) {
            (Some(m), None) => (Kind::Request, m),
            (None, Some(m)) => (Kind::Response, m),
            _ => {
                return Err(malformed(
                    "need exactly one of SAMLRequest and SAMLResponse",
                ));
            }
        };
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(SamlError::TooLarge(message.len()));
        }
        let bytes = base64(message)?;
        Ok(Self {
            kind,
            xml: String::from_utf8(bytes).map_err(|_| malformed("message is not UTF-8"))?,
            relay_state: relay_state.map(str::to_string),
            binding: Binding::Post,
        })
    }

    /// Request or response.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The RelayState, as given.
    pub fn relay_state(&self) -> Option<&str> {
        self.relay_state.as_deref()
    }

    /// The Issuer the message claims, unverified: only to choose whose keys [`verify`]
    /// tries. A message that does not parse is refused for its reason (a DOCTYPE is
    /// logged as one).
    pub fn issuer(&self) -> Result<Option<String>, SamlError> {
        let doc = xml::parse(self.xml.as_bytes())?;
        Ok(issuer_of(&xml::root(&doc)?).filter(|s| !s.is_empty()))
    }
}

fn compact(s: &str) -> Vec<u8> {
    s.bytes().filter(|b| !b.is_ascii_whitespace()).collect()
}

fn base64(s: &str) -> Result<Vec<u8>, SamlError> {
    let bytes = b64_engine()
        .decode(compact(s))
        .map_err(|e| malformed(format!("message is not base64: {e}")))?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(SamlError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Raw DEFLATE (bindings 3.4.4.1), stopping one byte past the limit.
fn inflate(deflated: &[u8]) -> Result<String, SamlError> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(deflated)
        .take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| malformed(format!("SAMLRequest is not DEFLATE: {e}")))?;
    if out.len() > MAX_MESSAGE_BYTES {
        return Err(SamlError::TooLarge(out.len()));
    }
    String::from_utf8(out).map_err(|_| malformed("message is not UTF-8"))
}

/// What the message must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The tenant's IdP: its entity ID is the only Issuer, its signing keys the only keys.
    pub idp: &'a IdpMetadata,
    /// Our SingleLogoutService URL: the only Destination.
    pub slo_url: &'a str,
    /// Clock difference tolerated.
    pub skew: Duration,
}

/// A verified LogoutRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// Its ID: the replay-cache key and our answer's `InResponseTo`.
    pub id: String,
    /// The IdP's entity ID.
    pub issuer: String,
    /// The principal whose sessions end.
    pub name_id: String,
    /// The IdP sessions that end; every session of the principal when empty.
    pub session_indexes: Vec<String>,
}

/// A verified LogoutResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedResponse {
    /// Its ID: the replay-cache key.
    pub id: String,
    /// The IdP's entity ID.
    pub issuer: String,
    /// The LogoutRequest it answers (the caller compares it with its pending one).
    pub in_response_to: Option<String>,
    /// The IdP's status: `Err` when not Success (its session may live on).
    pub status: Result<(), SamlError>,
}

/// A verified logout message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// An IdP-initiated LogoutRequest.
    Request(VerifiedRequest),
    /// The answer to ours.
    Response(VerifiedResponse),
}

/// Checks `received` against `expected` at `now`; see the module text for the order.
pub fn verify(
    received: &Received,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Verified, SamlError> {
    if expected.idp.certs.is_empty() {
        return Err(SamlError::NoCertificate);
    }
    // 1. One strict parse: plain UTF-8, bounded complexity, no DTD.
    let doc = xml::parse(received.xml.as_bytes())?;
    let root = xml::root(&doc)?;
    // 2. The element its parameter promised, SAML 2.0.
    let want = received.kind.root();
    if !xml::is(&root, NS_PROTOCOL, want) {
        return Err(malformed(format!("root element is not samlp:{want}")));
    }
    if root.get_attribute("Version").as_deref() != Some("2.0") {
        return Err(malformed(format!("{want} Version is not 2.0")));
    }
    let scan = Scan::of(&root);
    scan.unique_ids()?;
    // 3. The signature, with the metadata keys only; then only signed bytes are read.
    let verified_doc: Option<Document>;
    let message: Node = match &received.binding {
        Binding::Redirect(None) => return Err(SamlError::SignatureMissing),
        Binding::Redirect(Some(qs)) => {
            verify_query(qs, expected.idp)?;
            verified_doc = None;
            root.clone()
        }
        Binding::Post => {
            let sig = match scan.signatures.as_slice() {
                [] => return Err(SamlError::SignatureMissing),
                [one] => one,
                many => {
                    return Err(SamlError::SignatureShape(format!(
                        "{} signatures in a logout message",
                        many.len()
                    )));
                }
            };
            check_signature_shape(sig, &[&root])?;
            let canonical = verify_xml(&received.xml, expected.idp)?;
            verified_doc = Some(xml::parse(canonical.as_bytes())?);
            let v = xml::root(verified_doc.as_ref().ok_or(SamlError::SignatureMissing)?)?;
            if !xml::is(&v, NS_PROTOCOL, want) || v.get_attribute("ID") != root.get_attribute("ID")
            {
                return Err(SamlError::SignatureInvalid(
                    "the verified element is not this message".into(),
                ));
            }
            v
        }
    };
    let _keep_alive = &verified_doc;
    // 4. Whose, for whom, when.
    let id = message
        .get_attribute("ID")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| malformed(format!("{want} has no ID")))?;
    let issuer = issuer_of(&message).unwrap_or_default();
    if issuer != expected.idp.entity_id {
        return Err(SamlError::IssuerMismatch {
            expected: expected.idp.entity_id.clone(),
            found: issuer,
        });
    }
    // A signed message names where it is meant for (bindings 3.4.5.2, 3.5.5.2): one meant
    // for another SP must not work here.
    let destination = message.get_attribute("Destination").unwrap_or_default();
    if destination != expected.slo_url {
        return Err(SamlError::DestinationMismatch(destination));
    }
    let skew = chrono::Duration::from_std(expected.skew).unwrap_or_default();
    let lifetime = chrono::Duration::from_std(MESSAGE_LIFETIME).unwrap_or_default();
    let issued = time_attr(&message, "IssueInstant")?
        .ok_or_else(|| malformed(format!("{want} has no IssueInstant")))?;
    if issued > now + skew {
        return Err(SamlError::NotYetValid(format!("IssueInstant {issued}")));
    }
    if issued + lifetime + skew < now {
        return Err(SamlError::Expired(format!("IssueInstant {issued}")));
    }
    // 5. What it says.
    match received.kind {
        Kind::Request => {
            if let Some(noa) = time_attr(&message, "NotOnOrAfter")?
                && now >= noa + skew
            {
                return Err(SamlError::Expired(format!("NotOnOrAfter {noa}")));
            }
            if xml::child(&message, NS_ASSERTION, "EncryptedID").is_some() {
                return Err(unsupported("EncryptedID in a LogoutRequest"));
            }
            let name_id = xml::child(&message, NS_ASSERTION, "NameID")
                .and_then(|n| xml::trimmed_text(&n))
                .filter(|n| !n.is_empty())
                .ok_or_else(|| malformed("LogoutRequest has no NameID"))?;
            if has_unicode_space(&name_id) {
                return Err(SamlError::UnicodeSpace("NameID".into()));
            }
            let session_indexes = xml::children(&message, NS_PROTOCOL, "SessionIndex")
                .iter()
                .filter_map(xml::trimmed_text)
                .collect();
            Ok(Verified::Request(VerifiedRequest {
                id,
                issuer,
                name_id,
                session_indexes,
            }))
        }
        Kind::Response => Ok(Verified::Response(VerifiedResponse {
            id,
            issuer,
            in_response_to: message.get_attribute("InResponseTo"),
            status: check_status(&message),
        })),
    }
}

/// The query signature against each metadata certificate in turn.
fn verify_query(qs: &QuerySignature, idp: &IdpMetadata) -> Result<(), SamlError> {
    let digest = query_digest(&qs.sig_alg)
        .ok_or_else(|| SamlError::SignatureAlgorithm(qs.sig_alg.clone()))?;
    for cert in &idp.certs {
        let Ok(key) = X509::from_der(&cert.der).and_then(|c| c.public_key()) else {
            continue;
        };
        if key.rsa().is_err() {
            continue;
        }
        let ok = Verifier::new(digest, &key)
            .and_then(|mut v| v.verify_oneshot(&qs.signature, qs.signed.as_bytes()))
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
    }
    Err(SamlError::SignatureInvalid(
        "the query signature matches no metadata key".into(),
    ))
}

fn issuer_of(node: &Node) -> Option<String> {
    xml::child(node, NS_ASSERTION, "Issuer").map(|i| xml::trimmed_text(&i).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use url::Url;

    use super::*;
    use crate::saml::logout::{LogoutStatus, Subject, logout_request, logout_response};
    use crate::saml::metadata::SloService;
    use crate::saml::request::SsoStart;
    use crate::saml::{Sp, SpKeys};

    const SLO: &str = "https://login.example.com/saml/slo";

    fn sp() -> Sp {
        Sp {
            entity_id: "https://idp.example/".into(),
            acs_url: "https://login.example.com/auth/saml/callback".into(),
            acs_alias_url: "https://login.example.com/saml2/idpresponse".into(),
            slo_url: SLO.into(),
            keys: Arc::new(SpKeys::generate().expect("keys")),
        }
    }

    /// The "IdP" that signs with `sp`'s key (the same code signs both directions), with
    /// its SingleLogoutService at our SLO URL so the messages name us as Destination.
    fn idp_of(sp: &Sp, redirect: bool) -> IdpMetadata {
        let url = Url::parse("https://idp.example/sso").expect("url");
        let mut idp =
            IdpMetadata::from_inline(&sp.entity_id, &url, &[sp.keys.cert_base64()]).expect("idp");
        let service = SloService {
            location: Url::parse(SLO).expect("url"),
            response_location: Url::parse(SLO).expect("url"),
        };
        if redirect {
            idp.slo_redirect = Some(service);
        } else {
            idp.slo_post = Some(service);
        }
        idp
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("t")
            .with_timezone(&Utc)
    }

    fn request(sp: &Sp, idp: &IdpMetadata) -> SsoStart {
        let subject = Subject {
            name_id: "alice@contoso.com",
            format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
            session_index: Some("_s1"),
        };
        logout_request(sp, idp, "_r1", &subject, "relay", now()).expect("request")
    }

    fn received(start: &SsoStart) -> Received {
        match start {
            SsoStart::Redirect(url) => Received::from_query(url.query().expect("query")),
            SsoStart::Post(form) => {
                let get = |n: &str| {
                    form.fields
                        .iter()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.as_str())
                };
                Received::from_post(get("SAMLRequest"), get("SAMLResponse"), get("RelayState"))
            }
        }
        .expect("decodes")
    }

    fn expected(idp: &IdpMetadata) -> Expected<'_> {
        Expected {
            idp,
            slo_url: SLO,
            skew: Duration::from_secs(60),
        }
    }

    #[test]
    fn signed_requests_verify_in_both_bindings() {
        let sp = sp();
        for redirect in [true, false] {
            let idp = idp_of(&sp, redirect);
            let r = received(&request(&sp, &idp));
            assert_eq!(r.kind(), Kind::Request);
            assert_eq!(r.relay_state(), Some("relay"));
            assert_eq!(
                r.issuer().expect("parses").as_deref(),
                Some("https://idp.example/")
            );
            let Verified::Request(v) = verify(&r, &expected(&idp), now()).expect("verifies") else {
                panic!("a request");
            };
            assert_eq!(v.id, "_r1");
            assert_eq!(v.name_id, "alice@contoso.com");
            assert_eq!(v.session_indexes, ["_s1"]);
        }
    }

    #[test]
    fn responses_carry_in_response_to_and_status() {
        let sp = sp();
        for redirect in [true, false] {
            let idp = idp_of(&sp, redirect);
            let sent = logout_response(
                &sp,
                &idp,
                "_p1",
                "_r1",
                LogoutStatus::PartialLogout,
                "",
                now(),
            )
            .expect("response");
            let Verified::Response(v) =
                verify(&received(&sent), &expected(&idp), now()).expect("verifies")
            else {
                panic!("a response");
            };
            assert_eq!(v.in_response_to.as_deref(), Some("_r1"));
            assert!(matches!(v.status, Err(SamlError::StatusNotSuccess { .. })));
        }
    }

    #[test]
    fn a_tampered_query_or_a_foreign_key_is_refused() {
        let sp = sp();
        let idp = idp_of(&sp, true);
        let SsoStart::Redirect(url) = request(&sp, &idp) else {
            panic!("redirect");
        };
        let q = url.query().expect("query");
        let tampered = Received::from_query(&q.replace("RelayState=relay", "RelayState=other"))
            .expect("decodes");
        assert!(matches!(
            verify(&tampered, &expected(&idp), now()),
            Err(SamlError::SignatureInvalid(_))
        ));
        let mut foreign = idp.clone();
        foreign.certs = idp_of(&self::sp(), true).certs;
        assert!(matches!(
            verify(
                &received(&SsoStart::Redirect(url.clone())),
                &expected(&foreign),
                now()
            ),
            Err(SamlError::SignatureInvalid(_))
        ));
        let unsigned = q.split("&SigAlg=").next().expect("prefix");
        assert_eq!(
            verify(
                &Received::from_query(unsigned).expect("decodes"),
                &expected(&idp),
                now()
            ),
            Err(SamlError::SignatureMissing)
        );
        let twice = format!("{q}&RelayState=x");
        assert!(matches!(
            Received::from_query(&twice),
            Err(SamlError::Malformed(_))
        ));
    }

    #[test]
    fn destination_issuer_and_time_are_checked() {
        let sp = sp();
        let idp = idp_of(&sp, true);
        let r = received(&request(&sp, &idp));
        let other = Expected {
            slo_url: "https://other.example/saml/slo",
            ..expected(&idp)
        };
        assert!(matches!(
            verify(&r, &other, now()),
            Err(SamlError::DestinationMismatch(_))
        ));
        let mut renamed = idp.clone();
        renamed.entity_id = "https://someone-else.example/".into();
        assert!(matches!(
            verify(&r, &expected(&renamed), now()),
            Err(SamlError::IssuerMismatch { .. })
        ));
        let later = now() + chrono::Duration::hours(1);
        assert!(matches!(
            verify(&r, &expected(&idp), later),
            Err(SamlError::Expired(_))
        ));
        let earlier = now() - chrono::Duration::hours(1);
        assert!(matches!(
            verify(&r, &expected(&idp), earlier),
            Err(SamlError::NotYetValid(_))
        ));
    }

    #[test]
    fn oversize_and_doctype_are_refused_before_any_crypto() {
        let big = "A".repeat(MAX_MESSAGE_BYTES + 4);
        assert!(matches!(
            Received::from_post(Some(&big), None, None),
            Err(SamlError::TooLarge(_))
        ));
        let doctype = base64::engine::general_purpose::STANDARD.encode(format!(
            "<!DOCTYPE x><samlp:LogoutRequest xmlns:samlp=\"{NS_PROTOCOL}\"/>"
        ));
        let r = Received::from_post(Some(&doctype), None, None).expect("decodes");
        assert_eq!(r.issuer(), Err(SamlError::DtdForbidden));
        let sp = sp();
        assert_eq!(
            verify(&r, &expected(&idp_of(&sp, false)), now()),
            Err(SamlError::DtdForbidden)
        );
    }
}
