//! `validate`: the one function that decides whether a SAML Response is a login.
//!
//! Every check runs here, in the order below, so a reviewer reads the whole policy top to
//! bottom (crewjam/saml style) and tests pass `now` instead of touching the clock:
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
//!    SubjectConfirmation, Conditions times, AudienceRestriction, NameID, attributes, email.
//!
//! Replay (assertion ID seen before) and the tenant's email domains are the caller's job.
//! CPU-heavy: callers run this in `spawn_blocking`. libxml types are `!Send`, so none
//! escapes this module.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use libxml::tree::{Document, Node};
use openssl::pkey::{PKey, Private};
use samael::crypto::{AllowedSignatureAlgorithm, CryptoProvider, ReduceMode, XmlSec};

use super::error::SamlError;
use super::metadata::IdpMetadata;
use super::xml::{self, NS_ASSERTION, NS_DSIG, NS_PROTOCOL, NS_XENC, NS_XENC11};

/// Largest `SAMLResponse` form value accepted (base64 text).
pub const MAX_BASE64_BYTES: usize = 512 * 1024;
/// Largest decoded (or decrypted) XML accepted.
pub const MAX_XML_BYTES: usize = 384 * 1024;

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Signature algorithms accepted: RSA and ECDSA with SHA-2. Never SHA-1 (collisions) nor
/// HMAC (a shared secret would let anyone holding it, or a key-confusion bug, forge).
const SIGNATURE_METHODS: [&str; 6] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
/// Digest algorithms accepted for references.
const DIGEST_METHODS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
/// The same allow-list handed to samael, so xmlsec enforces it a second time.
const ALLOWED: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

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
    /// Earliest end of validity: the replay-cache entry must live at least until then.
    pub not_on_or_after: DateTime<Utc>,
    /// The request this answers, `None` when unsolicited.
    pub in_response_to: Option<String>,
}

fn malformed(msg: impl Into<String>) -> SamlError {
    SamlError::Malformed(msg.into())
}

