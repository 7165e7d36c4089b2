//! DNS proof of domain ownership: a tenant proves it owns a domain by publishing
//! `realmgate-verification=<token>` as a TXT record at `_realmgate.<domain>`.
//! Without the proof (when `require_verified_domains` is on), a domain is never routed to SSO:
//! otherwise any tenant could list `gmail.com` and capture strangers' logins.
//!
//! With the file source every SSO domain is checked at start-up and on reload; a database
//! source may hold millions, so each domain is checked when first needed and the verdict
//! cached.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::directory::Change;
use super::map::TenantMap;
use super::tenant::Tenant;

/// Prefix of the TXT record's value.
pub const TXT_PREFIX: &str = "realmgate-verification=";

/// Errors of DNS proof.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The resolver could not be built.
    #[error("cannot set up the DNS resolver: {0}")]
    Resolver(String),
}

/// The result of checking one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The expected record is there.
    Verified,
    /// Records exist at the name but none carries the expected token.
    WrongToken {
        /// What was found, for the operator.
        found: Vec<String>,
    },
    /// No TXT record at the name.
    Missing,
    /// The lookup failed (timeout, SERVFAIL): not a verdict.
    LookupFailed(String),
}

/// How long a checked domain's verdict is trusted (checked on demand).
pub const VERDICT_TTL: Duration = Duration::from_secs(600);
/// When to ask again after a lookup failed (the previous verdict holds meanwhile).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// A cached verdict of a domain checked on demand.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    verified: bool,
    until: Instant,
}

/// Checks TXT proofs and remembers which domains passed.
pub struct DomainProof {
    resolver: TokioResolver,
    secret: Vec<u8>,
    /// Every SSO domain of the map, checked by [`DomainProof::refresh`] (file source).
    verified: ArcSwap<HashSet<String>>,
    /// Verdicts by `account\0domain`, checked when first needed (database source).
    on_demand: Option<moka::future::Cache<String, Verdict>>,
}

