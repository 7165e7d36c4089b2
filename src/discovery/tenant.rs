//! Tenants (accounts) as declared in `domains/*.toml`: the file format, its checks, and the
//! validated `Tenant` the rest of the gateway uses.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use url::Url;

use super::email::normalize_domain;

/// Paths of the gateway itself; an account slug must not shadow them (`/{account}`).
pub const RESERVED_SLUGS: &[&str] = &[
    "api",
    "auth",
    "device",
    "healthz",
    "login",
    "logout",
    "metrics",
    "oauth2",
    "readyz",
    "saml",
    "saml2",
    "sso",
    "static",
    "waiting-room",
    "well-known",
    "favicon.ico",
];

/// What happens to a person the IdP vouches for but who has no account here yet.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum JitPolicy {
    /// Refuse with a clear page.
    Deny,
    /// Create a `waiting` user that an admin must approve.
    #[default]
    WaitingRoom,
    /// Create an active user at once.
    Create,
}

/// How the typed email reaches the IdP so the person need not type it again.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoginHint {
    /// `login_hint` query parameter on the IdP's SSO URL (Entra ID honours it; it rejects a
    /// `<Subject>` in the AuthnRequest).
    #[default]
    Query,
    /// `<saml:Subject><saml:NameID>` in the AuthnRequest.
    Subject,
    /// Not sent.
    None,
}

/// Federation protocol of a tenant's IdP.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// SAML 2.0 Web Browser SSO profile.
    #[default]
    Saml2,
    /// OpenID Connect authorization code flow with PKCE (`oidc` module).
    Oidc,
}

/// The `[sso]` table of a tenant file, as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SsoSettings {
    /// Protocol; only `saml2` today.
    #[serde(default)]
    pub protocol: Protocol,
    /// Label of the button, e.g. "Log In with Microsoft".
    #[serde(default = "default_button")]
    pub button: String,
    /// IdP metadata file; relative paths are resolved beside the tenant file.
    pub idp_metadata: Option<PathBuf>,
    /// IdP metadata URL, fetched over HTTPS and refreshed.
    pub idp_metadata_url: Option<Url>,
    /// Inline IdP entity ID (with `sso_url` and `certificate`).
    pub issuer: Option<String>,
    /// Inline IdP single sign-on URL (HTTP-Redirect binding).
    pub sso_url: Option<Url>,
    /// Inline IdP signing certificate(s), Base64 DER or PEM; several during rollover.
    #[serde(default, deserialize_with = "one_or_many")]
    pub certificate: Vec<String>,
    /// Sign AuthnRequests with the SP key.
    #[serde(default = "yes")]
    pub sign_requests: bool,
    /// Accept responses the gateway did not ask for.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Just-in-time provisioning policy.
    #[serde(default)]
    pub jit: JitPolicy,
    /// Attribute holding the email; the NameID when absent.
    pub email_claim: Option<String>,
    /// How the typed email is passed to the IdP.
    #[serde(default)]
    pub login_hint: LoginHint,
    /// AD FS home-realm hint (`whr` query parameter).
    pub whr: Option<String>,
    /// Ask the IdP to authenticate again even with a session (`ForceAuthn`).
    #[serde(default)]
    pub force_authn: bool,
    /// Skip the button page: discovery answers with a 302 straight to the IdP.
    #[serde(default)]
    pub auto_redirect: bool,
    /// OpenID Connect: the provider's configuration document, when it is not at
    /// `issuer` + `/.well-known/openid-configuration` (Entra's multi-tenant
    /// `organizations` endpoint, whose issuer is the `{tenantid}` template).
    pub discovery_url: Option<Url>,
    /// OpenID Connect: our client ID at the provider.
    pub client_id: Option<String>,
    /// OpenID Connect: the client secret (`client_secret_basic`).
    pub client_secret: Option<String>,
    /// OpenID Connect: PEM private key (RSA or EC P-256) for `private_key_jwt` client
    /// authentication instead of a secret; relative paths resolve beside the tenant file.
    pub client_key: Option<PathBuf>,
    /// OpenID Connect: scopes requested besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// OpenID Connect: Entra's `domain_hint`, which skips its account picker.
    pub domain_hint: Option<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

