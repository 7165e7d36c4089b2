//! XML Signature for SAML messages: the wrapping (XSW) defences that run before any crypto
//! (one assertion in the whole document, unique IDs, the placement and shape of every
//! `ds:Signature`, the algorithm allow-lists) and the xmlsec glue that verifies with the IdP
//! metadata's certificates only.
//!
//! Apart from `response`, which only orders the checks, because these rules are XML-DSig's
//! and not the login profile's: their CVE notes are reviewed on their own, and any other
//! signed SAML message (a future LogoutRequest) reuses them instead of copying them.

use std::collections::HashSet;

use libxml::tree::Node;
use samael::crypto::{AllowedSignatureAlgorithm, CryptoProvider, ReduceMode, XmlSec};

use super::error::{SamlError, malformed};
use super::metadata::IdpMetadata;
use super::xml::{self, NS_ASSERTION, NS_ASSERTION_1, NS_DSIG};

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

/// What one walk over a tree finds: every Assertion or EncryptedAssertion below the root
/// (SAML 2.0, and SAML 1.1 ones, which WS-Federation carries), every signature (the root's
/// own included), and the first ID two elements share. One pass answers all three
/// questions; this runs on every ACS POST.
pub struct Scan {
    assertions: Vec<Node>,
    /// Every `ds:Signature` of the tree, in document order.
    pub signatures: Vec<Node>,
    duplicate_id: Option<String>,
}

impl Scan {
    /// Walks `root` and everything below it once.
    pub fn of(root: &Node) -> Scan {
        let mut scan = Scan {
            assertions: Vec::new(),
            signatures: Vec::new(),
            duplicate_id: None,
        };
        let mut ids = HashSet::new();
        for n in std::iter::once(root.clone()).chain(xml::descendants(root)) {
            if scan.duplicate_id.is_none() {
                // xml:id counts: libxml2 treats it as an ID too; so does SAML 1.1's
                // AssertionID, which a reference can name.
                let values = [
                    n.get_attribute("ID"),
                    n.get_attribute_ns("id", XML_NS),
                    n.get_attribute("AssertionID"),
                ];
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
                | (NS_ASSERTION_1, "Assertion")
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
    pub fn single_assertion(&self, root: &Node) -> Result<Node, SamlError> {
        match self.assertions.as_slice() {
            [] => Err(SamlError::NoAssertion),
            [a] => {
                if a.get_parent().map(|p| p.node_ptr()) != Some(root.node_ptr()) {
                    return Err(malformed(format!(
                        "the assertion is not a direct child of the {}",
                        root.get_name()
                    )));
                }
                Ok(a.clone())
            }
            many => Err(SamlError::MultipleAssertions(many.len())),
        }
    }

    /// Duplicate IDs would let a reference resolve to a different element than the one
    /// read (XSW).
    pub fn unique_ids(&self) -> Result<(), SamlError> {
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
pub fn check_signature_shape(sig: &Node, allowed_parents: &[&Node]) -> Result<(), SamlError> {
    // Placement: a signature elsewhere (in Extensions, in an Object, in a wrapper) is the
    // XSW pattern of signing one element and showing another.
    let parent = sig
        .get_parent()
        .ok_or_else(|| shape("signature without a parent"))?;
    if !allowed_parents
        .iter()
        .any(|p| p.node_ptr() == parent.node_ptr())
    {
        return Err(shape(format!(
            "signature is not a direct child of the {}",
            allowed_parents
                .iter()
                .map(|p| p.get_name())
                .collect::<Vec<_>>()
                .join(" or the ")
        )));
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
    let parent_id = signed_id(&parent)
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
pub fn verify(text: &str, idp: &IdpMetadata) -> Result<String, SamlError> {
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
    .map_err(invalid)
}

/// The ID a signature's Reference must name on the element it signs: SAML 1.1's
/// `AssertionID` on a SAML 1.1 Assertion, `ID` everywhere else.
fn signed_id(node: &Node) -> Option<String> {
    if xml::is(node, NS_ASSERTION_1, "Assertion") {
        node.get_attribute("AssertionID")
    } else {
        node.get_attribute("ID")
    }
}

/// xmlsec verification of the one signature of a SAML 1.1 token (WS-Federation), whose
/// reference names an `AssertionID`: samael's reducer registers `ID` attributes only, so
/// this asks xmlsec to verify the document's signature with `AssertionID` registered, with
/// each metadata certificate in turn (KeyInfo is never used, as in [`verify`]).
///
/// It returns no digested bytes, so the caller must have made the tree read afterwards the
/// one verified: exactly one signature in the document, shape-checked as the direct child
/// of the one assertion, referencing that assertion's unique ID with only the enveloped and
/// exclusive C14N transforms (nothing filtered out), and no DTD (no entity can change what
/// the parser reads). Then the assertion the reader walks is the element xmlsec digested.
pub fn verify_saml11(text: &str, idp: &IdpMetadata) -> Result<(), SamlError> {
    quiet_xmlsec();
    let certs = idp.certificate_ders();
    if certs.is_empty() {
        return Err(SamlError::NoCertificate);
    }
    let mut last = None;
    for cert in &certs {
        match XmlSec::verify_signed_xml(text, cert, Some("AssertionID")) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(invalid(e)),
        }
    }
    Err(last.unwrap_or(SamlError::NoCertificate))
}

fn invalid(e: samael::crypto::CryptoError) -> SamlError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    SamlError::SignatureInvalid(msg)
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
}
