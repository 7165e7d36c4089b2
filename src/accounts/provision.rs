//! Users an operator adds (`realmgate user add`, the API, SCIM) or renames by hand: what
//! the input must satisfy before a user exists under an address.

use super::{AccountsError, NewUser, Passwords, User, UserStore};
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
pub async fn rename(
    store: &dyn UserStore,
    tenant: &Tenant,
    id: i64,
    email: &Email,
) -> Result<(), AccountsError> {
    owned(tenant, email)?;
    store.set_email(id, email).await
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
