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
        let mut test = None;
        let outcome = self
            .consume_wresult(wresult, wctx, binding, now, (&mut account, &mut test))
            .await;
        let outcome = match (test, account.clone()) {
            (Some(mark), Some(a)) => {
                let trace = super::Trace::of(now, outcome.as_ref(), None);
                self.end_test(mark, a, trace, &outcome).await
            }
            _ => outcome,
        };
        outcome.map_err(|error| SsoRefusal { account, error })
    }

    async fn consume_wresult(
        &self,
        wresult: &str,
        wctx: Option<&str>,
        binding: Option<&str>,
        now: DateTime<Utc>,
        (account, test): (&mut Option<String>, &mut Option<super::TestMark>),
    ) -> Result<SsoOutcome, LoginError> {
        // 1. The pending sign-in `wctx` names, from this browser, used once.
        let pending = match wctx.filter(|c| !c.is_empty()) {
            Some(c) => self.take_pending(c, binding, account, test).await?,
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
        self.admit_assertion(
            &tenant,
            assertion,
            "wsfed",
            pending.return_to,
            pending.test.as_ref(),
            now,
        )
        .await
    }
}

impl Login {
    /// Where the browser goes after our logout of a session of `account`: the STS's
    /// `wa=wsignout1.0` for a WS-Federation tenant, so the STS ends its own session and sends
    /// the browser back to `reply`; `None` for every other tenant (or an unusable STS, which
    /// must not keep the person from being signed out here).
    pub async fn wsfed_signout(&self, account: &str, reply: &str) -> Option<url::Url> {
        let tenant = self.discovery.directory.by_account(account).await.ok()??;
        if tenant.sso.as_ref()?.protocol != Protocol::Wsfed {
            return None;
        }
        let sts = self.idps.for_tenant(&tenant).await?;
        wsfed::request::signout_url(&sts, &self.sp.entity_id, reply).ok()
    }
}
