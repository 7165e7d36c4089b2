//! `validate`: the one function that decides whether a SAML Response is a login.
//!
//! Every check runs from here, in the order below, so a reviewer reads the whole policy top
//! to bottom (crewjam/saml style) and tests pass `now` instead of touching the clock. The
//! checks themselves live by concern beside this file: the wrapping and signature checks
//! (3 to 5) in `signature`, decryption (6) in `decrypt`, Status and the protocol rules (2
//! and 7) in `profile`; only the order, and which node each value is read from, is here:
//!
//! 1. size limits, base64, UTF-8; one strict parse (`xml::parse`: plain UTF-8, bounded
//!    complexity, no DTD before or after parsing);
//! 2. root is `samlp:Response` version 2.0; Status is Success;
//! 3. exactly one Assertion or EncryptedAssertion in the whole document, a direct child of
//!    the Response; no duplicate IDs;
//! 4. the shape of every `ds:Signature`, before any crypto;
//! 5. crypto with the IdP metadata's certificates only (samael/xmlsec), then the assertion
//!    is read only from the canonical bytes that were actually digested;
//! 6. decryption (RSA-OAEP + AES-GCM only) and the inner signature when the Response
//!    signature did not cover the EncryptedAssertion;
//! 7. protocol rules: Issuer, Destination, InResponseTo / unsolicited, bearer
//!    SubjectConfirmation, Conditions times, AudienceRestriction, AuthnStatement, NameID,
//!    attributes, email.
//!
//! Replay (assertion ID seen before) and the tenant's email domains are the caller's job.
//! CPU-heavy: callers run this in `spawn_blocking`. libxml types are `!Send`, so none
//! escapes `validate`: the files it calls are private to `saml`.

use base64::Engine;
use chrono::{DateTime, Utc};
use libxml::tree::{Document, Node};

use super::decrypt::{decrypt_assertion, wrap_in_scope};
use super::error::{SamlError, malformed};
use super::facts::ResponseFacts;
pub use super::profile::{Expected, VerifiedAssertion};
use super::profile::{check_protocol, check_status};
use super::signature::{Scan, check_signature_shape, verify};
use super::xml::{self, MAX_XML_BYTES, NS_ASSERTION, NS_PROTOCOL, b64_engine};

/// Largest `SAMLResponse` form value accepted (base64 text).
pub const MAX_BASE64_BYTES: usize = 512 * 1024;

/// Base64 to XML text, with both size limits: the base64 before decoding (so a huge POST
/// costs nothing) and the XML after.
fn decode(b64: &str) -> Result<String, SamlError> {
    if b64.len() > MAX_BASE64_BYTES {
        return Err(SamlError::TooLarge(b64.len()));
    }
    // Line-wrapped base64 (some IdPs wrap at 76 columns) is compacted; the common unwrapped
    // form skips the byte-by-byte copy (the memchr-based `contains` is far cheaper).
    let raw = b64.as_bytes();
    let wrapped = b" \t\n\r\x0c".iter().any(|w| raw.contains(w));
    let compact: std::borrow::Cow<[u8]> = if wrapped {
        raw.iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect()
    } else {
        raw.into()
    };
    let bytes = b64_engine()
        .decode(&compact)
        .map_err(|e| malformed(format!("SAMLResponse is not base64: {e}")))?;
    if bytes.len() > MAX_XML_BYTES {
        return Err(SamlError::TooLarge(bytes.len()));
    }
    String::from_utf8(bytes).map_err(|_| malformed("SAMLResponse is not UTF-8"))
}

/// The Issuer a response claims, unverified. Only for IdP-initiated routing: the caller uses
/// it to choose which tenant's keys to try, and `validate` then checks everything with them.
/// A message that does not decode or parse is refused for the reason `validate` would give
/// (an encoding trick is logged as one, not as a mere unsolicited response); `None` when it
/// parses but names no Issuer.
pub fn peek_issuer(saml_response_b64: &str) -> Result<Option<String>, SamlError> {
    let text = decode(saml_response_b64)?;
    let doc = xml::parse(text.as_bytes())?;
    let root = xml::root(&doc)?;
    if !xml::is(&root, NS_PROTOCOL, "Response") {
        return Ok(None);
    }
    let issuer = xml::child(&root, NS_ASSERTION, "Issuer").or_else(|| {
        xml::child(&root, NS_ASSERTION, "Assertion")
            .and_then(|a| xml::child(&a, NS_ASSERTION, "Issuer"))
    });
    Ok(issuer
        .and_then(|i| xml::trimmed_text(&i))
        .filter(|s| !s.is_empty()))
}

