//! The OpenID Connect round trip of [`Login`]: the authorization request remembered under
//! its `state` (bound to this browser like a SAML RelayState, with the nonce and PKCE
//! verifier kept server-side), and the callback: the pending login taken once, the code
//! exchanged, the ID token validated off the async runtime (once more after a key-set
//! refresh when it names an unknown `kid`), then the same account decision as SAML with
//! the subject `iss` + `sub`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::traces::{OidcFacts, Trace};
use super::{Login, LoginError, Pending, Role, SsoOutcome, SsoRefusal, sha256_hex};
use crate::discovery::{Email, Protocol, SsoSettings, Tenant};
use crate::oidc::{self, OidcError};

/// The secrets of a pending OpenID Connect login, never sent to the browser.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct OidcSecrets {
    nonce: String,
    pkce_verifier: String,
}

/// What the IdP's redirect to our callback carries.
pub struct OidcCallback<'a> {
    /// `state`: our handle of the pending login.
    pub state: Option<&'a str>,
    /// `code`: the authorization code.
    pub code: Option<&'a str>,
    /// `error`, when the IdP did not sign the person in.
    pub error: Option<&'a str>,
    /// `error_description`.
    pub error_description: Option<&'a str>,
    /// `iss` (RFC 9207), when the provider sends it.
    pub iss: Option<&'a str>,
}

impl Login {
    /// Remembers a pending OpenID Connect login under a fresh `state` and gives the
    /// provider's authorization URL.
    pub(super) async fn start_oidc(
        &self,
        tenant: &Tenant,
        sso: &SsoSettings,
        login_hint: Option<&Email>,
        return_to: Option<&url::Url>,
        binding: &str,
        test: Option<super::TestMark>,
    ) -> Result<url::Url, LoginError> {
        let provider = self.oidc.for_tenant(tenant).await?;
        let state = crate::secrets::random_token();
        let hint = match sso.login_hint {
            crate::discovery::LoginHint::None => None,
            _ => login_hint.map(Email::as_str),
        };
        let request =
            oidc::flow::authorization_request(&provider, sso, &self.oidc_redirect, &state, hint)?;
        let pending = Pending {
            request_id: String::new(),
            account: tenant.account.clone(),
            return_to: return_to.map(|u| u.to_string()),
            binding: sha256_hex(binding),
            oidc: Some(OidcSecrets {
                nonce: request.nonce,
                pkce_verifier: request.pkce_verifier,
            }),
            test,
            logout: false,
        };
        self.store_pending(&state, &pending).await?;
        metrics::counter!("realmgate_sso_starts_total", "account" => tenant.account.clone())
            .increment(1);
        Ok(request.url)
    }

