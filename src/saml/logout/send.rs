//! The logout messages we send: a LogoutRequest when a person signs out of a SAML session
//! (SP-initiated), and the LogoutResponse that answers an IdP's LogoutRequest. Both are
//! signed with our SP key: in the HTTP-Redirect binding over the query string, in the
//! HTTP-POST binding with an enveloped XML signature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use samael::crypto::{CryptoProvider, XmlSec};
use url::Url;

use super::MESSAGE_LIFETIME;
use crate::saml::error::SamlError;
use crate::saml::metadata::{IdpMetadata, SloService};
use crate::saml::request::{PostForm, SsoStart, redirect_query, signature_template, with_query};
use crate::saml::sp::Sp;
use crate::saml::xml::{NS_ASSERTION, NS_PROTOCOL, escape};

/// Who the IdP said signed in, as its login assertion named them: a LogoutRequest must
/// name the same principal (core 3.7.1).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The NameID's whole text.
    pub name_id: &'a str,
    /// The NameID `Format`, when the assertion gave one.
    pub format: Option<&'a str>,
    /// `AuthnStatement/@SessionIndex`, when the assertion gave one: the IdP session to end.
    pub session_index: Option<&'a str>,
}

/// The status of our LogoutResponse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutStatus {
    /// Every session of the principal here ended.
    Success,
    /// Some could not be ended (the session store failed): `Responder` / `PartialLogout`.
    PartialLogout,
}

impl LogoutStatus {
    /// The top-level and the optional second-level status code URIs.
    fn codes(self) -> (&'static str, Option<&'static str>) {
        match self {
            LogoutStatus::Success => ("urn:oasis:names:tc:SAML:2.0:status:Success", None),
            LogoutStatus::PartialLogout => (
                "urn:oasis:names:tc:SAML:2.0:status:Responder",
                Some("urn:oasis:names:tc:SAML:2.0:status:PartialLogout"),
            ),
        }
    }
}

/// The IdP's SingleLogoutService and whether it is the Redirect binding (preferred: it is
/// signed over the query string, without xmlsec).
fn endpoint(idp: &IdpMetadata) -> Result<(&SloService, bool), SamlError> {
    match (&idp.slo_redirect, &idp.slo_post) {
        (Some(s), _) => Ok((s, true)),
        (None, Some(s)) => Ok((s, false)),
        (None, None) => Err(SamlError::Metadata(
            "the IdP has no SingleLogoutService".into(),
        )),
    }
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Our LogoutRequest for `subject` to `idp`'s SingleLogoutService (`Location`), with
/// request ID `id` (from `request::new_request_id`, kept with the pending logout so its
/// answer can be matched) and `relay_state`, signed.
pub fn logout_request(
    sp: &Sp,
    idp: &IdpMetadata,
    id: &str,
    subject: &Subject<'_>,
    relay_state: &str,
    now: DateTime<Utc>,
) -> Result<SsoStart, SamlError> {
    let (service, redirect) = endpoint(idp)?;
    let destination = &service.location;
    let xml = |signature: &str| {
        let format = subject
            .format
            .map(|f| format!(" Format=\"{}\"", escape(f)))
            .unwrap_or_default();
        let session_index = subject
            .session_index
            .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
            .unwrap_or_default();
        let lifetime = chrono::Duration::from_std(MESSAGE_LIFETIME).unwrap_or_default();
        format!(
            concat!(
                "<samlp:LogoutRequest xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{id}\" ",
                "Version=\"2.0\" IssueInstant=\"{ii}\" Destination=\"{dest}\" NotOnOrAfter=\"{noa}\">",
                "<saml:Issuer>{issuer}</saml:Issuer>{signature}",
                "<saml:NameID{format}>{name_id}</saml:NameID>{session_index}",
                "</samlp:LogoutRequest>"
            ),
            samlp = NS_PROTOCOL,
            saml = NS_ASSERTION,
            id = escape(id),
            ii = instant(now),
            dest = escape(destination.as_str()),
            noa = instant(now + lifetime),
            issuer = escape(&sp.entity_id),
            signature = signature,
            format = format,
            name_id = escape(subject.name_id),
            session_index = session_index,
        )
    };
    bind(
        sp,
        destination,
        redirect,
        "SAMLRequest",
        id,
        xml,
        relay_state,
    )
}

/// Our LogoutResponse to `idp`'s LogoutRequest `in_response_to`, sent to its
/// SingleLogoutService's `ResponseLocation` with the request's `relay_state`, signed.
pub fn logout_response(
    sp: &Sp,
    idp: &IdpMetadata,
    id: &str,
    in_response_to: &str,
    status: LogoutStatus,
    relay_state: &str,
    now: DateTime<Utc>,
) -> Result<SsoStart, SamlError> {
    let (service, redirect) = endpoint(idp)?;
    let destination = &service.response_location;
    let (top, second) = status.codes();
    let xml = |signature: &str| {
        let code = match second {
            Some(s) => format!(
                "<samlp:StatusCode Value=\"{top}\"><samlp:StatusCode Value=\"{s}\"/></samlp:StatusCode>"
            ),
            None => format!("<samlp:StatusCode Value=\"{top}\"/>"),
        };
        format!(
            concat!(
                "<samlp:LogoutResponse xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{id}\" ",
                "Version=\"2.0\" IssueInstant=\"{ii}\" Destination=\"{dest}\" InResponseTo=\"{irt}\">",
                "<saml:Issuer>{issuer}</saml:Issuer>{signature}",
                "<samlp:Status>{code}</samlp:Status></samlp:LogoutResponse>"
            ),
            samlp = NS_PROTOCOL,
            saml = NS_ASSERTION,
            id = escape(id),
            ii = instant(now),
            dest = escape(destination.as_str()),
            irt = escape(in_response_to),
            issuer = escape(&sp.entity_id),
            signature = signature,
            code = code,
        )
    };
    bind(
        sp,
        destination,
        redirect,
        "SAMLResponse",
        id,
        xml,
        relay_state,
    )
}

/// One message in its binding, always signed: the Redirect binding signs the query string
/// (`xml` without a signature), the POST binding the XML (`xml` with the template of the
/// element `id`, filled in by xmlsec).
fn bind(
    sp: &Sp,
    destination: &Url,
    redirect: bool,
    param: &str,
    id: &str,
    xml: impl Fn(&str) -> String,
    relay_state: &str,
) -> Result<SsoStart, SamlError> {
    if redirect {
        let query = redirect_query(sp, param, &xml(""), relay_state, true)?;
        return Ok(SsoStart::Redirect(with_query(destination, query)));
    }
    let template = xml(&signature_template(id));
    let signed = XmlSec::sign_xml(template.as_bytes(), sp.keys.pkcs8_der())
        .map_err(|e| SamlError::Key(format!("signing {param}: {e}")))?;
    let mut fields = vec![(param.to_string(), STANDARD.encode(signed.as_bytes()))];
    if !relay_state.is_empty() {
        fields.push(("RelayState".to_string(), relay_state.to_string()));
    }
    Ok(SsoStart::Post(PostForm {
        action: destination.clone(),
        fields,
    }))
}
