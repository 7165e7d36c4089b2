//! The SAML protocol and Web SSO profile rules (core 2.x, profiles 4.1.4): Status, then, on
//! the nodes `response` picked after verification, Issuer, Destination, InResponseTo, the
//! bearer SubjectConfirmation, Conditions times, Audience, AuthnStatement, NameID,
//! attributes and the email, with the time helpers they share.
//!
//! Apart from the XML-DSig and XML Encryption code because these rules change with the
//! profile (an IdP quirk, a new claim) and none of them touches crypto: which node each
//! value may come from is decided in `response::validate` (its table), not here.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use libxml::tree::Node;
use openssl::pkey::{PKey, Private};

use super::error::{SamlError, malformed, unsupported};
use super::metadata::IdpMetadata;
use super::xml::{self, NS_ASSERTION, NS_PROTOCOL};

/// What this response must match: the tenant's IdP and the pending request.
#[derive(Clone, Copy)]
pub struct Expected<'a> {
    /// The IdP of the tenant whose pending request this is (never chosen by the message's
    /// own Issuer, except through `peek_issuer` for IdP-initiated routing).
    pub idp: &'a IdpMetadata,
    /// Our entity ID: the Audience required.
    pub entity_id: &'a str,
    /// Our ACS URLs: Destination and Recipient must be one of them.
    pub acs_urls: &'a [String],
    /// The AuthnRequest ID this browser started; `None` for an IdP-initiated login.
    pub request_id: Option<&'a str>,
    /// Whether the tenant accepts IdP-initiated (unsolicited) responses.
    pub allow_unsolicited: bool,
    /// Clock difference tolerated on every time check.
    pub skew: Duration,
    /// Attribute holding the email; the NameID when `None`.
    pub email_claim: Option<&'a str>,
    /// SP private key for EncryptedAssertions; encrypted responses fail without it.
    pub decryption_key: Option<&'a PKey<Private>>,
}

/// The facts of a verified assertion, read only from signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// Assertion `ID`: the caller's replay-cache key.
    pub assertion_id: String,
    /// The IdP entity ID (equal to the expected one).
    pub issuer: String,
    /// Subject NameID, whole text.
    pub name_id: String,
    /// NameID `Format`, when given.
    pub name_id_format: Option<String>,
    /// The asserted email (from `email_claim`, else the NameID), not yet domain-checked.
    pub email: String,
    /// Attributes by Name, each value whole text.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// `AuthnStatement/@SessionIndex`, for logout.
    pub session_index: Option<String>,
    /// `AuthnStatement/AuthnContext/AuthnContextClassRef`: how the IdP authenticated the
    /// person (password, MFA…), passed on to apps as the ID token's `acr`.
    pub authn_context: Option<String>,
    /// Earliest end of validity: the replay-cache entry must live at least until then.
    pub not_on_or_after: DateTime<Utc>,
    /// The request this answers (the accepted bearer confirmation's own `InResponseTo`),
    /// `None` when unsolicited.
    pub in_response_to: Option<String>,
}

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// The rules of a SAML 2.0 assertion that arrives without a `samlp:Response` around it: the
/// token of a WS-Federation `RequestSecurityTokenResponse` or a WS-Trust answer. Every
/// assertion rule of the Web SSO profile applies (Issuer, bearer confirmation and its end,
/// Conditions times, Audience, AuthnStatement, NameID, attributes, email); there is no
/// envelope (Destination, the Response's `InResponseTo`) and no request ID: the caller binds
/// the token to the browser (`wctx`) or to the request it just sent, so a bearer
/// confirmation naming some request is refused. A bearer `Recipient` is optional (AD FS
/// sends none in WS-Federation; the Audience binds the token to us) but must be one of our
/// ACS URLs when given.
pub fn check_bare_assertion(
    assertion: &Node,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    if !xml::is(assertion, NS_ASSERTION, "Assertion") {
        return Err(malformed("the token is not a SAML 2.0 Assertion"));
    }
    let bare = Expected {
        request_id: None,
        allow_unsolicited: true,
        ..*expected
    };
    check_protocol(None, false, assertion, &bare, now)
}