    /// The callback: checks it against the pending login of this browser and decides.
    pub async fn complete_oidc(
        &self,
        callback: OidcCallback<'_>,
        binding: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SsoOutcome, SsoRefusal> {
        let mut account = None;
        let mut test = None;
        let mut facts = OidcFacts {
            issuer: callback.iss.map(str::to_string),
            ..OidcFacts::default()
        };
        let outcome = self
            .consume_callback(
                callback,
                binding,
                now,
                (&mut account, &mut test),
                &mut facts,
            )
            .await;
        let trace = Trace::of_oidc(now, outcome.as_ref(), &facts);
        if let Some(account) = &account {
            self.traces.keep(account, &trace).await;
        }
        let outcome = match (test, account.clone()) {
            (Some(mark), Some(a)) => self.end_test(mark, a, trace, &outcome).await,
            _ => outcome,
        };
        outcome.map_err(|error| SsoRefusal { account, error })
    }

    /// [`complete_oidc`](Self::complete_oidc)'s steps; `account` is set once the pending
    /// login is read (with its test mark once taken), `facts` once the ID token is
    /// validated.
    async fn consume_callback(
        &self,
        callback: OidcCallback<'_>,
        binding: Option<&str>,
        now: DateTime<Utc>,
        (account, test): (&mut Option<String>, &mut Option<super::TestMark>),
        facts: &mut OidcFacts,
    ) -> Result<SsoOutcome, LoginError> {
        // 1. Which login is this? The pending one named by `state`, from this browser only,
        //    taken once: a replayed callback finds nothing.
        let pending = self
            .take_pending(
                callback.state.unwrap_or_default(),
                Role::OidcLogin,
                binding,
                account,
                test,
            )
            .await?
            .ok_or(LoginError::NoPendingRequest)?;
        let Some(secrets) = &pending.oidc else {
            // Its role says it holds them; refused all the same should that ever change.
            return Err(LoginError::NoPendingRequest);
        };
        // 2. The IdP's own refusal (cancelled, consent denied), after the pending login is
        //    consumed so it cannot be retried with another answer.
        if let Some(error) = callback.error {
            return Err(OidcError::IdpError {
                error: error.chars().take(100).collect(),
                description: callback
                    .error_description
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect(),
            }
            .into());
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty() && c.len() <= 4096)
            .ok_or(OidcError::NoCode)?;
        let tenant = self
            .discovery
            .directory
            .by_account(&pending.account)
            .await?
            .ok_or_else(|| LoginError::UnknownAccount(pending.account.clone()))?;
        let sso = tenant
            .sso
            .as_ref()
            .filter(|s| s.protocol == Protocol::Oidc)
            .ok_or_else(|| LoginError::UnknownAccount(tenant.account.clone()))?;
        let provider = self.oidc.for_tenant(&tenant).await?;
        // RFC 9207: a provider that names itself in the answer must be the one the login
        // went to (a mix-up would send another provider's code to this one's token endpoint).
        if let Some(iss) = callback.iss
            && !provider.issuer.contains(oidc::provider::TENANT_PLACEHOLDER)
            && iss.trim_end_matches('/') != provider.issuer.trim_end_matches('/')
        {
            return Err(OidcError::Issuer(format!(
                "the authorization response names {iss:?}, the login went to {:?}",
                provider.issuer
            ))
            .into());
        }
        // 3. The code, exchanged with our client authentication and the PKCE verifier.
        let client = &self.oidc.calls_for(&tenant).client;
        let id_token = oidc::flow::exchange_code(
            client,
            &provider,
            sso,
            &self.oidc_redirect,
            code,
            &secrets.pkce_verifier,
            now,
        )
        .await?;
        // 4. Every ID token rule; a key the set does not hold yet means the provider
        //    rotated: refresh (bounded in rate) and check once more.
        let identity = match self
            .validate_id_token(&provider, sso, &id_token, &secrets.nonce, now)
            .await?
        {
            Err(OidcError::UnknownKey) if provider.refresh_keys(client).await? => {
                self.validate_id_token(&provider, sso, &id_token, &secrets.nonce, now)
                    .await??
            }
            other => other?,
        };
        *facts = OidcFacts {
            issuer: Some(identity.issuer.clone()),
            email: Some(identity.email.clone()),
            subject: Some(identity.subject.clone()),
        };
        // 5-6. The tenant owns the email; the account decision; the session (for a Test
        //      SSO, its result instead).
        if let Some(mark) = &pending.test {
            return self
                .tested(
                    &tenant,
                    mark,
                    super::sso_test::Claims {
                        email: Some(identity.email.clone()),
                        ..Default::default()
                    },
                )
                .await;
        }
        self.admit(
            &tenant,
            &identity.email,
            &identity.bound_subject(),
            identity.name.as_deref(),
            identity.acr.clone(),
            "oidc",
            pending.return_to,
            now,
        )
        .await
    }

    /// [`oidc::validate`] on the bounded blocking pool SAML work uses: signature checks
    /// are CPU work whose volume the caller chooses.
    async fn validate_id_token(
        &self,
        provider: &Arc<oidc::Provider>,
        sso: &SsoSettings,
        id_token: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<oidc::Identity, OidcError>, LoginError> {
        let provider = provider.clone();
        let keys = provider.keys();
        let (id_token, nonce) = (id_token.to_string(), nonce.to_string());
        let client_id = sso.client_id.clone().unwrap_or_default();
        let email_claim = sso.email_claim.clone();
        let skew = self.skew;
        self.saml_work(move || {
            oidc::validate(
                &id_token,
                &oidc::Expected {
                    issuer: &provider.issuer,
                    keys: &keys,
                    client_id: &client_id,
                    nonce: &nonce,
                    skew,
                    email_claim: email_claim.as_deref(),
                },
                now,
            )
        })
        .await
    }
}
