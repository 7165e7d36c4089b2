//! The IdP's metadata document: parsed from a file, built from inline settings, or (through
//! [`super::fetch`]) read from an HTTPS URL.
//!
//! Only the IdP's *signing* certificates are kept, and an IdP without one is refused: samael
//! accepts unsigned responses when it has no certificate (fails open), and `validate` must
//! never run against such a configuration.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use url::Url;

use super::error::SamlError;
use super::xml::{self, NS_DSIG, NS_METADATA, NS_PROTOCOL};
use crate::discovery::{Protocol, SsoSettings, Tenant};

/// WS-Federation 1.2 namespace (`fed:`), of the STS role and its endpoints.
pub const NS_FED: &str = "http://docs.oasis-open.org/wsfed/federation/200706";
/// WS-Addressing 1.0 namespace, of endpoint references.
pub const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// SAML HTTP-Redirect binding URI.
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// SAML HTTP-POST binding URI.
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// Largest metadata document accepted (Entra federation metadata is well under 100 KB).
pub const MAX_METADATA_BYTES: usize = 4 * 1024 * 1024;
/// Refresh interval when the metadata gives no `cacheDuration` / `validUntil`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);

/// One IdP signing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpCert {
    /// DER bytes; the only key material `validate` ever verifies with.
    pub der: Vec<u8>,
    /// End of validity, for `realmgate check` and the expiry gauge. Not enforced at login:
    /// IdPs (AD FS, Entra) keep signing with the configured certificate after it expires and
    /// SAML trusts the configured key, not a chain.
    pub not_after: Option<DateTime<Utc>>,
}

/// One SingleLogoutService endpoint of the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloService {
    /// `Location`: where our LogoutRequests go.
    pub location: Url,
    /// `ResponseLocation`, else `Location`: where our LogoutResponses go.
    pub response_location: Url,
}

/// What we need to know about one IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// The IdP's entity ID: the only Issuer we accept.
    pub entity_id: String,
    /// SingleSignOnService, HTTP-Redirect binding.
    pub sso_redirect: Option<Url>,
    /// SingleSignOnService, HTTP-POST binding.
    pub sso_post: Option<Url>,
    /// SingleLogoutService, HTTP-Redirect binding (SAML 2.0 IdPs that do Single Logout).
    pub slo_redirect: Option<SloService>,
    /// SingleLogoutService, HTTP-POST binding.
    pub slo_post: Option<SloService>,
    /// Signing certificates (several during a rollover). Never empty.
    pub certs: Vec<IdpCert>,
    /// `validUntil` of the document, when given.
    pub valid_until: Option<DateTime<Utc>>,
    /// `cacheDuration` of the document, when given.
    pub cache_duration: Option<Duration>,
}

