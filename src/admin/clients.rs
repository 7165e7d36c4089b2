//! The OAuth / OpenID Connect client operations of the management API: list, create,
//! change, delete, and rotate a client's secret. A client is checked by the same
//! `OAuthClient::problems` as an `[[oauth_clients]]` entry (and its account must be a
//! tenant), applied whole or not at all, and recorded with before and after, never with its
//! secret or the secret's hash. The secret is generated here and answered once; only its
//! hash (the one `realmgate client secret` prints) is stored.
//!
//! Reach: the operator's token sees every client; an account's token only the clients
//! bound to that account (`account`), and any other client is answered exactly like an
//! absent one. Clients of the configuration are the operator's: readable, and any change to
//! one is [`AdminError::ClientInFile`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Actor, AdminError, record, tenants::merge_patch};
use crate::accounts::AccountsError;
use crate::accounts::clients::{ClientStore, StoredClient};
use crate::audit::AuditLog;
use crate::config::OAuthClient;
use crate::discovery::Discovery;
use crate::discovery::tenant::is_account_slug;

/// A client's registration as the management API takes it: the keys of an
/// `[[oauth_clients]]` entry, with the secret asked for rather than given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientFields {
    /// The `client_id` the app sends; generated when absent. Cannot change.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Exact redirect URIs; loopback URIs match on any port (RFC 8252 section 7.3).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Public keys of a `private_key_jwt` client (a JWK Set, RFC 7517).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<jsonwebtoken::jwk::JwkSet>,
    /// Grants the client may use; when empty, those of a native app and device connector.
    /// `client_credentials` is never implied.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Where `end_session_endpoint` may send the browser after logout, matched exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where a logout token is POSTed when a session the client got an ID token from ends.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// The tenant the client belongs to; a `client_credentials` client acts for it. An
    /// account's token may only name its own account (the default for it).
    #[serde(default)]
    pub account: Option<String>,
    /// At creation: generate a client secret (`client_secret_basic` or
    /// `client_secret_post`), answered once. Later, `POST .../secret` rotates it. Never in
    /// an answer (a stored client's fields hold `false`, left out).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// Where a client is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientSourceKind {
    /// `[[oauth_clients]]` of the configuration: read-only here.
    File,
    /// The management API's, in the users' database.
    Database,
}

/// A client as the management API and the audit log show it: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ManagedClient {
    /// The registration (`client_id` always set).
    #[serde(flatten)]
    pub fields: ClientFields,
    /// Whether the client authenticates with a secret.
    pub has_secret: bool,
    /// `file` (read-only) or `database`.
    pub source: ClientSourceKind,
    /// When it was created (database clients).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<DateTime<Utc>>,
    /// When it last changed (database clients).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl ManagedClient {
    /// The client of the configuration `c`.
    fn file(c: &OAuthClient) -> Self {
        Self {
            fields: fields_of(c),
            has_secret: c.client_secret_hash.is_some(),
            source: ClientSourceKind::File,
            created_at: None,
            updated_at: None,
        }
    }

    fn stored(s: &StoredClient) -> Self {
        Self {
            fields: fields_of(&s.client),
            has_secret: s.client.client_secret_hash.is_some(),
            source: ClientSourceKind::Database,
            created_at: Some(s.created_at),
            updated_at: Some(s.updated_at),
        }
    }

    /// The `client_id`.
    pub fn client_id(&self) -> &str {
        self.fields.client_id.as_deref().unwrap_or_default()
    }
}

/// The client operations.
pub struct ClientAdmin {
    store: ClientStore,
    /// The configuration's `[[oauth_clients]]`.
    files: Vec<OAuthClient>,
    /// Where a client's account is checked to be a tenant.
    discovery: Arc<Discovery>,
    audit: AuditLog,
}

/// Whether a token bound to `scope` (`None`: the operator's) reaches `client`.
fn reaches(scope: Option<&str>, client: &OAuthClient) -> bool {
    scope.is_none_or(|a| client.account.as_deref() == Some(a))
}

fn absent(client_id: &str) -> AdminError {
    AdminError::NotFound(format!("client {client_id}"))
}

impl ClientAdmin {
    /// The operations over `store`, beside the configuration's `files`.
    pub fn new(
        store: ClientStore,
        files: Vec<OAuthClient>,
        discovery: Arc<Discovery>,
        audit: AuditLog,
    ) -> Self {
        Self {
            store,
            files,
            discovery,
            audit,
        }
    }

