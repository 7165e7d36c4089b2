//! The OpenAPI 3.1 document of the machine-facing endpoints, served at
//! `GET /api/v1/openapi.json`. It is generated from the handlers' `#[utoipa::path]`
//! attributes and the request/response types' `ToSchema` derives, so it cannot drift from
//! the code the way a hand-written file would. The types here exist only where the code has
//! no named type: form bodies read as maps, and the closed sets of error codes.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::{OpenApi, ToSchema};

use super::api::MgmtErrorBody;
use super::api_audit::{AuditBody, AuditList, TraceList};
use super::api_clients::{ClientList, ClientWithSecret};
use super::api_onboarding::{DenyBody, ImportReport, InviteBody};
use super::api_tenants::{
    DomainBody, DomainList, IdpBody, MetadataAnswer, SavedTenant, SsoBody, SsoInput, TenantBody,
    TenantInput, TenantList,
};
use super::api_users::{NewUserBody, StatusParam, UserBody, UserList, UserPatchBody};
use super::device::{DeviceLoginRequest, SsoRequiredBody};
use super::discover::{DiscoverRequest, DiscoverResponse};
use super::error::ApiErrorBody;
use super::token::OAuthErrorBody;
use crate::admin::clients::{ClientFields, ClientSourceKind, ManagedClient};
use crate::login::{Trace, TraceProtocol, TraceResult};
use crate::oauth::TokenResponse;
use crate::oauth::device_flow::DeviceAuthorization;
use crate::oauth::id_token::UserInfo;
use crate::oauth::keys::{Jwk, Jwks};
use crate::saml::CertificateFacts;

/// The document's root.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "realmgate",
        description = "Email-first login gateway: home-realm discovery, the MFP device API, the OAuth endpoints for native apps and devices, and the management API (bearer API tokens).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::discover::discover_api,
        super::device::device_login,
        super::token::token,
        super::device::device_authorization,
        super::token::revoke,
        super::webfinger::webfinger,
        super::token::jwks,
        super::token::metadata,
        super::openid::configuration,
        super::openid::userinfo,
        super::api_tenants::list_tenants,
        super::api_tenants::get_tenant,
        super::api_users::list_users,
        super::api_users::create_user,
        super::api_users::get_user,
        super::api_users::patch_user,
        super::api_users::delete_user,
        super::api_onboarding::approve_user,
        super::api_onboarding::deny_user,
        super::api_onboarding::invite_user,
        super::api_onboarding::import_users,
        super::api_audit::audit,
        super::api_audit::login_traces,
        super::api_tenants::create_tenant,
        super::api_tenants::patch_tenant,
        super::api_tenants::delete_tenant,
        super::api_tenants::put_metadata,
        super::api_tenants::list_domains,
        super::api_tenants::verify_domain,
        super::api_clients::list_clients,
        super::api_clients::create_client,
        super::api_clients::get_client,
        super::api_clients::patch_client,
        super::api_clients::delete_client,
        super::api_clients::rotate_secret,
    ),
    components(schemas(
        DiscoverRequest,
        DiscoverResponse,
        ApiErrorBody,
        ApiErrorCode,
        OAuthErrorBody,
        OAuthErrorCode,
        SsoRequiredBody,
        DeviceRefusal,
        DeviceLoginRequest,
        TokenRequest,
        TokenResponse,
        RevokeRequest,
        DeviceAuthorizationRequest,
        DeviceAuthorization,
        Jwks,
        Jwk,
        UserInfo,
        JrdError,
        MgmtErrorBody,
        TenantList,
        TenantBody,
        SsoBody,
        UserList,
        UserBody,
        NewUserBody,
        UserPatchBody,
        StatusParam,
        ImportReport,
        DenyBody,
        InviteBody,
        AuditList,
        AuditBody,
        TraceList,
        Trace,
        TraceResult,
        TraceProtocol,
        CertificateFacts,
        TenantInput,
        SsoInput,
        MetadataAnswer,
        SavedTenant,
        IdpBody,
        DomainList,
        DomainBody,
        ClientFields,
        ClientSourceKind,
        ManagedClient,
        ClientList,
        ClientWithSecret,
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "discovery", description = "Which sign-in an email address uses"),
        (name = "device", description = "MFP connectors: password login and the device authorization grant"),
        (name = "oauth", description = "OAuth 2.0 for native apps (RFC 6749, 7636, 8252, 7009, 8414)"),
        (name = "management", description = "The management API: tenants (files read-only, database tenants read-write), their IdP metadata and domains, users, OAuth / OpenID Connect clients (configuration read-only, database read-write) and the audit log, with a bearer API token of scope admin"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the management routes name: an API token (`rg_…`).
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An API token of scope admin (`realmgate token create`)",
                        ))
                        .build(),
                ),
            );
    }
}

/// `GET /api/v1/openapi.json`. Built once: the document is a pure function of the code.
pub async fn openapi_json() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serialises")
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.as_str(),
    )
        .into_response()
}

/// Every `error` the `/api/v1` endpoints answer with (`WebError::code` and the device
/// API's own refusals). Clients may branch on these; they are stable.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // a schema: never constructed, only described
pub enum ApiErrorCode {
    /// Not an email address.
    InvalidEmail,
    /// Malformed request body.
    BadRequest,
    /// No such tenant or page.
    NotFound,
    /// Unknown user or wrong password (one answer for both).
    InvalidCredentials,
    /// The email's organisation signs in with SSO: use the device flow.
    SsoRequired,
    /// Too many attempts; see `Retry-After`.
    RateLimited,
    /// The user is disabled.
    UserDisabled,
    /// The client address is outside the tenant's device allowlist.
    IpNotAllowed,
    /// The user awaits an administrator's approval.
    AccessDenied,
    /// The tenant's IdP is not configured or unreachable.
    IdpUnavailable,
    /// A backend is down; retry later.
    TemporarilyUnavailable,
    /// The organisation's STS (WS-Trust device login) did not answer in time; retry later.
    StsUnavailable,
}

