//! The domains of the management API's tenants and their DNS proof: the status of each
//! with the TXT record to publish, adding and removing one (a patch of the tenant's
//! `domains`, so checked and claimed like any tenant change), the lookup that verifies one
//! now, and the periodic re-check
//! ([`TenantAdmin::recheck`]) that stops routing a domain to SSO once its record is gone:
//! a proof that held once is not a proof for ever (the domain may have changed hands).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::TenantAdmin;
use crate::admin::{Actor, AdminError, record};
use crate::discovery::proof::{Outcome, TXT_PREFIX};
use crate::discovery::{DomainProof, Tenant, TenantOrigin};

/// One domain of a tenant and its DNS proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainStatus {
    /// The domain.
    pub domain: String,
    /// Whether it routes to SSO as far as its proof goes.
    pub verified: bool,
    /// When the proof held (API tenants).
    pub verified_at: Option<DateTime<Utc>>,
    /// The TXT record's name.
    pub record_name: String,
    /// The TXT record's value.
    pub record_value: String,
    /// What the last lookup found, after a verify: `verified`, `missing`, `wrong_token`,
    /// `lookup_failed`.
    pub outcome: Option<&'static str>,
}

impl TenantAdmin {
    /// Adds `domain` to the API tenant `account`: a patch of its `domains`, so it is
    /// checked, claimed and recorded like any change (audited as `domain_added`). The new
    /// domain routes to SSO only once [`TenantAdmin::verify`] finds its proof. Gives the
    /// new domain with the TXT record to publish.
    pub async fn add_domain(
        &self,
        actor: &Actor,
        account: &str,
        domain: &str,
    ) -> Result<DomainStatus, AdminError> {
        let before = self.writable(account).await?;
        let domain = crate::discovery::email::normalize_domain(domain.trim())
            .filter(|d| d.contains('.'))
            .ok_or_else(|| AdminError::Invalid(format!("{domain:?} is not a domain name")))?;
        if before.domains.contains(&domain) {
            return Err(AdminError::Conflict(format!(
                "domain {domain} is already one of account {account}'s"
            )));
        }
        let mut domains = before.domains.clone();
        domains.push(domain.clone());
        self.apply(actor, account, json!({"domains": domains}), "domain_added")
            .await?;
        self.domains(account)
            .await?
            .into_iter()
            .find(|s| s.domain == domain)
            .ok_or_else(|| AdminError::NotFound(format!("domain {domain} of account {account}")))
    }

    /// Removes `domain` from the API tenant `account` (audited as `domain_removed`): its
    /// people are no longer routed to this tenant's SSO; its users stay.
    pub async fn remove_domain(
        &self,
        actor: &Actor,
        account: &str,
        domain: &str,
    ) -> Result<Arc<Tenant>, AdminError> {
        let before = self.writable(account).await?;
        let domain = crate::discovery::email::normalize_domain(domain.trim())
            .filter(|d| before.domains.contains(d))
            .ok_or_else(|| AdminError::NotFound(format!("domain {domain} of account {account}")))?;
        let domains: Vec<&String> = before.domains.iter().filter(|d| **d != domain).collect();
        self.apply(
            actor,
            account,
            json!({"domains": domains}),
            "domain_removed",
        )
        .await
        .map(|saved| saved.tenant)
    }

    /// The domains of `account` with their proof and the TXT record to publish.
    pub async fn domains(&self, account: &str) -> Result<Vec<DomainStatus>, AdminError> {
        let tenant = self.get(account).await?;
        if tenant.origin != TenantOrigin::Api {
            let mut out = Vec::new();
            for d in &tenant.domains {
                let verified = match &self.discovery.proof {
                    Some(p) => p.is_verified(&tenant, Some(d)).await,
                    None => true,
                };
                out.push(self.status(&tenant.account, d, verified, None));
            }
            return Ok(out);
        }
        Ok(self
            .store
            .domains(account)
            .await?
            .into_iter()
            .map(|d| {
                let mut s = self.status(account, &d.domain, d.verified_at.is_some(), None);
                s.verified_at = d.verified_at;
                s
            })
            .collect())
    }