/// Validates a base64 `SAMLResponse` (HTTP-POST binding) against `expected` at `now`.
/// See the module documentation for the order of checks.
///
/// Every value that can admit a login comes from a node a signature covers (SPEC rule 2):
/// the verified Assertion (its own signature, or the verified Response's one child), read
/// from the bytes xmlsec digested. Values outside it can only refuse, never admit:
///
/// | value | read from |
/// |---|---|
/// | Assertion Version, ID, Issuer, Subject (NameID, bearer `Recipient`, `NotOnOrAfter`, `InResponseTo`), Conditions, Audience, AuthnStatement, attributes | the verified Assertion |
/// | Response Version, Status | the envelope, before any crypto (an IdP's error needs no signature and grants nothing); when the Response is signed, the envelope is the element verified (same unique ID) |
/// | Response Issuer, Destination, `InResponseTo` | the verified Response when it is signed, else the unsigned envelope; either way only compared: a mismatch refuses, a match admits nothing on its own |
/// | the Issuer `peek_issuer` routes an unsolicited response by | the envelope, unverified: it only picks whose keys to try; the Assertion Issuer must then equal that IdP |
///
/// So a solicited login needs the bearer confirmation's own `InResponseTo` to name the
/// request (SAML profiles 4.1.4.2); the Response's `InResponseTo` is never put in its
/// place, signed or not, which is what kept a captured IdP-initiated assertion from
/// passing as the answer to the attacker's own request.
pub fn validate(
    saml_response_b64: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    run(saml_response_b64, expected, now, None)
}

/// [`validate`]'s verdict and what the response claimed, unverified (`None` when it did
/// not even parse).
#[derive(Debug)]
pub struct Traced {
    /// The claims, for the login trace: never an input of the verdict.
    pub facts: Option<ResponseFacts>,
    /// What [`validate`] decides.
    pub result: Result<VerifiedAssertion, SamlError>,
}

