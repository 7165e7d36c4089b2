//! The IdP of every SSO tenant, by account: configured ones (files, inline settings) and
//! fetched ones, with the refresher task of each metadata URL and the on-demand cache of
//! a database tenant source. The fetching itself is [`super::fetch`]; the start-up and
//! `check` reads are [`check`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use url::Url;

use super::fetch::{ApiFetcher, FETCH_TIMEOUT, FetchError, fetch_metadata};
use super::metadata::{DEFAULT_REFRESH, IdpMetadata};
use crate::discovery::{Change, Protocol, Tenant, TenantMap, TenantOrigin};

mod check;

/// Retry interval after a failed fetch; the last good copy, if any, stays in use meanwhile.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);

/// How long a copy fetched as its URL was saved ([`IdpRegistry::prime`]) stands in for the
/// fetch of a login of that tenant.
const PRIMED_FOR: Duration = Duration::from_secs(300);

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
    /// Fetches the operator's tenants' metadata URLs; none in a registry that only reads
    /// (`realmgate check`).
    client: Option<reqwest::Client>,
    /// Fetches the management API's tenants' metadata URLs, at save and at login: public
    /// addresses only, unless the operator allows others ([`ApiFetcher`]).
    api: Option<ApiFetcher>,
    /// Per-tenant IdPs loaded on first use (database source), by account; entries live as
    /// long as a fetched copy would ([`DEFAULT_REFRESH`]).
    on_demand: Option<moka::future::Cache<String, Arc<IdpMetadata>>>,
    /// The refresher task of each tenant whose metadata comes from a URL (file source), with
    /// that source (URL and protocol). Also the lock under which fetched copies are stored and forgotten, so a task
    /// stopped by a reload cannot store a copy after the reload forgot it.
    refreshers: Mutex<HashMap<String, (UrlSource, tokio::task::AbortHandle)>>,
    /// Copies fetched as their URL was saved, by account, with that source and when. Apart
    /// from `on_demand`, which the tenant's own change notification may empty just after
    /// the copy was put in it (PostgreSQL echoes a gateway's write back to it), and checked
    /// against the tenant's source when used, so another URL or protocol is fetched.
    primed: Mutex<HashMap<String, Primed>>,
}

/// A copy fetched as its URL was saved: the source it came from, when, and the IdP.
type Primed = (UrlSource, std::time::Instant, Arc<IdpMetadata>);

/// A tenant whose IdP metadata comes from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSource {
    /// Tenant account.
    pub account: String,
    /// HTTPS URL of the metadata.
    pub url: Url,
    /// The tenant's protocol: which role of the document is its IdP (SAML's IdP or
    /// WS-Federation's STS).
    pub protocol: Protocol,
}

impl UrlSource {
    /// The metadata URL `tenant`'s IdP comes from: one named with neither a document
    /// (`idp_metadata`) nor inline settings (`issuer`), which the tenant check refuses beside
    /// it anyway.
    pub fn of(tenant: &Tenant) -> Option<UrlSource> {
        let sso = tenant.sso.as_ref()?;
        if sso.idp_metadata.is_some() || sso.issuer.is_some() {
            return None;
        }
        Some(UrlSource {
            account: tenant.account.clone(),
            url: sso.idp_metadata_url.clone()?,
            protocol: sso.protocol,
        })
    }
}

/// `check`'s words for a metadata URL that gave no usable IdP: the fetch error names the
/// URL and the reason (status, TLS, timeout, size, or what the parser refused).
pub fn unavailable(e: &FetchError) -> String {
    format!("IdP metadata unavailable: {e}")
}

impl IdpRegistry {
    /// A registry holding `configured` (from [`IdpRegistry::build`]) that fetches nothing.
    pub fn new(configured: HashMap<String, Arc<IdpMetadata>>) -> Self {
        let r = Self::default();
        r.configured.store(Arc::new(configured));
        r
    }

    /// A registry for a whole tenant map (file source), filled by [`IdpRegistry::replace`],
    /// that fetches metadata URLs with `client`; the tenants of the management API beside
    /// the files are loaded on demand, fetched by `api`.
    pub fn fetching(client: reqwest::Client, api: ApiFetcher) -> Self {
        Self::on_demand(client, api)
    }

