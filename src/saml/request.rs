//! AuthnRequests and the two bindings that carry them to the IdP.
//!
//! The request ID is ours, 128 random bits (samael's carry 32): it is what binds the
//! IdP's answer to this browser's pending request, so it must not be guessable.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use samael::crypto::{CryptoProvider, XmlSec};
use url::Url;

use super::error::SamlError;
use super::metadata::{BINDING_POST, IdpMetadata};
use super::sp::Sp;
use super::xml::escape;
use super::xml::{NS_ASSERTION, NS_DSIG, NS_PROTOCOL};
use crate::discovery::{LoginHint, SsoSettings};

/// `SigAlg` of signed HTTP-Redirect requests.
pub const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// A fresh request ID: `_` (an XML ID must not start with a digit) and 32 hex digits.
pub fn new_request_id() -> String {
    format!(
        "_{}",
        crate::secrets::hex(&crate::secrets::random_bytes::<16>())
    )
}

/// What a request says, independent of the binding.
#[derive(Debug, Clone)]
pub struct RequestParams<'a> {
    /// The request ID (from [`new_request_id`]); store it with the pending login.
    pub id: &'a str,
    /// IdP SSO endpoint, written into `Destination`.
    pub destination: &'a Url,
    /// Email the person typed, when the tenant sends hints.
    pub login_hint: Option<&'a str>,
    /// Tenant settings: hint style, `whr`, `ForceAuthn`, whether to sign.
    pub sso: &'a SsoSettings,
    /// Issue instant.
    pub now: DateTime<Utc>,
}

/// The enveloped-signature template (RSA-SHA256, exclusive C14N, SHA-256 digest) of the
/// element with ID `id`, which xmlsec fills in: the HTTP-POST binding of every message we
/// sign (AuthnRequest, and the logout messages of `logout`).
pub(super) fn signature_template(id: &str) -> String {
    format!(
        concat!(
            "<ds:Signature xmlns:ds=\"{ds}\"><ds:SignedInfo>",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<ds:SignatureMethod Algorithm=\"{alg}\"/>",
            "<ds:Reference URI=\"#{id}\"><ds:Transforms>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "</ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
            "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
        ),
        ds = NS_DSIG,
        alg = SIG_ALG_RSA_SHA256,
        id = escape(id),
    )
}

/// The AuthnRequest XML. `with_signature_template` adds the enveloped-signature template
/// the HTTP-POST binding signs (the Redirect binding signs the query string instead).
pub fn authn_request_xml(sp: &Sp, p: &RequestParams<'_>, with_signature_template: bool) -> String {
    let force = if p.sso.force_authn {
        " ForceAuthn=\"true\""
    } else {
        ""
    };
    let signature = if with_signature_template {
        signature_template(p.id)
    } else {
        String::new()
    };
    // Entra ID rejects a Subject in the request; only tenants asking for it get one.
    let subject = match (p.sso.login_hint, p.login_hint) {
        (LoginHint::Subject, Some(email)) => format!(
            "<saml:Subject><saml:NameID Format=\"{NAMEID_EMAIL}\">{}</saml:NameID></saml:Subject>",
            escape(email)
        ),
        _ => String::new(),
    };
    format!(
        concat!(
            "<samlp:AuthnRequest xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{id}\" Version=\"2.0\" ",
            "IssueInstant=\"{ii}\" Destination=\"{dest}\" AssertionConsumerServiceURL=\"{acs}\" ",
            "ProtocolBinding=\"{binding}\"{force}>",
            "<saml:Issuer>{issuer}</saml:Issuer>{signature}{subject}",
            "<samlp:NameIDPolicy Format=\"{fmt}\" AllowCreate=\"true\"/>",
            "</samlp:AuthnRequest>"
        ),
        samlp = NS_PROTOCOL,
        saml = NS_ASSERTION,
        id = escape(p.id),
        ii = p.now.to_rfc3339_opts(SecondsFormat::Secs, true),
        dest = escape(p.destination.as_str()),
        acs = escape(&sp.acs_url),
        binding = BINDING_POST,
        force = force,
        issuer = escape(&sp.entity_id),
        signature = signature,
        subject = subject,
        fmt = NAMEID_EMAIL,
    )
}

/// Appends `s` to `query` form-URL-encoded, in place: collecting the encoder's pieces into a
/// `String` of their own first was a sixth of an unsigned redirect.
fn push_enc(query: &mut String, s: &str) {
    query.reserve(s.len() + s.len() / 4);
    query.extend(form_urlencoded::byte_serialize(s.as_bytes()));
}

