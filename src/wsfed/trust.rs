//! The WS-Trust 1.3 client of AD FS's `usernamemixed` endpoint (`wstrust_url`): device
//! connectors that can only prompt for an email and a password sign in through the STS,
//! which answers with the same kind of RSTR the passive requestor posts, checked by
//! [`super::validate_soap`].
//!
//! The request is a SOAP 1.2 `RequestSecurityToken` (Issue, Bearer, `AppliesTo` = our
//! realm) authenticated by a WS-Security `UsernameToken` holding the email and the password
//! in clear text, which is why the endpoint must be https (checked when the tenant loads,
//! and again here) and the client given must follow no redirect (a 307 would re-post the
//! password to wherever it points): `app` gives the OpenID Connect providers' client. Every value is escaped; the password appears nowhere but in the body
//! sent, and no error or `Debug` output of this module holds it.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use url::Url;

use super::error::WsFedError;
use super::token::{NS_SOAP12, NS_TRUST_13};
use crate::saml::FetchError;
use crate::saml::xml::{MAX_XML_BYTES, escape};

/// Bound on one exchange with the STS, from connecting to the end of the answer: the
/// connector waits on it, and a stalled STS must not hold a request (and its slot) long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long the request's WS-Security timestamp says it is valid.
const REQUEST_LIFETIME: chrono::Duration = chrono::Duration::minutes(5);

const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
const NS_WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const NS_WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const NS_WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";
const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// What one token request says. No `Debug`: it holds the password.
pub struct TokenRequest<'a> {
    /// The STS's `usernamemixed` endpoint (the SOAP `To`).
    pub endpoint: &'a Url,
    /// The person's email, AD FS's username.
    pub username: &'a str,
    /// Their password.
    pub password: &'a str,
    /// Our realm: the relying party the token is for.
    pub applies_to: &'a str,
    /// A fresh random id for `MessageID` and the WS-Security element ids.
    pub message_id: &'a str,
    /// The request's time.
    pub now: DateTime<Utc>,
}

/// The SOAP 1.2 envelope of `r`, as AD FS's `usernamemixed` endpoint reads it.
pub fn request_body(r: &TokenRequest<'_>) -> String {
    let t = |d: DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Millis, true);
    let id = escape(r.message_id);
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="{soap}" xmlns:a="{wsa}" xmlns:u="{wsu}">"#,
            r#"<s:Header>"#,
            r#"<a:Action s:mustUnderstand="1">{trust}/RST/Issue</a:Action>"#,
            r#"<a:MessageID>urn:uuid:{id}</a:MessageID>"#,
            r#"<a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>"#,
            r#"<a:To s:mustUnderstand="1">{to}</a:To>"#,
            r#"<o:Security s:mustUnderstand="1" xmlns:o="{wsse}">"#,
            r#"<u:Timestamp u:Id="_0"><u:Created>{created}</u:Created><u:Expires>{expires}</u:Expires></u:Timestamp>"#,
            r#"<o:UsernameToken u:Id="uuid-{id}-1"><o:Username>{username}</o:Username>"#,
            r#"<o:Password Type="{pwtype}">{password}</o:Password></o:UsernameToken>"#,
            r#"</o:Security></s:Header>"#,
            r#"<s:Body><trust:RequestSecurityToken xmlns:trust="{trust}">"#,
            r#"<wsp:AppliesTo xmlns:wsp="{wsp}"><a:EndpointReference><a:Address>{applies_to}</a:Address></a:EndpointReference></wsp:AppliesTo>"#,
            r#"<trust:KeyType>{trust}/Bearer</trust:KeyType>"#,
            r#"<trust:RequestType>{trust}/Issue</trust:RequestType>"#,
            r#"</trust:RequestSecurityToken></s:Body></s:Envelope>"#,
        ),
        soap = NS_SOAP12,
        wsa = NS_WSA,
        wsu = NS_WSU,
        wsse = NS_WSSE,
        wsp = NS_WSP,
        trust = NS_TRUST_13,
        pwtype = PASSWORD_TEXT,
        id = id,
        to = escape(r.endpoint.as_str()),
        created = t(r.now),
        expires = t(r.now + REQUEST_LIFETIME),
        username = escape(r.username),
        password = escape(r.password),
        applies_to = escape(r.applies_to),
    )
}

