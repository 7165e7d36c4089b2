//! The SAML 1.1 assertion rules (SAML 1.1 core 2.3 and 2.4, as AD FS issues its default
//! WS-Federation token), on the assertion whose one signature was verified: versions,
//! Issuer, Conditions times, Audience, the authentication statement and its bearer subject,
//! attributes and the email. The same rules, and the same `SamlError` reasons, as SAML 2.0's
//! where the two versions agree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use libxml::tree::Node;

use super::error::{WsFedError, malformed};
use super::token::{Expected, subject_name};
use crate::saml::xml::{self, NS_ASSERTION_1};
use crate::saml::{SamlError, VerifiedAssertion, profile};

const CM_BEARER: &str = "urn:oasis:names:tc:SAML:1.0:cm:bearer";

pub(super) fn check(
    assertion: &Node,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, WsFedError> {
    let skew = chrono::Duration::from_std(expected.skew).unwrap_or(chrono::Duration::zero());
    let idp = &expected.sts.entity_id;
    if assertion.get_attribute("MajorVersion").as_deref() != Some("1")
        || assertion.get_attribute("MinorVersion").as_deref() != Some("1")
    {
        return Err(malformed("the SAML 1.x assertion is not version 1.1"));
    }
    // Issuer: the tenant's STS (an attribute in SAML 1.1).
    let issuer = assertion
        .get_attribute("Issuer")
        .map(|i| i.trim().to_string())
        .unwrap_or_default();
    if &issuer != idp {
        return Err(SamlError::IssuerMismatch {
            expected: idp.clone(),
            found: issuer,
        }
        .into());
    }

    // Conditions: required, with an end (a bearer token without one is valid forever).
    let conditions = xml::child(assertion, NS_ASSERTION_1, "Conditions")
        .ok_or_else(|| SamlError::Expired("the assertion has no Conditions".into()))?;
    if let Some(nb) = profile::time_attr(&conditions, "NotBefore")?
        && now + skew < nb
    {
        return Err(SamlError::NotYetValid(format!("Conditions NotBefore {nb}")).into());
    }
    let not_on_or_after = profile::time_attr(&conditions, "NotOnOrAfter")?
        .ok_or_else(|| SamlError::Expired("Conditions has no NotOnOrAfter".into()))?;
    if now - skew >= not_on_or_after {
        return Err(
            SamlError::Expired(format!("Conditions NotOnOrAfter {not_on_or_after}")).into(),
        );
    }
    // Audience: present and naming our realm in every restriction (SAML 1.1 core 2.3.2.1.3).
    let restrictions = xml::children(&conditions, NS_ASSERTION_1, "AudienceRestrictionCondition");
    if restrictions.is_empty() {
        return Err(SamlError::AudienceMissing.into());
    }
    for r in &restrictions {
        let audiences: Vec<String> = xml::children(r, NS_ASSERTION_1, "Audience")
            .iter()
            .filter_map(xml::trimmed_text)
            .collect();
        if !audiences.iter().any(|a| a == expected.realm) {
            return Err(SamlError::AudienceMismatch(audiences).into());
        }
    }

    // The authentication statement says the person signed in; its subject is who.
    let authn = xml::child(assertion, NS_ASSERTION_1, "AuthenticationStatement")
        .ok_or(SamlError::AuthnStatementMissing)?;
    let (name_id, name_id_format) = bearer_subject(&authn)?;

    // Attributes: the claim URI is AttributeNamespace/AttributeName, as AD FS writes them;
    // every statement must be about the same subject.
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for st in xml::children(assertion, NS_ASSERTION_1, "AttributeStatement") {
        if let Some(subject) = xml::child(&st, NS_ASSERTION_1, "Subject")
            && let Some(n) = xml::child(&subject, NS_ASSERTION_1, "NameIdentifier")
            && subject_name(&n, "NameIdentifier")? != name_id
        {
            return Err(malformed("the statements name different subjects"));
        }
        for a in xml::children(&st, NS_ASSERTION_1, "Attribute") {
            let Some(local) = a.get_attribute("AttributeName") else {
                continue;
            };
            let name = match a.get_attribute("AttributeNamespace") {
                Some(ns) if !ns.is_empty() => format!("{}/{local}", ns.trim_end_matches('/')),
                _ => local,
            };
            profile::add_attribute(&mut attributes, name, &a, NS_ASSERTION_1)?;
        }
    }
    let email = profile::email_of(&attributes, expected.email_claim, &name_id)?;
    let assertion_id = assertion
        .get_attribute("AssertionID")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("the assertion has no AssertionID"))?;
    Ok(VerifiedAssertion {
        assertion_id,
        issuer: idp.clone(),
        name_id,
        name_id_format,
        email,
        attributes,
        session_index: None,
        not_on_or_after,
        in_response_to: None,
        // SAML 1.1's counterpart of an AuthnContextClassRef.
        authn_context: authn
            .get_attribute("AuthenticationMethod")
            .filter(|m| !m.is_empty()),
    })
}

/// The statement's Subject: its NameIdentifier, confirmed by the bearer method.
fn bearer_subject(statement: &Node) -> Result<(String, Option<String>), WsFedError> {
    let subject = xml::child(statement, NS_ASSERTION_1, "Subject")
        .ok_or(SamlError::SubjectConfirmationMissing)?;
    let bearer = xml::child(&subject, NS_ASSERTION_1, "SubjectConfirmation").is_some_and(|c| {
        xml::children(&c, NS_ASSERTION_1, "ConfirmationMethod")
            .iter()
            .any(|m| xml::trimmed_text(m).as_deref() == Some(CM_BEARER))
    });
    if !bearer {
        return Err(SamlError::SubjectConfirmationMissing.into());
    }
    let n = xml::child(&subject, NS_ASSERTION_1, "NameIdentifier")
        .ok_or_else(|| malformed("the subject has no NameIdentifier"))?;
    Ok((
        subject_name(&n, "NameIdentifier")?,
        n.get_attribute("Format"),
    ))
}
