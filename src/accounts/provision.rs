//! Users an operator adds (`realmgate user add`, the API, SCIM) or renames by hand: what
//! the input must satisfy before a user exists under an address.

use super::{AccountsError, NewUser, Passwords, User, UserEmail, UserStore};
use crate::discovery::{Email, Tenant};

/// Shortest password accepted for a user added by hand.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Adds `new` (of `tenant`'s account) with `password` (none: an SSO-only user, or one who never gets
/// a password). The address must be of one of the tenant's domains: a user of another
/// domain could never be routed here by discovery, and would be a way around the tenant's
/// IdP.
pub async fn add_by_hand(
    store: &dyn UserStore,
    tenant: &Tenant,
    mut new: NewUser,
    password: Option<&str>,
) -> Result<User, AccountsError> {
    owned(tenant, &new.email)?;
    if let Some(password) = password {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AccountsError::WeakPassword);
        }
        new.password_hash = Some(Passwords::new()?.hash(password).await?);
    }
    store.add(new).await
}

/// Gives the user `id` of `tenant` the address `email`, which must be of the tenant's
/// domains like any address made by hand: a rename must not move a login out of the
/// tenant (or into another's domain, where that tenant's IdP would vouch for it).
///
/// The user's `emails` stay in step with the login address: an entry that was the old
/// address becomes the new one (the login address is the user's primary work email until a
/// provisioning client says otherwise); the others are the client's and stay as they are.
pub async fn rename(
    store: &dyn UserStore,
    tenant: &Tenant,
    id: i64,
    email: &Email,
) -> Result<(), AccountsError> {
    owned(tenant, email)?;
    let before = store
        .by_id(id)
        .await?
        .ok_or_else(|| AccountsError::NotFound(format!("user id {id}")))?;
    store.set_email(id, email).await?;
    let old = before.email.as_str();
    if before
        .emails
        .iter()
        .any(|e| e.value.eq_ignore_ascii_case(old))
    {
        let emails: Vec<UserEmail> = before
            .emails
            .into_iter()
            .map(|mut e| {
                if e.value.eq_ignore_ascii_case(old) {
                    e.value = email.as_str().to_string();
                }
                e
            })
            .collect();
        store.set_details(id, &before.name_parts, &emails).await?;
    }
    Ok(())
}

fn owned(tenant: &Tenant, email: &Email) -> Result<(), AccountsError> {
    if tenant.owns_domain(email.domain()) {
        return Ok(());
    }
    Err(AccountsError::ForeignDomain {
        account: tenant.account.clone(),
        domain: email.domain().to_string(),
        domains: tenant.domains.join(", "),
    })
}
