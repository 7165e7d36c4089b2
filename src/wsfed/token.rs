//! `validate`: the one function that decides whether a WS-Federation `wresult` (or the RSTR
//! of a WS-Trust answer) is a login. Every check runs from here, in this order, with `now`
//! passed in:
//!
//! 1. size limit; one strict parse (`saml::xml::parse`: plain UTF-8, bounded complexity,
//!    no DTD before or after parsing);
//! 2. the envelope: a `RequestSecurityTokenResponse` (WS-Trust February 2005, as AD FS's
//!    passive endpoint sends, or 1.3), alone or as the one child of a 1.3 collection;
//!    `TokenType`, when given, is SAML 1.1 or 2.0; `AppliesTo`, when given, is our realm
//!    (unsigned: it can only refuse);
//! 3. exactly one assertion in the WHOLE document, the direct child of the one
//!    `RequestedSecurityToken`; unique IDs (`ID`, `AssertionID`, `xml:id`);
//! 4. exactly one `ds:Signature`, the assertion's own, shape-checked before any crypto;
//! 5. crypto with the STS role's metadata keys only; a SAML 2.0 assertion is then read from
//!    the bytes xmlsec digested, a SAML 1.1 one from the tree whose one signature was
//!    verified (see `saml::signature::verify_saml11`);
//! 6. the assertion's rules: SAML 2.0 through `saml::profile::check_bare_assertion` (the
//!    Web SSO rules without an envelope), SAML 1.1 through `saml11`: Issuer, times with
//!    skew, Audience = our realm, authentication statement, bearer subject, email.
//!
//! [`validate_soap`] is the same function for a WS-Trust 1.3 answer (`trust`): the RSTR
//! collection comes as the one child of a SOAP 1.2 `Body`, or a `Fault` stands there; from
//! step 2 on, nothing differs. The header's elements (WS-Addressing, a WS-Security
//! timestamp) are read by nothing, yet they are in the document, so an assertion or a
//! signature smuggled there still counts against steps 3 and 4.
//!
//! Replay (assertion ID), the `wctx` binding and the tenant's domains are the caller's job,
//! as for SAML. CPU-heavy: callers run this in `spawn_blocking`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use libxml::tree::Node;

use super::error::{WsFedError, malformed};
use super::saml11;
use crate::saml::signature::{Scan, check_signature_shape, verify, verify_saml11};
use crate::saml::xml::{self, MAX_XML_BYTES, NS_ASSERTION, NS_ASSERTION_1};
use crate::saml::{IdpMetadata, SamlError, VerifiedAssertion, profile};

/// WS-Trust February 2005 namespace (AD FS's passive `wresult`).
pub const NS_TRUST_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
/// WS-Trust 1.3 namespace (AD FS's `/trust/13/` endpoints).
pub const NS_TRUST_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
const NS_POLICY: [&str; 2] = [
    "http://schemas.xmlsoap.org/ws/2004/09/policy",
    "http://www.w3.org/ns/ws-policy",
];
const NS_ADDRESSING: [&str; 2] = [
    "http://www.w3.org/2005/08/addressing",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing",
];
/// Token types of the two SAML versions (SAML token profile 1.1 URIs and the namespaces
/// AD FS also writes).
const SAML1_TYPES: [&str; 2] = [
    "urn:oasis:names:tc:SAML:1.0:assertion",
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1",
];
const SAML2_TYPES: [&str; 2] = [
    "urn:oasis:names:tc:SAML:2.0:assertion",
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0",
];

/// What the token must match.
#[derive(Clone, Copy)]
pub struct Expected<'a> {
    /// The tenant's STS: its entity ID is the only Issuer, its role's keys the only keys.
    pub sts: &'a IdpMetadata,
    /// Our realm (`wtrealm`, the entity ID): `AppliesTo` and the Audience.
    pub realm: &'a str,
    /// Our ACS URLs: a SAML 2.0 bearer `Recipient`, when given, must be one.
    pub acs_urls: &'a [String],
    /// Clock difference tolerated on every time check.
    pub skew: Duration,
    /// Claim holding the email; the subject's name when `None`.
    pub email_claim: Option<&'a str>,
}

/// SOAP 1.2 envelope namespace (WS-Trust 1.3 over AD FS's `/trust/13/` endpoints).
pub const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Longest fault reason kept from an STS's SOAP fault (characters): it goes to the log.
const MAX_FAULT_REASON: usize = 256;

