//! Home-realm discovery: which tenant an email belongs to and what the person does next.
//! Owns the `Email` type, the tenant map and its sources.

pub mod email;
pub mod map;
pub mod tenant;

pub use email::{Email, EmailError};
pub use map::TenantMap;
pub use tenant::{JitPolicy, LoginHint, Protocol, SsoSettings, Tenant, TenantOrigin};
pub mod directory;
pub mod layered;
pub mod pg;
pub mod proof;
pub mod reach;

pub use directory::{Change, Directory, DirectoryError, FileSource, TenantSource};
pub use layered::Layered;
pub use pg::PgSource;
pub use proof::DomainProof;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use metrics::Counter;

use url::Url;

/// What the person does next. Depends on the email's domain only, never on whether a user
/// exists, so discovery cannot be used to enumerate accounts.
#[derive(Debug, Clone)]
pub enum Route {
    /// Single sign-on with the tenant's IdP.
    Sso(Arc<Tenant>),
    /// Password login; the tenant when the domain has one without SSO.
    Password(Option<Arc<Tenant>>),
    /// The tenant lives in another region: continue on that region's gateway.
    OtherRegion {
        /// The tenant's region.
        region: String,
        /// That region's public URL.
        url: Url,
        /// The tenant, so callers need not look it up again.
        tenant: Arc<Tenant>,
    },
}

impl Route {
    /// Label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Sso(_) => "sso",
            Route::Password(Some(_)) => "password_tenant",
            Route::Password(None) => "unknown_domain",
            Route::OtherRegion { .. } => "other_region",
        }
    }

    /// Counts this decision in `realmgate_discovery_total{outcome}`.
    pub fn count(&self) {
        count_outcome(self.label());
    }
}

/// The outcome label of an address refused before any lookup.
pub const INVALID_EMAIL: &str = "invalid_email";

/// Every outcome label of `realmgate_discovery_total`: the routes' and [`INVALID_EMAIL`].
const OUTCOMES: [&str; 5] = [
    "sso",
    "password_tenant",
    "unknown_domain",
    "other_region",
    INVALID_EMAIL,
];

/// Counts one discovery outcome, on every surface that decides (page, JSON API, WebFinger).
/// The handles are resolved once: looking the label set up in the registry on every
/// request cost a measurable share of a discovery answer.
pub fn count_outcome(outcome: &'static str) {
    static COUNTERS: LazyLock<[Counter; 5]> = LazyLock::new(|| {
        OUTCOMES.map(|o| metrics::counter!("realmgate_discovery_total", "outcome" => o))
    });
    if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
        COUNTERS[i].increment(1);
    }
}

/// Home-realm discovery: the directory plus the rules that turn a tenant into a route.
pub struct Discovery {
    /// Cached tenant lookups.
    pub directory: Directory,
    /// DNS proofs, consulted only when domains must be verified.
    pub proof: Option<Arc<DomainProof>>,
    /// This gateway's region.
    pub region: Option<String>,
    /// Other regions' gateways.
    pub regions: BTreeMap<String, Url>,
}

impl Discovery {
    /// Decides the route for `email`.
    pub async fn route(&self, email: &Email) -> Result<Route, DirectoryError> {
        let Some(tenant) = self.directory.by_domain(email.domain()).await? else {
            return Ok(Route::Password(None));
        };
        Ok(self.route_to_home(tenant, Some(email.domain())).await)
    }

    /// The route for a known tenant on the surfaces a person starts from (discovery, the
    /// `/{account}` Sign-on URL): its region's gateway when it lives in another region,
    /// else [`Self::route_for_tenant`].
    pub async fn route_to_home(&self, tenant: Arc<Tenant>, domain: Option<&str>) -> Route {
        if let (Some(theirs), Some(ours)) = (&tenant.region, &self.region)
            && theirs != ours
            && let Some(url) = self.regions.get(theirs)
        {
            return Route::OtherRegion {
                region: theirs.clone(),
                url: url.clone(),
                tenant,
            };
        }
        self.route_for_tenant(tenant, domain).await
    }

    /// The route for a known tenant (the `/{account}` Sign-on URL), checking the DNS proof
    /// of `domain` when given, else of any of the tenant's domains. A tenant of the
    /// management API needs its stored proof ([`Tenant::proven`]) whatever
    /// `require_verified_domains` says; the ACS asks this too, so an unproven domain can
    /// neither be sent to the tenant's IdP nor be asserted by it.
    pub async fn route_for_tenant(&self, tenant: Arc<Tenant>, domain: Option<&str>) -> Route {
        if tenant.sso.is_none() {
            return Route::Password(Some(tenant));
        }
        if tenant.origin == tenant::TenantOrigin::Api {
            if !tenant.proven(domain) {
                return Route::Password(Some(tenant));
            }
        } else if let Some(proof) = &self.proof
            && !proof.is_verified(&tenant, domain).await
        {
            return Route::Password(Some(tenant));
        }
        Route::Sso(tenant)
    }

    /// Forgets what the directory and the DNS verdicts hold about changed tenants.
    pub fn forget(&self, change: &Change) {
        self.directory.forget(change);
        if let Some(proof) = &self.proof {
            proof.forget(change);
        }
    }
}
