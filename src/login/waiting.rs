//! The notice to an account's administrators that someone entered its Waiting Room, to
//! each in their own language (that of their last sign-in; the default before one).
//!
//! Sent at most once a day per waiting user (a person retrying the login does not flood
//! the admins), from a task of its own: the login that put the person in the Waiting
//! Room answers at once, whatever the mail does.

use std::sync::Arc;
use std::time::Duration;

use super::Login;
use crate::accounts::{Status, User};
use crate::discovery::Tenant;

/// How long one waiting user's notice holds back the next.
const NOTICE_EVERY: Duration = Duration::from_secs(24 * 3600);

impl Login {
    /// Mails `tenant`'s active administrators that `user` waits for approval.
    pub(super) fn notify_waiting(&self, tenant: Arc<Tenant>, user: User) {
        let (store, users, outreach) = (
            self.store.clone(),
            self.users.clone(),
            self.outreach.clone(),
        );
        tokio::spawn(async move {
            let first = store
                .put_if_absent(
                    &format!("waiting-notice:{}", user.id),
                    vec![1],
                    NOTICE_EVERY,
                )
                .await;
            match first {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(account = %tenant.account, user_id = user.id, reason = %e, "Waiting Room notice not sent");
                    return;
                }
            }
            let admins = match users
                .list(Some(&tenant.account), Some(Status::Active))
                .await
            {
                Ok(users) => users.into_iter().filter(|u| u.admin).collect::<Vec<_>>(),
                Err(e) => {
                    tracing::warn!(account = %tenant.account, user_id = user.id, reason = %e, "Waiting Room notice not sent");
                    return;
                }
            };
            if admins.is_empty() {
                tracing::info!(account = %tenant.account, user_id = user.id, "Waiting Room notice: the account has no active administrator to tell");
            }
            let url = outreach.url(&format!("/{}/admin", tenant.account));
            for admin in admins {
                outreach.send_later(
                    "waiting_room",
                    outreach.letters.waiting_room(
                        &admin.email,
                        outreach.letters.lang_for(admin.lang),
                        &tenant.name,
                        &user.email,
                        &url,
                    ),
                );
            }
        });
    }
}
