//! The user operations. Every one names the account it acts in and treats a user of
//! another account as absent; creation keeps `accounts::add_by_hand`'s domain rule.
//!
//! An account keeps an administrator who can sign in: no change through the API, SCIM or
//! the console may take the admin flag from, disable or delete the last active admin
//! (409), and a signed-in administrator cannot do any of that to themselves (403), so a
//! slip in the console cannot lock them out. The operator's CLI is exempt: it is how an
//! account without a reachable admin is repaired.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::{Actor, AdminError, record};
use crate::accounts::{self, ImportSummary, NewUser, Status, User, UserPage, UserQuery, UserStore};
use crate::audit::AuditLog;
use crate::discovery::{Email, Tenant};

/// Most users one [`Users::list`] page holds.
pub const MAX_PAGE: u32 = 500;

/// Longest reason a Waiting Room denial keeps (it goes into the audit log).
pub const MAX_REASON_CHARS: usize = 500;

/// A change of one user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// `active` or `disabled` (`waiting` is where JIT puts people, not a choice).
    pub status: Option<Status>,
    /// Administrator of the account.
    pub admin: Option<bool>,
    /// Display name.
    pub name: Option<String>,
    /// Provisioning id: `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
}

/// What the audit log keeps of a user: never the password hash.
fn snapshot(u: &User) -> serde_json::Value {
    json!({
        "id": u.id,
        "email": u.email.as_str(),
        "name": u.name,
        "status": u.status.as_str(),
        "admin": u.admin,
        "origin": u.origin.as_str(),
        "external_id": u.external_id,
    })
}

/// The user operations.
#[derive(Clone)]
pub struct Users {
    store: Arc<dyn UserStore>,
    audit: AuditLog,
}

impl Users {
    /// The operations over `store`, recording changes in `audit`.
    pub fn new(store: Arc<dyn UserStore>, audit: AuditLog) -> Self {
        Self { store, audit }
    }

    /// The store under the operations, for reads that are not management (logins).
    pub fn store(&self) -> &Arc<dyn UserStore> {
        &self.store
    }

    /// Refuses a change that leaves `before` (an active admin until now) without active
    /// admin rights when `actor` is that admin, or when no other active admin remains.
    async fn keep_an_admin(
        &self,
        actor: &Actor,
        before: &User,
        keeps_rights: bool,
    ) -> Result<(), AdminError> {
        if keeps_rights || !before.admin || before.status != Status::Active {
            return Ok(());
        }
        match actor {
            Actor::Cli => return Ok(()),
            Actor::User(me) if accounts::email_key(me) == accounts::email_key(&before.email) => {
                return Err(AdminError::Forbidden(format!(
                    "{me} cannot remove their own administrator rights, disable or delete \
                     themselves; another administrator can"
                )));
            }
            Actor::User(_) | Actor::Token(_) => {}
        }
        let admins = UserQuery {
            status: Some(Status::Active),
            admin: Some(true),
            limit: 2,
            ..UserQuery::default()
        };
        if self.store.page(&before.account, &admins).await?.total <= 1 {
            return Err(AdminError::Conflict(format!(
                "{} is the last administrator of account {}; make another user an \
                 administrator first",
                before.email, before.account
            )));
        }
        Ok(())
    }

    async fn change(
        &self,
        actor: &Actor,
        action: &str,
        before: Option<&User>,
        after: &User,
    ) -> Result<(), AdminError> {
        record(
            &self.audit,
            actor,
            Some(&after.account),
            action,
            after.email.as_str(),
            before.map(snapshot),
            Some(snapshot(after)),
        )
        .await
    }

    /// Creates an active, pre-provisioned user of `tenant` with `password` (none: an SSO
    /// user): the address must be of the tenant's domains.
    pub async fn create(
        &self,
        actor: &Actor,
        tenant: &Tenant,
        new: NewUser,
        password: Option<&str>,
    ) -> Result<User, AdminError> {
        if new.account != tenant.account {
            return Err(AdminError::Invalid(format!(
                "the user is of account {}, not {}",
                new.account, tenant.account
            )));
        }
        let user = accounts::add_by_hand(self.store.as_ref(), tenant, new, password).await?;
        self.change(actor, "user_added", None, &user).await?;
        Ok(user)
    }

    /// The user `id` of `account`.
    pub async fn get(&self, account: &str, id: i64) -> Result<User, AdminError> {
        self.store
            .by_id(id)
            .await?
            .filter(|u| u.account == account)
            .ok_or_else(|| AdminError::NotFound(format!("user {id} in account {account}")))
    }

