//! Our side of the federation: the SP values the requests and `validate` use, and the SP
//! metadata document the IdP administrator imports.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::keys::SpKeys;
use super::metadata::{BINDING_POST, BINDING_REDIRECT};
use super::xml::escape;
use super::xml::{NS_DSIG, NS_METADATA, NS_PROTOCOL};
use crate::config::Config;

/// Our ACS path (HTTP-POST binding), index 0 and default.
pub const ACS_PATH: &str = "/auth/saml/callback";
/// ACS alias some products are configured with, index 1.
pub const ACS_ALIAS_PATH: &str = "/saml2/idpresponse";
/// Our SingleLogoutService (HTTP-Redirect and HTTP-POST bindings).
pub const SLO_PATH: &str = "/saml/slo";

/// Our side of the federation: what the SP metadata and the requests say about us.
#[derive(Debug, Clone)]
pub struct Sp {
    /// SP entity ID (the Identifier the IdP admin types in).
    pub entity_id: String,
    /// Absolute ACS URL, `/auth/saml/callback`.
    pub acs_url: String,
    /// Absolute alias ACS URL, `/saml2/idpresponse`.
    pub acs_alias_url: String,
    /// Absolute SingleLogoutService URL, `/saml/slo`: the only Destination a logout
    /// message to us may name.
    pub slo_url: String,
    /// Our key and certificates.
    pub keys: Arc<SpKeys>,
}

impl Sp {
    /// Derives the SP values from the configuration.
    pub fn from_config(config: &Config, keys: Arc<SpKeys>) -> Self {
        Self {
            entity_id: config.entity_id(),
            acs_url: config.url(ACS_PATH),
            acs_alias_url: config.url(ACS_ALIAS_PATH),
            slo_url: config.url(SLO_PATH),
            keys,
        }
    }

    /// Both ACS URLs, as `validate` wants them for Destination and Recipient.
    pub fn acs_urls(&self) -> Vec<String> {
        vec![self.acs_url.clone(), self.acs_alias_url.clone()]
    }
}

fn key_descriptor(usage: &str, der: &[u8]) -> String {
    format!(
        "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
        STANDARD.encode(der)
    )
}