/// The protocol rules (SAML core 2.x, profiles 4.1.4.3), on verified nodes. `response` is
/// `None` for a bare assertion ([`check_bare_assertion`]).
pub(super) fn check_protocol(
    response: Option<&Node>,
    response_signed: bool,
    assertion: &Node,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    let skew = chrono::Duration::from_std(expected.skew).unwrap_or(chrono::Duration::zero());
    let idp = &expected.idp.entity_id;

    if assertion.get_attribute("Version").as_deref() != Some("2.0") {
        return Err(malformed("Assertion Version is not 2.0"));
    }

    // Issuer: the tenant's IdP, on the Response (when present) and on the Assertion. A
    // response from another IdP, even validly signed by it, is not this tenant's login.
    if let Some(found) = response.and_then(issuer_of)
        && &found != idp
    {
        return Err(SamlError::IssuerMismatch {
            expected: idp.clone(),
            found,
        });
    }
    let issuer = issuer_of(assertion).unwrap_or_default();
    if &issuer != idp {
        return Err(SamlError::IssuerMismatch {
            expected: idp.clone(),
            found: issuer,
        });
    }

    // Destination: a response meant for another SP (or another of its endpoints) must not
    // be replayable here. Required when the Response is signed (bindings 3.5.5.2).
    match response.and_then(|r| r.get_attribute("Destination")) {
        Some(d) if expected.acs_urls.iter().any(|u| u == &d) => {}
        Some(d) => return Err(SamlError::DestinationMismatch(d)),
        None if response_signed => {
            return Err(SamlError::DestinationMismatch(
                "(absent on a signed Response)".into(),
            ));
        }
        None => {}
    }

    // InResponseTo: bound to the request this browser started (login CSRF, and a response
    // stolen from another user's flow); unsolicited only when the tenant allows it. The
    // Response's value is only compared; the bearer confirmation's own must name the request.
    let response_irt = response.and_then(|r| r.get_attribute("InResponseTo"));
    match expected.request_id {
        Some(rid) => {
            if let Some(found) = &response_irt
                && found != rid
            {
                return Err(SamlError::InResponseToMismatch {
                    expected: Some(rid.to_string()),
                    found: Some(found.clone()),
                });
            }
        }
        None => {
            if !expected.allow_unsolicited {
                return Err(SamlError::Unsolicited);
            }
            if let Some(found) = &response_irt {
                return Err(SamlError::InResponseToMismatch {
                    expected: None,
                    found: Some(found.clone()),
                });
            }
        }
    }

    // Subject and its bearer confirmation.
    let subject = xml::child(assertion, NS_ASSERTION, "Subject")
        .ok_or(SamlError::SubjectConfirmationMissing)?;
    let mut confirmed = None;
    let mut first_error = None;
    for sc in xml::children(&subject, NS_ASSERTION, "SubjectConfirmation") {
        if sc.get_attribute("Method").as_deref() != Some(CM_BEARER) {
            continue;
        }
        match check_bearer(&sc, expected, response.is_none(), now, skew) {
            Ok(c) => {
                confirmed = Some(c);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let (confirmation_end, in_response_to) = match (confirmed, first_error) {
        (Some(c), _) => c,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(SamlError::SubjectConfirmationMissing),
    };

    // Conditions: the validity window, then the audience.
    let conditions = xml::child(assertion, NS_ASSERTION, "Conditions");
    let mut not_on_or_after = confirmation_end;
    if let Some(c) = &conditions {
        if let Some(nb) = time_attr(c, "NotBefore")?
            && now + skew < nb
        {
            return Err(SamlError::NotYetValid(format!("Conditions NotBefore {nb}")));
        }
        if let Some(noa) = time_attr(c, "NotOnOrAfter")? {
            if now - skew >= noa {
                return Err(SamlError::Expired(format!("Conditions NotOnOrAfter {noa}")));
            }
            not_on_or_after = not_on_or_after.min(noa);
        }
    }
    // Audience: must be present (samael skips the check when it is absent) and name us;
    // otherwise an assertion issued to any other SP of the same IdP logs in here.
    let restrictions = conditions
        .as_ref()
        .map(|c| xml::children(c, NS_ASSERTION, "AudienceRestriction"))
        .unwrap_or_default();
    if restrictions.is_empty() {
        return Err(SamlError::AudienceMissing);
    }
    for r in &restrictions {
        let audiences: Vec<String> = xml::children(r, NS_ASSERTION, "Audience")
            .iter()
            .filter_map(xml::trimmed_text)
            .collect();
        if !audiences.iter().any(|a| a == expected.entity_id) {
            return Err(SamlError::AudienceMismatch(audiences));
        }
    }

    // Web SSO (profiles 4.1.4.2): the assertion must say the person authenticated, not
    // only who they are (an attribute query answer, a token for another purpose).
    let authn = xml::child(assertion, NS_ASSERTION, "AuthnStatement")
        .ok_or(SamlError::AuthnStatementMissing)?;

    // NameID: whole text (comments removed, text nodes joined; CVE-2017-11427).
    if xml::child(&subject, NS_ASSERTION, "EncryptedID").is_some() {
        return Err(unsupported("EncryptedID"));
    }
    let name_id_node = xml::child(&subject, NS_ASSERTION, "NameID")
        .ok_or_else(|| malformed("the assertion has no NameID"))?;
    let name_id =
        xml::trimmed_text(&name_id_node).ok_or_else(|| malformed("NameID contains markup"))?;
    if name_id.is_empty() {
        return Err(malformed("NameID is empty"));
    }
    if has_unicode_space(&name_id) {
        return Err(SamlError::UnicodeSpace("NameID".into()));
    }
    let name_id_format = name_id_node.get_attribute("Format");

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for st in xml::children(assertion, NS_ASSERTION, "AttributeStatement") {
        for a in xml::children(&st, NS_ASSERTION, "Attribute") {
            let Some(name) = a.get_attribute("Name") else {
                continue;
            };
            add_attribute(&mut attributes, name, &a, NS_ASSERTION)?;
        }
    }
    let email = email_of(&attributes, expected.email_claim, &name_id)?;

    let assertion_id = assertion
        .get_attribute("ID")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("the assertion has no ID"))?;
    let session_index = authn.get_attribute("SessionIndex");
    let authn_context = xml::child(&authn, NS_ASSERTION, "AuthnContext")
        .and_then(|c| xml::child(&c, NS_ASSERTION, "AuthnContextClassRef"))
        .and_then(|r| xml::trimmed_text(&r))
        .filter(|r| !r.is_empty());
    Ok(VerifiedAssertion {
        assertion_id,
        issuer: idp.clone(),
        name_id,
        name_id_format,
        email,
        attributes,
        session_index,
        authn_context,
        not_on_or_after,
        in_response_to,
    })
}

/// One bearer SubjectConfirmation (profiles 4.1.4.2): Recipient is our ACS, NotOnOrAfter
/// is present and not passed, no NotBefore, and its own InResponseTo names our request
/// (none when unsolicited). Returns its NotOnOrAfter and InResponseTo.
fn check_bearer(
    sc: &Node,
    expected: &Expected<'_>,
    bare: bool,
    now: DateTime<Utc>,
    skew: chrono::Duration,
) -> Result<(DateTime<Utc>, Option<String>), SamlError> {
    let data = xml::child(sc, NS_ASSERTION, "SubjectConfirmationData")
        .ok_or(SamlError::SubjectConfirmationMissing)?;
    match data.get_attribute("Recipient") {
        Some(r) if expected.acs_urls.iter().any(|u| u == &r) => {}
        None if bare => {}
        recipient => return Err(SamlError::RecipientMismatch(recipient.unwrap_or_default())),
    }
    // A bearer assertion without an end is a forever-valid login token.
    let noa = time_attr(&data, "NotOnOrAfter")?
        .ok_or_else(|| SamlError::Expired("SubjectConfirmationData has no NotOnOrAfter".into()))?;
    if now - skew >= noa {
        return Err(SamlError::Expired(format!(
            "SubjectConfirmationData NotOnOrAfter {noa}"
        )));
    }
    if data.get_attribute("NotBefore").is_some() {
        return Err(SamlError::BearerNotBefore);
    }
    // The signed confirmation alone says which request this answers: a Response-level
    // InResponseTo never stands in for it (a captured IdP-initiated assertion would then
    // answer whatever request the attacker wrote on the envelope).
    let irt = data.get_attribute("InResponseTo");
    if irt.as_deref() != expected.request_id {
        return Err(SamlError::InResponseToMismatch {
            expected: expected.request_id.map(str::to_string),
            found: irt,
        });
    }
    Ok((noa, irt))
}

pub(super) fn check_status(response: &Node) -> Result<(), SamlError> {
    let status =
        xml::child(response, NS_PROTOCOL, "Status").ok_or_else(|| malformed("no Status"))?;
    let code =
        xml::child(&status, NS_PROTOCOL, "StatusCode").ok_or_else(|| malformed("no StatusCode"))?;
    let value = code.get_attribute("Value").unwrap_or_default();
    if value == STATUS_SUCCESS {
        return Ok(());
    }
    let mut full = value;
    if let Some(sub) =
        xml::child(&code, NS_PROTOCOL, "StatusCode").and_then(|c| c.get_attribute("Value"))
    {
        full = format!("{full} / {sub}");
    }
    let message = xml::child(&status, NS_PROTOCOL, "StatusMessage")
        .and_then(|m| xml::trimmed_text(&m))
        .filter(|m| !m.is_empty());
    Err(SamlError::StatusNotSuccess {
        code: full,
        message,
    })
}

/// Appends the whole-text values (`AttributeValue` in namespace `ns`) of one attribute
/// element under `name`, refusing values with non-XML spaces. Shared with SAML 1.1 tokens.
pub fn add_attribute(
    attributes: &mut BTreeMap<String, Vec<String>>,
    name: String,
    attribute: &Node,
    ns: &str,
) -> Result<(), SamlError> {
    let mut found = Vec::new();
    for v in xml::children(attribute, ns, "AttributeValue") {
        if let Some(t) = xml::trimmed_text(&v) {
            if has_unicode_space(&t) {
                return Err(SamlError::UnicodeSpace(format!("attribute {name:?}")));
            }
            found.push(t);
        }
    }
    attributes.entry(name).or_default().extend(found);
    Ok(())
}

/// The asserted email: the one non-empty value of `claim`, else the subject's name.
pub fn email_of(
    attributes: &BTreeMap<String, Vec<String>>,
    claim: Option<&str>,
    name_id: &str,
) -> Result<String, SamlError> {
    let Some(claim) = claim else {
        return Ok(name_id.to_string());
    };
    let values: Vec<&String> = attributes
        .get(claim)
        .map(|v| v.iter().filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    match values.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(SamlError::EmailMissing(format!("no attribute {claim:?}"))),
        // Several emails: which one the person is would be a guess.
        many => Err(SamlError::EmailMissing(format!(
            "attribute {claim:?} has {} values",
            many.len()
        ))),
    }
}

/// An `xs:dateTime` attribute, when present.
pub fn time_attr(node: &Node, name: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    node.get_attribute(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| malformed(format!("bad {name} {v:?}")))
        })
        .transpose()
}

