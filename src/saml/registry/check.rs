//! The registry's start-up and `realmgate check` side: every tenant's configured IdP read
//! at once, each problem naming its tenant file, and every metadata URL of a map fetched
//! within a bound (16 at a time).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{IdpRegistry, unavailable};
use crate::config::Problem;
use crate::discovery::{Protocol, Tenant, TenantMap};
use crate::saml::fetch::fetch_metadata;
use crate::saml::metadata::IdpMetadata;

/// How many metadata URLs `check` fetches at a time.
const CHECK_FETCHES_AT_ONCE: usize = 16;

impl IdpRegistry {
    /// Reads every SSO tenant's file or inline IdP; every problem names the tenant file.
    /// Tenants with a metadata URL are left to the refreshers of [`IdpRegistry::replace`].
    pub fn build(tenants: &TenantMap) -> Result<HashMap<String, Arc<IdpMetadata>>, Vec<Problem>> {
        let mut map = HashMap::new();
        let mut problems = Vec::new();
        let mut list: Vec<_> = tenants.tenants().collect();
        list.sort_by(|a, b| a.account.cmp(&b.account));
        for t in list {
            match Self::check_tenant(t) {
                Ok(Some(m)) => {
                    map.insert(t.account.clone(), Arc::new(m));
                }
                Ok(None) => {}
                Err(p) => problems.push(p),
            }
        }
        if problems.is_empty() {
            Ok(map)
        } else {
            Err(problems)
        }
    }

    /// The IdP of one tenant as [`IdpRegistry::build`] reads it (its file, stored document
    /// or inline settings), or the problem, naming the tenant's file; `None` for a password
    /// tenant and one whose metadata comes from a URL (fetched, not read). Also the check
    /// of the management API's tenants, so both report the same words.
    pub fn check_tenant(t: &Tenant) -> Result<Option<IdpMetadata>, Problem> {
        // An OpenID Connect tenant's keys come from its provider (`oidc`), not metadata.
        let Some(sso) = t.sso.as_ref().filter(|s| s.protocol != Protocol::Oidc) else {
            return Ok(None);
        };
        if sso.idp_metadata.is_none() && sso.issuer.is_none() && sso.idp_metadata_url.is_some() {
            if sso
                .idp_metadata_url
                .as_ref()
                .is_some_and(|u| u.scheme() != "https")
            {
                return Err(Problem {
                    source: t.file.display().to_string(),
                    line: None,
                    message: "idp_metadata_url must be an https URL".into(),
                });
            }
            return Ok(None);
        }
        IdpMetadata::for_stored_or_settings(t, sso)
            .map(Some)
            .map_err(|e| {
                let key = if sso.idp_metadata.is_some() {
                    "idp_metadata"
                } else {
                    "certificate"
                };
                Problem {
                    source: t.file.display().to_string(),
                    line: std::fs::read_to_string(&t.file)
                        .ok()
                        .and_then(|text| crate::discovery::map::key_line(&text, key)),
                    message: format!("identity provider: {e}"),
                }
            })
    }

    /// Fetches every metadata URL of `tenants`, 16 at a time, each within `timeout`, for
    /// `realmgate check`: a URL that fails now would leave its tenant with no IdP after
    /// start, so each failure is a problem naming the tenant file and the reason. Gives the
    /// IdPs fetched, by account, beside the problems.
    pub async fn check_urls(
        tenants: &TenantMap,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> (HashMap<String, Arc<IdpMetadata>>, Vec<Problem>) {
        // A map with thousands of URL tenants must not open thousands of connections at once.
        let slots = Arc::new(tokio::sync::Semaphore::new(CHECK_FETCHES_AT_ONCE));
        let mut fetches = tokio::task::JoinSet::new();
        for src in Self::url_sources(tenants) {
            let (client, slots) = (client.clone(), slots.clone());
            fetches.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let fetched = fetch_metadata(&client, &src.url, src.protocol, timeout).await;
                (src.account, fetched)
            });
        }
        let mut idps = HashMap::new();
        let mut problems = Vec::new();
        while let Some(done) = fetches.join_next().await {
            let (account, fetched) = match done {
                Ok(done) => done,
                Err(e) => {
                    problems.push(Problem {
                        source: "check".into(),
                        line: None,
                        message: format!("a metadata fetch stopped: {e}"),
                    });
                    continue;
                }
            };
            match fetched {
                Ok(m) => {
                    idps.insert(account, Arc::new(m));
                }
                Err(e) => {
                    let file = tenants.account(&account).map(|t| t.file.clone());
                    problems.push(Problem {
                        source: file
                            .as_ref()
                            .map_or(account.clone(), |f| f.display().to_string()),
                        line: file
                            .and_then(|f| std::fs::read_to_string(f).ok())
                            .and_then(|text| {
                                crate::discovery::map::key_line(&text, "idp_metadata_url")
                            }),
                        message: format!("account {account}: {}", unavailable(&e)),
                    });
                }
            }
        }
        problems.sort_by(|a, b| a.source.cmp(&b.source));
        (idps, problems)
    }
}
