//! Users an operator adds by hand (`realmgate user add`): what the input must satisfy
//! before a user exists.

use super::{AccountsError, NewUser, Passwords, User, UserStore};
use crate::discovery::Tenant;

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
    if !tenant.owns_domain(new.email.domain()) {
        return Err(AccountsError::ForeignDomain {
            account: tenant.account.clone(),
            domain: new.email.domain().to_string(),
            domains: tenant.domains.join(", "),
        });
    }
    if let Some(password) = password {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AccountsError::WeakPassword);
        }
        new.password_hash = Some(Passwords::new()?.hash(password).await?);
    }
    store.add(new).await
}
