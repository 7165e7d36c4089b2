//! Who may use an account's admin console, and when a change there needs a fresh sign-in.
//! The web guard asks [`Users::console_admin`] on every console request: the user is read
//! afresh, not from the session's copy, so an admin who is demoted or disabled loses the
//! console on their next click.

use chrono::{DateTime, Duration, Utc};

use super::{Actor, AdminError, Users};
use crate::accounts::{Status, User};
use crate::session::Session;

/// How recent a sign-in must be for a sensitive change (SSO settings, domains, admin
/// rights): a session left open on a shared computer for an hour can still read the
/// console, but cannot hand the account to someone else.
pub const RECENT_SIGN_IN_MINUTES: i64 = 15;

/// An active administrator of one account, signed in: who the console acts for.
#[derive(Debug, Clone)]
pub struct ConsoleAdmin {
    /// The administrator as stored now.
    pub user: User,
    /// When they signed in (the session's creation: every login opens a new session).
    pub signed_in_at: DateTime<Utc>,
}

impl ConsoleAdmin {
    /// Who the audit log names: `user:<email>`.
    pub fn actor(&self) -> Actor {
        Actor::User(self.user.email.clone())
    }

    /// Refuses a sensitive change unless the sign-in is at most
    /// [`RECENT_SIGN_IN_MINUTES`] old at `now` ([`AdminError::StaleSignIn`]). A sign-in
    /// dated in the future (a clock stepped back) counts as stale: the check fails closed.
    pub fn require_recent_sign_in(&self, now: DateTime<Utc>) -> Result<(), AdminError> {
        let age = now - self.signed_in_at;
        if age >= Duration::zero() && age <= Duration::minutes(RECENT_SIGN_IN_MINUTES) {
            Ok(())
        } else {
            Err(AdminError::StaleSignIn {
                minutes: age.num_minutes(),
            })
        }
    }
}

impl Users {
    /// The administrator of `account` that `session` signs in, or
    /// [`AdminError::NotAdmin`]: a session of another account (whatever the rights there),
    /// a user who is gone, not active or not an admin. The same refusal for all, so the
    /// console of an account nobody may see tells nothing about it.
    pub async fn console_admin(
        &self,
        session: &Session,
        account: &str,
    ) -> Result<ConsoleAdmin, AdminError> {
        let refuse = |why: &str| {
            AdminError::NotAdmin(format!(
                "{} (account {}) may not administer account {account}: {why}",
                session.email, session.account
            ))
        };
        if session.account != account {
            return Err(refuse("signed in to another account"));
        }
        let user = self
            .store()
            .by_id(session.user_id)
            .await?
            .filter(|u| u.account == account)
            .ok_or_else(|| refuse("no such user"))?;
        if user.status != Status::Active {
            return Err(refuse("not active"));
        }
        if !user.admin {
            return Err(refuse("not an administrator"));
        }
        Ok(ConsoleAdmin {
            user,
            signed_in_at: session.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Origin;
    use crate::discovery::Email;

    fn admin(signed_in_at: DateTime<Utc>) -> ConsoleAdmin {
        ConsoleAdmin {
            user: User {
                id: 1,
                account: "contoso".into(),
                email: Email::parse("ann@contoso.com").unwrap(),
                name: String::new(),
                status: Status::Active,
                password_hash: None,
                admin: true,
                origin: Origin::Cli,
                subject: None,
                created_at: signed_in_at,
                last_login_at: None,
                external_id: None,
                name_parts: Default::default(),
                emails: Vec::new(),
                lang: None,
            },
            signed_in_at,
        }
    }

    #[test]
    fn sensitive_changes_need_a_sign_in_of_the_last_15_minutes() {
        let now = Utc::now();
        assert!(admin(now).require_recent_sign_in(now).is_ok());
        let edge = now - Duration::minutes(RECENT_SIGN_IN_MINUTES);
        assert!(admin(edge).require_recent_sign_in(now).is_ok());
        let stale = edge - Duration::seconds(1);
        assert!(matches!(
            admin(stale).require_recent_sign_in(now),
            Err(AdminError::StaleSignIn { minutes: 15 })
        ));
        let future = now + Duration::minutes(1);
        assert!(admin(future).require_recent_sign_in(now).is_err());
        assert_eq!(admin(now).actor().to_string(), "user:ann@contoso.com");
    }
}