fn b64_engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

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
pub fn validate(
    saml_response_b64: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
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

    // 2. The root must be the protocol Response, SAML 2.0.
    if !xml::is(&root, NS_PROTOCOL, "Response") {
        return Err(malformed("root element is not samlp:Response"));
    }
    if root.get_attribute("Version").as_deref() != Some("2.0") {
        return Err(malformed("Response Version is not 2.0"));
    }
    // Status first: an error response (user cancelled, no access) carries no assertion and
    // often no signature; reporting its status is useful and grants nothing.
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

fn check_status(response: &Node) -> Result<(), SamlError> {
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

/// What one walk over a tree finds: every Assertion or EncryptedAssertion below the root,
/// every signature (the root's own included), and the first ID two elements share. One
/// pass answers all three questions; this runs on every ACS POST.
struct Scan {
    assertions: Vec<Node>,
    signatures: Vec<Node>,
    duplicate_id: Option<String>,
}

impl Scan {
    fn of(root: &Node) -> Scan {
        let mut scan = Scan {
            assertions: Vec::new(),
            signatures: Vec::new(),
            duplicate_id: None,
        };
        let mut ids = HashSet::new();
        for n in std::iter::once(root.clone()).chain(xml::descendants(root)) {
            if scan.duplicate_id.is_none() {
                // xml:id counts: libxml2 treats it as an ID too.
                let values = [n.get_attribute("ID"), n.get_attribute_ns("id", XML_NS)];
                scan.duplicate_id = values
                    .into_iter()
                    .flatten()
                    .find(|v| !ids.insert(v.clone()));
            }
            let Some(ns) = n.get_namespace().map(|ns| ns.get_href()) else {
                continue;
            };
            let name = n.get_name();
            match (ns.as_str(), name.as_str()) {
                (NS_DSIG, "Signature") => scan.signatures.push(n),
                (NS_ASSERTION, "Assertion" | "EncryptedAssertion")
                    if n.node_ptr() != root.node_ptr() =>
                {
                    scan.assertions.push(n)
                }
                _ => {}
            }
        }
        scan
    }

    /// The one Assertion or EncryptedAssertion, counting every descendant of `root`; it must
    /// be a direct child of `root`. Wrapping attacks (XSW 1-8) add a second, unsigned
    /// assertion anywhere (Extensions, Object, inside the signed one) and rely on the
    /// reader picking a different one than the verifier.
    fn single_assertion(&self, root: &Node) -> Result<Node, SamlError> {
        match self.assertions.as_slice() {
            [] => Err(SamlError::NoAssertion),
            [a] => {
                if a.get_parent().map(|p| p.node_ptr()) != Some(root.node_ptr()) {
                    return Err(malformed(
                        "the assertion is not a direct child of the Response",
                    ));
                }
                Ok(a.clone())
            }
            many => Err(SamlError::MultipleAssertions(many.len())),
        }
    }

    /// Duplicate IDs would let a reference resolve to a different element than the one
    /// read (XSW).
    fn unique_ids(&self) -> Result<(), SamlError> {
        match &self.duplicate_id {
            Some(id) => Err(SamlError::DuplicateId(id.clone())),
            None => Ok(()),
        }
    }
}

fn shape(msg: impl Into<String>) -> SamlError {
    SamlError::SignatureShape(msg.into())
}

/// Checks one `ds:Signature` before any crypto (xml-crypto CVE-2025-29774, XSLT
/// CVE-2022-34169, XSW): placement, one SignedInfo, one Reference to the parent's unique
/// ID, only enveloped-signature and exclusive C14N, SHA-2 algorithms, no `ds:Object`.
fn check_signature_shape(sig: &Node, allowed_parents: &[&Node]) -> Result<(), SamlError> {
    // Placement: a signature elsewhere (in Extensions, in an Object, in a wrapper) is the
    // XSW pattern of signing one element and showing another.
    let parent = sig
        .get_parent()
        .ok_or_else(|| shape("signature without a parent"))?;
    if !allowed_parents
        .iter()
        .any(|p| p.node_ptr() == parent.node_ptr())
    {
        return Err(shape(
            "signature is not a direct child of the Response or the Assertion",
        ));
    }
    let mut signed_info = Vec::new();
    let mut signature_value = 0;
    let mut key_info = 0;
    for c in sig.get_child_elements() {
        if xml::is(&c, NS_DSIG, "SignedInfo") {
            signed_info.push(c);
        } else if xml::is(&c, NS_DSIG, "SignatureValue") {
            signature_value += 1;
        } else if xml::is(&c, NS_DSIG, "KeyInfo") {
            // Present in most responses; never read (keys come from metadata only).
            key_info += 1;
        } else if xml::is(&c, NS_DSIG, "Object") {
            // ds:Object is where XSW hides the original element; SAML never needs it.
            return Err(shape("ds:Object in signature"));
        } else {
            return Err(shape(format!("unexpected <{}> in signature", c.get_name())));
        }
    }
    if signed_info.len() != 1 || signature_value != 1 || key_info > 1 {
        return Err(shape(
            "signature needs exactly one SignedInfo and SignatureValue",
        ));
    }
    let si = &signed_info[0];
    let mut c14n = Vec::new();
    let mut methods = Vec::new();
    let mut references = Vec::new();
    for c in si.get_child_elements() {
        if xml::is(&c, NS_DSIG, "CanonicalizationMethod") {
            c14n.push(c);
        } else if xml::is(&c, NS_DSIG, "SignatureMethod") {
            methods.push(c);
        } else if xml::is(&c, NS_DSIG, "Reference") {
            references.push(c);
        } else {
            return Err(shape(format!(
                "unexpected <{}> in SignedInfo",
                c.get_name()
            )));
        }
    }
    if c14n.len() != 1 || methods.len() != 1 {
        return Err(shape(
            "SignedInfo needs one CanonicalizationMethod and one SignatureMethod",
        ));
    }
    // Exclusive C14N without comments only: #WithComments would make the comment in
    // `alice@contoso.com<!---->.evil` part of what is signed and readers disagree on it.
    check_c14n(&c14n[0], "CanonicalizationMethod")?;
    let method = methods[0].get_attribute("Algorithm").unwrap_or_default();
    if !SIGNATURE_METHODS.contains(&method.as_str()) {
        return Err(SamlError::SignatureAlgorithm(method));
    }
    if !methods[0].get_child_elements().is_empty() {
        // HMACOutputLength truncation and the like.
        return Err(shape("SignatureMethod has parameters"));
    }
    // One Reference: more would let the signature cover an element other than the one read.
    if references.len() != 1 {
        return Err(shape(format!(
            "SignedInfo has {} references, expected 1",
            references.len()
        )));
    }
    let reference = &references[0];
    let parent_id = parent
        .get_attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| shape("the signed element has no ID"))?;
    // URI="" (whole document) or an ID elsewhere is how a signature is made to cover
    // something other than its parent (python3-saml bad_reference, XSW).
    let uri = reference.get_attribute("URI").unwrap_or_default();
    if uri != format!("#{parent_id}") {
        return Err(shape(format!(
            "Reference URI {uri:?} is not the signed element's ID"
        )));
    }
    let mut digest = Vec::new();
    let mut digest_value = 0;
    for c in reference.get_child_elements() {
        if xml::is(&c, NS_DSIG, "Transforms") {
            for t in c.get_child_elements() {
                if !xml::is(&t, NS_DSIG, "Transform") {
                    return Err(shape(format!(
                        "unexpected <{}> in Transforms",
                        t.get_name()
                    )));
                }
                let alg = t.get_attribute("Algorithm").unwrap_or_default();
                if alg == ENVELOPED {
                    if !t.get_child_elements().is_empty() {
                        return Err(shape("enveloped-signature transform has children"));
                    }
                } else {
                    // XPath and XSLT transforms run attacker-chosen programs (CVE-2022-34169)
                    // and can filter out what the reader later sees.
                    check_c14n(&t, "Transform")?;
                }
            }
        } else if xml::is(&c, NS_DSIG, "DigestMethod") {
            digest.push(c);
        } else if xml::is(&c, NS_DSIG, "DigestValue") {
            digest_value += 1;
        } else {
            return Err(shape(format!("unexpected <{}> in Reference", c.get_name())));
        }
    }
    if digest.len() != 1 || digest_value != 1 {
        return Err(shape(
            "Reference needs one DigestMethod and one DigestValue",
        ));
    }
    let dm = digest[0].get_attribute("Algorithm").unwrap_or_default();
    if !DIGEST_METHODS.contains(&dm.as_str()) {
        return Err(SamlError::SignatureAlgorithm(dm));
    }
    Ok(())
}

fn check_c14n(node: &Node, what: &str) -> Result<(), SamlError> {
    let alg = node.get_attribute("Algorithm").unwrap_or_default();
    if alg != EXC_C14N {
        return Err(shape(format!(
            "{what} algorithm {alg:?} is not exclusive C14N"
        )));
    }
    for c in node.get_child_elements() {
        if !xml::is(&c, EXC_C14N, "InclusiveNamespaces") {
            return Err(shape(format!("unexpected <{}> in {what}", c.get_name())));
        }
    }
    Ok(())
}

/// xmlsec verification of every signature in `text` with the IdP's certificates (KeyInfo
/// in the message is never used: samael sets the key on the context, xmlsec then skips
/// KeyInfo; xml-crypto CVE-2024-32962). Returns the canonical bytes that were digested.
fn verify(text: &str, idp: &IdpMetadata) -> Result<String, SamlError> {
    quiet_xmlsec();
    let certs = idp.certificate_ders();
    if certs.is_empty() {
        return Err(SamlError::NoCertificate);
    }
    XmlSec::reduce_xml_to_signed_with_allowed_algorithms(
        text,
        &certs,
        ReduceMode::PreDigest,
        Some(&ALLOWED),
    )
    .map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        SamlError::SignatureInvalid(msg)
    })
}

