//! The two requests a relying party sends the STS through the browser (WS-Federation 1.2,
//! 13.2): `wa=wsignin1.0` and `wa=wsignout1.0`, both as GET URLs on the STS's passive
//! requestor endpoint.

use chrono::{DateTime, SecondsFormat, Utc};
use url::Url;

use super::error::WsFedError;
use crate::discovery::{LoginHint, SsoSettings};
use crate::saml::IdpMetadata;

/// `wa` of a sign-in request and of the STS's answer.
pub const WA_SIGNIN: &str = "wsignin1.0";
/// `wa` of a sign-out request.
pub const WA_SIGNOUT: &str = "wsignout1.0";
/// `wa` of the STS's request to clean up a relying party's session.
pub const WA_SIGNOUT_CLEANUP: &str = "wsignoutcleanup1.0";

/// What a sign-in request says.
pub struct SignIn<'a> {
    /// Our realm: the entity ID, which the STS must put in `AppliesTo` and the Audience.
    pub realm: &'a str,
    /// Where the STS posts its answer: our ACS.
    pub reply: &'a str,
    /// The opaque handle of the pending login (like SAML's RelayState, never a URL).
    pub wctx: &'a str,
    /// The email the person typed, when the tenant passes hints.
    pub login_hint: Option<&'a str>,
    /// Tenant settings: `whr`, the hint style, `force_authn`.
    pub sso: &'a SsoSettings,
    /// `wct`, the time of the request, which AD FS may check for freshness.
    pub now: DateTime<Utc>,
}

/// The `wa=wsignin1.0` URL on the STS's passive requestor endpoint.
pub fn signin_url(sts: &IdpMetadata, p: &SignIn<'_>) -> Result<Url, WsFedError> {
    let mut url = endpoint(sts)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("wa", WA_SIGNIN)
            .append_pair("wtrealm", p.realm)
            .append_pair("wctx", p.wctx)
            .append_pair("wreply", p.reply)
            .append_pair("wct", &p.now.to_rfc3339_opts(SecondsFormat::Secs, true));
        if let Some(whr) = &p.sso.whr {
            q.append_pair("whr", whr);
        }
        if let (Some(hint), LoginHint::Query) = (p.login_hint, p.sso.login_hint) {
            q.append_pair("login_hint", hint);
        }
        if p.sso.force_authn {
            // WS-Federation 13.2.1: the age in minutes of an acceptable authentication.
            q.append_pair("wfresh", "0");
        }
    }
    Ok(url)
}

/// The `wa=wsignout1.0` URL: the STS ends its session and returns the browser to `reply`.
pub fn signout_url(sts: &IdpMetadata, realm: &str, reply: &str) -> Result<Url, WsFedError> {
    let mut url = endpoint(sts)?;
    url.query_pairs_mut()
        .append_pair("wa", WA_SIGNOUT)
        .append_pair("wtrealm", realm)
        .append_pair("wreply", reply);
    Ok(url)
}

fn endpoint(sts: &IdpMetadata) -> Result<Url, WsFedError> {
    sts.sso_redirect.clone().ok_or_else(|| {
        WsFedError::Saml(crate::saml::SamlError::Metadata(
            "the STS has no passive requestor endpoint".into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts() -> IdpMetadata {
        IdpMetadata {
            entity_id: "http://adfs.contoso.com/adfs/services/trust".into(),
            sso_redirect: Some(Url::parse("https://adfs.contoso.com/adfs/ls/?x=1").unwrap()),
            sso_post: None,
            slo_redirect: None,
            slo_post: None,
            certs: Vec::new(),
            valid_until: None,
            cache_duration: None,
        }
    }

    #[test]
    fn signin_carries_realm_reply_context_and_hints() {
        let sso: SsoSettings = toml::from_str(
            "protocol = \"wsfed\"\nwhr = \"urn:contoso\"\nforce_authn = true\nidp_metadata = \"x.xml\"",
        )
        .unwrap();
        let now = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let url = signin_url(
            &sts(),
            &SignIn {
                realm: "https://login.example.com/",
                reply: "https://login.example.com/auth/saml/callback",
                wctx: "ctx&1",
                login_hint: Some("alice@contoso.com"),
                sso: &sso,
                now,
            },
        )
        .unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("x"), Some("1"), "the endpoint's own query is kept");
        assert_eq!(get("wa"), Some("wsignin1.0"));
        assert_eq!(get("wtrealm"), Some("https://login.example.com/"));
        assert_eq!(get("wctx"), Some("ctx&1"));
        assert_eq!(
            get("wreply"),
            Some("https://login.example.com/auth/saml/callback")
        );
        assert_eq!(get("wct"), Some("2030-01-01T00:00:00Z"));
        assert_eq!(get("whr"), Some("urn:contoso"));
        assert_eq!(get("login_hint"), Some("alice@contoso.com"));
        assert_eq!(get("wfresh"), Some("0"));
        let out = signout_url(
            &sts(),
            "https://login.example.com/",
            "https://login.example.com/",
        )
        .unwrap();
        assert!(out.as_str().contains("wa=wsignout1.0"));
    }
}
