//! The WS-Federation round trip's second half: the STS's `wa=wsignin1.0` POST with its
//! `wresult`, checked against the pending login its `wctx` names and this browser, then
//! admitted exactly as a SAML login (replay cache, tenant domains, JIT, subject binding).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Login, LoginError, SsoOutcome, SsoRefusal};
use crate::discovery::Protocol;
use crate::wsfed;

impl Login {
    /// The ACS for WS-Federation. There is no IdP-initiated WS-Federation login here: an
    /// answer must name, in `wctx`, a sign-in this browser started.
    pub async fn complete_wsfed(
        &self,
        wresult: &str,
        wctx: Option<&str>,
        binding: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SsoOutcome, SsoRefusal> {
        let mut account = None;
        let outcome = self
            .consume_wresult(wresult, wctx, binding, now, &mut account)
            .await;
        outcome.map_err(|error| SsoRefusal { account, error })
    }

    async fn consume_wresult(
        &self,
        wresult: &str,
        wctx: Option<&str>,
        binding: Option<&str>,
        now: DateTime<Utc>,
        account: &mut Option<String>,
    ) -> Result<SsoOutcome, LoginError> {
        // 1. The pending sign-in `wctx` names, from this browser, used once.
        let pending = match wctx.filter(|c| !c.is_empty()) {
            Some(c) => self.take_pending(c, binding, account).await?,
            None => None,
        }
        .ok_or(LoginError::NoPendingRequest)?;
        // 2. Its tenant's STS, and only a WS-Federation tenant's.
        let tenant = self
            .discovery
            .directory
            .by_account(&pending.account)
            .await?
            .ok_or_else(|| LoginError::UnknownAccount(pending.account.clone()))?;
        let sso = tenant
            .sso
            .as_ref()
            .ok_or_else(|| LoginError::UnknownAccount(tenant.account.clone()))?;
        if sso.protocol != Protocol::Wsfed {
            return Err(LoginError::WrongProtocol {
                found: "WS-Federation",
            });
        }
        let sts = self
            .idps
            .for_tenant(&tenant)
            .await
            .ok_or_else(|| LoginError::NoIdp(tenant.account.clone()))?;
        // 3. Every token rule, off the runtime under the SAML slots.
        let assertion = {
            let sp = self.sp.clone();
            let wresult = wresult.to_string();
            let email_claim = sso.email_claim.clone();
            let skew = Duration::from_secs(self.skew.as_secs());
            self.saml_work(move || {
                let acs = sp.acs_urls();
                let expected = wsfed::Expected {
                    sts: &sts,
                    realm: &sp.entity_id,
                    acs_urls: &acs,
                    skew,
                    email_claim: email_claim.as_deref(),
                };
                wsfed::validate(&wresult, &expected, now)
            })
            .await??
        };
        // 4 to 6. As for SAML.
        self.admit_assertion(&tenant, assertion, "wsfed", pending.return_to, now)
            .await
    }
}

impl Login {
    /// Where the browser goes after our logout of a session of `account`: the STS's
    /// `wa=wsignout1.0` for a WS-Federation tenant, so the STS ends its own session and sends
    /// the browser back to `reply`; `None` for every other tenant (or an unusable STS, which
    /// must not keep the person from being signed out here).
    pub async fn wsfed_signout(&self, account: &str, reply: &str) -> Option<url::Url> {
        let tenant = self.wsfed_tenant(account).await?;
        let sts = self.idps.for_tenant(&tenant).await?;
        wsfed::request::signout_url(&sts, &self.sp.entity_id, reply).ok()
    }

    /// Whether `account` signs in through a WS-Federation STS: only its sessions end when
    /// an STS asks (`wsignoutcleanup1.0`), since anyone can send a browser to that URL.
    pub async fn signs_in_with_wsfed(&self, account: &str) -> bool {
        self.wsfed_tenant(account).await.is_some()
    }

    async fn wsfed_tenant(
        &self,
        account: &str,
    ) -> Option<std::sync::Arc<crate::discovery::Tenant>> {
        let tenant = self.discovery.directory.by_account(account).await.ok()??;
        (tenant.sso.as_ref()?.protocol == Protocol::Wsfed).then_some(tenant)
    }
}