unsafe extern "C" {
    /// libxmlsec1: turns the default error callback's stderr output on or off.
    fn xmlSecErrorsDefaultCallbackEnableOutput(enabled: std::os::raw::c_int);
}

/// Stops xmlsec printing a line to stderr for every failed verification: anyone can post
/// forged responses, and each would otherwise write unstructured text beside our logs.
/// The reason still reaches the caller through `SamlError`.
fn quiet_xmlsec() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sets a process-wide int flag in libxmlsec1 (linked through samael); no
        // pointers are involved and it is called once, before any verification of ours.
        unsafe { xmlSecErrorsDefaultCallbackEnableOutput(0) }
    });
}

/// Puts the decrypted assertion back into the namespace context of its EncryptedAssertion
/// (IdPs serialise it relying on prefixes declared on the Response), inside a wrapper
/// element that is never read.
///
/// The in-scope declarations are collected walking up the ancestors, innermost first (what
/// libxml2's `xmlGetNsList` does): the libxml crate's `get_namespaces` never frees the list
/// `xmlGetNsList` allocates, and the `saml_response` fuzz target's LeakSanitizer caught
/// every response encrypted to our public key, which anyone can make, leaking it.
fn wrap_in_scope(enc: &Node, plaintext: &str) -> String {
    let mut decls = String::new();
    let mut seen = HashSet::new();
    let ancestors = std::iter::successors(Some(enc.clone()), Node::get_parent);
    for ns in ancestors.flat_map(|n| n.get_namespace_declarations()) {
        let prefix = ns.get_prefix();
        if prefix == "rgwrap" || !seen.insert(prefix.clone()) {
            continue;
        }
        let href = super::metadata::escape(&ns.get_href());
        if prefix.is_empty() {
            decls.push_str(&format!(" xmlns=\"{href}\""));
        } else {
            decls.push_str(&format!(" xmlns:{prefix}=\"{href}\""));
        }
    }
    let plaintext = plaintext.trim_start_matches('\u{feff}').trim_start();
    // Drop an XML declaration, which may only start a document.
    let body = if plaintext.starts_with("<?xml") {
        plaintext
            .find("?>")
            .map(|i| &plaintext[i + 2..])
            .unwrap_or(plaintext)
    } else {
        plaintext
    };
    format!("<rgwrap:w xmlns:rgwrap=\"urn:realmgate:wrapper\"{decls}>{body}</rgwrap:w>")
}

