//! Metadata in both directions: the IdP's (parsed from files, inline settings or a refreshed
//! HTTPS URL) and ours (`sp_metadata`, what the IdP admin imports).
//!
//! Only the IdP's *signing* certificates are kept, and an IdP without one is refused: samael
//! accepts unsigned responses when it has no certificate (fails open), and `validate` must
//! never run against such a configuration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use url::Url;

use super::error::SamlError;
use super::keys::SpKeys;
use super::xml::{self, NS_DSIG, NS_METADATA, NS_PROTOCOL};
use crate::config::{Config, Problem};
use crate::discovery::{Change, SsoSettings, Tenant, TenantMap};

/// SAML HTTP-Redirect binding URI.
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// SAML HTTP-POST binding URI.
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// Our ACS path (HTTP-POST binding), index 0 and default.
pub const ACS_PATH: &str = "/auth/saml/callback";
/// ACS alias some products are configured with, index 1.
pub const ACS_ALIAS_PATH: &str = "/saml2/idpresponse";
/// Largest metadata document accepted (Entra federation metadata is well under 100 KB).
pub const MAX_METADATA_BYTES: usize = 4 * 1024 * 1024;
/// Refresh interval when the metadata gives no `cacheDuration` / `validUntil`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);
/// Retry interval after a failed fetch; the last good copy stays in use meanwhile.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);

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