/// The HTTP-Redirect binding (SAML bindings 3.4): raw DEFLATE, base64, URL-encoded, and,
/// when the tenant signs requests, `SigAlg` + `Signature` over the exact encoded
/// `SAMLRequest=..&RelayState=..&SigAlg=..` string. Returns the URL to 302 to.
pub fn redirect_url(sp: &Sp, p: &RequestParams<'_>, relay_state: &str) -> Result<Url, SamlError> {
    let xml = authn_request_xml(sp, p, false);
    let mut query = redirect_query(sp, "SAMLRequest", &xml, relay_state, p.sso.sign_requests)?;
    if let (LoginHint::Query, Some(email)) = (p.sso.login_hint, p.login_hint) {
        query.push_str("&login_hint=");
        push_enc(&mut query, email);
    }
    if let Some(whr) = &p.sso.whr {
        query.push_str("&whr=");
        push_enc(&mut query, whr);
    }
    Ok(with_query(p.destination, query))
}

/// The HTTP-Redirect binding's query for one message: `{param}=` the deflated, base64,
/// URL-encoded `xml`, then `RelayState` when non-empty, and, when `sign`, `SigAlg` and
/// `Signature` over the exact encoded `{param}=..&RelayState=..&SigAlg=..` (bindings
/// 3.4.4.1). `param` is `SAMLRequest` or `SAMLResponse`.
pub(super) fn redirect_query(
    sp: &Sp,
    param: &str,
    xml: &str,
    relay_state: &str,
    sign: bool,
) -> Result<String, SamlError> {
    let deflated = deflate(xml.as_bytes())?;
    let mut query = format!("{param}=");
    push_enc(&mut query, &STANDARD.encode(deflated));
    if !relay_state.is_empty() {
        query.push_str("&RelayState=");
        push_enc(&mut query, relay_state);
    }
    if sign {
        query.push_str("&SigAlg=");
        push_enc(&mut query, SIG_ALG_RSA_SHA256);
        let sig = sp.keys.sign_rsa_sha256(query.as_bytes())?;
        query.push_str("&Signature=");
        push_enc(&mut query, &STANDARD.encode(sig));
    }
    Ok(query)
}

/// `destination` with `query` appended to the query it already has.
pub(super) fn with_query(destination: &Url, query: String) -> Url {
    let mut url = destination.clone();
    let full = match url.query() {
        Some(q) if !q.is_empty() => format!("{q}&{query}"),
        _ => query,
    };
    url.set_query(Some(&full));
    url
}

/// Raw DEFLATE (RFC 1951) of `data`. The compressor is kept per thread and reset between
/// uses: building a new one allocates and zeroes ~300 KB, which cost more than everything
/// else of an unsigned redirect together. flate2 runs on zlib-rs (Cargo.toml): miniz_oxide's
/// reset still zeroed ~160 KB of tables for each ~600-byte request, a third of the time.
fn deflate(data: &[u8]) -> Result<Vec<u8>, SamlError> {
    use flate2::{Compress, FlushCompress, Status};
    thread_local! {
        static COMPRESS: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::fast(), false));
    }
    COMPRESS.with(|c| {
        let mut c = c.borrow_mut();
        c.reset();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let before = c.total_in() as usize;
            let status = c
                .compress_vec(
                    &data[before.min(data.len())..],
                    &mut out,
                    FlushCompress::Finish,
                )
                .map_err(|e| SamlError::Key(format!("deflate: {e}")))?;
            match status {
                Status::StreamEnd => return Ok(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(256)),
            }
        }
    })
}

/// Form fields of the HTTP-POST binding; the web layer renders them with handlebars (which
/// escapes them; samael's helper puts RelayState into HTML unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostForm {
    /// Where the browser POSTs the form (the IdP's HTTP-POST SSO endpoint).
    pub action: Url,
    /// `SAMLRequest` and, when non-empty, `RelayState`, in that order.
    pub fields: Vec<(String, String)>,
}

/// The HTTP-POST binding (SAML bindings 3.5): base64 of the AuthnRequest, signed with an
/// enveloped XML signature (RSA-SHA256, exclusive C14N) by xmlsec when the tenant signs.
pub fn post_form(sp: &Sp, p: &RequestParams<'_>, relay_state: &str) -> Result<PostForm, SamlError> {
    let xml = if p.sso.sign_requests {
        let template = authn_request_xml(sp, p, true);
        XmlSec::sign_xml(template.as_bytes(), sp.keys.pkcs8_der())
            .map_err(|e| SamlError::Key(format!("signing AuthnRequest: {e}")))?
    } else {
        authn_request_xml(sp, p, false)
    };
    let mut fields = vec![("SAMLRequest".to_string(), STANDARD.encode(xml.as_bytes()))];
    if !relay_state.is_empty() {
        fields.push(("RelayState".to_string(), relay_state.to_string()));
    }
    // Hints travel on the action URL's query, as with the Redirect binding.
    let mut action = p.destination.clone();
    {
        let mut q = action.query_pairs_mut();
        if let (LoginHint::Query, Some(email)) = (p.sso.login_hint, p.login_hint) {
            q.append_pair("login_hint", email);
        }
        if let Some(whr) = &p.sso.whr {
            q.append_pair("whr", whr);
        }
    }
    if action.query() == Some("") {
        action.set_query(None);
    }
    Ok(PostForm { action, fields })
}