/// Sends `r` to its endpoint and gives the STS's answer (a token or a SOAP fault, for
/// [`super::validate_soap`] to tell), read to at most `MAX_XML_BYTES`, all within
/// [`TIMEOUT`]. A fault comes with HTTP 500 in SOAP 1.2, so the status alone decides
/// nothing; an answer that is not SOAP at all (an HTML error page, a proxy's refusal) means
/// the STS is not answering, as does a transport failure or the timeout.
pub async fn request_token(
    client: &reqwest::Client,
    r: &TokenRequest<'_>,
) -> Result<String, WsFedError> {
    if r.endpoint.scheme() != "https" {
        return Err(WsFedError::Unavailable(format!(
            "{} is not an https URL",
            r.endpoint
        )));
    }
    // Sorted as a metadata fetch's (timeout, TLS and why, transport): reqwest's errors name
    // the URL and the cause, never the body, so no password is in them.
    let failed =
        |e| WsFedError::Unavailable(FetchError::from_reqwest(r.endpoint, TIMEOUT, e).to_string());
    let mut response = client
        .post(r.endpoint.clone())
        .timeout(TIMEOUT)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/soap+xml; charset=utf-8",
        )
        .body(request_body(r))
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    let soap = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/soap+xml"));
    if !soap || !(status.is_success() || status == reqwest::StatusCode::INTERNAL_SERVER_ERROR) {
        return Err(WsFedError::Unavailable(format!(
            "{}: HTTP {status}, not a SOAP answer",
            r.endpoint
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_XML_BYTES {
            return Err(WsFedError::Unavailable(format!(
                "{}: the answer exceeds {MAX_XML_BYTES} bytes",
                r.endpoint
            )));
        }
    }
    String::from_utf8(body)
        .map_err(|_| WsFedError::Unavailable(format!("{}: the answer is not UTF-8", r.endpoint)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(endpoint: &'a Url, password: &'a str) -> TokenRequest<'a> {
        TokenRequest {
            endpoint,
            username: "ann@contoso.com",
            password,
            applies_to: "https://login.example.com/",
            message_id: "0b4c6f1e-1111-4222-8333-444455556666",
            now: "2030-01-01T00:00:00Z".parse().unwrap(),
        }
    }

    /// The request parses as XML whatever the password holds, and says what AD FS needs:
    /// the username token, the realm, Issue and Bearer.
    #[test]
    fn the_request_is_well_formed_and_escapes_every_value() {
        let endpoint =
            Url::parse("https://adfs.contoso.com/adfs/services/trust/13/usernamemixed?a=1&b=2")
                .unwrap();
        let password = "p<&>\"' ]]></o:Password><x/>";
        let body = request_body(&request(&endpoint, password));
        let doc = crate::saml::xml::parse(body.as_bytes()).expect("well-formed");
        let root = crate::saml::xml::root(&doc).unwrap();
        let text = |ns: &str, name: &str| {
            crate::saml::xml::descendants(&root)
                .into_iter()
                .find(|n| crate::saml::xml::is(n, ns, name))
                .and_then(|n| crate::saml::xml::whole_text(&n))
        };
        assert_eq!(text(NS_WSSE, "Password").as_deref(), Some(password));
        assert_eq!(
            text(NS_WSSE, "Username").as_deref(),
            Some("ann@contoso.com")
        );
        assert_eq!(
            text(NS_WSA, "Address").as_deref(),
            Some("http://www.w3.org/2005/08/addressing/anonymous")
        );
        assert_eq!(text(NS_WSA, "To").as_deref(), Some(endpoint.as_str()));
        assert_eq!(
            text(NS_TRUST_13, "KeyType").as_deref(),
            Some("http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer")
        );
        assert_eq!(
            text(NS_TRUST_13, "RequestType").as_deref(),
            Some("http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue")
        );
        assert!(body.contains("<a:Address>https://login.example.com/</a:Address>"));
        assert_eq!(
            text(NS_WSU, "Expires").as_deref(),
            Some("2030-01-01T00:05:00.000Z")
        );
    }

    #[tokio::test]
    async fn a_plain_http_endpoint_is_never_sent_a_password() {
        let endpoint =
            Url::parse("http://127.0.0.1:9/adfs/services/trust/13/usernamemixed").unwrap();
        let err = request_token(&reqwest::Client::new(), &request(&endpoint, "secret"))
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "sts_unavailable");
        assert!(!err.to_string().contains("secret"));
    }
}
