//! Tenants (accounts) as declared in `domains/*.toml`: the file format, its checks, and the
//! validated `Tenant` the rest of the gateway uses.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
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
    "lang",
    "password",
];

/// What happens to a person the IdP vouches for but who has no account here yet.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// SAML 2.0 Web Browser SSO profile.
    #[default]
    Saml2,
    /// OpenID Connect authorization code flow with PKCE (`oidc` module).
    Oidc,
    /// WS-Federation passive requestor (AD FS), with WS-Trust for devices (`wstrust_url`).
    Wsfed,
}

impl Protocol {
    /// The name a tenant file writes (`protocol = "..."`), which the discovery API's
    /// `method` and the management API's `sso.protocol` answer too.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Saml2 => "saml2",
            Protocol::Oidc => "oidc",
            Protocol::Wsfed => "wsfed",
        }
    }
}

/// The `[sso]` table of a tenant file, as written (and, for a tenant of the management
/// API, as stored: serialised back to this text and read again like a file).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SsoSettings {
    /// Protocol: `saml2` or `wsfed`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Label of the button, e.g. "Log In with Microsoft".
    #[serde(default = "default_button")]
    pub button: String,
    /// IdP metadata file; relative paths are resolved beside the tenant file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_metadata: Option<PathBuf>,
    /// IdP metadata URL, fetched over HTTPS and refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_metadata_url: Option<Url>,
    /// Inline IdP entity ID (with `sso_url` and `certificate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Inline IdP single sign-on URL (HTTP-Redirect binding).
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_claim: Option<String>,
    /// How the typed email is passed to the IdP.
    #[serde(default)]
    pub login_hint: LoginHint,
    /// AD FS home-realm hint (`whr` query parameter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whr: Option<String>,
    /// Inline WS-Federation passive requestor endpoint (with `issuer` and `certificate`), for
    /// `protocol = "wsfed"` in place of `sso_url`.
    pub wsfed_url: Option<Url>,
    /// AD FS's WS-Trust 1.3 `usernamemixed` endpoint: device login with email and password
    /// for this SSO tenant (`wsfed` only).
    pub wstrust_url: Option<Url>,
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

impl Default for SsoSettings {
    /// The `[sso]` table of a file that gives only its IdP: the same defaults serde applies.
    fn default() -> Self {
        Self {
            protocol: Protocol::default(),
            button: default_button(),
            idp_metadata: None,
            idp_metadata_url: None,
            issuer: None,
            sso_url: None,
            certificate: Vec::new(),
            sign_requests: yes(),
            allow_idp_initiated: false,
            jit: JitPolicy::default(),
            email_claim: None,
            login_hint: LoginHint::default(),
            whr: None,
            wsfed_url: None,
            wstrust_url: None,
            force_authn: false,
            auto_redirect: false,
            discovery_url: None,
            client_id: None,
            client_secret: None,
            client_key: None,
            scopes: default_scopes(),
            domain_hint: None,
        }
    }
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
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    /// URL slug.
    pub account: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email domains this tenant owns.
    pub domains: Vec<String>,
    /// Whether `eu.contoso.com` matches `contoso.com`.
    #[serde(default)]
    pub include_subdomains: bool,
    /// Region this tenant lives in; this gateway's when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Addresses (CIDR) device connectors may call from; anywhere when empty.
    #[serde(default)]
    pub device_allowlist: Vec<String>,
    /// Single sign-on; password login when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    /// Who manages the tenant, and so which rules route its domains.
    pub origin: TenantOrigin,
    /// The domains whose DNS proof held (API tenants only: their other domains never route
    /// to SSO).
    pub verified_domains: Vec<String>,
}

/// Where a tenant is managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantOrigin {
    /// A `domains/` file: the operator's.
    File,
    /// Written by `realmgate tenant import` into PostgreSQL: the operator's too.
    Import,
    /// Created through the management API (or the console). Its domains route to SSO only
    /// once their DNS proof held, whatever `require_verified_domains` says: otherwise any
    /// API client could list another company's domain and capture its logins.
    Api,
}

impl TenantOrigin {
    /// The name stored in the `origin` column (`file` is never stored).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Import => "import",
            Self::Api => "api",
        }
    }
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

    /// Whether the domain of its list that `domain` matches (exactly, or as a parent when
    /// subdomains are included) has a held DNS proof; without a domain, whether any has.
    pub fn proven(&self, domain: Option<&str>) -> bool {
        self.verified_domains.iter().any(|v| {
            domain.is_none_or(|d| {
                d == v
                    || (self.include_subdomains
                        && d.strip_suffix(v.as_str()).is_some_and(|r| r.ends_with('.')))
            })
        })
    }

    /// Directory relative metadata paths are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }
}

/// Whether `account` has the shape of an account: 1-63 lower-case letters, digits or '-',
/// not starting with '-' (it is a URL slug).
pub fn is_account_slug(account: &str) -> bool {
    !account.is_empty()
        && account.len() <= 63
        && account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !account.starts_with('-')
}

