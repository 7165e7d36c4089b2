//! A tenant's OpenID Connect provider as we use it: its configuration document (endpoints,
//! issuer) and its key set, fetched over HTTPS when first needed and cached per tenant
//! ([`Providers`]); after [`CONFIG_TTL`] the next login still uses the cached provider
//! while a background task fetches it again, so only a tenant's very first login waits on
//! the provider's HTTP. The key set is refreshed when a token names a key it does not hold (the
//! provider rotated), at most once per [`KEY_REFRESH_INTERVAL`]: a stream of tokens with
//! invented `kid`s must not turn into a stream of fetches.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};
use url::Url;

use super::OidcError;
use super::fetch::{TIMEOUT, get_json};
use crate::config::Problem;
use crate::discovery::reach::Guarded;
use crate::discovery::{Protocol, SsoSettings, Tenant, TenantMap, TenantOrigin};

/// The least time between two key-set fetches of one provider.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// How long a provider's configuration is used before it is fetched again (in the
/// background).
pub const CONFIG_TTL: Duration = Duration::from_secs(3600);

/// After a failed background fetch, how long the cached provider is used before the next try.
const RENEW_RETRY: Duration = Duration::from_secs(60);

/// Entra ID's multi-tenant issuer placeholder (`https://login.microsoftonline.com/{tenantid}/v2.0`):
/// the token's `tid` claim fills it in.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// One provider: what its configuration says, and its current keys.
pub struct Provider {
    /// The issuer exactly as the configuration publishes it (Entra's `{tenantid}` form
    /// included: the URL type would percent-encode the braces).
    pub issuer: String,
    /// Endpoints and capabilities.
    pub metadata: CoreProviderMetadata,
    keys: ArcSwap<CoreJsonWebKeySet>,
    /// When the keys were last fetched; a std Mutex because nothing awaits while it is held.
    fetched: Mutex<Option<Instant>>,
    /// Serialises refreshes, so concurrent logins with a new `kid` make one fetch.
    refreshing: tokio::sync::Mutex<()>,
    /// When [`Providers`] fetches the whole configuration again; `None` until it caches it.
    renew_at: Mutex<Option<Instant>>,
}

impl Provider {
    /// A provider from its parts (tests and benchmarks build one from local keys).
    pub fn new(issuer: String, metadata: CoreProviderMetadata, keys: CoreJsonWebKeySet) -> Self {
        Self {
            issuer,
            metadata,
            keys: ArcSwap::from_pointee(keys),
            fetched: Mutex::new(Some(Instant::now())),
            refreshing: tokio::sync::Mutex::new(()),
            renew_at: Mutex::new(None),
        }
    }