    fn file_client(&self, client_id: &str) -> Option<&OAuthClient> {
        self.files.iter().find(|c| c.client_id == client_id)
    }

    /// The clients `scope` reaches (configuration, then database), by `client_id`.
    pub async fn list(&self, scope: Option<&str>) -> Result<Vec<ManagedClient>, AdminError> {
        let mut all: Vec<ManagedClient> = self
            .files
            .iter()
            .filter(|c| reaches(scope, c))
            .map(ManagedClient::file)
            .collect();
        for s in self.store.list(scope).await? {
            if self.file_client(&s.client.client_id).is_none() {
                all.push(ManagedClient::stored(&s));
            }
        }
        all.sort_by(|a, b| a.client_id().cmp(b.client_id()));
        Ok(all)
    }

    /// The client `client_id`, if `scope` reaches it.
    pub async fn get(
        &self,
        scope: Option<&str>,
        client_id: &str,
    ) -> Result<ManagedClient, AdminError> {
        if let Some(c) = self.file_client(client_id) {
            return if reaches(scope, c) {
                Ok(ManagedClient::file(c))
            } else {
                Err(absent(client_id))
            };
        }
        self.store
            .get(client_id)
            .await?
            .filter(|s| reaches(scope, &s.client))
            .map(|s| ManagedClient::stored(&s))
            .ok_or_else(|| absent(client_id))
    }

    /// The database client `client_id` that `scope` may change.
    async fn writable(
        &self,
        scope: Option<&str>,
        client_id: &str,
    ) -> Result<StoredClient, AdminError> {
        if let Some(c) = self.file_client(client_id) {
            return Err(if reaches(scope, c) {
                AdminError::ClientInFile(client_id.to_string())
            } else {
                absent(client_id)
            });
        }
        self.store
            .get(client_id)
            .await?
            .filter(|s| reaches(scope, &s.client))
            .ok_or_else(|| absent(client_id))
    }

    /// Creates a client from `fields`; answers it and, when asked for, its new secret
    /// (the only time it is shown).
    pub async fn create(
        &self,
        actor: &Actor,
        scope: Option<&str>,
        mut fields: ClientFields,
    ) -> Result<(ManagedClient, Option<String>), AdminError> {
        if let Some(a) = scope {
            match &fields.account {
                None => fields.account = Some(a.to_string()),
                Some(b) if b != a => return Err(AdminError::NotFound(format!("account {b}"))),
                Some(_) => {}
            }
        }
        let client_id = fields
            .client_id
            .clone()
            .unwrap_or_else(crate::secrets::random_token);
        if self.file_client(&client_id).is_some() {
            return Err(AdminError::ClientInFile(client_id));
        }
        let secret = fields.secret.then(crate::secrets::random_token);
        let client = registration(
            client_id,
            fields,
            secret.as_deref().map(crate::secrets::secret_hash),
        );
        self.check(&client).await?;
        let stored = self.store.insert(&client).await.map_err(|e| match e {
            AccountsError::ClientTaken(id) => {
                AdminError::Conflict(format!("client_id {id:?} is taken"))
            }
            e => e.into(),
        })?;
        let after = ManagedClient::stored(&stored);
        self.record(actor, "client_added", None, Some(&after))
            .await?;
        Ok((after, secret))
    }

    /// Applies `merge` (a JSON Merge Patch, RFC 7396, over the client's [`ClientFields`]:
    /// `null` removes a key) to the database client `client_id`. Its secret stays.
    pub async fn patch(
        &self,
        actor: &Actor,
        scope: Option<&str>,
        client_id: &str,
        merge: serde_json::Value,
    ) -> Result<ManagedClient, AdminError> {
        let before = self.writable(scope, client_id).await?;
        if merge.get("secret").is_some() {
            return Err(AdminError::InvalidClient(vec![
                "secret cannot be patched: rotate it with POST /api/v1/clients/{client_id}/secret"
                    .into(),
            ]));
        }
        let mut fields = serde_json::to_value(fields_of(&before.client))
            .map_err(|e| AdminError::Corrupt(format!("client {client_id}: {e}")))?;
        merge_patch(&mut fields, merge);
        let fields: ClientFields = serde_json::from_value(fields)
            .map_err(|e| AdminError::InvalidClient(vec![e.to_string()]))?;
        if fields.client_id.as_deref() != Some(client_id) {
            return Err(AdminError::InvalidClient(vec![
                "client_id names the client and cannot change".into(),
            ]));
        }
        if let Some(a) = scope
            && fields.account.as_deref() != Some(a)
        {
            return Err(AdminError::InvalidClient(vec![format!(
                "account must stay {a:?}: this token reaches that account only"
            )]));
        }
        let client = registration(
            client_id.to_string(),
            fields,
            before.client.client_secret_hash.clone(),
        );
        self.replace(actor, "client_changed", &before, &client)
            .await
    }