    /// A registry that loads each database tenant's IdP when first needed, fetching
    /// metadata URLs with `client`, or with `api` for the management API's tenants.
    pub fn on_demand(client: reqwest::Client, api: ApiFetcher) -> Self {
        Self {
            on_demand: Some(
                moka::future::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(DEFAULT_REFRESH)
                    .support_invalidation_closures()
                    .build(),
            ),
            client: Some(client),
            api: Some(api),
            ..Self::default()
        }
    }

    /// The IdP of `tenant`, if it is an SSO tenant with usable metadata. On demand, a
    /// metadata URL that cannot be fetched falls back to its last good copy; a document
    /// that does not parse is logged and gives none (the login answers 503).
    pub async fn for_tenant(&self, tenant: &Tenant) -> Option<Arc<IdpMetadata>> {
        let (Some(on_demand), Some(client), Some(api)) = (&self.on_demand, &self.client, &self.api)
        else {
            return self.get(&tenant.account);
        };
        if tenant.origin == TenantOrigin::File {
            return self.get(&tenant.account);
        }
        if let Some(idp) = on_demand.get(&tenant.account).await {
            return Some(idp);
        }
        let sso = tenant
            .sso
            .as_ref()
            .filter(|s| s.protocol != Protocol::Oidc)?;
        let loaded = match UrlSource::of(tenant) {
            Some(src) => {
                if let Some(idp) = self.primed_copy(&src) {
                    on_demand.insert(tenant.account.clone(), idp.clone()).await;
                    return Some(idp);
                }
                match self.fetch_for(tenant.origin, client, api, &src).await {
                    Ok(m) => {
                        self.store_fetched(&tenant.account, m.clone());
                        Ok(m)
                    }
                    Err(e) => return self.fetch_failed(&tenant.account, &src.url, &e),
                }
            }
            None => {
                // XML work stays off the async runtime (issue #11).
                let (tenant, sso) = (tenant.clone(), sso.clone());
                tokio::task::spawn_blocking(move || {
                    IdpMetadata::for_stored_or_settings(&tenant, &sso)
                })
                .await
                .unwrap_or_else(|e| Err(super::SamlError::Metadata(e.to_string())))
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

    /// A login's fetch of `src`, a tenant of `origin`: the management API's tenants through
    /// `api` (whose URLs an account admin typed), the operator's through `client`.
    async fn fetch_for(
        &self,
        origin: TenantOrigin,
        client: &reqwest::Client,
        api: &ApiFetcher,
        src: &UrlSource,
    ) -> Result<IdpMetadata, FetchError> {
        match origin {
            TenantOrigin::Api => api.fetch(&src.url, src.protocol, FETCH_TIMEOUT).await,
            TenantOrigin::File | TenantOrigin::Import => {
                fetch_metadata(client, &src.url, src.protocol, FETCH_TIMEOUT).await
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

    /// The tenants of `tenants` whose IdP comes from a URL.
    pub fn url_sources(tenants: &TenantMap) -> Vec<UrlSource> {
        let mut v: Vec<UrlSource> = tenants.tenants().filter_map(|t| UrlSource::of(t)).collect();
        v.sort_by(|a, b| a.account.cmp(&b.account));
        v
    }

    /// Swaps in the IdPs of a newly loaded tenant map, at start and on every reload:
    /// `configured` from files and inline settings, and `sources`, the tenants whose
    /// metadata comes from a URL ([`IdpRegistry::url_sources`]).
    ///
    /// The refreshers follow `sources`: a tenant that gained a URL gets one at once (no
    /// restart needed), and one whose tenant is gone or names another URL (or a file now) is
    /// stopped. Fetched copies are kept only for tenants that still name the same URL with
    /// the same protocol: a new URL may be another IdP, another protocol reads another role
    /// of the document, and the old keys must not sign its logins meanwhile.
    pub fn replace(
        self: &Arc<Self>,
        configured: HashMap<String, Arc<IdpMetadata>>,
        sources: Vec<UrlSource>,
    ) {
        self.configured.store(Arc::new(configured));
        let mut running = lock(&self.refreshers);
        let wanted: HashMap<&str, &UrlSource> =
            sources.iter().map(|s| (s.account.as_str(), s)).collect();
        let mut stopped = Vec::new();
        running.retain(|account, (src, task)| {
            let keep = wanted.get(account.as_str()) == Some(&&*src);
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
                slot.insert((src, task));
            }
        }
    }

    /// Fetches `src` once, within `timeout`, with this registry's client, as `check` does:
    /// the management API's check of a metadata URL being saved. A registry that fetches
    /// nothing refuses (the URL could not be checked).
    pub async fn check_url(
        &self,
        src: &UrlSource,
        timeout: Duration,
    ) -> Result<IdpMetadata, String> {
        let Some(api) = &self.api else {
            return Err("IdP metadata unavailable: this gateway fetches no metadata URL".into());
        };
        api.fetch(&src.url, src.protocol, timeout)
            .await
            .map_err(|e| unavailable(&e))
    }

    /// Makes `metadata`, just fetched from `src` (by [`IdpRegistry::check_url`] as the URL
    /// was saved), the copy the logins of `src.account` use for the next few minutes: the
    /// first one does not wait for a fetch. Call it once the change is in force here (its
    /// [`IdpRegistry::forget`] done).
    pub async fn prime(&self, src: &UrlSource, metadata: Arc<IdpMetadata>) {
        record_expiry(&src.account, &metadata, Utc::now());
        self.store_fetched(&src.account, IdpMetadata::clone(&metadata));
        {
            let mut primed = lock(&self.primed);
            primed.retain(|_, (_, at, _)| at.elapsed() < PRIMED_FOR);
            primed.insert(
                src.account.clone(),
                (src.clone(), std::time::Instant::now(), metadata.clone()),
            );
        }
        if let Some(on_demand) = &self.on_demand {
            on_demand.insert(src.account.clone(), metadata).await;
        }
    }

    /// The copy [`IdpRegistry::prime`] kept for `src`, while young enough and still of the
    /// tenant's source (URL and protocol).
    fn primed_copy(&self, src: &UrlSource) -> Option<Arc<IdpMetadata>> {
        let mut primed = lock(&self.primed);
        let (from, at, idp) = primed.get(&src.account)?;
        if from == src && at.elapsed() < PRIMED_FOR {
            return Some(idp.clone());
        }
        primed.remove(&src.account);
        None
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

    /// Logs a failed fetch of `account`'s metadata and gives the last good copy, if any.
    /// Without one the tenant's SSO is refused (`idp_metadata_unavailable`), so the line is
    /// an error that says so rather than a warning about a copy that does not exist.
    fn fetch_failed(&self, account: &str, url: &Url, e: &FetchError) -> Option<Arc<IdpMetadata>> {
        let copy = self.fetched.load().get(account).cloned();
        if copy.is_some() {
            tracing::warn!(account, %url, error = %e, "IdP metadata refresh failed; keeping the last good copy");
        } else {
            tracing::error!(account, %url, error = %e, code = "idp_metadata_unavailable", "IdP metadata unavailable: no copy was ever fetched, so this account's SSO logins are refused until a fetch succeeds");
        }
        copy
    }

    /// Fetches `src` now and then on the document's own schedule, until aborted. A failed
    /// fetch keeps the last good copy, if any, and retries in five minutes.
    fn spawn_refresher(
        self: &Arc<Self>,
        src: UrlSource,
        client: reqwest::Client,
    ) -> tokio::task::AbortHandle {
        // Weak: a registry dropped (a test's gateway stopped) ends its refreshers.
        let reg = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let fetched = fetch_metadata(&client, &src.url, src.protocol, FETCH_TIMEOUT).await;
                let Some(reg) = reg.upgrade() else { return };
                let wait = match fetched {
                    Ok(m) => {
                        let wait = m.next_refresh(Utc::now());
                        let running = lock(&reg.refreshers);
                        if running.get(&src.account).map(|(s, _)| s) != Some(&src) {
                            return; // replaced by a reload while fetching
                        }
                        reg.store_fetched(&src.account, m);
                        drop(running);
                        reg.record_metrics(Utc::now());
                        wait
                    }
                    Err(e) => {
                        reg.fetch_failed(&src.account, &src.url, &e);
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

/// Sets `realmgate_idp_cert_expiry_seconds{account}` for one IdP.
fn record_expiry(account: &str, m: &IdpMetadata, now: DateTime<Utc>) {
    if let Some(latest) = m.certs.iter().filter_map(|c| c.not_after).max() {
        metrics::gauge!("realmgate_idp_cert_expiry_seconds", "account" => account.to_string())
            .set((latest - now).num_seconds() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::SpKeys;

    /// An IdP with one fresh signing certificate.
    fn idp() -> IdpMetadata {
        let cert = SpKeys::generate().expect("keys").cert_base64();
        let sso = Url::parse("https://idp.example/sso").expect("url");
        IdpMetadata::from_inline("https://idp.example/", &sso, &[cert]).expect("inline")
    }

    #[test]
    fn fetched_copy_is_kept_and_configured_wins() {
        let m = idp();
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
            protocol: Protocol::Saml2,
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

    /// A copy primed as its URL was saved stands in for the fetch of a login even after the
    /// on-demand cache forgot the tenant (its own change notification), but only for the
    /// same URL and protocol: another protocol reads another role, so it is fetched.
    #[tokio::test]
    async fn a_primed_copy_outlives_a_forget_for_its_own_source_only() {
        // Accepts connections and never answers: a fetch would hang.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = silent.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });
        let tenant = |protocol: &str| {
            let text = format!(
                "account = \"acme\"\ndomains = [\"acme.example\"]\n[sso]\nprotocol = \"{protocol}\"\nidp_metadata_url = \"https://localhost:{port}/md\"\n"
            );
            let mut t = crate::discovery::map::load_text(std::path::Path::new("api:acme"), &text)
                .expect("tenant");
            t.origin = TenantOrigin::Api;
            t
        };
        let (saml, wsfed) = (tenant("saml2"), tenant("wsfed"));
        // Private addresses allowed: the silent listener is on loopback.
        let reg = IdpRegistry::on_demand(
            reqwest::Client::new(),
            ApiFetcher::new(None, true).expect("fetcher"),
        );
        let m = Arc::new(idp());
        reg.prime(&UrlSource::of(&saml).expect("source"), m.clone())
            .await;
        reg.forget(&Change::All);
        let within = Duration::from_millis(500);
        let got = tokio::time::timeout(within, reg.for_tenant(&saml))
            .await
            .expect("no fetch");
        assert_eq!(got.map(|g| g.entity_id.clone()), Some(m.entity_id.clone()));
        reg.forget(&Change::All);
        assert!(
            tokio::time::timeout(within, reg.for_tenant(&wsfed))
                .await
                .is_err(),
            "another protocol's role was taken from the primed copy"
        );
    }

    /// At login too, a management-API tenant's metadata URL on a private address is
    /// refused before any connection (a fetch of the silent listener would hang), and no
    /// IdP is served; the operator's import of the same settings is fetched.
    #[tokio::test]
    async fn an_api_tenants_url_is_not_fetched_from_a_private_address_at_login() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = silent.local_addr().expect("addr").port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        let text = format!(
            "account = \"acme\"\ndomains = [\"acme.example\"]\n[sso]\nprotocol = \"saml2\"\nidp_metadata_url = \"https://localhost:{port}/md\"\n"
        );
        let mut tenant = crate::discovery::map::load_text(std::path::Path::new("api:acme"), &text)
            .expect("tenant");
        tenant.origin = TenantOrigin::Api;
        let reg = IdpRegistry::on_demand(
            reqwest::Client::new(),
            ApiFetcher::new(None, false).expect("fetcher"),
        );
        let got = tokio::time::timeout(Duration::from_secs(5), reg.for_tenant(&tenant))
            .await
            .expect("refused without waiting on the listener");
        assert!(got.is_none());
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
        // The operator's tenant goes to its URL (and waits on the silent listener).
        tenant.origin = TenantOrigin::Import;
        assert!(
            tokio::time::timeout(Duration::from_millis(500), reg.for_tenant(&tenant))
                .await
                .is_err()
        );
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn expiring_certs_reports_accounts() {
        let m = idp();
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
