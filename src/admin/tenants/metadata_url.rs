//! The metadata URL of a tenant being saved (`idp_metadata_url`: AD FS's
//! /FederationMetadata/2007-06/FederationMetadata.xml, Entra's "App Federation Metadata
//! Url"), fetched and checked before anything is written, as `realmgate check` fetches one:
//! the registry's HTTPS client (public roots plus `idp_metadata_ca`, https only, redirects
//! included), `check`'s time bound, the size cap and the parser logins use (off the async
//! workers), the role of the tenant's protocol. A typo, an unreachable host or a page that
//! is not an IdP's metadata is refused at save with `check`'s reason, not found by the
//! first person who cannot sign in. The document fetched then primes the registry, so that
//! first login does not wait for a fetch either.
//!
//! Also what a metadata document says to the admin who gave it ([`IdpReport`]), for an
//! upload and a URL alike.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::TenantAdmin;
use crate::admin::AdminError;
use crate::discovery::Tenant;
use crate::saml::{CHECK_FETCH_TIMEOUT, IdpMetadata, UrlSource};

/// How far ahead certificate expiry is warned about, as `realmgate check` does.
const EXPIRY_WARNING: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// What an IdP's metadata says, with the warnings `check` would print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpReport {
    /// The IdP's entity ID.
    pub entity_id: String,
    /// End of validity of each signing certificate.
    pub certificates: Vec<Option<DateTime<Utc>>>,
    /// Certificates expiring within 30 days (or expired).
    pub warnings: Vec<String>,
}

impl IdpReport {
    /// The report of `idp` as of `now`.
    pub fn of(idp: &IdpMetadata, now: DateTime<Utc>) -> Self {
        let limit = now + EXPIRY_WARNING;
        let warnings = idp
            .certs
            .iter()
            .filter_map(|c| c.not_after.filter(|na| *na < limit))
            .map(|na| {
                format!("an IdP signing certificate expires on {na}; ask the IdP administrator for the new one before SSO breaks")
            })
            .collect();
        Self {
            entity_id: idp.entity_id.clone(),
            certificates: idp.certs.iter().map(|c| c.not_after).collect(),
            warnings,
        }
    }
}

impl TenantAdmin {
    /// The IdP that `tenant`'s metadata URL gives now, when this change must check it: a new
    /// tenant naming one (`before` is `None`), a patch naming one (`names_url`), or a change
    /// that makes another URL or protocol the tenant's source (a protocol reads another role
    /// of the document). `None` when the change leaves nothing to fetch. A URL that gives no
    /// usable IdP is a problem naming `idp_metadata_url` with `check`'s reason.
    pub(super) async fn fetch_saved_url(
        &self,
        before: Option<&Tenant>,
        tenant: &Tenant,
        names_url: bool,
    ) -> Result<Option<(UrlSource, Arc<IdpMetadata>)>, AdminError> {
        let Some(src) = UrlSource::of(tenant) else {
            return Ok(None);
        };
        let changed = before.is_none_or(|b| UrlSource::of(b).as_ref() != Some(&src));
        if !names_url && !changed {
            return Ok(None);
        }
        let fetched = self.idps.check_url(&src, CHECK_FETCH_TIMEOUT).await;
        match fetched {
            Ok(m) => Ok(Some((src, Arc::new(m)))),
            Err(reason) => {
                tracing::info!(account = %tenant.account, url = %src.url, %reason, "metadata URL refused at save");
                Err(AdminError::InvalidTenant(vec![format!(
                    "idp_metadata_url: {reason}"
                )]))
            }
        }
    }

    /// Makes the copy [`TenantAdmin::fetch_saved_url`] fetched the one the logins of the
    /// tenant just put in force use ([`crate::saml::IdpRegistry::prime`]), and gives its
    /// report.
    pub(super) async fn primed(
        &self,
        fetched: Option<(UrlSource, Arc<IdpMetadata>)>,
    ) -> Option<IdpReport> {
        let (src, idp) = fetched?;
        let report = IdpReport::of(&idp, Utc::now());
        self.idps.prime(&src, idp).await;
        Some(report)
    }
}