/// How the RSTR arrives: as a passive `wresult` (the RSTR is the document), or as the
/// answer to a WS-Trust request (the RSTR is in a SOAP 1.2 body, or a fault is).
#[derive(Clone, Copy, Debug)]
pub enum Carrier {
    /// The passive requestor's `wresult` form field.
    Wresult,
    /// The SOAP 1.2 answer of a WS-Trust request.
    Soap12,
}

/// Validates the XML text of a `wresult` against `expected` at `now`. See the module
/// documentation for the order of checks.
pub fn validate(
    wresult: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, WsFedError> {
    validate_as(wresult, Carrier::Wresult, expected, now)
}

/// Validates the SOAP 1.2 answer of an STS to a WS-Trust `RequestSecurityToken` exactly as
/// [`validate`] does a `wresult`; a SOAP fault in the body is [`WsFedError::Fault`].
pub fn validate_soap(
    answer: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, WsFedError> {
    validate_as(answer, Carrier::Soap12, expected, now)
}

/// [`validate`] or [`validate_soap`], as `carrier` says the text came.
pub fn validate_as(
    wresult: &str,
    carrier: Carrier,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, WsFedError> {
    if expected.sts.certs.is_empty() {
        return Err(SamlError::NoCertificate.into());
    }
    // 1. One strict parse.
    if wresult.len() > MAX_XML_BYTES {
        return Err(SamlError::TooLarge(wresult.len()).into());
    }
    let doc = xml::parse(wresult.as_bytes())?;
    let root = xml::root(&doc)?;

    // 2. The envelope.
    let rstr = match carrier {
        Carrier::Wresult => envelope(&root)?,
        Carrier::Soap12 => envelope(&soap_body(&root)?)?,
    };
    check_envelope(&rstr, expected.realm)?;
    let tokens: Vec<Node> = rstr
        .get_child_elements()
        .into_iter()
        .filter(|c| is_trust(c, "RequestedSecurityToken"))
        .collect();
    let [token] = tokens.as_slice() else {
        return Err(malformed(format!(
            "{} RequestedSecurityToken elements, expected 1",
            tokens.len()
        )));
    };

    // 3. One assertion in the whole document, where the envelope says the token is.
    let scan = Scan::of(&root);
    let assertion = scan.single_assertion(token)?;
    scan.unique_ids()?;
    let saml2 = if xml::is(&assertion, NS_ASSERTION, "Assertion") {
        true
    } else if xml::is(&assertion, NS_ASSERTION_1, "Assertion") {
        false
    } else {
        return Err(WsFedError::TokenType("EncryptedAssertion".into()));
    };

    // 4. Exactly one signature, the assertion's, in a shape we accept.
    let [signature] = scan.signatures.as_slice() else {
        return Err(match scan.signatures.len() {
            0 => SamlError::SignatureMissing,
            n => SamlError::SignatureShape(format!("{n} signatures, expected the assertion's one")),
        }
        .into());
    };
    check_signature_shape(signature, &[&assertion])?;

    // 5 and 6. Crypto with metadata keys only, then the assertion's rules.
    if saml2 {
        let verified = verify(wresult, expected.sts)?;
        let verified_doc = xml::parse(verified.as_bytes())?;
        let v = xml::root(&verified_doc)?;
        if !xml::is(&v, NS_ASSERTION, "Assertion")
            || v.get_attribute("ID").is_none()
            || v.get_attribute("ID") != assertion.get_attribute("ID")
        {
            return Err(SamlError::SignatureInvalid(
                "the verified element is not the token's Assertion".into(),
            )
            .into());
        }
        let rules = crate::saml::Expected {
            idp: expected.sts,
            entity_id: expected.realm,
            acs_urls: expected.acs_urls,
            request_id: None,
            allow_unsolicited: true,
            skew: expected.skew,
            email_claim: expected.email_claim,
            decryption_key: None,
        };
        Ok(profile::check_bare_assertion(&v, &rules, now)?)
    } else {
        verify_saml11(wresult, expected.sts)?;
        saml11::check(&assertion, expected, now)
    }
}

/// The one `RequestSecurityTokenResponse`: the root, or the one child of a 1.3 collection.
fn envelope(root: &Node) -> Result<Node, WsFedError> {
    if is_trust(root, "RequestSecurityTokenResponse") {
        return Ok(root.clone());
    }
    if xml::is(root, NS_TRUST_13, "RequestSecurityTokenResponseCollection") {
        return match root.get_child_elements().as_slice() {
            [one] if is_trust(one, "RequestSecurityTokenResponse") => Ok(one.clone()),
            children => Err(malformed(format!(
                "the collection holds {} elements, expected one RequestSecurityTokenResponse",
                children.len()
            ))),
        };
    }
    Err(malformed(format!(
        "root element {:?} is not a RequestSecurityTokenResponse",
        root.get_name()
    )))
}

/// The one element of a SOAP 1.2 envelope's `Body` (after an optional `Header`), or the
/// STS's refusal when that element is a `Fault`. The reason kept is the fault's codes and
/// text (AD FS: `s:Sender a:FailedAuthentication ID3242: The security token could not be
/// authenticated or authorized.`), which never echo the password.
fn soap_body(root: &Node) -> Result<Node, WsFedError> {
    if !xml::is(root, NS_SOAP12, "Envelope") {
        return Err(malformed(format!(
            "root element {:?} is not a SOAP 1.2 Envelope",
            root.get_name()
        )));
    }
    let parts = root.get_child_elements();
    let body = match parts.as_slice() {
        [h, b] if xml::is(h, NS_SOAP12, "Header") && xml::is(b, NS_SOAP12, "Body") => b,
        [b] if xml::is(b, NS_SOAP12, "Body") => b,
        _ => return Err(malformed("the SOAP envelope is not [Header] Body")),
    };
    match body.get_child_elements().as_slice() {
        [fault] if xml::is(fault, NS_SOAP12, "Fault") => {
            let code = |parent: &Node| {
                xml::child(parent, NS_SOAP12, "Value").and_then(|v| xml::trimmed_text(&v))
            };
            let top = xml::child(fault, NS_SOAP12, "Code");
            let sub = top
                .as_ref()
                .and_then(|c| xml::child(c, NS_SOAP12, "Subcode"));
            let reason = xml::child(fault, NS_SOAP12, "Reason")
                .and_then(|r| xml::child(&r, NS_SOAP12, "Text"))
                .and_then(|t| xml::trimmed_text(&t));
            let said = [
                top.as_ref().and_then(code),
                sub.as_ref().and_then(code),
                reason,
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            // The STS's words go to a log line: no control characters, bounded.
            let said = said.chars().filter(|c| !c.is_control());
            Err(WsFedError::Fault(said.take(MAX_FAULT_REASON).collect()))
        }
        [one] => Ok(one.clone()),
        children => Err(malformed(format!(
            "the SOAP body holds {} elements, expected one",
            children.len()
        ))),
    }
}

/// `TokenType` and `AppliesTo`, when the STS sends them. Unsigned, so they only refuse: the
/// signed Audience is what admits.
fn check_envelope(rstr: &Node, realm: &str) -> Result<(), WsFedError> {
    for c in rstr.get_child_elements() {
        if is_trust(&c, "TokenType") {
            let t = xml::trimmed_text(&c).unwrap_or_default();
            if !SAML1_TYPES.contains(&t.as_str()) && !SAML2_TYPES.contains(&t.as_str()) {
                return Err(WsFedError::TokenType(t));
            }
        } else if NS_POLICY.iter().any(|ns| xml::is(&c, ns, "AppliesTo")) {
            let address = c
                .get_child_elements()
                .into_iter()
                .find(|e| {
                    NS_ADDRESSING
                        .iter()
                        .any(|ns| xml::is(e, ns, "EndpointReference"))
                })
                .and_then(|e| {
                    e.get_child_elements()
                        .into_iter()
                        .find(|a| NS_ADDRESSING.iter().any(|ns| xml::is(a, ns, "Address")))
                })
                .and_then(|a| xml::trimmed_text(&a))
                .unwrap_or_default();
            if address != realm {
                return Err(WsFedError::AppliesToMismatch(address));
            }
        }
    }
    Ok(())
}

fn is_trust(node: &Node, local: &str) -> bool {
    xml::is(node, NS_TRUST_2005, local) || xml::is(node, NS_TRUST_13, local)
}

/// The subject-name rules SAML 1.1 shares with SAML 2.0: whole text, not empty, no space
/// other than XML's.
pub(super) fn subject_name(node: &Node, what: &str) -> Result<String, WsFedError> {
    let name =
        xml::trimmed_text(node).ok_or_else(|| malformed(format!("{what} contains markup")))?;
    if name.is_empty() {
        return Err(malformed(format!("{what} is empty")));
    }
    if profile::has_unicode_space(&name) {
        return Err(SamlError::UnicodeSpace(what.into()).into());
    }
    Ok(name)
}