/// The RFC 6749 §5.2 and RFC 8628 §3.5 error codes this server sends.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // a schema: never constructed, only described
pub enum OAuthErrorCode {
    /// Missing or malformed parameter.
    InvalidRequest,
    /// Unknown client.
    InvalidClient,
    /// Bad, expired, reused or mismatched code or refresh token.
    InvalidGrant,
    /// Grant type not supported.
    UnsupportedGrantType,
    /// Response type not supported.
    UnsupportedResponseType,
    /// Unknown scope.
    InvalidScope,
    /// The client may not use this grant.
    UnauthorizedClient,
    /// The person denied the device.
    AccessDenied,
    /// Device flow: the person has not decided yet.
    AuthorizationPending,
    /// Device flow: polling too fast; add 5 seconds to the interval.
    SlowDown,
    /// Device flow: the device code expired.
    ExpiredToken,
    /// Userinfo: the bearer token is not a live access token (RFC 6750 §3.1).
    InvalidToken,
    /// The server failed.
    ServerError,
}

/// What a device endpoint may refuse with: one of the three bodies.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema: never constructed, only described
pub enum DeviceRefusal {
    /// `sso_required`.
    SsoRequired(SsoRequiredBody),
    /// `ip_not_allowed`, `access_denied`, `rate_limited`, ...
    Api(ApiErrorBody),
    /// RFC 6749 errors (unknown client, malformed request).
    OAuth(OAuthErrorBody),
}

/// Form body of `POST /oauth2/token` (the handler reads a map so it can refuse with the
/// RFC's error codes instead of a generic form rejection).
#[derive(ToSchema)]
#[allow(dead_code)] // a schema: never constructed, only described
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token`, `client_credentials` or
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    grant_type: String,
    /// The client's id (or in `Authorization: Basic`, or the assertion's `sub`).
    client_id: Option<String>,
    /// `client_secret_post`: the client secret.
    client_secret: Option<String>,
    /// `private_key_jwt`: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    client_assertion_type: Option<String>,
    /// `private_key_jwt`: the signed assertion (RFC 7523).
    client_assertion: Option<String>,
    /// `authorization_code`: the code.
    code: Option<String>,
    /// `authorization_code`: the redirect URI of the authorization request.
    redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier (required of public clients).
    code_verifier: Option<String>,
    /// `refresh_token`: the current refresh token.
    refresh_token: Option<String>,
    /// Device grant: the device code.
    device_code: Option<String>,
}

/// Form body of `POST /oauth2/revoke` (RFC 7009 §2.1).
#[derive(ToSchema)]
#[allow(dead_code)] // a schema: never constructed, only described
pub struct RevokeRequest {
    /// The refresh token to revoke.
    token: String,
    /// The client's id (confidential clients authenticate as at the token endpoint).
    client_id: Option<String>,
    /// `refresh_token` or `access_token`.
    token_type_hint: Option<String>,
}

/// Form body of `POST /oauth2/device_authorization` (RFC 8628 §3.1).
#[derive(ToSchema)]
#[allow(dead_code)] // a schema: never constructed, only described
pub struct DeviceAuthorizationRequest {
    /// The device's client id.
    client_id: String,
    /// The email typed on the device: only that user may approve.
    login_hint: Option<String>,
}

/// A WebFinger refusal.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema: never constructed, only described
pub struct JrdError {
    /// `invalid_request`, `unknown_resource`, `rate_limited` or `temporarily_unavailable`.
    error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_with_every_path() {
        let doc: serde_json::Value =
            serde_json::from_str(&ApiDoc::openapi().to_json().unwrap()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for p in [
            "/api/v1/discover",
            "/api/v1/device/login",
            "/oauth2/token",
            "/oauth2/device_authorization",
            "/oauth2/revoke",
            "/.well-known/webfinger",
            "/.well-known/jwks.json",
            "/.well-known/oauth-authorization-server",
        ] {
            assert!(doc["paths"][p].is_object(), "{p} missing");
        }
    }

    #[test]
    fn error_code_enums_list_the_codes_the_code_sends() {
        use crate::oauth::OAuthError;
        let doc: serde_json::Value =
            serde_json::from_str(&ApiDoc::openapi().to_json().unwrap()).unwrap();
        let codes = |name: &str| -> Vec<String> {
            doc["components"]["schemas"][name]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        let oauth = codes("OAuthErrorCode");
        for e in [
            OAuthError::InvalidClient,
            OAuthError::SlowDown,
            OAuthError::ExpiredToken,
            OAuthError::AuthorizationPending,
            OAuthError::InvalidGrant(""),
            OAuthError::Server(String::new()),
        ] {
            assert!(oauth.contains(&e.code().to_string()), "{}", e.code());
        }
        let api = codes("ApiErrorCode");
        for c in [
            "invalid_email",
            "sso_required",
            "ip_not_allowed",
            "rate_limited",
        ] {
            assert!(api.contains(&c.to_string()), "{c}");
        }
    }
}