impl IdpMetadata {
    /// Parses an `EntityDescriptor`, or an `EntitiesDescriptor` holding exactly one entity
    /// with an `IDPSSODescriptor` (federation aggregates with several IdPs are ambiguous and
    /// refused). Entra's `RoleDescriptor`s and encryption keys are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, SamlError> {
        Self::parse_entity(bytes, None)
    }

    /// Like [`IdpMetadata::parse`], but picks the IdP entity `entity_id` out of an
    /// aggregate that lists several.
    pub fn parse_entity(bytes: &[u8], entity_id: Option<&str>) -> Result<Self, SamlError> {
        Self::parse_role(bytes, entity_id, Protocol::Saml2)
    }

    /// The IdP as a tenant of `protocol` sees it in a Federation Metadata document: for
    /// `saml2` the `IDPSSODescriptor`, for `wsfed` the `RoleDescriptor` of type
    /// `fed:SecurityTokenServiceType` (AD FS and Entra publish both in one document, each
    /// with its own signing keys), whose `PassiveRequestorEndpoint` becomes `sso_redirect`:
    /// it is where the browser is sent to sign in. Only that role's keys are kept, so a
    /// key published for one protocol never verifies the other's tokens.
    pub fn parse_for(bytes: &[u8], protocol: Protocol) -> Result<Self, SamlError> {
        Self::parse_role(bytes, None, protocol)
    }

    fn parse_role(
        bytes: &[u8],
        entity_id: Option<&str>,
        protocol: Protocol,
    ) -> Result<Self, SamlError> {
        if bytes.len() > MAX_METADATA_BYTES {
            return Err(SamlError::TooLarge(bytes.len()));
        }
        let doc = xml::parse(bytes)?;
        let root = xml::root(&doc)?;
        let mut valid_until = attr_time(&root, "validUntil")?;
        let mut cache_duration = root
            .get_attribute("cacheDuration")
            .map(|d| parse_duration(&d))
            .transpose()?;
        let entities: Vec<libxml::tree::Node> = if xml::is(&root, NS_METADATA, "EntityDescriptor") {
            vec![root.clone()]
        } else if xml::is(&root, NS_METADATA, "EntitiesDescriptor") {
            xml::descendants(&root)
                .into_iter()
                .filter(|n| xml::is(n, NS_METADATA, "EntityDescriptor"))
                .collect()
        } else {
            return Err(SamlError::Metadata(
                "root element is neither md:EntityDescriptor nor md:EntitiesDescriptor".into(),
            ));
        };
        let idps: Vec<(libxml::tree::Node, libxml::tree::Node)> = entities
            .into_iter()
            .filter(|e| {
                entity_id.is_none_or(|want| e.get_attribute("entityID").as_deref() == Some(want))
            })
            .filter_map(|e| role_of(&e, protocol).map(|d| (e, d)))
            .collect();
        let (entity, idp) = match idps.len() {
            1 => idps
                .into_iter()
                .next()
                .ok_or_else(|| SamlError::Metadata("no IdP".into()))?,
            0 => {
                return Err(SamlError::Metadata(match protocol {
                    Protocol::Saml2 => "no EntityDescriptor with a SAML 2.0 IDPSSODescriptor",
                    Protocol::Wsfed => {
                        "no EntityDescriptor with a RoleDescriptor of type fed:SecurityTokenServiceType"
                    }
                    // `role_of` finds no role for it: an OpenID Connect tenant has no metadata.
                    Protocol::Oidc => "an oidc tenant's IdP publishes no SAML metadata",
                }
                .into()));
            }
            n => {
                return Err(SamlError::Metadata(format!(
                    "{n} identity providers in one document; give the IdP's own metadata"
                )));
            }
        };
        let entity_id = entity
            .get_attribute("entityID")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SamlError::Metadata("EntityDescriptor has no entityID".into()))?;
        if entity != root {
            valid_until = min_time(valid_until, attr_time(&entity, "validUntil")?);
            if let Some(d) = entity.get_attribute("cacheDuration") {
                let d = parse_duration(&d)?;
                cache_duration = Some(cache_duration.map_or(d, |c| c.min(d)));
            }
        }
        valid_until = min_time(valid_until, attr_time(&idp, "validUntil")?);

        let mut certs = Vec::new();
        for kd in xml::children(&idp, NS_METADATA, "KeyDescriptor") {
            // Only signing keys: an encryption-only key verifying a signature would let
            // whoever holds that key (perhaps another party) sign logins.
            match kd.get_attribute("use").as_deref() {
                None | Some("signing") => {}
                Some(_) => continue,
            }
            let Some(key_info) = xml::child(&kd, NS_DSIG, "KeyInfo") else {
                continue;
            };
            for data in xml::children(&key_info, NS_DSIG, "X509Data") {
                for c in xml::children(&data, NS_DSIG, "X509Certificate") {
                    let text = xml::whole_text(&c).unwrap_or_default();
                    let cert = parse_cert_base64(&text)?;
                    if !certs.contains(&cert) {
                        certs.push(cert);
                    }
                }
            }
        }
        if certs.is_empty() {
            return Err(SamlError::NoCertificate);
        }
        let mut sso_redirect = None;
        let mut sso_post = None;
        if protocol == Protocol::Wsfed {
            let address = xml::child(&idp, NS_FED, "PassiveRequestorEndpoint")
                .and_then(|e| xml::child(&e, NS_WSA, "EndpointReference"))
                .and_then(|e| xml::child(&e, NS_WSA, "Address"))
                .and_then(|a| xml::trimmed_text(&a))
                .ok_or_else(|| {
                    SamlError::Metadata(
                        "the SecurityTokenServiceType role has no PassiveRequestorEndpoint address"
                            .into(),
                    )
                })?;
            sso_redirect = Some(parse_sso_url(&address)?);
        }
        for s in xml::children(&idp, NS_METADATA, "SingleSignOnService") {
            let binding = s.get_attribute("Binding").unwrap_or_default();
            let Some(loc) = s.get_attribute("Location") else {
                continue;
            };
            let url = parse_sso_url(loc.trim())?;
            if binding == BINDING_REDIRECT && sso_redirect.is_none() {
                sso_redirect = Some(url);
            } else if binding == BINDING_POST && sso_post.is_none() {
                sso_post = Some(url);
            }
        }
        if sso_redirect.is_none() && sso_post.is_none() {
            return Err(SamlError::Metadata(
                "no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding".into(),
            ));
        }
        // Single Logout is SAML 2.0's: a WS-Federation STS signs out with `wsignout1.0`.
        let (mut slo_redirect, mut slo_post) = (None, None);
        if protocol == Protocol::Saml2 {
            for s in xml::children(&idp, NS_METADATA, "SingleLogoutService") {
                let binding = s.get_attribute("Binding").unwrap_or_default();
                let Some(loc) = s.get_attribute("Location") else {
                    continue;
                };
                let location = parse_sso_url(loc.trim())?;
                let response_location = match s.get_attribute("ResponseLocation") {
                    Some(r) => parse_sso_url(r.trim())?,
                    None => location.clone(),
                };
                let service = Some(SloService {
                    location,
                    response_location,
                });
                if binding == BINDING_REDIRECT && slo_redirect.is_none() {
                    slo_redirect = service;
                } else if binding == BINDING_POST && slo_post.is_none() {
                    slo_post = service;
                }
            }
        }
        Ok(Self {
            entity_id,
            sso_redirect,
            sso_post,
            slo_redirect,
            slo_post,
            certs,
            valid_until,
            cache_duration,
        })
    }

    /// Builds the IdP from inline settings: Issuer, Sign-in URL (HTTP-Redirect) and one or
    /// more Base64 DER or PEM certificates, as Entra's "SAML-based sign-on" page shows them.
    pub fn from_inline(
        issuer: &str,
        sso_url: &Url,
        certificates: &[String],
    ) -> Result<Self, SamlError> {
        let issuer = issuer.trim();
        if issuer.is_empty() {
            return Err(SamlError::Metadata("issuer is empty".into()));
        }
        let mut certs = Vec::new();
        for c in certificates {
            certs.push(parse_cert_text(c)?);
        }
        if certs.is_empty() {
            return Err(SamlError::NoCertificate);
        }
        Ok(Self {
            entity_id: issuer.to_string(),
            sso_redirect: Some(parse_sso_url(sso_url.as_str())?),
            sso_post: None,
            slo_redirect: None,
            slo_post: None,
            certs,
            valid_until: None,
            cache_duration: None,
        })
    }

    /// From a tenant's `[sso]` table: the metadata file (path already resolved) or the
    /// inline values. A metadata URL is not read here: the registry's refresher fetches it.
    pub fn from_settings(sso: &SsoSettings) -> Result<Self, SamlError> {
        if let Some(path) = &sso.idp_metadata {
            let bytes = std::fs::read(path)
                .map_err(|e| SamlError::Metadata(format!("cannot read {}: {e}", path.display())))?;
            return Self::parse_for(&bytes, sso.protocol);
        }
        let sign_in_url = match sso.protocol {
            Protocol::Saml2 => &sso.sso_url,
            Protocol::Wsfed => &sso.wsfed_url,
            Protocol::Oidc => {
                return Err(SamlError::Metadata(
                    "an oidc tenant's IdP publishes no SAML metadata".into(),
                ));
            }
        };
        match (&sso.issuer, sign_in_url) {
            (Some(issuer), Some(url)) => Self::from_inline(issuer, url, &sso.certificate),
            _ if sso.idp_metadata_url.is_some() => Err(SamlError::Metadata(
                "metadata URL: fetched by the refresher, not read from settings".into(),
            )),
            _ => Err(SamlError::Metadata(
                "give idp_metadata, idp_metadata_url, or issuer + sso_url + certificate".into(),
            )),
        }
    }

    /// The IdP of an SSO tenant: its stored metadata document (database source), else
    /// [`IdpMetadata::from_settings`].
    pub fn for_stored_or_settings(tenant: &Tenant, sso: &SsoSettings) -> Result<Self, SamlError> {
        match (&tenant.stored_idp_metadata, &sso.idp_metadata) {
            (Some(document), Some(_)) => Self::parse_for(document, sso.protocol),
            _ => Self::from_settings(sso),
        }
    }

    /// Certificates in the form samael's verifier takes.
    pub fn certificate_ders(&self) -> Vec<samael::crypto::CertificateDer> {
        self.certs
            .iter()
            .map(|c| samael::crypto::CertificateDer::from(c.der.clone()))
            .collect()
    }

    /// When to fetch a URL-sourced copy again: `cacheDuration`, capped by `validUntil`,
    /// hourly by default, never more often than every minute nor less than daily.
    pub fn next_refresh(&self, now: DateTime<Utc>) -> Duration {
        let mut d = self.cache_duration.unwrap_or(DEFAULT_REFRESH);
        if let Some(until) = self.valid_until {
            let left = (until - now).to_std().unwrap_or(Duration::ZERO);
            d = d.min(left);
        }
        d.clamp(Duration::from_secs(60), Duration::from_secs(24 * 3600))
    }
}