fn default_button() -> String {
    "Log In with SSO".into()
}

fn yes() -> bool {
    true
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A tenant file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    /// URL slug.
    pub account: String,
    /// Display name.
    pub name: Option<String>,
    /// Email domains this tenant owns.
    pub domains: Vec<String>,
    /// Whether `eu.contoso.com` matches `contoso.com`.
    #[serde(default)]
    pub include_subdomains: bool,
    /// Region this tenant lives in; this gateway's when absent.
    pub region: Option<String>,
    /// Addresses (CIDR) device connectors may call from; anywhere when empty.
    #[serde(default)]
    pub device_allowlist: Vec<String>,
    /// Single sign-on; password login when absent.
    pub sso: Option<SsoSettings>,
}

/// An IP network in CIDR notation, for allow-lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `203.0.113.0/24`, `2001:db8::/32` or a bare address.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = s.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A validated tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// URL slug, unique across the map.
    pub account: String,
    /// Display name.
    pub name: String,
    /// Normalised (ASCII, lower-case) domains.
    pub domains: Vec<String>,
    /// Whether subdomains of `domains` belong to this tenant.
    pub include_subdomains: bool,
    /// Region, when not this gateway's.
    pub region: Option<String>,
    /// Device endpoint allow-list; empty means anywhere.
    pub device_allowlist: Vec<Cidr>,
    /// SSO settings; `None` means password login.
    pub sso: Option<SsoSettings>,
    /// The file this tenant came from; relative metadata paths resolve beside it.
    pub file: PathBuf,
    /// The `idp_metadata` document itself, for a tenant read from the database: gateways
    /// of the PostgreSQL source have no `domains/` directory to read it from.
    pub stored_idp_metadata: Option<Arc<[u8]>>,
}

impl Tenant {
    /// Whether `domain` (already normalised) belongs to this tenant.
    pub fn owns_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| {
            domain == d
                || (self.include_subdomains
                    && domain
                        .strip_suffix(d.as_str())
                        .is_some_and(|rest| rest.ends_with('.')))
        })
    }

    /// Directory relative metadata paths are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }
}

