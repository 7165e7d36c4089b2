//! Where the OAuth endpoints find a client: one [`ClientSource`], chosen at start-up. The
//! configuration's `[[oauth_clients]]` ([`Clients`]) come first, then the clients of the
//! management API in the users' database ([`Layered`]): the operator's word wins, as it
//! does for tenants, and the management operations refuse a `client_id` the configuration
//! holds.

use std::sync::Arc;

use async_trait::async_trait;

use super::OAuthError;
use crate::accounts::AccountsError;
use crate::accounts::clients::ClientStore;
use crate::config::OAuthClient;

/// A place registered clients come from.
#[async_trait]
pub trait ClientSource: Send + Sync {
    /// The client with this id, or [`OAuthError::InvalidClient`].
    async fn get(&self, client_id: &str) -> Result<Arc<OAuthClient>, OAuthError>;
    /// The clients that registered a back-channel logout URI.
    async fn with_backchannel(&self) -> Result<Vec<Arc<OAuthClient>>, OAuthError>;
}

/// The clients of the configuration.
#[derive(Debug, Clone, Default)]
pub struct Clients(Vec<Arc<OAuthClient>>);

impl Clients {
    /// The clients of the configuration.
    pub fn new(clients: Vec<OAuthClient>) -> Self {
        Self(clients.into_iter().map(Arc::new).collect())
    }

    /// The client with this id, if the configuration has it.
    pub fn find(&self, client_id: &str) -> Option<&Arc<OAuthClient>> {
        self.0.iter().find(|c| c.client_id == client_id)
    }
}

#[async_trait]
impl ClientSource for Clients {
    async fn get(&self, client_id: &str) -> Result<Arc<OAuthClient>, OAuthError> {
        self.find(client_id)
            .cloned()
            .ok_or(OAuthError::InvalidClient)
    }

    async fn with_backchannel(&self) -> Result<Vec<Arc<OAuthClient>>, OAuthError> {
        Ok(self
            .0
            .iter()
            .filter(|c| c.backchannel_logout_uri.is_some())
            .cloned()
            .collect())
    }
}

/// The configuration's clients over the management API's.
pub struct Layered {
    /// The operator's.
    pub files: Clients,
    /// The management API's, read through the store's short cache.
    pub database: ClientStore,
}

#[async_trait]
impl ClientSource for Layered {
    async fn get(&self, client_id: &str) -> Result<Arc<OAuthClient>, OAuthError> {
        if let Some(c) = self.files.find(client_id) {
            return Ok(c.clone());
        }
        match self.database.cached(client_id).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(OAuthError::InvalidClient),
            // A row that no longer passes the registration check authenticates nobody.
            Err(e @ AccountsError::BadClient { .. }) => {
                tracing::error!(error = %e, "a stored OAuth client is refused");
                Err(OAuthError::InvalidClient)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn with_backchannel(&self) -> Result<Vec<Arc<OAuthClient>>, OAuthError> {
        let mut all = self.files.with_backchannel().await?;
        for c in self.database.with_backchannel().await? {
            if self.files.find(&c.client_id).is_none() {
                all.push(c);
            }
        }
        Ok(all)
    }
}
