//! Service clients (RFC 6749 §4.4 `client_credentials`): an MFP in shared-account
//! ("device login") mode or a back-end job signs in as itself, not as a person. Its token's
//! `sub` is the client and its `account` the one tenant the registration binds it to, so
//! the printer is that tenant's device, and the tenant's `device_allowlist` applies as to
//! every other device endpoint.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::config::OAuthClient;
use crate::login::LoginError;

use super::device::{DeviceError, Devices, check_allowlist};
use super::{OAuthError, TokenResponse, keys::ACCESS_TTL_SECS};

impl Devices {
    /// Tokens for `client` (authenticated, and listing `client_credentials`), if its
    /// tenant still exists and allows `client_ip`. No refresh token: the client can ask
    /// again with its credentials, and a refresh token would outlive a rotated secret.
    pub async fn service_token(
        &self,
        client: &OAuthClient,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, DeviceError> {
        let account = client
            .account
            .as_deref()
            .ok_or(OAuthError::UnauthorizedClient(
                "a client_credentials client must be bound to an account",
            ))?;
        // A tenant removed since the client was registered has no devices any more.
        let tenant = self
            .login
            .discovery
            .directory
            .by_account(account)
            .await
            .map_err(LoginError::from)?
            .ok_or(OAuthError::UnauthorizedClient(
                "the client's account is not a tenant",
            ))?;
        check_allowlist(&tenant, client_ip)?;
        let oauth = &self.oauth;
        let access_token =
            oauth
                .keys
                .service_token(&oauth.issuer, &client.client_id, account, now)?;
        tracing::info!(target: "audit", event = "service_token", client_id = %client.client_id, account, ip = %client_ip);
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: ACCESS_TTL_SECS,
            refresh_token: None,
            id_token: None,
        })
    }
}
