//! XML Encryption for SAML (crewjam/saml's `xmlenc`): decrypting an EncryptedAssertion with
//! the SP key, RSA-OAEP key transport and AES-GCM content only, and putting the plaintext
//! back into the namespace context it was encrypted in.
//!
//! Its own file because it is a separate attack surface from signatures: anyone can encrypt
//! to our public key, so this runs on unauthenticated input and its algorithm refusals
//! (CBC, RSA PKCS#1 v1.5) are reviewed apart; `response` decides when it runs and what must
//! then vouch for the plaintext.

use std::collections::HashSet;

use base64::Engine;
use libxml::tree::Node;
use openssl::pkey::{PKey, Private};

use super::error::{SamlError, malformed, unsupported};
use super::xml::{self, MAX_XML_BYTES, NS_DSIG, NS_XENC, NS_XENC11, b64_engine};

/// Puts the decrypted assertion back into the namespace context of its EncryptedAssertion
/// (IdPs serialise it relying on prefixes declared on the Response), inside a wrapper
/// element that is never read.
///
/// The in-scope declarations are collected walking up the ancestors, innermost first (what
/// libxml2's `xmlGetNsList` does): the libxml crate's `get_namespaces` never frees the list
/// `xmlGetNsList` allocates, and the `saml_response` fuzz target's LeakSanitizer caught
/// every response encrypted to our public key, which anyone can make, leaking it.
pub(super) fn wrap_in_scope(enc: &Node, plaintext: &str) -> String {
    let mut decls = String::new();
    let mut seen = HashSet::new();
    let ancestors = std::iter::successors(Some(enc.clone()), Node::get_parent);
    for ns in ancestors.flat_map(|n| n.get_namespace_declarations()) {
        let prefix = ns.get_prefix();
        if prefix == "rgwrap" || !seen.insert(prefix.clone()) {
            continue;
        }
        let href = xml::escape(&ns.get_href());
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

/// Decrypts an EncryptedAssertion: RSA-OAEP key transport and AES-GCM content only.
/// CBC is refused (padding-oracle and malleability attacks on XML Encryption, Jager and
/// Somorovsky 2011) and so is RSA PKCS#1 v1.5 (Bleichenbacher). Algorithms are checked
/// before any private-key operation.
pub(super) fn decrypt_assertion(
    enc: &Node,
    key: Option<&PKey<Private>>,
) -> Result<String, SamlError> {
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
