//! Whom tokens are about: in a file of its own because both the grants (which issue
//! tokens) and the signing keys (which put it in the access token) need it, and the
//! grants already use the keys.

use serde::{Deserialize, Serialize};

/// Whom tokens are about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Subject {
    /// The user's database id.
    pub user_id: i64,
    /// Email address.
    pub email: String,
    /// Tenant slug.
    pub account: String,
}
