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
use crate::accounts::{
    self, ImportSummary, NameParts, NewUser, Status, User, UserEmail, UserPage, UserQuery,
    UserStore,
};
use crate::audit::AuditLog;
use crate::discovery::{Email, Tenant};
use crate::i18n::Lang;
use crate::mail::{Invitation, Outreach};
use crate::session::{LinkClaim, Links, Purpose, links::INVITE_TTL};

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
    /// Parts of the name (SCIM `name`).
    pub name_parts: Option<NameParts>,
    /// Email addresses as the provisioning client keeps them (SCIM `emails`).
    pub emails: Option<Vec<UserEmail>>,
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
        "name_parts": {
            "given": u.name_parts.given,
            "family": u.name_parts.family,
            "formatted": u.name_parts.formatted,
        },
        "emails": u.emails,
    })
}

/// The user operations.
#[derive(Clone)]
pub struct Users {
    store: Arc<dyn UserStore>,
    audit: AuditLog,
    /// Mail to the people concerned, and the one-time links of invitations. None where
    /// nobody is to be mailed (the CLI's one-off commands); invitations then refuse.
    mail: Option<(Outreach, Links)>,
}

impl Users {
    /// The operations over `store`, recording changes in `audit`.
    pub fn new(store: Arc<dyn UserStore>, audit: AuditLog) -> Self {
        Self {
            store,
            audit,
            mail: None,
        }
    }

    /// The same operations, mailing people through `outreach` (invitations, approvals,
    /// denials) and issuing set-password links in `links`.
    pub fn with_mail(mut self, outreach: Outreach, links: Links) -> Self {
        self.mail = Some((outreach, links));
        self
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
            Actor::User(_) | Actor::Token(_) | Actor::Gateway => {}
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

    /// Gives the user `id` of `tenant` the login address `email` (of the tenant's domains,
    /// not another user's). The IdP subject the user is bound to stays, so their next SSO
    /// login under the new address is still theirs.
    pub async fn rename(
        &self,
        actor: &Actor,
        tenant: &Tenant,
        id: i64,
        email: &Email,
    ) -> Result<User, AdminError> {
        let before = self.get(&tenant.account, id).await?;
        accounts::rename(self.store.as_ref(), tenant, id, email).await?;
        let after = self.get(&tenant.account, id).await?;
        self.change(actor, "user_renamed", Some(&before), &after)
            .await?;
        Ok(after)
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
        if patch.name_parts.is_some() || patch.emails.is_some() {
            let name_parts = patch.name_parts.as_ref().unwrap_or(&before.name_parts);
            let emails = patch.emails.as_deref().unwrap_or(&before.emails);
            self.store.set_details(id, name_parts, emails).await?;
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
        if before.status == Status::Waiting
            && let Some((outreach, _)) = &self.mail
        {
            let url = outreach.url(&format!("/{account}"));
            outreach.send_later(
                "approved",
                outreach.letters.decision(
                    &after.email,
                    outreach.letters.lang_for(after.lang),
                    account,
                    Ok(&url),
                ),
            );
        }
        Ok(after)
    }

    /// Turns a user of the Waiting Room away: the account is disabled (so the next SSO
    /// login does not put them back in the queue), the reason is kept in the audit log
    /// and mailed to them. Only a waiting user can be denied; others are disabled by a
    /// patch, deliberately.
    pub async fn deny(
        &self,
        actor: &Actor,
        account: &str,
        id: i64,
        reason: Option<&str>,
    ) -> Result<User, AdminError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > 500) {
            return Err(AdminError::Invalid(format!(
                "a reason has at most {MAX_REASON_CHARS} characters"
            )));
        }
        let before = self.get(account, id).await?;
        if before.status != Status::Waiting {
            return Err(AdminError::Conflict(format!(
                "{} is {}, not waiting; disable it instead",
                before.email, before.status
            )));
        }
        let after = self
            .store
            .set_status(account, &before.email, Status::Disabled)
            .await?;
        let mut after_snapshot = snapshot(&after);
        after_snapshot["reason"] = json!(reason);
        record(
            &self.audit,
            actor,
            Some(account),
            "user_denied",
            after.email.as_str(),
            Some(snapshot(&before)),
            Some(after_snapshot),
        )
        .await?;
        if let Some((outreach, _)) = &self.mail {
            outreach.send_later(
                "denied",
                outreach.letters.decision(
                    &after.email,
                    outreach.letters.lang_for(after.lang),
                    account,
                    Err(reason),
                ),
            );
        }
        Ok(after)
    }

    /// Invites `new.email` to `tenant`: creates the user when there is none (active,
    /// without a password, with `new`'s name, admin flag and origin) and mails the
    /// invitation in the user's own language when a sign-in of theirs has told it, else in
    /// `lang`: where to sign in for an SSO tenant, a one-time set-password link (7 days)
    /// for a password tenant. Inviting an existing user sends a new invitation and changes
    /// nothing of them; a disabled one is refused.
    pub async fn invite(
        &self,
        actor: &Actor,
        tenant: &Tenant,
        mut new: NewUser,
        lang: Lang,
    ) -> Result<User, AdminError> {
        let Some((outreach, links)) = &self.mail else {
            return Err(AdminError::Invalid(
                "invitations are sent by the running gateway (API or console)".into(),
            ));
        };
        let account = tenant.account.as_str();
        if new.account != tenant.account {
            return Err(AdminError::Invalid(format!(
                "the user is of account {}, not {}",
                new.account, tenant.account
            )));
        }
        let before = self.store.by_email(account, &new.email).await?;
        let user = match &before {
            Some(u) if u.status == Status::Disabled => {
                return Err(AdminError::Conflict(format!(
                    "{} is disabled; enable it before inviting it",
                    u.email
                )));
            }
            Some(u) => u.clone(),
            None => {
                new.name = new.name.trim().to_string();
                new.password_hash = None;
                accounts::add_by_hand(self.store.as_ref(), tenant, new, None).await?
            }
        };
        let invitation = if tenant.sso.is_some() {
            Invitation::SignIn(outreach.url(&format!("/{account}")))
        } else {
            let claim = LinkClaim {
                user_id: user.id,
                account: account.to_string(),
                purpose: Purpose::Invite,
                issued_at: Utc::now(),
            };
            let token = links
                .issue(&claim, INVITE_TTL)
                .await
                .map_err(AdminError::Store)?;
            Invitation::SetPassword(outreach.url(&format!("/password/set?token={token}")))
        };
        self.change(actor, "user_invited", before.as_ref(), &user)
            .await?;
        outreach.send_later(
            "invitation",
            outreach.letters.invitation(
                &user.email,
                user.lang.unwrap_or(lang),
                &tenant.name,
                &invitation,
            ),
        );
        Ok(user)
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