/// Checks a parsed file, returning the tenant or every problem as (key, message).
pub fn validate(file: TenantFile, path: &Path) -> Result<Tenant, Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    let slug_ok = !file.account.is_empty()
        && file.account.len() <= 63
        && file
            .account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !file.account.starts_with('-');
    if !slug_ok {
        problems.push((
            "account",
            format!(
                "account {:?} must be 1-63 lower-case letters, digits or '-' (it is a URL slug)",
                file.account
            ),
        ));
    } else if RESERVED_SLUGS.contains(&file.account.as_str()) {
        problems.push((
            "account",
            format!(
                "account {:?} is reserved for the gateway's own paths",
                file.account
            ),
        ));
    }
    if file.domains.is_empty() {
        problems.push(("domains", "list at least one email domain".into()));
    }
    let mut domains = Vec::new();
    for d in &file.domains {
        match normalize_domain(d) {
            Some(n) if !domains.contains(&n) => domains.push(n),
            Some(_) => problems.push(("domains", format!("domain {d:?} is listed twice"))),
            None => problems.push(("domains", format!("{d:?} is not a valid domain name"))),
        }
    }
    let mut device_allowlist = Vec::new();
    for c in &file.device_allowlist {
        match Cidr::parse(c) {
            Some(c) => device_allowlist.push(c),
            None => problems.push((
                "device_allowlist",
                format!("{c:?} is not an address or CIDR network"),
            )),
        }
    }
    if let Some(sso) = file.sso.as_ref().filter(|s| s.protocol == Protocol::Oidc) {
        problems.extend(validate_oidc(sso));
    } else if let Some(sso) = &file.sso {
        let sources = usize::from(sso.idp_metadata.is_some())
            + usize::from(sso.idp_metadata_url.is_some())
            + usize::from(
                sso.issuer.is_some() || sso.sso_url.is_some() || !sso.certificate.is_empty(),
            );
        if sources != 1 {
            problems.push((
                "sso",
                "give exactly one of idp_metadata, idp_metadata_url, or issuer + sso_url + certificate"
                    .into(),
            ));
        }
        let inline_any =
            sso.issuer.is_some() || sso.sso_url.is_some() || !sso.certificate.is_empty();
        let inline_all =
            sso.issuer.is_some() && sso.sso_url.is_some() && !sso.certificate.is_empty();
        if inline_any && !inline_all {
            problems.push((
                "sso",
                "inline IdP settings need all of issuer, sso_url and certificate".into(),
            ));
        }
        if let Some(u) = &sso.idp_metadata_url
            && u.scheme() != "https"
        {
            problems.push((
                "idp_metadata_url",
                "idp_metadata_url must be https: unauthenticated metadata could swap the IdP's keys"
                    .into(),
            ));
        }
        if sso.button.trim().is_empty() {
            problems.push(("button", "button label must not be empty".into()));
        }
        let oidc_only = [
            ("discovery_url", sso.discovery_url.is_some()),
            ("client_id", sso.client_id.is_some()),
            ("client_secret", sso.client_secret.is_some()),
            ("client_key", sso.client_key.is_some()),
            ("domain_hint", sso.domain_hint.is_some()),
        ];
        for (key, set) in oidc_only {
            if set {
                problems.push((
                    "sso",
                    format!(
                        "{key} is an OpenID Connect setting; set protocol = \"oidc\" to use it"
                    ),
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut sso = file.sso;
    if let Some(s) = sso.as_mut() {
        for m in [s.idp_metadata.as_mut(), s.client_key.as_mut()]
            .into_iter()
            .flatten()
        {
            if m.is_relative() {
                *m = path.parent().unwrap_or(Path::new(".")).join(&*m);
            }
        }
    }
    Ok(Tenant {
        name: file.name.unwrap_or_else(|| file.account.clone()),
        account: file.account,
        domains,
        include_subdomains: file.include_subdomains,
        region: file.region,
        device_allowlist,
        sso,
        file: path.to_path_buf(),
        stored_idp_metadata: None,
    })
}

/// The `[sso]` checks of `protocol = "oidc"`: where the provider is, who we are at it, and
/// that no SAML-only key is set (it would be silently ignored).
fn validate_oidc(sso: &SsoSettings) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    match (&sso.issuer, &sso.discovery_url) {
        (Some(_), Some(_)) | (None, None) => problems.push((
            "sso",
            "an oidc IdP needs exactly one of issuer or discovery_url".into(),
        )),
        (Some(i), None) => {
            if Url::parse(i).map_or(true, |u| u.scheme() != "https") {
                problems.push((
                    "issuer",
                    "issuer must be an https URL: the provider's keys are fetched from it".into(),
                ));
            }
        }
        (None, Some(u)) => {
            if u.scheme() != "https" {
                problems.push((
                    "discovery_url",
                    "discovery_url must be https: unauthenticated metadata could swap the IdP's keys"
                        .into(),
                ));
            }
        }
    }
    if sso.client_id.as_deref().is_none_or(|c| c.trim().is_empty()) {
        problems.push(("client_id", "an oidc IdP needs client_id".into()));
    }
    if sso.client_secret.is_some() == sso.client_key.is_some() {
        problems.push((
            "sso",
            "an oidc IdP needs exactly one of client_secret or client_key (private_key_jwt)".into(),
        ));
    }
    if sso.client_secret.as_deref().is_some_and(|c| c.is_empty()) {
        problems.push(("client_secret", "client_secret must not be empty".into()));
    }
    let saml_only = [
        ("idp_metadata", sso.idp_metadata.is_some()),
        ("idp_metadata_url", sso.idp_metadata_url.is_some()),
        ("sso_url", sso.sso_url.is_some()),
        ("certificate", !sso.certificate.is_empty()),
        ("whr", sso.whr.is_some()),
        ("allow_idp_initiated", sso.allow_idp_initiated),
        (
            "login_hint = \"subject\"",
            sso.login_hint == LoginHint::Subject,
        ),
    ];
    for (key, set) in saml_only {
        if set {
            problems.push((
                "sso",
                format!("{key} is a SAML setting; an oidc IdP does not use it"),
            ));
        }
    }
    if sso.button.trim().is_empty() {
        problems.push(("button", "button label must not be empty".into()));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.9".parse().unwrap()));
        assert!(c.contains("::ffff:203.0.113.9".parse().unwrap()));
        assert!(!c.contains("203.0.114.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8::1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
    }

    #[test]
    fn subdomains_only_when_included() {
        let file: TenantFile = toml::from_str(
            "account = \"contoso\"\ndomains = [\"Contoso.com\"]\ninclude_subdomains = true\n",
        )
        .unwrap();
        let t = validate(file, Path::new("domains/contoso.toml")).unwrap();
        assert!(t.owns_domain("contoso.com"));
        assert!(t.owns_domain("eu.contoso.com"));
        assert!(!t.owns_domain("evilcontoso.com"));
        let file: TenantFile =
            toml::from_str("account = \"contoso\"\ndomains = [\"contoso.com\"]\n").unwrap();
        let t = validate(file, Path::new("x.toml")).unwrap();
        assert!(!t.owns_domain("eu.contoso.com"));
    }
}

#[cfg(test)]
mod oidc_tests {
    use super::*;

    fn check(sso: &str) -> Result<Tenant, Vec<(&'static str, String)>> {
        let text = format!("account = \"acme\"\ndomains = [\"acme.com\"]\n[sso]\n{sso}");
        validate(
            toml::from_str(&text).unwrap(),
            Path::new("domains/acme.toml"),
        )
    }

    #[test]
    fn an_oidc_tenant_needs_one_provider_source_and_one_client_credential() {
        let t = check(
            "protocol = \"oidc\"\nissuer = \"https://accounts.google.com\"\nclient_id = \"c\"\nclient_secret = \"s\"\n",
        )
        .expect("valid oidc tenant");
        let sso = t.sso.unwrap();
        assert_eq!(sso.protocol, Protocol::Oidc);
        assert_eq!(sso.scopes, ["email", "profile"]);
        let key = check(
            "protocol = \"oidc\"\ndiscovery_url = \"https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration\"\nclient_id = \"c\"\nclient_key = \"acme.key\"\n",
        )
        .expect("private_key_jwt tenant");
        assert_eq!(
            key.sso.unwrap().client_key.unwrap(),
            Path::new("domains/acme.key")
        );
        for (bad, why) in [
            (
                "issuer = \"https://a\"\nclient_id = \"c\"\n",
                "no credential",
            ),
            (
                "issuer = \"https://a\"\nclient_id = \"c\"\nclient_secret = \"s\"\nclient_key = \"k\"\n",
                "two credentials",
            ),
            ("client_id = \"c\"\nclient_secret = \"s\"\n", "no issuer"),
            (
                "issuer = \"http://a\"\nclient_id = \"c\"\nclient_secret = \"s\"\n",
                "plain http issuer",
            ),
            (
                "issuer = \"https://a\"\nclient_secret = \"s\"\n",
                "no client_id",
            ),
            (
                "issuer = \"https://a\"\nclient_id = \"c\"\nclient_secret = \"s\"\nidp_metadata = \"x.xml\"\n",
                "a SAML key",
            ),
        ] {
            assert!(
                check(&format!("protocol = \"oidc\"\n{bad}")).is_err(),
                "{why} was accepted"
            );
        }
    }

    #[test]
    fn oidc_keys_on_a_saml_tenant_are_refused() {
        let problems = check(
            "issuer = \"https://idp\"\nsso_url = \"https://idp/sso\"\ncertificate = \"MIIB\"\nclient_id = \"c\"\n",
        )
        .unwrap_err();
        assert!(
            problems
                .iter()
                .any(|(_, m)| m.contains("client_id is an OpenID Connect setting")),
            "{problems:?}"
        );
    }
}
