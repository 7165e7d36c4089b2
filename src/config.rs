//! Configuration: embedded defaults, then `realmgate.toml`, then `REALMGATE_*` environment
//! variables. Unknown keys are errors (a typo must not silently fall back to a default), and
//! `validate` reports every problem at once so an operator fixes them in one pass.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::i18n::Lang;

/// Prefix of the environment variables that override file keys.
pub const ENV_PREFIX: &str = "REALMGATE_";

/// `tenant_source` value selecting the `domains/` files.
pub const TENANT_FILES: &str = "files";

/// One problem found in the configuration, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File (or `environment`) the problem comes from.
    pub source: String,
    /// 1-based line in that file, when the problem is tied to one.
    pub line: Option<usize>,
    /// A plain sentence that says what is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.source, line, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// Errors of this module: every problem, collected.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<Problem>);

/// How log lines are written.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// An OAuth client registered by the operator: a native app (public: no secret, PKCE), a
/// confidential web app signing people in with OpenID Connect (`client_secret_hash` or
/// `jwks`), or a service client (an MFP in shared-account mode, a back-end job) using
/// `client_credentials` on behalf of one `account`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// The `client_id` the app sends.
    pub client_id: String,
    /// Exact redirect URIs; loopback URIs match on any port (RFC 8252 section 7.3).
    pub redirect_uris: Vec<String>,
    /// Hex SHA-256 of the client secret (`realmgate client secret` prints both): the
    /// client authenticates with `client_secret_basic` or `client_secret_post`.
    #[serde(default)]
    pub client_secret_hash: Option<String>,
    /// Public keys of a `private_key_jwt` client (RFC 7523): it signs its assertion with
    /// one of them.
    #[serde(default)]
    pub jwks: Option<jsonwebtoken::jwk::JwkSet>,
    /// Grants the client may use; when empty, those of a native app and device connector
    /// (`authorization_code`, `refresh_token`, the device code). `client_credentials` is
    /// never implied.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Where `end_session_endpoint` may send the browser after logout, matched exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// OpenID Back-Channel Logout 1.0: where a logout token is POSTed when a session the
    /// client got an ID token from ends.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// The tenant a `client_credentials` client acts for: its tokens carry this account and
    /// the tenant's `device_allowlist` applies to it.
    #[serde(default)]
    pub account: Option<String>,
}

/// The grants a client may list in `grant_types`.
pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
];

impl OAuthClient {
    /// Whether the client authenticates at the token endpoint (a secret or a key): only
    /// such a client may hold `client_credentials`, and PKCE becomes optional for it.
    pub fn is_confidential(&self) -> bool {
        self.client_secret_hash.is_some() || self.jwks.is_some()
    }

    /// Whether the client may use `grant`: what it lists, or without a list what a native
    /// app and a device connector use. `client_credentials` only when listed.
    pub fn allows_grant(&self, grant: &str) -> bool {
        if self.grant_types.is_empty() {
            grant != "client_credentials"
        } else {
            self.grant_types.iter().any(|g| g == grant)
        }
    }

    /// Whether `id` can be a `client_id`: 1 to 200 printable characters. Lookups of
    /// anything else answer "unknown client" without asking a database.
    pub fn is_client_id(id: &str) -> bool {
        !id.is_empty() && id.len() <= 200 && !id.chars().any(char::is_control)
    }

    /// What is wrong with this registration, each as a sentence naming the client: for
    /// `validate` and for clients created through the management API.
    pub fn problems(&self) -> Vec<String> {
        let id = &self.client_id;
        let mut out = Vec::new();
        if !Self::is_client_id(id) {
            out.push(format!(
                "client_id {id:?} must be 1 to 200 printable characters"
            ));
        }
        if let Some(h) = &self.client_secret_hash
            && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            out.push(format!(
                "client {id:?}: client_secret_hash must be the 64 hex digits `realmgate client secret` prints"
            ));
        }
        if self.client_secret_hash.is_some() && self.jwks.is_some() {
            out.push(format!(
                "client {id:?}: set client_secret_hash or jwks, not both (one authentication method)"
            ));
        }
        for g in &self.grant_types {
            if !GRANT_TYPES.contains(&g.as_str()) {
                out.push(format!(
                    "client {id:?}: unknown grant type {g:?}; use one of {GRANT_TYPES:?}"
                ));
            }
        }
        if self.allows_grant("client_credentials") {
            if !self.is_confidential() {
                out.push(format!(
                    "client {id:?}: client_credentials needs client_secret_hash or jwks: a public client cannot prove it is itself"
                ));
            }
            if self.account.is_none() {
                out.push(format!(
                    "client {id:?}: client_credentials needs the account the client acts for (account = \"contoso\")"
                ));
            }
        }
        let absolute = |u: &String| Url::parse(u).is_ok_and(|u| u.fragment().is_none());
        for u in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
            .chain(&self.backchannel_logout_uri)
        {
            if !absolute(u) {
                out.push(format!(
                    "client {id:?}: {u:?} must be an absolute URI without a fragment"
                ));
            }
        }
        out
    }
}

