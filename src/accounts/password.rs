//! Local passwords: Argon2id with the OWASP parameters (m = 19456 KiB, t = 2, p = 1).
//!
//! Hashing costs tens of milliseconds of CPU and 19 MiB of memory on purpose, so it runs
//! on the blocking thread pool (never on an async worker, where it would stall every other
//! request) and behind a semaphore sized to one less than the CPU count, so a burst of logins queues
//! instead of exhausting memory. Passwords are never logged nor put in errors.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::AccountsError;

/// OWASP Password Storage Cheat Sheet, Argon2id option 2: memory in KiB.
pub const M_COST: u32 = 19_456;
/// Iterations.
pub const T_COST: u32 = 2;
/// Parallelism.
pub const P_COST: u32 = 1;

/// Hashes and verifies passwords. Clone it freely: clones share the semaphore.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified when there is no real hash (unknown user, SSO
    /// user) so that a failed login costs the same time whether or not the user exists.
    dummy: Arc<str>,
}

impl Passwords {
    /// Hashing with the OWASP parameters. Computes the dummy hash once, so call this at
    /// start-up, not per request.
    pub fn new() -> Result<Self, AccountsError> {
        Self::with_params(M_COST, T_COST, P_COST)
    }

    /// Hashing with other parameters (the dummy hash uses them too, to keep timing equal).
    pub fn with_params(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, AccountsError> {
        let params = Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| AccountsError::Password(e.to_string()))?;
        // One core fewer than the machine has (at least one): a flood of logins then never
        // takes the CPU the async runtime needs for discovery, forward-auth and the ACS.
        let cpus =
            std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
        let secret = crate::secrets::random_bytes::<32>();
        let dummy = hash_with(&params, &secret)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(cpus)),
            dummy: dummy.into(),
        })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for `password`, with a random salt.
    pub async fn hash(&self, password: &str) -> Result<String, AccountsError> {
        let params = self.params.clone();
        let password = password.as_bytes().to_vec();
        self.blocking(move || hash_with(&params, &password)).await?
    }

    /// Whether `password` matches `hash`. With no hash (unknown user or SSO-only user) or an
    /// unreadable one, a dummy hash is verified instead and the answer is false: the same
    /// work in every case, so timing does not tell which accounts exist.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, AccountsError> {
        let (target, real) = match hash.filter(|h| PasswordHash::new(h).is_ok()) {
            Some(h) => (h.to_string(), true),
            None => {
                if hash.is_some() {
                    tracing::warn!("stored password hash is unreadable; treating as no password");
                }
                (self.dummy.to_string(), false)
            }
        };
        let password = password.as_bytes().to_vec();
        let matched = self
            .blocking(move || {
                PasswordHash::new(&target).is_ok_and(|parsed| {
                    Argon2::default()
                        .verify_password(&password, &parsed)
                        .is_ok()
                })
            })
            .await?;
        Ok(real && matched)
    }

    /// Whether `hash` was made with another algorithm or weaker/different parameters than
    /// the current ones, so a successful login should store a fresh hash.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return true;
        };
        if parsed.algorithm.as_str() != Algorithm::Argon2id.as_str()
            || parsed.version != Some(Version::V0x13.into())
        {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }

    /// Runs CPU-heavy `work` on the blocking pool once a permit is free.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountsError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| AccountsError::Password(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| AccountsError::Password(format!("hashing task failed: {e}")))
    }
}

fn hash_with(params: &Params, password: &[u8]) -> Result<String, AccountsError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| AccountsError::Password(e.to_string()))
}