fn unsupported(msg: impl Into<String>) -> SamlError {
    SamlError::EncryptionUnsupported(msg.into())
}

/// Decrypts an EncryptedAssertion: RSA-OAEP key transport and AES-GCM content only.
/// CBC is refused (padding-oracle and malleability attacks on XML Encryption, Jager and
/// Somorovsky 2011) and so is RSA PKCS#1 v1.5 (Bleichenbacher). Algorithms are checked
/// before any private-key operation.
fn decrypt_assertion(enc: &Node, key: Option<&PKey<Private>>) -> Result<String, SamlError> {
    let data = xml::children(enc, NS_XENC, "EncryptedData");
    if data.len() != 1 {
        return Err(malformed(
            "EncryptedAssertion needs exactly one EncryptedData",
        ));
    }
    let data = &data[0];
    let data_alg = xml::child(data, NS_XENC, "EncryptionMethod")
        .and_then(|m| m.get_attribute("Algorithm"))
        .ok_or_else(|| malformed("EncryptedData has no EncryptionMethod"))?;
    let (cipher, key_len) = match data_alg.as_str() {
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => (openssl::symm::Cipher::aes_128_gcm(), 16),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => (openssl::symm::Cipher::aes_192_gcm(), 24),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => (openssl::symm::Cipher::aes_256_gcm(), 32),
        other => return Err(unsupported(format!("content encryption {other}"))),
    };
    // EncryptedKey inside EncryptedData/KeyInfo, or beside EncryptedData (Okta, Shibboleth).
    let mut keys: Vec<Node> = xml::child(data, NS_DSIG, "KeyInfo")
        .map(|ki| xml::children(&ki, NS_XENC, "EncryptedKey"))
        .unwrap_or_default();
    keys.extend(xml::children(enc, NS_XENC, "EncryptedKey"));
    if keys.is_empty() {
        return Err(malformed("no EncryptedKey"));
    }
    // Refuse unsupported key transport before anything else, so the reason is precise.
    for ek in &keys {
        key_transport(ek)?;
    }
    let key =
        key.ok_or_else(|| SamlError::DecryptionFailed("no SP decryption key configured".into()))?;
    let mut last_err = SamlError::DecryptionFailed("no EncryptedKey could be decrypted".into());
    let mut content_key = None;
    for ek in &keys {
        match unwrap_key(ek, key) {
            Ok(k) if k.len() == key_len => {
                content_key = Some(k);
                break;
            }
            Ok(k) => {
                last_err = SamlError::DecryptionFailed(format!(
                    "content key is {} bytes, {data_alg} needs {key_len}",
                    k.len()
                ))
            }
            Err(e @ SamlError::EncryptionUnsupported(_)) => return Err(e),
            Err(e) => last_err = e,
        }
    }
    let content_key = content_key.ok_or(last_err)?;
    let cipher_value = cipher_value(data)?;
    const IV: usize = 12;
    const TAG: usize = 16;
    if cipher_value.len() < IV + TAG {
        return Err(SamlError::DecryptionFailed("ciphertext too short".into()));
    }
    let (iv, rest) = cipher_value.split_at(IV);
    let (ct, tag) = rest.split_at(rest.len() - TAG);
    let plain = openssl::symm::decrypt_aead(cipher, &content_key, Some(iv), &[], ct, tag)
        .map_err(|_| SamlError::DecryptionFailed("AES-GCM authentication failed".into()))?;
    if plain.len() > MAX_XML_BYTES {
        return Err(SamlError::TooLarge(plain.len()));
    }
    String::from_utf8(plain).map_err(|_| malformed("decrypted assertion is not UTF-8"))
}

