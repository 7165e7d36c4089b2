//! What a verified SAML identity means for the user table (SPEC security rule 9).
//!
//! [`decide`] is the whole policy as a pure function, so every case is a unit test;
//! [`resolve`] reads the store, applies the decision and copes with concurrent logins.
//!
//! # The rule
//! 1. An empty subject (NameID) is refused: there would be nothing to bind to.
//! 2. A known user (same account, email compared case-insensitively):
//!    - disabled: refused;
//!    - already bound to a subject: admitted (or kept waiting) only when the subject is the
//!      same; another subject is refused and logged (a recycled address, or an IdP account
//!      trying to take over someone else's user);
//!    - not bound yet (a pre-provisioned user at the first SSO login): bound now and
//!      admitted (or kept waiting), provided the subject is not already bound to another
//!      user of the account, and provided the user has **no local password**, or is an
//!      **administrator**.
//!      A non-admin user with a password is a password account, and a password account is
//!      never linked to an SSO identity silently: the login is refused and logged; the
//!      operator links it explicitly by removing the password
//!      ([`super::UserStore::set_password_hash`] with `None`).
//!      Administrators are the exception: an SSO tenant's admins are created by the
//!      operator with a password precisely as the fail-safe for `/{account}/no-sso`; they
//!      are linked at their first SSO login (logged as a warning, an audit trail) and their
//!      password stays usable only through `/{account}/no-sso`.
//! 3. An unknown user: refused when the subject is bound to another user of the account
//!    (the IdP changed the person's email: an operator must decide), otherwise per the
//!    tenant's policy: `deny` refuses, `waiting_room` creates a waiting user, `create` an
//!    active one; both are bound to the subject at creation.

use chrono::{DateTime, Utc};

use super::{AccountsError, NewUser, Origin, Status, User, UserStore};
use crate::discovery::{Email, JitPolicy, Tenant};

/// Why an SSO login does not open a session. Shown to the person as one generic page;
/// the variant goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The tenant has no SSO configured.
    #[error("the tenant does not use single sign-on")]
    NotSso,
    /// The asserted email's domain is not one of the tenant's.
    #[error("the email domain does not belong to the tenant")]
    ForeignDomain,
    /// The assertion carried an empty subject.
    #[error("the assertion has no subject")]
    NoSubject,
    /// The user is disabled.
    #[error("the user is disabled")]
    Disabled,
    /// Unknown user and the tenant's JIT policy is `deny`.
    #[error("the user is not provisioned and the tenant does not create users")]
    NotProvisioned,
    /// The user is bound to another IdP subject.
    #[error("the user is bound to another IdP subject")]
    SubjectMismatch,
    /// The subject is bound to another user of the account.
    #[error("the IdP subject is bound to another user")]
    SubjectInUse,
    /// A non-admin password account would be linked to an SSO identity.
    #[error("the user has a local password and is not linked to SSO")]
    PasswordAccount,
}

/// What to do with a verified identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the user in; `bind` when the subject must be bound first (first SSO login).
    Admit {
        /// The user.
        user: User,
        /// Bind the subject before admitting.
        bind: bool,
    },
    /// Show the Waiting Room; `bind` as for `Admit`.
    Wait {
        /// The user.
        user: User,
        /// Bind the subject.
        bind: bool,
    },
    /// Create the user just in time with this status, bound to the subject.
    Create {
        /// `Waiting` (waiting_room) or `Active` (create).
        status: Status,
    },
    /// No session.
    Refuse(Refusal),
}

/// The decision for an identity with `subject`, given the user with the asserted email
/// (`by_email`) and the user already bound to the subject (`by_subject`), if any. See the
/// module documentation for the rule.
pub fn decide(
    policy: JitPolicy,
    by_email: Option<&User>,
    by_subject: Option<&User>,
    subject: &str,
) -> Decision {
    if subject.trim().is_empty() {
        return Decision::Refuse(Refusal::NoSubject);
    }
    let Some(user) = by_email else {
        if by_subject.is_some() {
            return Decision::Refuse(Refusal::SubjectInUse);
        }
        return match policy {
            JitPolicy::Deny => Decision::Refuse(Refusal::NotProvisioned),
            JitPolicy::WaitingRoom => Decision::Create {
                status: Status::Waiting,
            },
            JitPolicy::Create => Decision::Create {
                status: Status::Active,
            },
        };
    };
    if user.status == Status::Disabled {
        return Decision::Refuse(Refusal::Disabled);
    }
    let bind = match &user.subject {
        Some(bound) if bound == subject => false,
        Some(_) => return Decision::Refuse(Refusal::SubjectMismatch),
        None => {
            if by_subject.is_some_and(|other| other.id != user.id) {
                return Decision::Refuse(Refusal::SubjectInUse);
            }
            if user.password_hash.is_some() && !user.admin {
                return Decision::Refuse(Refusal::PasswordAccount);
            }
            true
        }
    };
    let user = user.clone();
    match user.status {
        Status::Waiting => Decision::Wait { user, bind },
        _ => Decision::Admit { user, bind },
    }
}