/// The role of `entity` a tenant of `protocol` signs in through, if it has one.
fn role_of(entity: &libxml::tree::Node, protocol: Protocol) -> Option<libxml::tree::Node> {
    match protocol {
        Protocol::Saml2 => xml::children(entity, NS_METADATA, "IDPSSODescriptor")
            .into_iter()
            .find(|d| {
                d.get_attribute("protocolSupportEnumeration")
                    .is_some_and(|p| p.split_whitespace().any(|p| p == NS_PROTOCOL))
            }),
        // `xsi:type` is a QName: its prefix is resolved in the element's scope, so
        // `x:SecurityTokenServiceType` with `x` bound to another namespace is not an STS.
        Protocol::Oidc => None,
        Protocol::Wsfed => xml::children(entity, NS_METADATA, "RoleDescriptor")
            .into_iter()
            .find(|d| {
                d.get_attribute_ns("type", NS_XSI).is_some_and(|t| {
                    let (prefix, local) = t.trim().split_once(':').unwrap_or(("", t.trim()));
                    local == "SecurityTokenServiceType"
                        && d.lookup_namespace_uri(prefix).as_deref() == Some(NS_FED)
                })
            }),
    }
}

fn parse_sso_url(s: &str) -> Result<Url, SamlError> {
    let url = Url::parse(s).map_err(|e| SamlError::Metadata(format!("bad SSO URL {s:?}: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(SamlError::Metadata(format!("SSO URL {s:?} is not http(s)")));
    }
    Ok(url)
}

fn attr_time(node: &libxml::tree::Node, name: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    node.get_attribute(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| SamlError::Metadata(format!("bad {name} {v:?}")))
        })
        .transpose()
}

fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses the `xs:duration` subset metadata uses (`PnYnMnDTnHnMnS`, months as 30 days,
/// years as 365 days, fractional seconds allowed).
pub fn parse_duration(s: &str) -> Result<Duration, SamlError> {
    let bad = || SamlError::Metadata(format!("bad duration {s:?}"));
    let rest = s.trim().strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut secs = 0f64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, f64)]| -> Result<(), SamlError> {
        let mut num = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() || ch == '.' {
                num.push(ch);
            } else {
                let factor = units.iter().find(|(u, _)| *u == ch).ok_or_else(bad)?.1;
                let n: f64 = num.parse().map_err(|_| bad())?;
                secs += n * factor;
                num.clear();
                any = true;
            }
        }
        if num.is_empty() { Ok(()) } else { Err(bad()) }
    };
    take(
        date,
        &[
            ('Y', 365.0 * 86400.0),
            ('M', 30.0 * 86400.0),
            ('W', 7.0 * 86400.0),
            ('D', 86400.0),
        ],
    )?;
    if let Some(t) = time {
        take(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if !any || !secs.is_finite() {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs.min(1e12)))
}

/// Parses a certificate given as Base64 DER (whitespace allowed) or PEM.
pub fn parse_cert_text(text: &str) -> Result<IdpCert, SamlError> {
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        let body: String = t
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("");
        parse_cert_base64(&body)
    } else {
        parse_cert_base64(t)
    }
}