/// The whole configuration. Field names are the TOML keys and, upper-cased after
/// `REALMGATE_`, the environment variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Bind address.
    pub listen: SocketAddr,
    /// Bind address of the Prometheus endpoint (`GET /metrics`), apart from `listen`: its
    /// series name every tenant's account, which the public side never enumerates. Keep
    /// it on the loopback or a private network.
    pub metrics_listen: SocketAddr,
    /// The URL users see; ACS and metadata URLs derive from it.
    pub public_url: Url,
    /// SP entity ID; defaults to `public_url` with a trailing `/`.
    pub entity_id: Option<String>,
    /// Directory of tenant files.
    pub domains_dir: PathBuf,
    /// Where tenants come from: `files` (the `domains_dir` files, hot-reloaded) or a
    /// `postgres://` URL (tables filled by `realmgate tenant import DIR`, for maps of
    /// millions of domains; gateways learn of imports by LISTEN/NOTIFY). A URL of its own
    /// rather than `database_url`, because the tenant map is often shared by the gateways
    /// of every region while users stay in each region's database.
    pub tenant_source: String,
    /// Directory of the SQLite database and the generated SP key.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// `memory` or `redis://...`: sessions, pending SAML requests, replay cache, rate limits.
    pub session_store: String,
    /// Hosts `return_to` may point at; defaults to the host of `public_url`.
    pub allowed_return_hosts: Vec<String>,
    /// Allowed clock difference with IdPs for SAML time checks.
    pub clock_skew_seconds: u64,
    /// This gateway's region, e.g. `eu`.
    pub region: Option<String>,
    /// Other regions' public URLs by region name.
    pub regions: BTreeMap<String, Url>,
    /// PEM certificate chain for TLS; TLS is on when this and `tls_key` are set.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Log line format.
    pub log_format: LogFormat,
    /// When true, a tenant domain is routed to SSO only after its DNS TXT proof succeeded.
    pub require_verified_domains: bool,
    /// Secret for DNS proof tokens and CSRF; generated into `data_dir` when absent.
    pub secret: Option<String>,
    /// SP signing key and certificate (PEM); generated into `data_dir` when absent.
    pub sp_key: Option<PathBuf>,
    /// Certificate matching `sp_key`.
    pub sp_cert: Option<PathBuf>,
    /// Next SP certificate, published in metadata before it signs (key rollover).
    pub sp_next_cert: Option<PathBuf>,
    /// Extra CA certificates (PEM bundle) trusted when fetching `idp_metadata_url`, for
    /// IdPs such as AD FS that publish metadata behind an internal CA. Public CAs are
    /// always trusted.
    pub idp_metadata_ca: Option<PathBuf>,
    /// Lets the IdP URLs of the management API's tenants (metadata URLs and OpenID Connect
    /// providers, typed by account admins in the console or sent by API clients) reach
    /// loopback, private and link-local addresses. Off by default: the save-time check says why a fetch failed, which would
    /// let an account admin probe the operator's internal network. On only when the
    /// customers' IdPs live on the operator's own network.
    pub allow_private_idp_urls: bool,
    /// Session idle timeout.
    pub session_idle_seconds: u64,
    /// Session absolute lifetime.
    pub session_max_seconds: u64,
    /// DNS server for TXT proofs (`ip:port`); the system resolver when absent.
    pub dns_server: Option<SocketAddr>,
    /// How often the held DNS proofs of the management API's domains are looked up again
    /// (a domain whose record is gone stops routing to SSO); 0 never.
    pub domain_recheck_seconds: u64,
    /// Trust `X-Forwarded-For` from these proxy addresses when rate limiting.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Registered native-app OAuth clients.
    pub oauth_clients: Vec<OAuthClient>,
    /// Password attempts allowed per minute, per client address and per account.
    pub login_attempts_per_minute: u64,
    /// Failed attempts (within an hour) after which growing lockouts start.
    pub lockout_after_failures: u64,
    /// After SIGTERM, how long the gateway keeps serving, with `/readyz` at 503 and every
    /// response closing its connection, before it stops accepting and drains: the time a
    /// load balancer needs to stop sending it requests, which would otherwise meet a
    /// closed socket.
    pub drain_seconds: u64,
    /// The bound on every wait of an HTTP exchange: a connection waiting for a request's
    /// headers (a new connection's first request, or the next on a kept-alive one: hyper's
    /// header-read timeout is both), and a request being answered (408 after it). Bounds
    /// sockets held by clients that never finish a request (slowloris). Must exceed the idle
    /// timeout of any proxy or load balancer reusing connections to the gateway (nginx
    /// upstream keepalive and AWS ALB: 60 s), or a request they send just as the gateway
    /// closes an idle connection fails.
    pub http_timeout_seconds: u64,
    /// The operator's name on every page title ("Sign in · Brand") and every mail.
    pub brand_name: String,
    /// A logo (PNG, SVG, JPEG or WebP file) shown on every page and linked from mail;
    /// none: the name alone.
    pub brand_logo: Option<PathBuf>,
    /// The accent colour (`#rrggbb`) of buttons and links. The text on it is black or
    /// white, whichever contrasts more ([`Config::brand_text_color`]), so any colour keeps
    /// the WCAG AA 4.5:1 ratio.
    pub brand_color: String,
    /// `smtp://user:pass@host:587` (STARTTLS) or `smtps://user:pass@host:465` (TLS): mail
    /// goes through that relay. None: each message is written to `data_dir/outbox/` and
    /// logged, so a fresh start shows what would be sent.
    pub smtp_url: Option<String>,
    /// The `From:` of every mail.
    pub mail_from: String,
    /// The language (`en`, `fr`) of a page when neither the `lang` cookie nor
    /// `Accept-Language` names one the catalogs have, and of mail to a person whose own
    /// language is not known yet (someone who never signed in): a French-speaking
    /// operator's invitations then go out in French.
    #[serde(deserialize_with = "language")]
    pub default_language: Lang,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("static address"),
            metrics_listen: "127.0.0.1:9090".parse().expect("static address"),
            public_url: Url::parse("http://127.0.0.1:8080").expect("static url"),
            entity_id: None,
            domains_dir: PathBuf::from("./domains"),
            tenant_source: TENANT_FILES.into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            session_store: "memory".into(),
            allowed_return_hosts: Vec::new(),
            clock_skew_seconds: 120,
            region: None,
            regions: BTreeMap::new(),
            tls_cert: None,
            tls_key: None,
            log_format: LogFormat::Text,
            require_verified_domains: false,
            secret: None,
            sp_key: None,
            sp_cert: None,
            sp_next_cert: None,
            idp_metadata_ca: None,
            allow_private_idp_urls: false,
            session_idle_seconds: 8 * 3600,
            session_max_seconds: 24 * 3600,
            dns_server: None,
            domain_recheck_seconds: 86_400,
            trusted_proxies: Vec::new(),
            oauth_clients: Vec::new(),
            login_attempts_per_minute: 20,
            lockout_after_failures: 5,
            drain_seconds: 5,
            http_timeout_seconds: 75,
            brand_name: "realmgate".into(),
            brand_logo: None,
            brand_color: "#2f5bd3".into(),
            smtp_url: None,
            mail_from: "realmgate <no-reply@localhost>".into(),
            default_language: Lang::En,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` (when given), then the environment `vars`.
    ///
    /// `vars` is passed in rather than read here so tests control it.
    pub fn load(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (source, text) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(vec![Problem {
                        source: path.display().to_string(),
                        line: None,
                        message: format!("cannot read the configuration file: {e}"),
                    }])
                })?;
                (path.display().to_string(), text)
            }
            None => ("defaults".to_string(), String::new()),
        };
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| {
            ConfigError(vec![Problem {
                source: source.clone(),
                line: e.span().map(|s| line_of(&text, s.start)),
                message: e.message().to_string(),
            }])
        })?;
        let mut problems = Vec::new();
        for (name, value) in vars {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            // Values are read as TOML when they parse (numbers, booleans, arrays),
            // else as a plain string, so `REALMGATE_LISTEN=0.0.0.0:8080` just works.
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value));
            table.insert(key, parsed);
        }
        let config: Config = match toml::Value::Table(table.clone()).try_into() {
            Ok(c) => c,
            Err(e) => {
                let e: toml::de::Error = e;
                // The file parsed, so a typed error is about a key: find its line.
                let message = e.message().to_string();
                let line = key_in_message(&message)
                    .and_then(|k| find_key_line(&text, &k))
                    .or_else(|| e.span().map(|s| line_of(&text, s.start)));
                let source = if line.is_some() {
                    source
                } else {
                    format!("{source} or {ENV_PREFIX}* environment")
                };
                return Err(ConfigError(vec![Problem {
                    source,
                    line,
                    message,
                }]));
            }
        };
        config.validate(&source, &text, &mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Checks what types alone cannot, pushing every problem found.
    fn validate(&self, source: &str, text: &str, problems: &mut Vec<Problem>) {
        let mut push = |key: &str, message: String| {
            problems.push(Problem {
                source: source.to_string(),
                line: find_key_line(text, key),
                message,
            })
        };
        if !matches!(self.public_url.scheme(), "http" | "https") {
            push(
                "public_url",
                "public_url must be an http or https URL".into(),
            );
        }
        if self.public_url.host_str().is_none() {
            push("public_url", "public_url must have a host".into());
        }
        if self.metrics_listen == self.listen && self.listen.port() != 0 {
            push(
                "metrics_listen",
                "metrics_listen must differ from listen: metrics are not served publicly".into(),
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            push(
                "tls_cert",
                "set both tls_cert and tls_key to enable TLS, or neither".into(),
            );
        }
        if self.session_store != "memory"
            && !self.session_store.starts_with("redis://")
            && !self.session_store.starts_with("rediss://")
        {
            push(
                "session_store",
                format!(
                    "session_store must be \"memory\" or a redis:// URL, not {:?}",
                    self.session_store
                ),
            );
        }
        if let Some(db) = &self.database_url
            && !db.starts_with("sqlite:")
            && !db.starts_with("postgres://")
            && !db.starts_with("postgresql://")
        {
            push(
                "database_url",
                "database_url must start with sqlite: or postgres://".into(),
            );
        }
        if self.tenant_source != TENANT_FILES && self.tenant_database().is_none() {
            push(
                "tenant_source",
                format!(
                    "tenant_source must be \"{TENANT_FILES}\" or a postgres:// URL, not {:?}",
                    self.tenant_source
                ),
            );
        }
        if let Some(region) = &self.region
            && !self.regions.is_empty()
            && !self.regions.contains_key(region)
        {
            push(
                "region",
                format!("region {region:?} is not one of the keys of [regions]"),
            );
        }
        if self.login_attempts_per_minute == 0 || self.lockout_after_failures == 0 {
            push(
                "login_attempts_per_minute",
                "login_attempts_per_minute and lockout_after_failures must be positive".into(),
            );
        }
        if self.clock_skew_seconds > 600 {
            push(
                "clock_skew_seconds",
                "clock_skew_seconds above 600 would accept stale SAML assertions; use at most 600"
                    .into(),
            );
        }
        if self.http_timeout_seconds == 0 {
            push(
                "http_timeout_seconds",
                "http_timeout_seconds must be positive: 0 would close every connection at once"
                    .into(),
            );
        }
        if self.session_idle_seconds == 0 || self.session_max_seconds < self.session_idle_seconds {
            push(
                "session_idle_seconds",
                "session_idle_seconds must be positive and not above session_max_seconds".into(),
            );
        }
        for (i, c) in self.oauth_clients.iter().enumerate() {
            if self.oauth_clients[..i]
                .iter()
                .any(|o| o.client_id == c.client_id)
            {
                push(
                    "client_id",
                    format!("client_id {:?} is registered twice", c.client_id),
                );
            }
            for message in c.problems() {
                push("client_id", message);
            }
        }
        self.validate_brand_and_mail(&mut push);
    }

    /// The branding and mail settings' checks.
    fn validate_brand_and_mail(&self, push: &mut impl FnMut(&str, String)) {
        if self.brand_name.trim().is_empty() || self.brand_name.chars().count() > 80 {
            push(
                "brand_name",
                "brand_name must be 1 to 80 characters: it ends every page title".into(),
            );
        }
        if parse_color(&self.brand_color).is_none() {
            push(
                "brand_color",
                format!(
                    "brand_color must be a colour like \"#2f5bd3\" (# and six hex digits), not {:?}",
                    self.brand_color
                ),
            );
        }
        if let Some(logo) = &self.brand_logo
            && logo_type(logo).is_none()
        {
            push(
                "brand_logo",
                format!(
                    "brand_logo {} must be a .png, .svg, .jpg or .webp file",
                    logo.display()
                ),
            );
        }
        if let Some(url) = &self.smtp_url {
            match Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some() => {}
                _ => push(
                    "smtp_url",
                    "smtp_url must be smtp://[user:password@]host[:port] (STARTTLS) or smtps://... (TLS)"
                        .into(),
                ),
            }
        }
        if !self.mail_from.contains('@') {
            push(
                "mail_from",
                format!(
                    "mail_from must be an address like \"Acme <no-reply@example.com>\", not {:?}",
                    self.mail_from
                ),
            );
        }
    }

    /// The colour of text on `brand_color`: black or white, whichever contrasts more
    /// (WCAG 2.1 relative luminance). Either reaches 4.5:1 on any colour.
    pub fn brand_text_color(&self) -> &'static str {
        let Some(rgb) = parse_color(&self.brand_color) else {
            return "#ffffff";
        };
        let l = relative_luminance(rgb);
        // Contrast with white: 1.05 / (l + 0.05); with black: (l + 0.05) / 0.05.
        if 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 {
            "#ffffff"
        } else {
            "#000000"
        }
    }

    /// The SP entity ID the IdP administrator types in.
    pub fn entity_id(&self) -> String {
        self.entity_id
            .clone()
            .unwrap_or_else(|| self.public_url.as_str().trim_end_matches('/').to_string() + "/")
    }

    /// A URL on this gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }

    /// True when the public URL is HTTPS: cookies get `Secure` and the `__Host-` prefix.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Hosts `return_to` may point at.
    pub fn return_hosts(&self) -> Vec<String> {
        if self.allowed_return_hosts.is_empty() {
            self.public_url
                .host_str()
                .map(|h| vec![h.to_ascii_lowercase()])
                .unwrap_or_default()
        } else {
            self.allowed_return_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect()
        }
    }

    /// The PostgreSQL URL of the tenant map, when tenants do not come from `domains/`.
    pub fn tenant_database(&self) -> Option<&str> {
        let url = self.tenant_source.as_str();
        (url.starts_with("postgres://") || url.starts_with("postgresql://")).then_some(url)
    }

    /// The database URL, SQLite in `data_dir` by default.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("realmgate.db").display()
            )
        })
    }
}

/// `#rrggbb` as its three channels.
pub fn parse_color(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// WCAG 2.1 relative luminance of an sRGB colour.
pub fn relative_luminance(rgb: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

/// The media type of a logo file, by its extension; none for a kind pages do not show.
pub fn logo_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Line where `key = ...` is set, to point operators at it.
pub fn find_key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// `default_language`: a tag of a language the catalogs have (`fr`, `fr-CA`). Read here
/// rather than derived on [`Lang`], whose refusal would name the value but not the key.
fn language<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Lang, D::Error> {
    let tag = String::deserialize(d)?;
    Lang::from_tag(&tag).ok_or_else(|| {
        let known: Vec<_> = Lang::ALL.iter().map(|l| l.tag()).collect();
        serde::de::Error::custom(format!(
            "`default_language` must be one of {}, not {tag:?}",
            known.join(", ")
        ))
    })
}

/// serde names the offending key in backquotes: "unknown field `listn`, expected ...".
fn key_in_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("realmgate.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(
            Some(&path),
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_need_no_file() {
        let c = Config::load(None, Vec::new()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.entity_id(), "http://127.0.0.1:8080/");
        assert_eq!(c.return_hosts(), vec!["127.0.0.1".to_string()]);
        assert!(c.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn env_overrides_file() {
        let c = load(
            "listen = \"127.0.0.1:9000\"\nclock_skew_seconds = 30\n",
            &[
                ("REALMGATE_LISTEN", "0.0.0.0:9001"),
                ("REALMGATE_CLOCK_SKEW_SECONDS", "60"),
                ("OTHER", "x"),
            ],
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9001");
        assert_eq!(c.clock_skew_seconds, 60);
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let err = load("listen = \"127.0.0.1:9000\"\nlisten_adress = \"x\"\n", &[]).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].line, Some(2));
        assert!(err.0[0].message.contains("listen_adress"), "{}", err.0[0]);
    }

    #[test]
    fn every_problem_is_reported() {
        let err = load(
            "session_store = \"memcached\"\nclock_skew_seconds = 9000\ntls_cert = \"a.pem\"\nhttp_timeout_seconds = 0\n",
            &[],
        )
        .unwrap_err();
        let lines: Vec<_> = err.0.iter().map(|p| p.line).collect();
        assert_eq!(err.0.len(), 4, "{err}");
        assert!((1..=4).all(|l| lines.contains(&Some(l))), "{err}");
    }

    #[test]
    fn tenant_source_is_files_or_postgres() {
        let c = Config::load(None, Vec::new()).unwrap();
        assert_eq!(c.tenant_database(), None);
        let c = load("tenant_source = \"postgres://db/tenants\"\n", &[]).unwrap();
        assert_eq!(c.tenant_database(), Some("postgres://db/tenants"));
        let err = load(
            "listen = \"127.0.0.1:1\"\ntenant_source = \"mysql://db\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].line, Some(2), "{}", err.0[0]);
    }

    #[test]
    fn metrics_are_never_on_the_public_listener() {
        let c = Config::load(None, Vec::new()).unwrap();
        assert!(c.metrics_listen.ip().is_loopback());
        let err = load(
            "listen = \"127.0.0.1:9000\"\nmetrics_listen = \"127.0.0.1:9000\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].line, Some(2), "{}", err.0[0]);
    }

    #[test]
    fn brand_and_mail_settings_are_checked() {
        let err = load(
            "brand_color = \"blue\"\nbrand_logo = \"logo.gif\"\nsmtp_url = \"http://mail\"\nmail_from = \"nobody\"\nbrand_name = \"\"\n",
            &[],
        )
        .unwrap_err();
        let lines: Vec<_> = err.0.iter().map(|p| p.line).collect();
        assert_eq!(err.0.len(), 5, "{err}");
        assert!((1..=5).all(|l| lines.contains(&Some(l))), "{err}");
        let c = load(
            "smtp_url = \"smtps://u:p@mail.example.com:465\"\nbrand_color = \"#FFDD00\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.brand_text_color(), "#000000");
        assert_eq!(Config::default().brand_text_color(), "#ffffff");
    }

    #[test]
    fn the_default_language_is_one_of_the_catalogs() {
        assert_eq!(Config::default().default_language, Lang::En);
        let c = load("default_language = \"fr\"\n", &[]).unwrap();
        assert_eq!(c.default_language, Lang::Fr);
        let c = load("", &[("REALMGATE_DEFAULT_LANGUAGE", "fr")]).unwrap();
        assert_eq!(c.default_language, Lang::Fr);
        let c = load("default_language = \"fr-CA\"\n", &[]).unwrap();
        assert_eq!(c.default_language, Lang::Fr);
        let err = load("brand_name = \"X\"\ndefault_language = \"de\"\n", &[]).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert_eq!(err.0[0].line, Some(2), "{err}");
        assert!(err.to_string().contains("must be one of en, fr"), "{err}");
    }

    #[test]
    fn the_text_on_the_brand_colour_always_reaches_aa() {
        let contrast = |a: f64, b: f64| (a.max(b) + 0.05) / (a.min(b) + 0.05);
        for rgb in [
            [0x77, 0x77, 0x77],
            [0x76, 0x76, 0x76],
            [255, 0, 0],
            [0, 0, 255],
            [0, 255, 0],
        ] {
            let c = Config {
                brand_color: format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]),
                ..Config::default()
            };
            let text = parse_color(c.brand_text_color()).unwrap();
            let ratio = contrast(relative_luminance(rgb), relative_luminance(text));
            assert!(ratio >= 4.5, "{rgb:?}: {ratio}");
        }
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = load("listen = \n", &[]).unwrap_err();
        assert_eq!(err.0[0].line, Some(1));
    }
}