/// What we need to know about one IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// The IdP's entity ID: the only Issuer we accept.
    pub entity_id: String,
    /// SingleSignOnService, HTTP-Redirect binding.
    pub sso_redirect: Option<Url>,
    /// SingleSignOnService, HTTP-POST binding.
    pub sso_post: Option<Url>,
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
            .filter_map(|e| {
                xml::children(&e, NS_METADATA, "IDPSSODescriptor")
                    .into_iter()
                    .find(|d| {
                        d.get_attribute("protocolSupportEnumeration")
                            .is_some_and(|p| p.split_whitespace().any(|p| p == NS_PROTOCOL))
                    })
                    .map(|d| (e, d))
            })
            .collect();
        let (entity, idp) = match idps.len() {
            1 => idps
                .into_iter()
                .next()
                .ok_or_else(|| SamlError::Metadata("no IdP".into()))?,
            0 => {
                return Err(SamlError::Metadata(
                    "no EntityDescriptor with a SAML 2.0 IDPSSODescriptor".into(),
                ));
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
        Ok(Self {
            entity_id,
            sso_redirect,
            sso_post,
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
            return Self::parse(&bytes);
        }
        match (&sso.issuer, &sso.sso_url) {
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
            (Some(document), Some(_)) => Self::parse(document),
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

/// The IdP of every SSO tenant, by account. Reads are lock-free snapshots (`ArcSwap`): a
/// login never waits for a reload or a metadata fetch.
///
/// With a database tenant source there is no whole map to build from: each tenant's IdP
/// is parsed (or fetched) when one of its logins first needs it, cached, and forgotten
/// when the tenant changes.
#[derive(Debug, Default)]
pub struct IdpRegistry {
    /// From files and inline settings; replaced whole on tenant-map reload.
    configured: ArcSwap<HashMap<String, Arc<IdpMetadata>>>,
    /// From metadata URLs; each entry is the last good copy, kept when a fetch fails.
    fetched: ArcSwap<HashMap<String, Arc<IdpMetadata>>>,
    /// Fetches metadata URLs; none in a registry that only reads (`realmgate check`).
    client: Option<reqwest::Client>,
    /// Per-tenant IdPs loaded on first use (database source), by account; entries live as
    /// long as a fetched copy would ([`DEFAULT_REFRESH`]).
    on_demand: Option<moka::future::Cache<String, Arc<IdpMetadata>>>,
    /// The refresher task of each tenant whose metadata comes from a URL (file source), with
    /// that URL. Also the lock under which fetched copies are stored and forgotten, so a task
    /// stopped by a reload cannot store a copy after the reload forgot it.
    refreshers: Mutex<HashMap<String, (Url, tokio::task::AbortHandle)>>,
}

/// A tenant whose IdP metadata comes from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSource {
    /// Tenant account.
    pub account: String,
    /// HTTPS URL of the metadata.
    pub url: Url,
}

impl IdpRegistry {
    /// A registry holding `configured` (from [`IdpRegistry::build`]) that fetches nothing.
    pub fn new(configured: HashMap<String, Arc<IdpMetadata>>) -> Self {
        let r = Self::default();
        r.configured.store(Arc::new(configured));
        r
    }

    /// A registry for a whole tenant map (file source), filled by [`IdpRegistry::replace`],
    /// that fetches metadata URLs with `client`.
    pub fn fetching(client: reqwest::Client) -> Self {
        Self {
            client: Some(client),
            ..Self::default()
        }
    }

    /// A registry that loads each tenant's IdP when first needed, fetching metadata URLs
    /// with `client`.
    pub fn on_demand(client: reqwest::Client) -> Self {
        Self {
            on_demand: Some(
                moka::future::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(DEFAULT_REFRESH)
                    .support_invalidation_closures()
                    .build(),
            ),
            client: Some(client),
            ..Self::default()
        }
    }

    /// The IdP of `tenant`, if it is an SSO tenant with usable metadata. On demand, a
    /// metadata URL that cannot be fetched falls back to its last good copy; a document
    /// that does not parse is logged and gives none (the login answers 503).
    pub async fn for_tenant(&self, tenant: &Tenant) -> Option<Arc<IdpMetadata>> {
        let (Some(on_demand), Some(client)) = (&self.on_demand, &self.client) else {
            return self.get(&tenant.account);
        };
        if let Some(idp) = on_demand.get(&tenant.account).await {
            return Some(idp);
        }
        let sso = tenant.sso.as_ref()?;
        let url = sso
            .idp_metadata_url
            .as_ref()
            .filter(|_| sso.idp_metadata.is_none() && sso.issuer.is_none());
        let loaded = match url {
            Some(url) => match fetch_metadata(client, url).await {
                Ok(m) => {
                    self.store_fetched(&tenant.account, m.clone());
                    Ok(m)
                }
                Err(e) => {
                    tracing::warn!(account = %tenant.account, %url, error = %e, "IdP metadata fetch failed; using the last good copy if any");
                    return self.fetched.load().get(&tenant.account).cloned();
                }
            },
            None => {
                // XML work stays off the async runtime (issue #11).
                let (tenant, sso) = (tenant.clone(), sso.clone());
                tokio::task::spawn_blocking(move || {
                    IdpMetadata::for_stored_or_settings(&tenant, &sso)
                })
                .await
                .unwrap_or_else(|e| Err(SamlError::Metadata(e.to_string())))
            }
        };
        match loaded {
            Ok(m) => {
                let m = Arc::new(m);
                record_expiry(&tenant.account, &m, Utc::now());
                on_demand.insert(tenant.account.clone(), m.clone()).await;
                Some(m)
            }
            Err(e) => {
                tracing::error!(account = %tenant.account, error = %e, "the tenant's IdP metadata is unusable");
                None
            }
        }
    }

    /// Forgets the IdPs loaded on demand for tenants that changed.
    pub fn forget(&self, change: &Change) {
        let Some(on_demand) = &self.on_demand else {
            return;
        };
        let change = change.clone();
        let registered =
            on_demand.invalidate_entries_if(move |account, _| change.covers_account(account));
        if registered.is_err() {
            on_demand.invalidate_all();
        }
    }

    /// Reads every SSO tenant's file or inline IdP; every problem names the tenant file.
    /// Tenants with a metadata URL are left to the refreshers of [`IdpRegistry::replace`].
    pub fn build(tenants: &TenantMap) -> Result<HashMap<String, Arc<IdpMetadata>>, Vec<Problem>> {
        let mut map = HashMap::new();
        let mut problems = Vec::new();
        let mut list: Vec<_> = tenants.tenants().collect();
        list.sort_by(|a, b| a.account.cmp(&b.account));
        for t in list {
            let Some(sso) = &t.sso else { continue };
            if sso.idp_metadata.is_none() && sso.issuer.is_none() && sso.idp_metadata_url.is_some()
            {
                if sso
                    .idp_metadata_url
                    .as_ref()
                    .is_some_and(|u| u.scheme() != "https")
                {
                    problems.push(Problem {
                        source: t.file.display().to_string(),
                        line: None,
                        message: "idp_metadata_url must be an https URL".into(),
                    });
                }
                continue;
            }
            match IdpMetadata::for_stored_or_settings(t, sso) {
                Ok(m) => {
                    map.insert(t.account.clone(), Arc::new(m));
                }
                Err(e) => {
                    let key = if sso.idp_metadata.is_some() {
                        "idp_metadata"
                    } else {
                        "certificate"
                    };
                    problems.push(Problem {
                        source: t.file.display().to_string(),
                        line: std::fs::read_to_string(&t.file)
                            .ok()
                            .and_then(|text| crate::discovery::map::key_line(&text, key)),
                        message: format!("identity provider: {e}"),
                    })
                }
            }
        }
        if problems.is_empty() {
            Ok(map)
        } else {
            Err(problems)
        }
    }

    /// The tenants of `tenants` whose IdP comes from a URL.
    pub fn url_sources(tenants: &TenantMap) -> Vec<UrlSource> {
        let mut v: Vec<UrlSource> = tenants
            .tenants()
            .filter_map(|t| {
                let sso = t.sso.as_ref()?;
                if sso.idp_metadata.is_some() || sso.issuer.is_some() {
                    return None;
                }
                Some(UrlSource {
                    account: t.account.clone(),
                    url: sso.idp_metadata_url.clone()?,
                })
            })
            .collect();
        v.sort_by(|a, b| a.account.cmp(&b.account));
        v
    }

    /// Swaps in the IdPs of a newly loaded tenant map, at start and on every reload:
    /// `configured` from files and inline settings, and `sources`, the tenants whose
    /// metadata comes from a URL ([`IdpRegistry::url_sources`]).
    ///
    /// The refreshers follow `sources`: a tenant that gained a URL gets one at once (no
    /// restart needed), and one whose tenant is gone or names another URL (or a file now) is
    /// stopped. Fetched copies are kept only for tenants that still name the same URL: a new
    /// URL may be another IdP, and the old one's keys must not sign its logins meanwhile.
    pub fn replace(
        self: &Arc<Self>,
        configured: HashMap<String, Arc<IdpMetadata>>,
        sources: Vec<UrlSource>,
    ) {
        self.configured.store(Arc::new(configured));
        let mut running = lock(&self.refreshers);
        let wanted: HashMap<&str, &Url> = sources
            .iter()
            .map(|s| (s.account.as_str(), &s.url))
            .collect();
        let mut stopped = Vec::new();
        running.retain(|account, (url, task)| {
            let keep = wanted.get(account.as_str()) == Some(&&*url);
            if !keep {
                task.abort();
                stopped.push(account.clone());
            }
            keep
        });
        self.fetched.rcu(|old| {
            let mut m = HashMap::clone(old);
            m.retain(|account, _| {
                wanted.contains_key(account.as_str()) && !stopped.contains(account)
            });
            m
        });
        let Some(client) = &self.client else { return };
        for src in sources {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                running.entry(src.account.clone())
            {
                let task = self.spawn_refresher(src.clone(), client.clone());
                slot.insert((src.url, task));
            }
        }
    }

    /// Stores a freshly fetched copy for `account`.
    pub fn store_fetched(&self, account: &str, metadata: IdpMetadata) {
        let metadata = Arc::new(metadata);
        self.fetched.rcu(|old| {
            let mut m = HashMap::clone(old);
            m.insert(account.to_string(), metadata.clone());
            m
        });
    }

    /// The IdP of `account`, if it is an SSO tenant with usable metadata.
    pub fn get(&self, account: &str) -> Option<Arc<IdpMetadata>> {
        self.configured
            .load()
            .get(account)
            .cloned()
            .or_else(|| self.fetched.load().get(account).cloned())
    }

    /// Every (account, IdP) pair, sorted by account.
    pub fn all(&self) -> Vec<(String, Arc<IdpMetadata>)> {
        let mut m: HashMap<String, Arc<IdpMetadata>> = HashMap::clone(&self.fetched.load());
        for (k, v) in self.configured.load().iter() {
            m.insert(k.clone(), v.clone());
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Signing certificates that expire before `now + within`, as (account, not_after),
    /// for `realmgate check` (30 days in the product).
    pub fn expiring_certs(
        &self,
        now: DateTime<Utc>,
        within: Duration,
    ) -> Vec<(String, DateTime<Utc>)> {
        let limit = now + chrono::Duration::from_std(within).unwrap_or(chrono::Duration::MAX);
        let mut out = Vec::new();
        for (account, m) in self.all() {
            for c in &m.certs {
                if let Some(na) = c.not_after
                    && na < limit
                {
                    out.push((account.clone(), na));
                }
            }
        }
        out
    }

    /// Sets `realmgate_idp_cert_expiry_seconds{account}` to the seconds until the latest
    /// signing certificate of each IdP expires (negative once expired): an alert on it
    /// warns before the IdP rolls its certificate and logins start failing.
    pub fn record_metrics(&self, now: DateTime<Utc>) {
        for (account, m) in self.all() {
            record_expiry(&account, &m, now);
        }
    }

    /// Fetches `src` now and then on the document's own schedule, until aborted. A failed
    /// fetch keeps the last good copy and retries in five minutes.
    fn spawn_refresher(
        self: &Arc<Self>,
        src: UrlSource,
        client: reqwest::Client,
    ) -> tokio::task::AbortHandle {
        // Weak: a registry dropped (a test's gateway stopped) ends its refreshers.
        let reg = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let fetched = fetch_metadata(&client, &src.url).await;
                let Some(reg) = reg.upgrade() else { return };
                let wait = match fetched {
                    Ok(m) => {
                        let wait = m.next_refresh(Utc::now());
                        let running = lock(&reg.refreshers);
                        if running.get(&src.account).map(|(url, _)| url) != Some(&src.url) {
                            return; // replaced by a reload while fetching
                        }
                        reg.store_fetched(&src.account, m);
                        drop(running);
                        reg.record_metrics(Utc::now());
                        wait
                    }
                    Err(e) => {
                        tracing::warn!(account = %src.account, url = %src.url, error = %e, "IdP metadata refresh failed; keeping the last good copy");
                        RETRY_AFTER_FAILURE
                    }
                };
                drop(reg);
                tokio::time::sleep(wait).await;
            }
        })
        .abort_handle()
    }
}

/// The refreshers' map stays consistent whatever panicked while it was held (every change
/// is one insert or retain), so a poisoned lock is still safe to use.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The HTTPS client for `idp_metadata_url`: public CA roots, plus the PEM bundle at
/// `extra_roots` when configured (`idp_metadata_ca`).
pub fn http_client(extra_roots: Option<&std::path::Path>) -> Result<reqwest::Client, SamlError> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(path) = extra_roots {
        let pem = std::fs::read(path)
            .map_err(|e| SamlError::Metadata(format!("idp_metadata_ca {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| SamlError::Metadata(format!("idp_metadata_ca {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(SamlError::Metadata(format!(
                "idp_metadata_ca {}: no PEM certificate in the file",
                path.display()
            )));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| SamlError::Metadata(e.to_string()))
}

/// Sets `realmgate_idp_cert_expiry_seconds{account}` for one IdP.
fn record_expiry(account: &str, m: &IdpMetadata, now: DateTime<Utc>) {
    if let Some(latest) = m.certs.iter().filter_map(|c| c.not_after).max() {
        metrics::gauge!("realmgate_idp_cert_expiry_seconds", "account" => account.to_string())
            .set((latest - now).num_seconds() as f64);
    }
}

/// Fetches and parses metadata from an HTTPS URL (plain HTTP would let anyone on the path
/// swap the IdP's keys), with a body size cap.
pub async fn fetch_metadata(client: &reqwest::Client, url: &Url) -> Result<IdpMetadata, SamlError> {
    if url.scheme() != "https" {
        return Err(SamlError::MetadataFetch(format!("{url} is not https")));
    }
    let mut resp = client
        .get(url.clone())
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .map_err(|e| SamlError::MetadataFetch(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(SamlError::MetadataFetch(format!("HTTP {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| SamlError::MetadataFetch(e.to_string()))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_METADATA_BYTES {
            return Err(SamlError::TooLarge(body.len()));
        }
    }
    // XML work stays off the async runtime (issue #11).
    tokio::task::spawn_blocking(move || IdpMetadata::parse(&body))
        .await
        .map_err(|e| SamlError::MetadataFetch(e.to_string()))?
}

/// Our side of the federation: what the SP metadata and the requests say about us.
#[derive(Debug, Clone)]
pub struct Sp {
    /// SP entity ID (the Identifier the IdP admin types in).
    pub entity_id: String,
    /// Absolute ACS URL, `/auth/saml/callback`.
    pub acs_url: String,
    /// Absolute alias ACS URL, `/saml2/idpresponse`.
    pub acs_alias_url: String,
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
            keys,
        }
    }

    /// Both ACS URLs, as `validate` wants them for Destination and Recipient.
    pub fn acs_urls(&self) -> Vec<String> {
        vec![self.acs_url.clone(), self.acs_alias_url.clone()]
    }
}

/// Escapes text for XML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn key_descriptor(usage: &str, der: &[u8]) -> String {
    format!(
        "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
        STANDARD.encode(der)
    )
}

/// SP metadata: entity ID, both ACS URLs (HTTP-POST), signing and encryption keys (and
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
        acs = escape(&sp.acs_url),
        alias = escape(&sp.acs_alias_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let now = DateTime::parse_from_rfc3339("2029-12-31T23:30:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(m.next_refresh(now), Duration::from_secs(1800));
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

    #[test]
    fn sp_metadata_has_everything_an_idp_needs() {
        let sp = Sp {
            entity_id: "https://login.example.com/".into(),
            acs_url: "https://login.example.com/auth/saml/callback".into(),
            acs_alias_url: "https://login.example.com/saml2/idpresponse".into(),
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

    #[tokio::test]
    async fn plain_http_metadata_is_never_fetched() {
        let url = Url::parse("http://idp.example/metadata").expect("url");
        let err = fetch_metadata(&reqwest::Client::new(), &url)
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "metadata_fetch");
    }

    #[test]
    fn fetched_copy_is_kept_and_configured_wins() {
        let c = cert_b64();
        let m = IdpMetadata::parse(doc("", &c).as_bytes()).expect("parse");
        let reg = IdpRegistry::default();
        reg.store_fetched("contoso", m.clone());
        assert_eq!(
            reg.get("contoso").map(|m| m.entity_id.clone()),
            Some(m.entity_id.clone())
        );
        // A tenant-map reload replaces configured IdPs but keeps the last fetched copy of a
        // tenant that still names a metadata URL...
        let reg = Arc::new(reg);
        let source = UrlSource {
            account: "contoso".into(),
            url: Url::parse("https://idp.example.com/metadata").unwrap(),
        };
        reg.replace(HashMap::new(), vec![source]);
        assert!(reg.get("contoso").is_some());
        // ...and the configured IdP wins once the tenant names its metadata otherwise.
        let mut other = m.clone();
        other.entity_id = "https://configured.example/".into();
        reg.replace(
            HashMap::from([("contoso".to_string(), Arc::new(other))]),
            Vec::new(),
        );
        assert_eq!(
            reg.get("contoso").map(|m| m.entity_id.clone()).as_deref(),
            Some("https://configured.example/")
        );
        assert_eq!(reg.all().len(), 1);
    }

    #[test]
    fn expiring_certs_reports_accounts() {
        let c = cert_b64();
        let m = IdpMetadata::parse(doc("", &c).as_bytes()).expect("parse");
        let reg = Arc::new(IdpRegistry::new(HashMap::from([(
            "contoso".to_string(),
            Arc::new(m),
        )])));
        assert!(reg.get("contoso").is_some());
        assert!(
            reg.expiring_certs(Utc::now(), Duration::from_secs(30 * 86400))
                .is_empty()
        );
        let far = Utc::now() + chrono::Duration::days(365 * 20);
        assert_eq!(reg.expiring_certs(far, Duration::from_secs(86400)).len(), 1);
        reg.replace(HashMap::new(), Vec::new());
        assert!(reg.get("contoso").is_none());
    }
}