fn parse_cert_base64(text: &str) -> Result<IdpCert, SamlError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| SamlError::Metadata(format!("certificate is not Base64: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| SamlError::Metadata(format!("not an X.509 certificate: {e}")))?;
    let not_after = DateTime::<Utc>::from_timestamp(cert.validity().not_after.timestamp(), 0);
    Ok(IdpCert { der, not_after })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::SpKeys;

    fn cert_b64() -> String {
        SpKeys::generate().expect("keys").cert_base64()
    }

    fn doc(extra_kd: &str, cert: &str) -> String {
        format!(
            r#"<md:EntityDescriptor xmlns:md="{NS_METADATA}" xmlns:ds="{NS_DSIG}" entityID="https://idp.example/" cacheDuration="PT2H" validUntil="2030-01-01T00:00:00Z">
<md:IDPSSODescriptor protocolSupportEnumeration="{NS_PROTOCOL}">{extra_kd}
<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:SingleSignOnService Binding="{BINDING_REDIRECT}" Location="https://idp.example/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    #[test]
    fn parses_signing_certs_and_times() {
        let c = cert_b64();
        let m = IdpMetadata::parse(doc("", &c).as_bytes()).expect("parse");
        assert_eq!(m.entity_id, "https://idp.example/");
        assert_eq!(m.certs.len(), 1);
        assert_eq!(m.cache_duration, Some(Duration::from_secs(7200)));
        assert!(m.sso_redirect.is_some() && m.sso_post.is_none());
        assert!(m.slo_redirect.is_none() && m.slo_post.is_none());
        let now = DateTime::parse_from_rfc3339("2029-12-31T23:30:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(m.next_refresh(now), Duration::from_secs(1800));
    }

    #[test]
    fn single_logout_services_are_read_with_their_response_location() {
        let slo = format!(
            r#"<md:SingleLogoutService Binding="{BINDING_REDIRECT}" Location="https://idp.example/slo" ResponseLocation="https://idp.example/slo-done"/><md:SingleLogoutService Binding="{BINDING_POST}" Location="https://idp.example/slo-post"/>"#
        );
        let text = doc("", &cert_b64()).replace(
            "<md:SingleSignOnService",
            &format!("{slo}<md:SingleSignOnService"),
        );
        let m = IdpMetadata::parse(text.as_bytes()).expect("parse");
        let redirect = m.slo_redirect.expect("redirect SLO");
        assert_eq!(redirect.location.as_str(), "https://idp.example/slo");
        assert_eq!(
            redirect.response_location.as_str(),
            "https://idp.example/slo-done"
        );
        let post = m.slo_post.expect("POST SLO");
        assert_eq!(post.response_location, post.location);
    }

    #[test]
    fn encryption_only_key_is_not_a_signing_key() {
        let c = cert_b64();
        let enc_only = doc("", &c).replace("use=\"signing\"", "use=\"encryption\"");
        // Without this filter an encryption key would verify login signatures.
        assert_eq!(
            IdpMetadata::parse(enc_only.as_bytes()),
            Err(SamlError::NoCertificate)
        );
    }

    #[test]
    fn idp_without_certificate_is_refused() {
        // samael fails open without a certificate; the configuration must never load.
        let none = doc("", "").replace("<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>", "");
        assert_eq!(
            IdpMetadata::parse(none.as_bytes()),
            Err(SamlError::NoCertificate)
        );
        let url = Url::parse("https://idp.example/sso").expect("url");
        assert_eq!(
            IdpMetadata::from_inline("https://idp.example/", &url, &[]),
            Err(SamlError::NoCertificate)
        );
    }

    #[test]
    fn doctype_in_metadata_is_refused() {
        let c = cert_b64();
        let d = format!(
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
            doc("", &c)
        );
        assert_eq!(
            IdpMetadata::parse(d.as_bytes()),
            Err(SamlError::DtdForbidden)
        );
    }

    #[test]
    fn inline_pem_and_base64_certificates() {
        let keys = SpKeys::generate().expect("keys");
        let b64 = keys.cert_base64();
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            b64
        );
        let url = Url::parse("https://idp.example/sso").expect("url");
        let m =
            IdpMetadata::from_inline("https://idp.example/", &url, &[b64, pem]).expect("inline");
        assert_eq!(m.certs.len(), 2);
        assert_eq!(m.certs[0], m.certs[1]);
        assert!(
            IdpMetadata::from_inline("https://idp.example/", &url, &["not base64!".into()])
                .is_err()
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("PT1H").expect("d"),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse_duration("P1DT30M").expect("d"),
            Duration::from_secs(86400 + 1800)
        );
        assert_eq!(
            parse_duration("PT0.5S").expect("d"),
            Duration::from_millis(500)
        );
        assert!(parse_duration("1H").is_err());
        assert!(parse_duration("P").is_err());
    }
}