    /// Gives the database client `client_id` a new secret, answered once; the old one is
    /// refused from now on (at once here, within the lookup cache's second elsewhere).
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        scope: Option<&str>,
        client_id: &str,
    ) -> Result<(ManagedClient, String), AdminError> {
        let before = self.writable(scope, client_id).await?;
        let secret = crate::secrets::random_token();
        let mut client = before.client.clone();
        client.client_secret_hash = Some(crate::secrets::secret_hash(&secret));
        let after = self
            .replace(actor, "client_secret_rotated", &before, &client)
            .await?;
        Ok((after, secret))
    }

    /// Deletes the database client `client_id`: its next token request is refused.
    pub async fn delete(
        &self,
        actor: &Actor,
        scope: Option<&str>,
        client_id: &str,
    ) -> Result<(), AdminError> {
        let before = self.writable(scope, client_id).await?;
        if !self.store.delete(client_id).await? {
            return Err(absent(client_id));
        }
        self.record(
            actor,
            "client_deleted",
            Some(&ManagedClient::stored(&before)),
            None,
        )
        .await
    }

    /// Checks `client` and writes it over `before`, recording `action`; answers it as
    /// stored now.
    async fn replace(
        &self,
        actor: &Actor,
        action: &str,
        before: &StoredClient,
        client: &OAuthClient,
    ) -> Result<ManagedClient, AdminError> {
        self.check(client).await?;
        if !self.store.update(client).await? {
            return Err(absent(&client.client_id));
        }
        let after = self.get(None, &client.client_id).await?;
        self.record(
            actor,
            action,
            Some(&ManagedClient::stored(before)),
            Some(&after),
        )
        .await?;
        Ok(after)
    }

    /// Every problem of `client`: the configuration's check, and its account a tenant.
    async fn check(&self, client: &OAuthClient) -> Result<(), AdminError> {
        let mut problems = client.problems();
        if let Some(account) = &client.account
            && (!is_account_slug(account)
                || self
                    .discovery
                    .directory
                    .by_account(account)
                    .await?
                    .is_none())
        {
            problems.push(format!(
                "client {:?}: account {account:?} is not a tenant",
                client.client_id
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AdminError::InvalidClient(problems))
        }
    }

    async fn record(
        &self,
        actor: &Actor,
        action: &str,
        before: Option<&ManagedClient>,
        after: Option<&ManagedClient>,
    ) -> Result<(), AdminError> {
        let Some(one) = after.or(before) else {
            return Ok(());
        };
        let snapshot = |c: &ManagedClient| serde_json::to_value(c).ok();
        record(
            &self.audit,
            actor,
            one.fields.account.as_deref(),
            action,
            one.client_id(),
            before.and_then(snapshot),
            after.and_then(snapshot),
        )
        .await
    }
}

/// The registration `fields` describe, with the secret hash it keeps or gets.
fn registration(
    client_id: String,
    fields: ClientFields,
    client_secret_hash: Option<String>,
) -> OAuthClient {
    OAuthClient {
        client_id,
        redirect_uris: fields.redirect_uris,
        client_secret_hash,
        jwks: fields.jwks,
        grant_types: fields.grant_types,
        post_logout_redirect_uris: fields.post_logout_redirect_uris,
        backchannel_logout_uri: fields.backchannel_logout_uri,
        account: fields.account,
    }
}

/// The fields of a stored client, to patch and check again.
fn fields_of(c: &OAuthClient) -> ClientFields {
    ClientFields {
        client_id: Some(c.client_id.clone()),
        redirect_uris: c.redirect_uris.clone(),
        jwks: c.jwks.clone(),
        grant_types: c.grant_types.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        account: c.account.clone(),
        secret: false,
    }
}