/// [`validate`], also reading the response's claims once it parses: the login traces show
/// them for refused responses, where they are what the IdP administrator has to fix.
pub fn validate_traced(
    saml_response_b64: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Traced {
    let mut facts = None;
    let result = run(saml_response_b64, expected, now, Some(&mut facts));
    Traced { facts, result }
}

/// The checks, in order; `facts` (when asked for) is filled right after parsing, so a
/// refusal at any later step still has it.
fn run(
    saml_response_b64: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
    facts: Option<&mut Option<ResponseFacts>>,
) -> Result<VerifiedAssertion, SamlError> {
    // A configuration without a signing certificate must never validate anything: samael
    // would accept unsigned input then (fails open).
    if expected.idp.certs.is_empty() {
        return Err(SamlError::NoCertificate);
    }

    // 1. Decode and parse once. `xml::parse` refuses other encodings, costly shapes and any
    //    DTD (XXE, billion laughs), and does not recover from malformed input.
    let text = decode(saml_response_b64)?;
    let doc = xml::parse(text.as_bytes())?;
    let root = xml::root(&doc)?;
    if let Some(facts) = facts {
        *facts = Some(super::facts::read(
            &root,
            expected.idp,
            expected.email_claim,
        ));
    }

    // 2. The root must be the protocol Response, SAML 2.0.
    if !xml::is(&root, NS_PROTOCOL, "Response") {
        return Err(malformed("root element is not samlp:Response"));
    }
    if root.get_attribute("Version").as_deref() != Some("2.0") {
        return Err(malformed("Response Version is not 2.0"));
    }
    // Status first: an error response (user cancelled, no access) carries no assertion and
    // often no signature; reporting its status is useful and grants nothing. Read from the
    // envelope, it can only refuse.
    check_status(&root)?;

    // 3. Exactly one assertion in the WHOLE document, and unique IDs.
    let scan = Scan::of(&root);
    let assertion = scan.single_assertion(&root)?;
    scan.unique_ids()?;

    // 4. Shape of every signature before any crypto.
    let signatures = &scan.signatures;
    for sig in signatures {
        check_signature_shape(sig, &[&root, &assertion])?;
    }

    // 5. Crypto with metadata keys only, then read only the verified bytes.
    let encrypted = xml::is(&assertion, NS_ASSERTION, "EncryptedAssertion");
    let verified_doc: Option<Document> = if signatures.is_empty() {
        None
    } else {
        let verified = verify(&text, expected.idp)?;
        Some(xml::parse(verified.as_bytes())?)
    };
    let verified_root = verified_doc.as_ref().map(xml::root).transpose()?;
    let response_signed = verified_root
        .as_ref()
        .is_some_and(|r| xml::is(r, NS_PROTOCOL, "Response"));
    if let Some(v) = &verified_root {
        // The verified element must be the one the shape check bound the signature to.
        let same_id = |a: &Node, b: &Node| {
            a.get_attribute("ID").is_some() && a.get_attribute("ID") == b.get_attribute("ID")
        };
        let ok = if response_signed {
            same_id(v, &root)
        } else {
            xml::is(v, NS_ASSERTION, "Assertion") && same_id(v, &assertion)
        };
        if !ok {
            return Err(SamlError::SignatureInvalid(
                "the verified element is neither this Response nor its Assertion".into(),
            ));
        }
    }
    // The Response whose fields we read: the verified one when it was signed.
    let response = if response_signed {
        verified_root.clone().ok_or(SamlError::SignatureMissing)?
    } else {
        root.clone()
    };

    // 6. The assertion actually used, from verified bytes only.
    let decrypted_doc: Option<Document>;
    let verified_inner: Option<Document>;
    let assertion: Node = if encrypted {
        // The EncryptedAssertion from the verified Response when it was signed, else the
        // original one (then the plaintext assertion must carry its own signature).
        let enc = if response_signed {
            Scan::of(&response).single_assertion(&response)?
        } else {
            assertion.clone()
        };
        let plaintext = decrypt_assertion(&enc, expected.decryption_key)?;
        let wrapped = wrap_in_scope(&enc, &plaintext);
        decrypted_doc = Some(xml::parse(wrapped.as_bytes())?);
        let droot = xml::root(decrypted_doc.as_ref().ok_or(SamlError::NoAssertion)?)?;
        let inner_scan = Scan::of(&droot);
        let inner = inner_scan.single_assertion(&droot)?;
        if !xml::is(&inner, NS_ASSERTION, "Assertion") {
            return Err(malformed("EncryptedAssertion does not hold an Assertion"));
        }
        inner_scan.unique_ids()?;
        let inner_sigs = &inner_scan.signatures;
        for sig in inner_sigs {
            check_signature_shape(sig, &[&inner])?;
        }
        if inner_sigs.is_empty() {
            if !response_signed {
                // Nobody vouched for this plaintext: anyone can encrypt to our public key.
                return Err(SamlError::SignatureMissing);
            }
            verified_inner = None;
            inner
        } else {
            let v = verify(&wrapped, expected.idp)?;
            verified_inner = Some(xml::parse(v.as_bytes())?);
            let vroot = xml::root(verified_inner.as_ref().ok_or(SamlError::SignatureMissing)?)?;
            if !xml::is(&vroot, NS_ASSERTION, "Assertion")
                || vroot.get_attribute("ID") != inner.get_attribute("ID")
            {
                return Err(SamlError::SignatureInvalid(
                    "the verified element is not the decrypted Assertion".into(),
                ));
            }
            vroot
        }
    } else {
        decrypted_doc = None;
        verified_inner = None;
        match &verified_root {
            // Response signed: its one Assertion child, from the verified bytes.
            Some(v) if response_signed => Scan::of(v).single_assertion(v)?,
            // Only the Assertion signed: the verified Assertion itself.
            Some(v) => v.clone(),
            // No signature anywhere (XSW with a stripped signature, forged response).
            None => return Err(SamlError::SignatureMissing),
        }
    };
    let _keep_alive = (&decrypted_doc, &verified_inner, &verified_doc);

    // 7. Protocol rules.
    check_protocol(&response, response_signed, &assertion, expected, now)
}