fn issuer_of(node: &Node) -> Option<String> {
    xml::child(node, NS_ASSERTION, "Issuer").map(|i| xml::trimmed_text(&i).unwrap_or_default())
}

/// Whether a value holds a space XML does not trim (NBSP, U+3000, zero-width...). Such a
/// NameID or attribute value is refused: `alice@contoso.com\u{a0}` is not
/// `alice@contoso.com`, yet a reader that trims Unicode spaces (Rust's `trim`) says it is.
pub fn has_unicode_space(value: &str) -> bool {
    value
        .chars()
        .any(|c| crate::discovery::email::is_space(c) && !matches!(c, ' ' | '\t' | '\r' | '\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_carries_code_and_message() {
        let doc = xml::parse(format!(
            r#"<p:Response xmlns:p="{NS_PROTOCOL}"><p:Status><p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></p:StatusCode><p:StatusMessage>User <!-- x -->cancelled</p:StatusMessage></p:Status></p:Response>"#
        ).as_bytes()).expect("xml");
        match check_status(&xml::root(&doc).expect("root")) {
            Err(SamlError::StatusNotSuccess { code, message }) => {
                assert!(
                    code.ends_with("Responder / urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
                );
                assert_eq!(message.as_deref(), Some("User cancelled"));
            }
            other => panic!("{other:?}"),
        }
    }
}