/// How to send the person to the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoStart {
    /// 302 to this URL (HTTP-Redirect binding).
    Redirect(Url),
    /// Auto-submitting form (HTTP-POST binding), for IdPs that offer only POST.
    Post(PostForm),
}

/// Builds the request for `idp` with the binding it offers, Redirect preferred.
/// `request_id` comes from [`new_request_id`] and is stored with the pending login.
pub fn start(
    sp: &Sp,
    idp: &IdpMetadata,
    sso: &SsoSettings,
    request_id: &str,
    relay_state: &str,
    login_hint: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SsoStart, SamlError> {
    if let Some(dest) = &idp.sso_redirect {
        let p = RequestParams {
            id: request_id,
            destination: dest,
            login_hint,
            sso,
            now,
        };
        return redirect_url(sp, &p, relay_state).map(SsoStart::Redirect);
    }
    if let Some(dest) = &idp.sso_post {
        let p = RequestParams {
            id: request_id,
            destination: dest,
            login_hint,
            sso,
            now,
        };
        return post_form(sp, &p, relay_state).map(SsoStart::Post);
    }
    Err(SamlError::Metadata("the IdP has no SSO endpoint".into()))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use openssl::x509::X509;

    use super::*;
    use crate::saml::keys::SpKeys;
    use crate::saml::xml;

    fn sp() -> Sp {
        Sp {
            entity_id: "https://login.example.com/".into(),
            acs_url: "https://login.example.com/auth/saml/callback".into(),
            acs_alias_url: "https://login.example.com/saml2/idpresponse".into(),
            slo_url: "https://login.example.com/saml/slo".into(),
            keys: Arc::new(SpKeys::generate().expect("keys")),
        }
    }

    fn sso(extra: &str) -> SsoSettings {
        toml::from_str(&format!("idp_metadata = \"x.xml\"\n{extra}")).expect("sso settings")
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("t")
            .with_timezone(&Utc)
    }

    fn query_param(url: &Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    fn inflate(b64: &str) -> String {
        let raw = STANDARD.decode(b64).expect("base64");
        let mut out = String::new();
        flate2::read::DeflateDecoder::new(&raw[..])
            .read_to_string(&mut out)
            .expect("inflate");
        out
    }

    fn public_key_pkcs1(sp: &Sp) -> Vec<u8> {
        X509::from_der(sp.keys.cert_der())
            .expect("cert")
            .public_key()
            .expect("pk")
            .rsa()
            .expect("rsa")
            .public_key_to_der_pkcs1()
            .expect("der")
    }

    #[test]
    fn request_ids_are_128_bit_xml_ids() {
        let a = new_request_id();
        assert!(a.starts_with('_') && a.len() == 33);
        assert!(a[1..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_request_id());
    }

    #[test]
    fn redirect_round_trip_with_verified_signature() {
        let sp = sp();
        let settings = sso("force_authn = true\nwhr = \"contoso.com\"");
        let dest = Url::parse("https://idp.example.com/sso?tenant=1").expect("url");
        let p = RequestParams {
            id: "_00112233445566778899aabbccddeeff",
            destination: &dest,
            login_hint: Some("alice@contoso.com"),
            sso: &settings,
            now: now(),
        };
        let url = redirect_url(&sp, &p, "relay&state=1").expect("url");
        assert_eq!(query_param(&url, "tenant").as_deref(), Some("1"));
        assert_eq!(
            query_param(&url, "RelayState").as_deref(),
            Some("relay&state=1")
        );
        assert_eq!(
            query_param(&url, "login_hint").as_deref(),
            Some("alice@contoso.com")
        );
        assert_eq!(query_param(&url, "whr").as_deref(), Some("contoso.com"));
        assert_eq!(
            query_param(&url, "SigAlg").as_deref(),
            Some(SIG_ALG_RSA_SHA256)
        );

        let xml_text = inflate(&query_param(&url, "SAMLRequest").expect("SAMLRequest"));
        let doc = xml::parse(xml_text.as_bytes()).expect("xml");
        let root = xml::root(&doc).expect("root");
        assert!(xml::is(&root, NS_PROTOCOL, "AuthnRequest"));
        assert_eq!(root.get_attribute("ID").as_deref(), Some(p.id));
        assert_eq!(root.get_attribute("ForceAuthn").as_deref(), Some("true"));
        assert_eq!(
            root.get_attribute("IssueInstant").as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        assert_eq!(
            root.get_attribute("Destination").as_deref(),
            Some(dest.as_str())
        );
        assert_eq!(
            root.get_attribute("AssertionConsumerServiceURL").as_deref(),
            Some("https://login.example.com/auth/saml/callback")
        );
        assert!(
            xml::child(&root, NS_ASSERTION, "Subject").is_none(),
            "Entra rejects Subject"
        );
        let policy = xml::child(&root, NS_PROTOCOL, "NameIDPolicy").expect("policy");
        assert_eq!(policy.get_attribute("AllowCreate").as_deref(), Some("true"));

        // The signature covers exactly the encoded SAMLRequest..SigAlg prefix.
        let q = url.query().expect("query");
        let start = q.find("SAMLRequest=").expect("start");
        let end = q.find("&Signature=").expect("sig");
        let signed = &q[start..end];
        let sig = STANDARD
            .decode(query_param(&url, "Signature").expect("Signature"))
            .expect("b64");
        let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_pkcs1(&sp));
        key.verify(signed.as_bytes(), &sig)
            .expect("signature verifies");
        assert!(key.verify(b"SAMLRequest=other", &sig).is_err());
    }

    #[test]
    fn subject_hint_and_unsigned_requests() {
        let sp = sp();
        let settings = sso("login_hint = \"subject\"\nsign_requests = false");
        let dest = Url::parse("https://idp.example.com/sso").expect("url");
        let p = RequestParams {
            id: "_00112233445566778899aabbccddeeff",
            destination: &dest,
            login_hint: Some("a<b@contoso.com"),
            sso: &settings,
            now: now(),
        };
        let url = redirect_url(&sp, &p, "").expect("url");
        assert!(query_param(&url, "Signature").is_none());
        assert!(query_param(&url, "RelayState").is_none());
        assert!(query_param(&url, "login_hint").is_none());
        let xml_text = inflate(&query_param(&url, "SAMLRequest").expect("req"));
        let doc = xml::parse(xml_text.as_bytes()).expect("escaped hint keeps XML well-formed");
        let subject =
            xml::child(&xml::root(&doc).expect("root"), NS_ASSERTION, "Subject").expect("subject");
        let name_id = xml::child(&subject, NS_ASSERTION, "NameID").expect("nameid");
        assert_eq!(
            xml::whole_text(&name_id).as_deref(),
            Some("a<b@contoso.com")
        );
    }

    #[test]
    fn post_binding_is_signed_with_an_enveloped_signature() {
        let sp = sp();
        let settings = sso("");
        let dest = Url::parse("https://idp.example.com/post").expect("url");
        let idp = IdpMetadata {
            entity_id: "https://idp.example.com/".into(),
            sso_redirect: None,
            sso_post: Some(dest.clone()),
            slo_redirect: None,
            slo_post: None,
            certs: vec![],
            valid_until: None,
            cache_duration: None,
        };
        let id = new_request_id();
        let SsoStart::Post(form) =
            start(&sp, &idp, &settings, &id, "rs", None, now()).expect("start")
        else {
            panic!("POST expected when the IdP offers only POST");
        };
        assert_eq!(form.action, dest);
        assert_eq!(form.fields[1], ("RelayState".to_string(), "rs".to_string()));
        let xml_bytes = STANDARD.decode(&form.fields[0].1).expect("b64");
        let xml_text = String::from_utf8(xml_bytes).expect("utf8");
        // Verify with xmlsec through samael, keyed by our certificate only.
        let cert = samael::crypto::CertificateDer::from(sp.keys.cert_der().to_vec());
        let verified =
            XmlSec::reduce_xml_to_signed(&xml_text, &[cert], samael::crypto::ReduceMode::PreDigest)
                .expect("signature verifies");
        assert!(verified.contains(&id));
        // And with the xmlsec1 program when installed.
        if std::process::Command::new("xmlsec1")
            .arg("--version")
            .output()
            .is_ok()
        {
            let dir = tempfile::tempdir().expect("dir");
            let pem = X509::from_der(sp.keys.cert_der())
                .expect("cert")
                .to_pem()
                .expect("pem");
            std::fs::write(dir.path().join("c.pem"), pem).expect("write");
            std::fs::write(dir.path().join("r.xml"), &xml_text).expect("write");
            let out = std::process::Command::new("xmlsec1")
                .args([
                    "--verify",
                    "--id-attr:ID",
                    "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
                    "--pubkey-cert-pem",
                ])
                .arg(dir.path().join("c.pem"))
                .arg(dir.path().join("r.xml"))
                .output()
                .expect("xmlsec1");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