    /// The user of `account` with this email.
    pub async fn by_email(&self, account: &str, email: &Email) -> Result<User, AdminError> {
        self.store
            .by_email(account, email)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("{email} in account {account}")))
    }

    /// One page of `account`'s users; a limit above [`MAX_PAGE`] is lowered to it.
    pub async fn list(&self, account: &str, query: &UserQuery) -> Result<UserPage, AdminError> {
        let mut query = query.clone();
        query.limit = query.limit.min(MAX_PAGE);
        Ok(self.store.page(account, &query).await?)
    }

    /// Applies `patch` to the user `id` of `account`.
    pub async fn patch(
        &self,
        actor: &Actor,
        account: &str,
        id: i64,
        patch: &UserPatch,
    ) -> Result<User, AdminError> {
        if patch.status == Some(Status::Waiting) {
            return Err(AdminError::Invalid(
                "status is active or disabled; waiting is set by just-in-time logins".into(),
            ));
        }
        let before = self.get(account, id).await?;
        let keeps_rights = patch.admin.unwrap_or(before.admin)
            && patch.status.unwrap_or(before.status) == Status::Active;
        self.keep_an_admin(actor, &before, keeps_rights).await?;
        if patch.name.is_some() || patch.admin.is_some() {
            let name = patch.name.as_deref().unwrap_or(&before.name);
            self.store
                .set_profile(id, name, patch.admin.unwrap_or(before.admin))
                .await?;
        }
        if let Some(external_id) = &patch.external_id {
            self.store
                .set_external_id(id, external_id.as_deref())
                .await?;
        }
        if let Some(status) = patch.status {
            self.store
                .set_status(account, &before.email, status)
                .await?;
        }
        let after = self.get(account, id).await?;
        let action = match patch.status {
            Some(Status::Disabled) if before.status != Status::Disabled => "user_disabled",
            _ => "user_changed",
        };
        self.change(actor, action, Some(&before), &after).await?;
        Ok(after)
    }

    /// Removes the user `id` of `account`.
    pub async fn delete(&self, actor: &Actor, account: &str, id: i64) -> Result<(), AdminError> {
        let before = self.get(account, id).await?;
        self.keep_an_admin(actor, &before, false).await?;
        if !self.store.delete(id).await? {
            return Err(AdminError::NotFound(format!(
                "user {id} in account {account}"
            )));
        }
        record(
            &self.audit,
            actor,
            Some(account),
            "user_deleted",
            before.email.as_str(),
            Some(snapshot(&before)),
            None,
        )
        .await
    }

    /// Lets a user of the Waiting Room in. Approving an active user succeeds and is
    /// recorded (a double click, or the CLI's `user approve` as it always worked); a
    /// disabled user is re-enabled by a patch, deliberately, not by this button.
    pub async fn approve(&self, actor: &Actor, account: &str, id: i64) -> Result<User, AdminError> {
        let before = self.get(account, id).await?;
        if before.status == Status::Disabled {
            return Err(AdminError::Conflict(format!(
                "{} is disabled, not waiting; set its status to active to re-enable it",
                before.email
            )));
        }
        let after = self
            .store
            .set_status(account, &before.email, Status::Active)
            .await?;
        self.change(actor, "user_approved", Some(&before), &after)
            .await?;
        Ok(after)
    }

    /// Turns a user of the Waiting Room away: they are disabled (so their next sign-in is
    /// refused rather than queued again), and `reason`, if any, is kept in the audit log.
    /// Only a waiting user can be denied: an active one is disabled by a patch.
    pub async fn deny(
        &self,
        actor: &Actor,
        account: &str,
        id: i64,
        reason: &str,
    ) -> Result<User, AdminError> {
        let reason = reason.trim();
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(AdminError::Invalid(format!(
                "the reason has more than {MAX_REASON_CHARS} characters"
            )));
        }
        let before = self.get(account, id).await?;
        if before.status != Status::Waiting {
            return Err(AdminError::Conflict(format!(
                "{} is {}, not waiting",
                before.email, before.status
            )));
        }
        let after = self
            .store
            .set_status(account, &before.email, Status::Disabled)
            .await?;
        let mut recorded = snapshot(&after);
        if !reason.is_empty() {
            recorded["reason"] = json!(reason);
        }
        record(
            &self.audit,
            actor,
            Some(account),
            "user_denied",
            after.email.as_str(),
            Some(snapshot(&before)),
            Some(recorded),
        )
        .await?;
        Ok(after)
    }

    /// Imports a CSV of users (columns email, name, admin, account): `owner` gives the
    /// account owning an email's domain; with `only`, every row must be of that account
    /// (the API of one tenant). `source` names the file in the audit log.
    pub async fn import(
        &self,
        actor: &Actor,
        source: &str,
        csv_text: &str,
        owner: &(dyn Fn(&Email) -> Option<String> + Sync),
        only: Option<&str>,
    ) -> Result<ImportSummary, AdminError> {
        let summary =
            accounts::import_csv(self.store.as_ref(), csv_text, owner, only, Utc::now()).await?;
        record(
            &self.audit,
            actor,
            only,
            "users_imported",
            source,
            None,
            Some(json!({
                "created": summary.created,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "errors": summary.errors.len(),
            })),
        )
        .await?;
        Ok(summary)
    }
}