    /// Fetches the configuration of `sso` (from `discovery_url`, or beside `issuer`) and the
    /// key set it names. With `issuer` set, the document must name that issuer (a
    /// configuration served for another issuer would be a mix-up).
    /// Through `calls` (its address rule: a management-API tenant's provider keeps to
    /// public addresses, the configuration's and the endpoints it names alike; names are
    /// the client's resolver's to check, see [`crate::discovery::reach`]).
    pub async fn discover(calls: &Guarded, sso: &SsoSettings) -> Result<Self, OidcError> {
        let url = config_url(sso)?;
        if !calls.allows(&url) {
            return Err(OidcError::NotPublic(url.to_string()));
        }
        let client = &calls.client;
        let mut doc: serde_json::Value = get_json(client, &url).await?;
        let document = |reason: String| OidcError::Document {
            url: url.to_string(),
            reason,
        };
        let issuer = doc
            .get("issuer")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| document("no issuer".into()))?
            .to_string();
        if let Some(expected) = &sso.issuer
            && expected.trim_end_matches('/') != issuer.trim_end_matches('/')
        {
            return Err(OidcError::IssuerMismatch {
                expected: expected.clone(),
                found: issuer,
            });
        }
        // The typed issuer would refuse nothing but re-encode the placeholder; the raw one
        // is kept above, a parseable stand-in goes to the typed document.
        if let Some(i) = doc.get_mut("issuer") {
            *i = serde_json::Value::String(issuer.replace(TENANT_PLACEHOLDER, "tenantid"));
        }
        let metadata: CoreProviderMetadata =
            serde_json::from_value(doc).map_err(|e| document(e.to_string()))?;
        check_endpoints(&metadata)
            .map_err(|e| e.unwrap_or_else(|| document("no token_endpoint".into())))?;
        // The calls the gateway makes itself (the browser goes to the authorization
        // endpoint); check_endpoints made sure the token endpoint is there.
        let called = [
            Some(metadata.jwks_uri().url()),
            metadata.token_endpoint().map(|t| t.url()),
        ];
        if let Some(private) = called.into_iter().flatten().find(|u| !calls.allows(u)) {
            return Err(OidcError::NotPublic(private.to_string()));
        }
        let jwks_uri = metadata.jwks_uri().url().clone();
        let keys = get_json(client, &jwks_uri).await?;
        Ok(Self::new(issuer, metadata, keys))
    }

    /// The current key set.
    pub fn keys(&self) -> Arc<CoreJsonWebKeySet> {
        self.keys.load_full()
    }

    /// Fetches the key set again, unless it was fetched less than [`KEY_REFRESH_INTERVAL`]
    /// ago; says whether it did. Callers retry a token that named an unknown key only then.
    pub async fn refresh_keys(&self, client: &reqwest::Client) -> Result<bool, OidcError> {
        let _one = self.refreshing.lock().await;
        let recent = lock(&self.fetched).is_some_and(|t| t.elapsed() < KEY_REFRESH_INTERVAL);
        if recent {
            return Ok(false);
        }
        // Counted as a fetch even when it fails: a provider that is down is not asked again
        // on every login either.
        *lock(&self.fetched) = Some(Instant::now());
        let jwks_uri = self.metadata.jwks_uri().url().clone();
        let keys: CoreJsonWebKeySet = get_json(client, &jwks_uri).await?;
        tracing::info!(issuer = %self.issuer, keys = keys.keys().len(), "OpenID Connect key set refreshed");
        self.keys.store(Arc::new(keys));
        Ok(true)
    }
}