/// Checks a parsed file, returning the tenant or every problem as (key, message).
pub fn validate(file: TenantFile, path: &Path) -> Result<Tenant, Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    if !is_account_slug(&file.account) {
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
        // The inline IdP's sign-in URL: `sso_url` for SAML, `wsfed_url` for WS-Federation.
        let (url_key, inline_url, other_url) = match sso.protocol {
            Protocol::Wsfed => ("wsfed_url", sso.wsfed_url.is_some(), sso.sso_url.is_some()),
            Protocol::Saml2 | Protocol::Oidc => {
                ("sso_url", sso.sso_url.is_some(), sso.wsfed_url.is_some())
            }
        };
        let sources = usize::from(sso.idp_metadata.is_some())
            + usize::from(sso.idp_metadata_url.is_some())
            + usize::from(sso.issuer.is_some() || inline_url || !sso.certificate.is_empty());
        if sources != 1 {
            problems.push((
                "sso",
                format!(
                    "give exactly one of idp_metadata, idp_metadata_url, or issuer + {url_key} + certificate"
                ),
            ));
        }
        let inline_any = sso.issuer.is_some() || inline_url || !sso.certificate.is_empty();
        let inline_all = sso.issuer.is_some() && inline_url && !sso.certificate.is_empty();
        if inline_any && !inline_all {
            problems.push((
                "sso",
                format!("inline IdP settings need all of issuer, {url_key} and certificate"),
            ));
        }
        if other_url {
            let other = if url_key == "sso_url" {
                "wsfed_url"
            } else {
                "sso_url"
            };
            problems.push((
                other,
                format!(
                    "{other} does not apply to protocol {:?}; use {url_key}",
                    sso.protocol
                ),
            ));
        }
        if let Some(u) = &sso.wstrust_url {
            if sso.protocol != Protocol::Wsfed {
                problems.push((
                    "wstrust_url",
                    "wstrust_url needs protocol = \"wsfed\" (AD FS)".into(),
                ));
            }
            // The password travels to this URL: only TLS (the test STS has its own CA too).
            if u.scheme() != "https" {
                problems.push((
                    "wstrust_url",
                    "wstrust_url must be https: the user's password is sent to it".into(),
                ));
            }
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
        origin: TenantOrigin::File,
        verified_domains: Vec::new(),
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
        ("wsfed_url", sso.wsfed_url.is_some()),
        ("wstrust_url", sso.wstrust_url.is_some()),
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
                format!("{key} is a SAML or WS-Federation setting; an oidc IdP does not use it"),
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

    #[test]
    fn wsfed_settings_are_checked() {
        let check = |sso: &str| {
            let file: TenantFile = toml::from_str(&format!(
                "account = \"contoso\"\ndomains = [\"contoso.com\"]\n[sso]\nprotocol = \"wsfed\"\n{sso}"
            ))
            .unwrap();
            validate(file, Path::new("x.toml"))
                .map(|_| ())
                .map_err(|p| p.into_iter().map(|(k, _)| k).collect::<Vec<_>>())
        };
        let inline = "issuer = \"http://adfs/trust\"\ncertificate = \"MIIB\"\n";
        assert_eq!(
            check(&format!(
                "{inline}wsfed_url = \"https://adfs.contoso.com/adfs/ls/\""
            )),
            Ok(())
        );
        assert_eq!(
            check("idp_metadata = \"m.xml\"\nwstrust_url = \"https://127.0.0.1:9/trust\""),
            Ok(())
        );
        // The password would be sent in clear, even to a loopback address.
        for plain in ["http://adfs.contoso.com/trust", "http://127.0.0.1:9/trust"] {
            assert_eq!(
                check(&format!(
                    "idp_metadata = \"m.xml\"\nwstrust_url = \"{plain}\""
                )),
                Err(vec!["wstrust_url"])
            );
        }
        // SAML's sign-in URL is not WS-Federation's: the inline IdP is then incomplete.
        assert_eq!(
            check(&format!(
                "{inline}sso_url = \"https://adfs.contoso.com/adfs/ls/\""
            )),
            Err(vec!["sso", "sso_url"])
        );
        // AD FS's Federation Metadata URL: its STS role is fetched and refreshed.
        assert_eq!(
            check(
                "idp_metadata_url = \"https://adfs.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml\""
            ),
            Ok(())
        );
        assert_eq!(
            check("idp_metadata_url = \"http://adfs.contoso.com/FederationMetadata.xml\""),
            Err(vec!["idp_metadata_url"])
        );
        let saml: TenantFile = toml::from_str(
            "account = \"c\"\ndomains = [\"c.com\"]\n[sso]\nidp_metadata = \"m.xml\"\nwstrust_url = \"https://adfs/trust\"",
        )
        .unwrap();
        assert!(
            validate(saml, Path::new("x.toml")).is_err(),
            "wstrust_url needs wsfed"
        );
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