/// SP metadata: entity ID, the SingleLogoutService (HTTP-Redirect and HTTP-POST), both ACS
/// URLs (HTTP-POST), signing and encryption keys (and
/// the next certificate, so IdPs trust it before it signs), NameIDFormat emailAddress,
/// `AuthnRequestsSigned="true"`, `WantAssertionsSigned="true"`.
pub fn sp_metadata(sp: &Sp) -> String {
    let mut keys = key_descriptor("signing", sp.keys.cert_der());
    keys.push_str(&key_descriptor("encryption", sp.keys.cert_der()));
    // The next certificate is announced for signing only: the gateway holds no key for it
    // yet, so an IdP encrypting to it would produce assertions nobody could decrypt.
    if let Some(next) = sp.keys.next_cert_der() {
        keys.push_str(&key_descriptor("signing", next));
    }
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<md:EntityDescriptor xmlns:md=\"{md}\" xmlns:ds=\"{ds}\" entityID=\"{entity}\">",
            "<md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"{proto}\">",
            "{keys}",
            "<md:SingleLogoutService Binding=\"{redirect}\" Location=\"{slo}\"/>",
            "<md:SingleLogoutService Binding=\"{post}\" Location=\"{slo}\"/>",
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>",
            "<md:AssertionConsumerService Binding=\"{post}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>",
            "<md:AssertionConsumerService Binding=\"{post}\" Location=\"{alias}\" index=\"1\"/>",
            "</md:SPSSODescriptor></md:EntityDescriptor>\n"
        ),
        md = NS_METADATA,
        ds = NS_DSIG,
        entity = escape(&sp.entity_id),
        proto = NS_PROTOCOL,
        keys = keys,
        post = BINDING_POST,
        redirect = BINDING_REDIRECT,
        slo = escape(&sp.slo_url),
        acs = escape(&sp.acs_url),
        alias = escape(&sp.acs_alias_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::xml;

    #[test]
    fn sp_metadata_has_everything_an_idp_needs() {
        let sp = Sp {
            entity_id: "https://login.example.com/".into(),
            acs_url: "https://login.example.com/auth/saml/callback".into(),
            acs_alias_url: "https://login.example.com/saml2/idpresponse".into(),
            slo_url: "https://login.example.com/saml/slo".into(),
            keys: Arc::new(SpKeys::generate().expect("keys")),
        };
        let xml = sp_metadata(&sp);
        let doc = xml::parse(xml.as_bytes()).expect("well-formed");
        let root = xml::root(&doc).expect("root");
        assert_eq!(
            root.get_attribute("entityID").as_deref(),
            Some("https://login.example.com/")
        );
        let spd = xml::child(&root, NS_METADATA, "SPSSODescriptor").expect("spsso");
        assert_eq!(
            spd.get_attribute("WantAssertionsSigned").as_deref(),
            Some("true")
        );
        assert_eq!(
            spd.get_attribute("AuthnRequestsSigned").as_deref(),
            Some("true")
        );
        let acs = xml::children(&spd, NS_METADATA, "AssertionConsumerService");
        assert_eq!(acs.len(), 2);
        assert_eq!(acs[0].get_attribute("index").as_deref(), Some("0"));
        assert_eq!(
            acs[1].get_attribute("Location").as_deref(),
            Some("https://login.example.com/saml2/idpresponse")
        );
        assert_eq!(xml::children(&spd, NS_METADATA, "KeyDescriptor").len(), 2);
        let slo = xml::children(&spd, NS_METADATA, "SingleLogoutService");
        let bindings: Vec<_> = slo
            .iter()
            .filter_map(|s| s.get_attribute("Binding"))
            .collect();
        assert_eq!(bindings, [BINDING_REDIRECT, BINDING_POST]);
        assert!(slo.iter().all(|s| s.get_attribute("Location").as_deref()
            == Some("https://login.example.com/saml/slo")));
    }

    #[test]
    fn the_next_certificate_is_announced_for_signing_only() {
        let current = SpKeys::generate().expect("keys");
        let next = SpKeys::generate().expect("next keys");
        let pem = |der: &[u8]| {
            openssl::x509::X509::from_der(der)
                .and_then(|c| c.to_pem())
                .map(|p| String::from_utf8(p).expect("PEM is ASCII"))
                .expect("cert")
        };
        let key_pem = String::from_utf8(
            openssl::pkey::PKey::private_key_from_der(current.pkcs8_der())
                .and_then(|k| k.private_key_to_pem_pkcs8())
                .expect("key"),
        )
        .expect("PEM is ASCII");
        let keys = SpKeys::from_pem(
            &key_pem,
            &pem(current.cert_der()),
            Some(&pem(next.cert_der())),
        )
        .expect("keys with next");
        let sp = Sp {
            entity_id: "https://login.example.com/".into(),
            acs_url: "https://login.example.com/auth/saml/callback".into(),
            acs_alias_url: "https://login.example.com/saml2/idpresponse".into(),
            slo_url: "https://login.example.com/saml/slo".into(),
            keys: Arc::new(keys),
        };
        let xml = sp_metadata(&sp);
        let doc = xml::parse(xml.as_bytes()).expect("well-formed");
        let spd = xml::child(
            &xml::root(&doc).expect("root"),
            NS_METADATA,
            "SPSSODescriptor",
        )
        .expect("spsso");
        let uses_of = |der: &[u8]| {
            let b64 = STANDARD.encode(der);
            xml::children(&spd, NS_METADATA, "KeyDescriptor")
                .iter()
                .filter(|kd| xml::descendants(kd).iter().any(|n| n.get_content() == b64))
                .filter_map(|kd| kd.get_attribute("use"))
                .collect::<Vec<_>>()
        };
        assert_eq!(uses_of(current.cert_der()), ["signing", "encryption"]);
        assert_eq!(uses_of(next.cert_der()), ["signing"]);
    }
}