/// Every endpoint we call or send people to must be https; the token endpoint must exist.
/// `Err(None)` when it does not.
fn check_endpoints(metadata: &CoreProviderMetadata) -> Result<(), Option<OidcError>> {
    let token = metadata.token_endpoint().ok_or(None)?.url();
    for endpoint in [
        metadata.jwks_uri().url(),
        token,
        metadata.authorization_endpoint().url(),
    ] {
        if endpoint.scheme() != "https" {
            return Err(Some(OidcError::NotHttps(endpoint.to_string())));
        }
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where the configuration of `sso` is published.
fn config_url(sso: &SsoSettings) -> Result<Url, OidcError> {
    match (&sso.discovery_url, &sso.issuer) {
        (Some(u), _) => Ok(u.clone()),
        (None, Some(issuer)) => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            Url::parse(&url).map_err(|_| OidcError::NotHttps(url))
        }
        (None, None) => Err(OidcError::NotHttps("(no issuer or discovery_url)".into())),
    }
}

/// A cached provider's key: the account, where its configuration comes from, and whether
/// it was reached at public addresses only.
type ProviderKey = (String, String, bool);

/// Every OpenID Connect tenant's provider, fetched on first use and kept for
/// [`CONFIG_TTL`]. Keyed by account *and* where the configuration comes from (and how it
/// may be reached), so a tenant whose settings change is fetched afresh without a separate
/// invalidation.
pub struct Providers {
    /// The operator's tenants' provider calls ([`super::http_client`], any address).
    operator: Guarded,
    /// The management API's tenants' ([`crate::discovery::reach`]).
    api: Guarded,
    cache: moka::future::Cache<ProviderKey, Arc<Provider>>,
    ttl: Duration,
}

impl Providers {
    /// An empty cache over `client` for the operator's tenants and `api` for the
    /// management API's; renewing each provider after [`CONFIG_TTL`].
    pub fn new(client: reqwest::Client, api: Guarded) -> Self {
        Self::with_ttl(client, api, CONFIG_TTL)
    }

    /// An empty cache renewing each provider after `ttl`.
    pub fn with_ttl(client: reqwest::Client, api: Guarded, ttl: Duration) -> Self {
        Self {
            operator: Guarded {
                client,
                public_only: false,
            },
            api,
            // Idle entries (a tenant gone or changed) leave after a day.
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(86_400))
                .build(),
            ttl,
        }
    }

    /// The calls of `tenant`'s IdP go through: the management API's tenants' URLs are an
    /// account admin's.
    pub fn calls_for(&self, tenant: &Tenant) -> &Guarded {
        match tenant.origin {
            TenantOrigin::Api => &self.api,
            TenantOrigin::File | TenantOrigin::Import => &self.operator,
        }
    }

    /// The provider of an OpenID Connect tenant. Concurrent first logins make one fetch
    /// (moka coalesces them); a failure is not cached, so the next login tries again.
    pub async fn for_tenant(&self, tenant: &Tenant) -> Result<Arc<Provider>, OidcError> {
        let sso = tenant
            .sso
            .as_ref()
            .filter(|s| s.protocol == Protocol::Oidc)
            .ok_or_else(|| OidcError::NotOidc(tenant.account.clone()))?;
        let ttl = self.ttl;
        let calls = self.calls_for(tenant);
        let key = (
            tenant.account.clone(),
            config_url(sso)?.to_string(),
            calls.public_only,
        );
        let provider = self
            .cache
            .try_get_with(key.clone(), async {
                let p = Provider::discover(calls, sso).await?;
                *lock(&p.renew_at) = Some(Instant::now() + ttl);
                Ok::<_, OidcError>(Arc::new(p))
            })
            .await
            .map_err(|e| {
                Arc::try_unwrap(e).unwrap_or_else(|e| OidcError::Fetch {
                    url: config_url(sso).map(|u| u.to_string()).unwrap_or_default(),
                    reason: e.to_string(),
                })
            })?;
        self.renew_if_due(&provider, key, sso, calls.clone());
        Ok(provider)
    }

    /// Starts one background fetch of a provider whose configuration is due, leaving the
    /// cached one in use until the new one is in (or for [`RENEW_RETRY`] after a failure).
    fn renew_if_due(
        &self,
        provider: &Provider,
        key: ProviderKey,
        sso: &SsoSettings,
        calls: Guarded,
    ) {
        let now = Instant::now();
        {
            let mut at = lock(&provider.renew_at);
            if at.is_none_or(|t| t > now) {
                return;
            }
            *at = Some(now + RENEW_RETRY);
        }
        let (cache, sso, ttl) = (self.cache.clone(), sso.clone(), self.ttl);
        tokio::spawn(async move {
            match Provider::discover(&calls, &sso).await {
                Ok(p) => {
                    *lock(&p.renew_at) = Some(Instant::now() + ttl);
                    cache.insert(key, Arc::new(p)).await;
                }
                Err(e) => {
                    tracing::warn!(account = %key.0, error = %e, "OpenID Connect provider not renewed; the cached configuration stays in use")
                }
            }
        });
    }

    /// What `realmgate check` reports for the OpenID Connect tenants of `map`: each
    /// provider fetched (configuration and keys, within the HTTP bound) and each
    /// `client_key` read, every problem naming the tenant file.
    pub async fn check(&self, map: &TenantMap) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut tenants: Vec<_> = map
            .tenants()
            .filter(|t| t.sso.as_ref().is_some_and(|s| s.protocol == Protocol::Oidc))
            .collect();
        tenants.sort_by(|a, b| a.account.cmp(&b.account));
        for t in tenants {
            let Some(sso) = &t.sso else { continue };
            let problem = |message: String| Problem {
                source: t.file.display().to_string(),
                line: None,
                message,
            };
            let discovered = Provider::discover(self.calls_for(t), sso);
            match tokio::time::timeout(TIMEOUT * 2, discovered).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => problems.push(problem(format!("OpenID Connect provider: {e}"))),
                Err(_) => problems.push(problem(format!(
                    "OpenID Connect provider: no answer within {} s",
                    (TIMEOUT * 2).as_secs()
                ))),
            }
            if let Some(path) = &sso.client_key
                && let Err(e) = super::flow::ClientKey::load(path)
            {
                problems.push(problem(e.to_string()));
            }
        }
        problems
    }
}