fn cipher_value(node: &Node) -> Result<Vec<u8>, SamlError> {
    let cv = xml::child(node, NS_XENC, "CipherData")
        .and_then(|cd| xml::child(&cd, NS_XENC, "CipherValue"))
        .ok_or_else(|| malformed("no CipherData/CipherValue"))?;
    let text: Vec<u8> = xml::whole_text(&cv)
        .unwrap_or_default()
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    b64_engine()
        .decode(&text)
        .map_err(|_| malformed("CipherValue is not base64"))
}

fn md_for(uri: &str) -> Option<&'static openssl::md::MdRef> {
    use openssl::md::Md;
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => Md::sha1(),
        "http://www.w3.org/2001/04/xmlenc#sha256" => Md::sha256(),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Md::sha384(),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Md::sha512(),
        _ => return None,
    })
}

fn mgf_for(uri: &str) -> Option<&'static openssl::md::MdRef> {
    use openssl::md::Md;
    Some(match uri {
        "http://www.w3.org/2009/xmlenc11#mgf1sha1" => Md::sha1(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha256" => Md::sha256(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha384" => Md::sha384(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Md::sha512(),
        _ => return None,
    })
}

type Transport = (&'static openssl::md::MdRef, &'static openssl::md::MdRef);

/// The OAEP digest and MGF1 digest of an EncryptedKey, or why it is refused.
fn key_transport(ek: &Node) -> Result<Transport, SamlError> {
    let method = xml::child(ek, NS_XENC, "EncryptionMethod")
        .ok_or_else(|| malformed("EncryptedKey has no EncryptionMethod"))?;
    let alg = method.get_attribute("Algorithm").unwrap_or_default();
    let digest_uri =
        xml::child(&method, NS_DSIG, "DigestMethod").and_then(|d| d.get_attribute("Algorithm"));
    let oaep_md = match &digest_uri {
        None => openssl::md::Md::sha1(),
        Some(u) => md_for(u).ok_or_else(|| unsupported(format!("OAEP digest {u}")))?,
    };
    let mgf_md = match alg.as_str() {
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => openssl::md::Md::sha1(),
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {
            match xml::child(&method, NS_XENC11, "MGF").and_then(|m| m.get_attribute("Algorithm")) {
                None => openssl::md::Md::sha1(),
                Some(u) => mgf_for(&u).ok_or_else(|| unsupported(format!("OAEP MGF {u}")))?,
            }
        }
        other => return Err(unsupported(format!("key transport {other}"))),
    };
    if xml::child(&method, NS_XENC, "OAEPparams").is_some() {
        return Err(unsupported("OAEPparams label"));
    }
    Ok((oaep_md, mgf_md))
}

fn unwrap_key(ek: &Node, key: &PKey<Private>) -> Result<Vec<u8>, SamlError> {
    let (oaep_md, mgf_md) = key_transport(ek)?;
    let wrapped = cipher_value(ek)?;
    let fail = |_| SamlError::DecryptionFailed("RSA-OAEP key unwrap failed".into());
    let mut ctx = openssl::pkey_ctx::PkeyCtx::new(key).map_err(fail)?;
    ctx.decrypt_init().map_err(fail)?;
    ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1_OAEP)
        .map_err(fail)?;
    ctx.set_rsa_oaep_md(oaep_md).map_err(fail)?;
    ctx.set_rsa_mgf1_md(mgf_md).map_err(fail)?;
    let mut out = Vec::new();
    ctx.decrypt_to_vec(&wrapped, &mut out).map_err(fail)?;
    Ok(out)
}