/// The result of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Open a session for this user (its login was recorded).
    Admitted(User),
    /// Send the person to the Waiting Room.
    Waiting(User),
    /// No session; the reason has been logged.
    Refused(Refusal),
}

/// Attempts before giving up when concurrent logins keep changing the same user (each
/// attempt re-reads; two are enough in practice, the third is slack).
const ATTEMPTS: usize = 3;

/// Applies [`decide`] for an identity the SAML layer has verified: checks the tenant owns
/// the email's domain (defence in depth; whether the domain's DNS proof is required and
/// done is the discovery layer's check, made before the login started), creates the JIT
/// user or binds the subject, and records the login. `name` is the display name asserted by the IdP, if any, used for
/// users created here.
///
/// Races are settled by the database: binding is `UPDATE … WHERE subject IS NULL` and
/// creation hits the unique constraints, so a login that loses re-reads and decides again
/// on what the winner wrote.
pub async fn resolve(
    store: &dyn UserStore,
    tenant: &Tenant,
    email: &Email,
    subject: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Outcome, AccountsError> {
    let account = tenant.account.as_str();
    let Some(sso) = &tenant.sso else {
        return Ok(refused(account, email, Refusal::NotSso, None));
    };
    if !tenant.owns_domain(email.domain()) {
        return Ok(refused(account, email, Refusal::ForeignDomain, None));
    }
    for _ in 0..ATTEMPTS {
        // Subject first, then email: a user committed by a concurrent login and seen by
        // the first read is certainly seen by the second, so the pair never shows the
        // subject bound while the email looks unknown (a false `SubjectInUse`).
        let by_subject = store.by_subject(account, subject).await?;
        let by_email = store.by_email(account, email).await?;
        match decide(sso.jit, by_email.as_ref(), by_subject.as_ref(), subject) {
            Decision::Refuse(reason) => {
                return Ok(refused(account, email, reason, by_email.as_ref()));
            }
            Decision::Admit { user, bind } | Decision::Wait { user, bind } => {
                if bind {
                    match store.bind_subject(user.id, subject).await {
                        Ok(true) => {}
                        Ok(false) | Err(AccountsError::SubjectInUse { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                    if user.password_hash.is_some() {
                        tracing::warn!(
                            account, email = %email, user_id = user.id,
                            "admin with a local password linked to its IdP subject at first SSO login"
                        );
                    } else {
                        tracing::info!(account, email = %email, user_id = user.id, "user bound to its IdP subject");
                    }
                }
                let mut user = user;
                user.subject = Some(subject.to_string());
                return finish(store, user, now).await;
            }
            Decision::Create { status } => {
                let mut new = NewUser::new(account, email.clone(), Origin::Jit, now);
                new.status = status;
                new.name = name.unwrap_or_default().trim().to_string();
                new.subject = Some(subject.to_string());
                match store.add(new).await {
                    Ok(user) => {
                        tracing::info!(account, email = %email, user_id = user.id, status = %status, "user created just in time");
                        return finish(store, user, now).await;
                    }
                    Err(AccountsError::Exists { .. } | AccountsError::SubjectInUse { .. }) => {
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Err(AccountsError::Contended(format!(
        "user {email} of account {account} kept changing during login; try again"
    )))
}

/// Records an admission; a waiting user only gets the Waiting Room.
async fn finish(
    store: &dyn UserStore,
    mut user: User,
    now: DateTime<Utc>,
) -> Result<Outcome, AccountsError> {
    match user.status {
        Status::Active => {
            store.record_login(user.id, now).await?;
            user.last_login_at = Some(now);
            Ok(Outcome::Admitted(user))
        }
        Status::Waiting => Ok(Outcome::Waiting(user)),
        Status::Disabled => Ok(Outcome::Refused(Refusal::Disabled)),
    }
}

/// Logs a refusal with what an operator needs to act on it, and returns the outcome.
/// Subject mismatches and password accounts are warnings: they may be attacks.
fn refused(account: &str, email: &Email, reason: Refusal, user: Option<&User>) -> Outcome {
    let user_id = user.map(|u| u.id);
    match reason {
        Refusal::SubjectMismatch
        | Refusal::SubjectInUse
        | Refusal::PasswordAccount
        | Refusal::ForeignDomain => {
            tracing::warn!(account, email = %email, ?user_id, %reason, "SSO login refused");
        }
        _ => tracing::info!(account, email = %email, ?user_id, %reason, "SSO login refused"),
    }
    Outcome::Refused(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(status: Status, subject: Option<&str>, password: bool, admin: bool) -> User {
        User {
            id: 7,
            account: "contoso".into(),
            email: Email::parse("alice@contoso.com").expect("static email"),
            name: "Alice".into(),
            status,
            password_hash: password.then(|| "$argon2id$v=19$...".into()),
            admin,
            origin: Origin::Cli,
            subject: subject.map(str::to_string),
            created_at: DateTime::from_timestamp(0, 0).expect("epoch"),
            last_login_at: None,
            external_id: None,
            name_parts: Default::default(),
            emails: Vec::new(),
            lang: None,
        }
    }

    #[test]
    fn unknown_users_follow_the_policy() {
        assert_eq!(
            decide(JitPolicy::Deny, None, None, "s"),
            Decision::Refuse(Refusal::NotProvisioned)
        );
        assert_eq!(
            decide(JitPolicy::WaitingRoom, None, None, "s"),
            Decision::Create {
                status: Status::Waiting
            }
        );
        assert_eq!(
            decide(JitPolicy::Create, None, None, "s"),
            Decision::Create {
                status: Status::Active
            }
        );
    }

    #[test]
    fn first_login_binds_and_later_logins_must_match() {
        let fresh = user(Status::Active, None, false, false);
        assert_eq!(
            decide(JitPolicy::Deny, Some(&fresh), None, "s1"),
            Decision::Admit {
                user: fresh.clone(),
                bind: true
            }
        );
        let bound = user(Status::Active, Some("s1"), false, false);
        assert_eq!(
            decide(JitPolicy::Create, Some(&bound), Some(&bound), "s1"),
            Decision::Admit {
                user: bound.clone(),
                bind: false
            }
        );
        assert_eq!(
            decide(JitPolicy::Create, Some(&bound), None, "s2"),
            Decision::Refuse(Refusal::SubjectMismatch)
        );
    }

    #[test]
    fn refusals() {
        let disabled = user(Status::Disabled, Some("s"), false, false);
        assert_eq!(
            decide(JitPolicy::Create, Some(&disabled), Some(&disabled), "s"),
            Decision::Refuse(Refusal::Disabled)
        );
        let password = user(Status::Active, None, true, false);
        assert_eq!(
            decide(JitPolicy::Create, Some(&password), None, "s"),
            Decision::Refuse(Refusal::PasswordAccount)
        );
        let admin = user(Status::Active, None, true, true);
        assert_eq!(
            decide(JitPolicy::Create, Some(&admin), None, "s"),
            Decision::Admit {
                user: admin.clone(),
                bind: true
            }
        );
        let mut other = user(Status::Active, Some("s"), false, false);
        other.id = 8;
        let fresh = user(Status::Active, None, false, false);
        assert_eq!(
            decide(JitPolicy::Create, Some(&fresh), Some(&other), "s"),
            Decision::Refuse(Refusal::SubjectInUse)
        );
        assert_eq!(
            decide(JitPolicy::Create, None, Some(&other), "s"),
            Decision::Refuse(Refusal::SubjectInUse)
        );
        assert_eq!(
            decide(JitPolicy::Create, Some(&fresh), None, " "),
            Decision::Refuse(Refusal::NoSubject)
        );
    }

    #[test]
    fn waiting_users_wait() {
        let waiting = user(Status::Waiting, Some("s"), false, false);
        assert_eq!(
            decide(JitPolicy::Create, Some(&waiting), Some(&waiting), "s"),
            Decision::Wait {
                user: waiting.clone(),
                bind: false
            }
        );
    }
}