impl DomainProof {
    /// A checker using `server` (`ip:port`) or the system resolver.
    pub fn new(server: Option<SocketAddr>, secret: &[u8]) -> Result<Self, ProofError> {
        let builder = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => {
                TokioResolver::builder_tokio().map_err(|e| ProofError::Resolver(e.to_string()))?
            }
        };
        let mut builder = builder;
        builder.options_mut().timeout = Duration::from_secs(2);
        builder.options_mut().attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| ProofError::Resolver(e.to_string()))?;
        Ok(Self {
            resolver,
            secret: secret.to_vec(),
            verified: ArcSwap::default(),
            on_demand: None,
        })
    }

    /// Checks each domain when first needed instead of the whole map at once.
    pub fn on_demand(mut self) -> Self {
        self.on_demand = Some(
            moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .support_invalidation_closures()
                .build(),
        );
        self
    }

    /// The token tenant `account` publishes for `domain`: an HMAC under the gateway secret,
    /// so it cannot be guessed and needs no storage.
    pub fn token(&self, account: &str, domain: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(b"realmgate-domain-proof\0");
        mac.update(account.as_bytes());
        mac.update(b"\0");
        mac.update(domain.as_bytes());
        let tag = mac.finalize().into_bytes();
        crate::secrets::hex(&tag[..16])
    }

    /// The DNS name of the record.
    pub fn record_name(domain: &str) -> String {
        format!("_realmgate.{domain}")
    }

    /// Looks the record up now.
    pub async fn check(&self, account: &str, domain: &str) -> Outcome {
        let want = format!("{TXT_PREFIX}{}", self.token(account, domain));
        let name = format!("{}.", Self::record_name(domain));
        match self.resolver.txt_lookup(name).await {
            Ok(lookup) => {
                let found: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        hickory_resolver::proto::rr::RData::TXT(txt) => Some(
                            txt.txt_data
                                .iter()
                                .map(|part| String::from_utf8_lossy(part).into_owned())
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect();
                if found.iter().any(|v| v == &want) {
                    Outcome::Verified
                } else if found.is_empty() {
                    Outcome::Missing
                } else {
                    Outcome::WrongToken { found }
                }
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Outcome::Missing,
            Err(e) => Outcome::LookupFailed(e.to_string()),
        }
    }

    /// Re-checks every SSO domain of `map` and replaces the verified set. A lookup that
    /// fails (rather than answering "no") keeps the domain's previous state, so a DNS
    /// hiccup does not switch a tenant off SSO.
    pub async fn refresh(&self, map: &TenantMap) {
        let previous = self.verified.load_full();
        let mut next = HashSet::new();
        for tenant in map.tenants().filter(|t| t.sso.is_some()) {
            for domain in &tenant.domains {
                let key = format!("{}\0{domain}", tenant.account);
                let verified = self.verdict(&tenant.account, domain).await;
                if verified.unwrap_or_else(|| previous.contains(&key)) {
                    next.insert(key);
                }
            }
        }
        self.verified.store(Arc::new(next));
    }

    /// Looks `domain` up now: whether it is verified, or `None` when the lookup failed
    /// (callers then keep the previous state).
    async fn verdict(&self, account: &str, domain: &str) -> Option<bool> {
        match self.check(account, domain).await {
            Outcome::Verified => Some(true),
            Outcome::LookupFailed(reason) => {
                tracing::warn!(%domain, %account, %reason, "DNS proof lookup failed; keeping previous state");
                None
            }
            outcome => {
                tracing::info!(%domain, %account, ?outcome, "domain not verified; it is not routed to SSO");
                Some(false)
            }
        }
    }

    /// Whether `tenant` has proved `domain` (or the domain of its list that `domain` is a
    /// subdomain of), or, without a domain, any of its domains.
    pub async fn is_verified(&self, tenant: &Tenant, domain: Option<&str>) -> bool {
        let Some(cache) = &self.on_demand else {
            return match domain {
                Some(d) => self.in_verified_set(&tenant.account, d),
                None => tenant
                    .domains
                    .iter()
                    .any(|d| self.in_verified_set(&tenant.account, d)),
            };
        };
        let listed: Vec<&String> = match domain {
            Some(d) => tenant
                .domains
                .iter()
                .filter(|own| {
                    d == own.as_str()
                        || d.strip_suffix(own.as_str())
                            .is_some_and(|rest| rest.ends_with('.'))
                })
                .collect(),
            None => tenant.domains.iter().collect(),
        };
        for own in listed {
            let key = format!("{}\0{own}", tenant.account);
            let cached = cache.get(&key).await;
            if let Some(v) = cached
                && v.until > Instant::now()
            {
                if v.verified {
                    return true;
                }
                continue;
            }
            let (verified, ttl) = match self.verdict(&tenant.account, own).await {
                Some(verified) => (verified, VERDICT_TTL),
                None => (cached.is_some_and(|v| v.verified), RETRY_AFTER_FAILURE),
            };
            cache
                .insert(
                    key,
                    Verdict {
                        verified,
                        until: Instant::now() + ttl,
                    },
                )
                .await;
            if verified {
                return true;
            }
        }
        false
    }

    /// Forgets the on-demand verdicts of changed tenants (a tenant that lists a domain
    /// anew must prove it anew).
    pub fn forget(&self, change: &Change) {
        let Some(cache) = &self.on_demand else {
            return;
        };
        let change = change.clone();
        let registered = cache.invalidate_entries_if(move |key, _| {
            key.split_once('\0')
                .is_none_or(|(account, _)| change.covers_account(account))
        });
        if registered.is_err() {
            cache.invalidate_all();
        }
    }

    /// Whether the tenant `account` has proved `domain` (or the parent domain it matched on),
    /// according to the last [`DomainProof::refresh`].
    fn in_verified_set(&self, account: &str, domain: &str) -> bool {
        let set = self.verified.load();
        let mut d = domain;
        loop {
            if set.contains(&format!("{account}\0{d}")) {
                return true;
            }
            match d.split_once('.') {
                Some((_, parent)) => d = parent,
                None => return false,
            }
        }
    }
}