    /// Looks the TXT proof of `domain` up now; when it holds, the domain routes to SSO
    /// from this moment on every gateway.
    pub async fn verify(
        &self,
        actor: &Actor,
        account: &str,
        domain: &str,
    ) -> Result<DomainStatus, AdminError> {
        let tenant = self.writable(account).await?;
        let domain = crate::discovery::email::normalize_domain(domain)
            .filter(|d| tenant.domains.contains(d))
            .ok_or_else(|| AdminError::NotFound(format!("domain {domain} of account {account}")))?;
        let outcome = self.proof.check(account, &domain).await;
        let label = match &outcome {
            Outcome::Verified => "verified",
            Outcome::Missing => "missing",
            Outcome::WrongToken { .. } => "wrong_token",
            Outcome::LookupFailed(_) => "lookup_failed",
        };
        let now = crate::admin::stored_now();
        if outcome == Outcome::Verified {
            if self.store.set_verified(account, &domain, Some(now)).await? {
                self.changed(account, &tenant.domains, &tenant.domains)
                    .await?;
                record(
                    &self.audit,
                    actor,
                    Some(account),
                    "domain_verified",
                    &domain,
                    Some(json!({"domain": domain, "verified": false})),
                    Some(json!({"domain": domain, "verified": true})),
                )
                .await?;
            }
        } else {
            tracing::info!(account, %domain, ?outcome, "domain proof does not hold yet");
        }
        let mut status = self
            .domains(account)
            .await?
            .into_iter()
            .find(|s| s.domain == domain)
            .ok_or_else(|| AdminError::NotFound(format!("domain {domain} of account {account}")))?;
        status.outcome = Some(label);
        Ok(status)
    }

    /// Looks up again the proof of every verified API domain (the gateway's periodic
    /// re-check, every `domain_recheck_seconds`). A domain whose record is gone or carries
    /// another token stops routing to SSO at once on every gateway, recorded as
    /// `domain_unverified` by `actor` and logged; a lookup that fails is no verdict and
    /// keeps the domain as it is (logged), so a DNS outage does not switch a company's
    /// people off SSO. Gives the domains unverified, as (account, domain).
    pub async fn recheck(&self, actor: &Actor) -> Result<Vec<(String, String)>, AdminError> {
        let mut dropped = Vec::new();
        for (account, domain) in self.store.verified().await? {
            match self.proof.check(&account, &domain).await {
                Outcome::Verified => continue,
                Outcome::LookupFailed(reason) => {
                    tracing::warn!(%account, %domain, %reason, "DNS proof re-check failed; the domain keeps routing to SSO until a lookup answers");
                    continue;
                }
                outcome => {
                    tracing::warn!(%account, %domain, ?outcome, "DNS proof no longer holds; the domain no longer routes to SSO");
                }
            }
            if !self.store.set_verified(&account, &domain, None).await? {
                continue;
            }
            let tenant = self.get(&account).await?;
            self.changed(&account, &tenant.domains, &tenant.domains)
                .await?;
            record(
                &self.audit,
                actor,
                Some(&account),
                "domain_unverified",
                &domain,
                Some(json!({"domain": domain, "verified": true})),
                Some(json!({"domain": domain, "verified": false})),
            )
            .await?;
            dropped.push((account, domain));
        }
        Ok(dropped)
    }

    fn status(
        &self,
        account: &str,
        domain: &str,
        verified: bool,
        at: Option<DateTime<Utc>>,
    ) -> DomainStatus {
        DomainStatus {
            domain: domain.to_string(),
            verified,
            verified_at: at,
            record_name: DomainProof::record_name(domain),
            record_value: format!("{TXT_PREFIX}{}", self.proof.token(account, domain)),
            outcome: None,
        }
    }
}