fn time_attr(node: &Node, name: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
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

/// The protocol rules (SAML core 2.x, profiles 4.1.4.3), on verified nodes.
fn check_protocol(
    response: &Node,
    response_signed: bool,
    assertion: &Node,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    let skew = chrono::Duration::from_std(expected.skew).unwrap_or(chrono::Duration::zero());
    let idp = &expected.idp.entity_id;

    // Issuer: the tenant's IdP, on the Response (when present) and on the Assertion. A
    // response from another IdP, even validly signed by it, is not this tenant's login.
    if let Some(found) = issuer_of(response)
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
    match response.get_attribute("Destination") {
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
    // stolen from another user's flow); unsolicited only when the tenant allows it.
    let response_irt = response.get_attribute("InResponseTo");
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
    let mut confirmation_end = None;
    let mut first_error = None;
    for sc in xml::children(&subject, NS_ASSERTION, "SubjectConfirmation") {
        if sc.get_attribute("Method").as_deref() != Some(CM_BEARER) {
            continue;
        }
        match check_bearer(&sc, response_irt.as_deref(), expected, now, skew) {
            Ok(end) => {
                confirmation_end = Some(end);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let confirmation_end = match (confirmation_end, first_error) {
        (Some(end), _) => end,
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
    let name_id_format = name_id_node.get_attribute("Format");

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for st in xml::children(assertion, NS_ASSERTION, "AttributeStatement") {
        for a in xml::children(&st, NS_ASSERTION, "Attribute") {
            let Some(name) = a.get_attribute("Name") else {
                continue;
            };
            let values = attributes.entry(name).or_default();
            for v in xml::children(&a, NS_ASSERTION, "AttributeValue") {
                if let Some(t) = xml::trimmed_text(&v) {
                    values.push(t);
                }
            }
        }
    }

    let email = match expected.email_claim {
        Some(claim) => {
            let values: Vec<&String> = attributes
                .get(claim)
                .map(|v| v.iter().filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            match values.as_slice() {
                [one] => (*one).clone(),
                [] => return Err(SamlError::EmailMissing(format!("no attribute {claim:?}"))),
                // Several emails: which one the person is would be a guess.
                many => {
                    return Err(SamlError::EmailMissing(format!(
                        "attribute {claim:?} has {} values",
                        many.len()
                    )));
                }
            }
        }
        None => name_id.clone(),
    };

    let assertion_id = assertion
        .get_attribute("ID")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("the assertion has no ID"))?;
    let session_index = xml::child(assertion, NS_ASSERTION, "AuthnStatement")
        .and_then(|s| s.get_attribute("SessionIndex"));
    Ok(VerifiedAssertion {
        assertion_id,
        issuer: idp.clone(),
        name_id,
        name_id_format,
        email,
        attributes,
        session_index,
        not_on_or_after,
        in_response_to: expected.request_id.map(str::to_string),
    })
}

/// One bearer SubjectConfirmation: Recipient is our ACS, the window is open, and it answers
/// our request. Returns its NotOnOrAfter.
fn check_bearer(
    sc: &Node,
    response_irt: Option<&str>,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
    skew: chrono::Duration,
) -> Result<DateTime<Utc>, SamlError> {
    let data = xml::child(sc, NS_ASSERTION, "SubjectConfirmationData")
        .ok_or(SamlError::SubjectConfirmationMissing)?;
    let recipient = data.get_attribute("Recipient").unwrap_or_default();
    if !expected.acs_urls.iter().any(|u| u == &recipient) {
        return Err(SamlError::RecipientMismatch(recipient));
    }
    // A bearer assertion without an end is a forever-valid login token.
    let noa = time_attr(&data, "NotOnOrAfter")?
        .ok_or_else(|| SamlError::Expired("SubjectConfirmationData has no NotOnOrAfter".into()))?;
    if now - skew >= noa {
        return Err(SamlError::Expired(format!(
            "SubjectConfirmationData NotOnOrAfter {noa}"
        )));
    }
    if let Some(nb) = time_attr(&data, "NotBefore")?
        && now + skew < nb
    {
        return Err(SamlError::NotYetValid(format!(
            "SubjectConfirmationData NotBefore {nb}"
        )));
    }
    let irt = data.get_attribute("InResponseTo");
    match expected.request_id {
        Some(rid) => {
            // At least one InResponseTo (Response or confirmation) must name our request,
            // and none may name another.
            let found = irt.as_deref().or(response_irt);
            if found != Some(rid) || irt.as_deref().is_some_and(|i| i != rid) {
                return Err(SamlError::InResponseToMismatch {
                    expected: Some(rid.to_string()),
                    found: irt.or(response_irt.map(str::to_string)),
                });
            }
        }
        None => {
            if let Some(found) = irt {
                return Err(SamlError::InResponseToMismatch {
                    expected: None,
                    found: Some(found),
                });
            }
        }
    }
    Ok(noa)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    const D: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

    /// A signature inside an element with ID `_x`, parts replaceable per test.
    fn shaped(signed_info_extra: &str, reference: &str, sig_extra: &str) -> String {
        format!(
            r#"<r ID="_x"><ds:Signature xmlns:ds="{NS_DSIG}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{R}"/>{reference}{signed_info_extra}</ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue>{sig_extra}</ds:Signature></r>"#
        )
    }

    fn reference(uri: &str, transforms: &str) -> String {
        format!(
            r#"<ds:Reference URI="{uri}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="{D}"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference>"#
        )
    }

    fn check(xml_text: &str) -> Result<(), SamlError> {
        let doc = xml::parse(xml_text.as_bytes()).expect("test xml");
        let root = xml::root(&doc).expect("root");
        let sig = Scan::of(&root)
            .signatures
            .into_iter()
            .next()
            .expect("signature");
        check_signature_shape(&sig, &[&root])
    }

    fn std_transforms() -> String {
        format!(r#"<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>"#)
    }

    #[test]
    fn well_shaped_signature_passes() {
        assert_eq!(
            check(&shaped("", &reference("#_x", &std_transforms()), "")),
            Ok(())
        );
    }

    #[test]
    fn two_references_are_refused() {
        // A second reference can sign some other element the reader then trusts.
        let refs = reference("#_x", &std_transforms()) + &reference("#_x", &std_transforms());
        assert!(matches!(
            check(&shaped("", &refs, "")),
            Err(SamlError::SignatureShape(_))
        ));
    }

    #[test]
    fn two_signed_infos_are_refused() {
        let si = format!(
            r#"<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{R}"/>{}</ds:SignedInfo>"#,
            reference("#_x", &std_transforms())
        );
        let xml_text = shaped("", &reference("#_x", &std_transforms()), "")
            .replace("<ds:SignatureValue>", &format!("{si}<ds:SignatureValue>"));
        assert!(matches!(
            check(&xml_text),
            Err(SamlError::SignatureShape(_))
        ));
    }

    #[test]
    fn unknown_elements_and_parameters_are_refused() {
        let r = reference("#_x", &std_transforms());
        let hmac_len = shaped("", &r, "").replace(
            &format!(r#"<ds:SignatureMethod Algorithm="{R}"/>"#),
            &format!(r#"<ds:SignatureMethod Algorithm="{R}"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>"#),
        );
        assert!(matches!(
            check(&hmac_len),
            Err(SamlError::SignatureShape(_))
        ));
        assert!(matches!(
            check(&shaped("<ds:Manifest/>", &r, "")),
            Err(SamlError::SignatureShape(_))
        ));
        let two_keyinfos = shaped("", &r, "<ds:KeyInfo/><ds:KeyInfo/>");
        assert!(matches!(
            check(&two_keyinfos),
            Err(SamlError::SignatureShape(_))
        ));
        let xslt = format!(
            r#"<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><x/></ds:Transform>"#
        );
        assert!(matches!(
            check(&shaped("", &reference("#_x", &xslt), "")),
            Err(SamlError::SignatureShape(_))
        ));
        let enveloped_with_child =
            format!(r#"<ds:Transform Algorithm="{ENVELOPED}"><x/></ds:Transform>"#);
        assert!(matches!(
            check(&shaped("", &reference("#_x", &enveloped_with_child), "")),
            Err(SamlError::SignatureShape(_))
        ));
    }

    #[test]
    fn signed_element_without_id_is_refused() {
        let xml_text =
            shaped("", &reference("#_x", &std_transforms()), "").replacen(r#" ID="_x""#, "", 1);
        assert!(matches!(
            check(&xml_text),
            Err(SamlError::SignatureShape(_))
        ));
    }

    #[test]
    fn xml_id_counts_as_an_id() {
        let doc = xml::parse(br#"<r ID="a"><x xml:id="a"/></r>"#).expect("xml");
        assert_eq!(
            Scan::of(&xml::root(&doc).expect("root")).unique_ids(),
            Err(SamlError::DuplicateId("a".into()))
        );
    }

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
