//! What a SAML Response claims about itself, read before any check: the diagnosis an IdP
//! administrator needs when a login is refused (which Issuer and Destination they send,
//! which request it answers, who it names, which certificate signed it and whether that
//! certificate is the one in our metadata).
//!
//! Nothing here is verified and nothing here admits a login: `validate` never reads these
//! values, it only hands them out beside its verdict. A response we refuse is exactly the
//! one whose claims need showing, so they are read from the parsed envelope, not from the
//! verified bytes (which a refused response has none of).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libxml::tree::Node;
use sha2::{Digest, Sha256};

use super::metadata::IdpMetadata;
use super::xml::{self, NS_ASSERTION, NS_DSIG, NS_PROTOCOL};

/// The unverified claims of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseFacts {
    /// The Response's Issuer, else the Assertion's.
    pub issuer: Option<String>,
    /// The Response's `Destination`.
    pub destination: Option<String>,
    /// The Response's `InResponseTo`, else the bearer confirmation's.
    pub in_response_to: Option<String>,
    /// The Subject NameID of a plaintext Assertion (an encrypted one is unreadable here).
    pub name_id: Option<String>,
    /// The email the tenant's `email_claim` names, else the NameID.
    pub email: Option<String>,
    /// The certificate the first signature carries in its KeyInfo (never used to verify).
    pub signing_certificate: Option<CertificateFacts>,
}

/// A certificate as an IdP administrator finds it in their portal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CertificateFacts {
    /// SHA-256 of the DER, uppercase hex pairs joined by `:` (as `openssl x509 -fingerprint
    /// -sha256` prints it).
    pub sha256: String,
    /// SHA-1 of the DER, uppercase hex without separators: the "Thumbprint" Entra ID and
    /// AD FS show next to their signing certificates, so the admin can match it by eye.
    /// An identifier only, never a security decision.
    pub thumbprint: String,
    /// Whether this certificate is one of the tenant's metadata certificates: `false` is the
    /// rolled-over (or wrong) IdP key.
    pub in_metadata: bool,
}

/// Reads the claims of the Response `root`, comparing the signing certificate with `idp`'s.
pub(super) fn read(root: &Node, idp: &IdpMetadata, email_claim: Option<&str>) -> ResponseFacts {
    if !xml::is(root, NS_PROTOCOL, "Response") {
        return ResponseFacts::default();
    }
    let assertion = xml::child(root, NS_ASSERTION, "Assertion");
    let text = |n: Option<Node>| {
        n.and_then(|n| xml::trimmed_text(&n))
            .filter(|s| !s.is_empty())
    };
    let issuer = text(xml::child(root, NS_ASSERTION, "Issuer")).or_else(|| {
        text(
            assertion
                .as_ref()
                .and_then(|a| xml::child(a, NS_ASSERTION, "Issuer")),
        )
    });
    let subject = assertion
        .as_ref()
        .and_then(|a| xml::child(a, NS_ASSERTION, "Subject"));
    let name_id = text(
        subject
            .as_ref()
            .and_then(|s| xml::child(s, NS_ASSERTION, "NameID")),
    );
    let confirmation_irt = || {
        let subject = subject.as_ref()?;
        xml::children(subject, NS_ASSERTION, "SubjectConfirmation")
            .iter()
            .filter_map(|sc| xml::child(sc, NS_ASSERTION, "SubjectConfirmationData"))
            .find_map(|d| d.get_attribute("InResponseTo"))
    };
    let email = match email_claim {
        Some(claim) => assertion.as_ref().and_then(|a| attribute(a, claim)),
        None => name_id.clone(),
    };
    let signature = xml::child(root, NS_DSIG, "Signature").or_else(|| {
        assertion
            .as_ref()
            .and_then(|a| xml::child(a, NS_DSIG, "Signature"))
    });
    ResponseFacts {
        issuer,
        destination: root.get_attribute("Destination"),
        in_response_to: root.get_attribute("InResponseTo").or_else(confirmation_irt),
        name_id,
        email,
        signing_certificate: signature.and_then(|s| key_info_certificate(&s, idp)),
    }
}

/// The first value of the attribute `name` in any AttributeStatement.
fn attribute(assertion: &Node, name: &str) -> Option<String> {
    xml::children(assertion, NS_ASSERTION, "AttributeStatement")
        .iter()
        .flat_map(|st| xml::children(st, NS_ASSERTION, "Attribute"))
        .filter(|a| a.get_attribute("Name").as_deref() == Some(name))
        .flat_map(|a| xml::children(&a, NS_ASSERTION, "AttributeValue"))
        .find_map(|v| xml::trimmed_text(&v).filter(|s| !s.is_empty()))
}

/// `KeyInfo/X509Data/X509Certificate` of a signature, fingerprinted.
fn key_info_certificate(signature: &Node, idp: &IdpMetadata) -> Option<CertificateFacts> {
    let cert = xml::child(signature, NS_DSIG, "KeyInfo")
        .and_then(|k| xml::child(&k, NS_DSIG, "X509Data"))
        .and_then(|d| xml::child(&d, NS_DSIG, "X509Certificate"))
        .and_then(|c| xml::whole_text(&c))?;
    let compact: String = cert.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(compact).ok()?;
    Some(fingerprint(&der, idp))
}

/// The fingerprints of `der` and whether `idp` lists it.
pub fn fingerprint(der: &[u8], idp: &IdpMetadata) -> CertificateFacts {
    let hex = |bytes: &[u8], sep: &str| {
        bytes
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(sep)
    };
    CertificateFacts {
        sha256: hex(&Sha256::digest(der), ":"),
        thumbprint: hex(&openssl::sha::sha1(der), ""),
        in_metadata: idp.certs.iter().any(|c| c.der == der),
    }
}
