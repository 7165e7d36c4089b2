//! DNS proof of domain ownership: a tenant proves it owns a domain by publishing
//! `realmgate-verification=<token>` as a TXT record at `_realmgate.<domain>`.
//! Without the proof (when `require_verified_domains` is on), a domain is never routed to SSO:
//! otherwise any tenant could list `gmail.com` and capture strangers' logins.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::map::TenantMap;

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

/// Checks TXT proofs and remembers which domains passed.
pub struct DomainProof {
    resolver: TokioResolver,
    secret: Vec<u8>,
    verified: ArcSwap<HashSet<String>>,
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
        })
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
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
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
                match self.check(&tenant.account, domain).await {
                    Outcome::Verified => {
                        next.insert(key);
                    }
                    Outcome::LookupFailed(reason) => {
                        tracing::warn!(%domain, account = %tenant.account, %reason, "DNS proof lookup failed; keeping previous state");
                        if previous.contains(&key) {
                            next.insert(key);
                        }
                    }
                    outcome => {
                        tracing::info!(%domain, account = %tenant.account, ?outcome, "domain not verified; it is not routed to SSO");
                    }
                }
            }
        }
        self.verified.store(Arc::new(next));
    }

    /// Whether the tenant `account` has proved `domain` (or the parent domain it matched on).
    pub fn is_verified(&self, account: &str, domain: &str) -> bool {
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
