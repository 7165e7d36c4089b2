//! OpenID Connect ID tokens (Core 1.0 §2, §3.1.3.6): what the sign-in behind a code says
//! about the person, signed with the same ES256 key as the access tokens, and the claims
//! `/oauth2/userinfo` answers (§5.3).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::{Status, User};

use super::keys::AccessClaims;
use super::{OAuth, OAuthError, TokenKeys};

/// How long an ID token is valid: the app checks it once, at sign-in.
pub const ID_TTL_SECS: i64 = 600;

/// The JOSE `typ` of an ID token: the plain one, as relying parties expect; access and
/// logout tokens carry their own, so none passes for another.
pub const ID_TYP: &str = "JWT";

/// What the sign-in told, carried from the session through the code to the ID token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignIn {
    /// The session's public id (`sid`), which back-channel logout names.
    pub sid: String,
    /// When the person authenticated (the session's start), seconds.
    pub auth_time: i64,
    /// `pwd`, or the IdP protocol.
    pub amr: String,
    /// The IdP's authentication context class, when it gave one.
    pub acr: Option<String>,
}

/// What a code granted with `scope=openid` remembers for its ID token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OpenIdLogin {
    /// The sign-in the code came from.
    pub sign_in: SignIn,
    /// The authorization request's `nonce`.
    pub nonce: Option<String>,
}

/// The claims of an ID token (Core 1.0 §2, §5.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdClaims {
    /// This gateway's public URL.
    pub iss: String,
    /// The user's id (the same `sub` as the access token's).
    pub sub: String,
    /// The client.
    pub aud: String,
    /// Authorized party: the client (Core §2, for a single audience it is optional, and
    /// some libraries want it).
    pub azp: String,
    /// Expiry (seconds).
    pub exp: i64,
    /// Issued at (seconds).
    pub iat: i64,
    /// When the person authenticated.
    pub auth_time: i64,
    /// The authorization request's `nonce`, which the app checks to refuse a replayed token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// The IdP's authentication context class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The session (OpenID Back-Channel Logout 1.0 §2.1).
    pub sid: String,
    /// Left half of the access token's SHA-256 (Core §3.1.3.6), binding the two.
    pub at_hash: String,
    /// The user's claims, as userinfo answers them.
    #[serde(flatten)]
    pub user: UserClaims,
}

/// What userinfo says about a user (Core §5.1), and what every ID token carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserClaims {
    /// The user's email.
    pub email: String,
    /// Always true: realmgate admits only addresses of the tenant's own domains, vouched for
    /// by its IdP or entered by its administrators.
    pub email_verified: bool,
    /// Display name.
    pub name: String,
    /// The user's tenant.
    pub account: String,
}

impl UserClaims {
    /// The claims of `user`, read now (not from the session: a renamed user is renamed).
    pub fn of(user: &User) -> Self {
        Self {
            email: user.email.to_string(),
            email_verified: true,
            name: user.name.clone(),
            account: user.account.clone(),
        }
    }
}

/// The userinfo answer: `sub` and the user's claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserInfo {
    /// The user's id, as in the ID token.
    pub sub: String,
    /// The claims.
    #[serde(flatten)]
    pub user: UserClaims,
}

/// Signs the ID token of `login` for `user` and `client_id`, alongside `access_token`.
pub fn mint(
    keys: &TokenKeys,
    issuer: &str,
    client_id: &str,
    user: &User,
    login: &OpenIdLogin,
    access_token: &str,
    now: DateTime<Utc>,
) -> Result<String, OAuthError> {
    let sign_in = &login.sign_in;
    let digest = Sha256::digest(access_token.as_bytes());
    let claims = IdClaims {
        iss: issuer.to_string(),
        sub: user.id.to_string(),
        aud: client_id.to_string(),
        azp: client_id.to_string(),
        exp: now.timestamp() + ID_TTL_SECS,
        iat: now.timestamp(),
        auth_time: sign_in.auth_time,
        nonce: login.nonce.clone(),
        amr: vec![sign_in.amr.clone()],
        acr: sign_in.acr.clone(),
        sid: sign_in.sid.clone(),
        at_hash: URL_SAFE_NO_PAD.encode(&digest[..16]),
        user: UserClaims::of(user),
    };
    keys.sign(ID_TYP, &claims)
}

impl OAuth {
    /// `/oauth2/userinfo` (Core §5.3): the claims of the user an access token of ours is
    /// about, read now; refused for an expired or foreign token, a service client's token
    /// (no person), and a user no longer active.
    pub async fn userinfo(&self, access_token: &str) -> Result<UserInfo, OAuthError> {
        let claims: AccessClaims = self
            .keys
            .verify(access_token, "at+jwt", &self.issuer, true)
            .map_err(OAuthError::InvalidToken)?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| OAuthError::InvalidToken("a service client's token names no user"))?;
        let user = self
            .users
            .by_id(user_id)
            .await?
            .filter(|u| u.status == Status::Active)
            .ok_or(OAuthError::InvalidToken("user no longer active"))?;
        Ok(UserInfo {
            sub: claims.sub,
            user: UserClaims::of(&user),
        })
    }
}
