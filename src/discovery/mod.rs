//! Home-realm discovery: which tenant an email belongs to and what the person does next.
//! Owns the `Email` type, the tenant map and its sources.

pub mod email;
pub mod map;
pub mod tenant;

pub use email::{Email, EmailError};
pub use map::TenantMap;
pub use tenant::{JitPolicy, LoginHint, SsoSettings, Tenant};
