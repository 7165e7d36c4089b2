//! The management API's tenants: list and read (file and database tenants alike), create,
//! patch, delete, IdP metadata, domains and their DNS proof. Thin glue over
//! [`crate::admin::tenants`], which checks, applies and records; a route of an account the
//! token does not reach answers 404, like an absent one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::api::{MgmtError, MgmtErrorBody, json_body};
use super::bearer::Caller;
use super::state::SharedState;
use crate::admin::{AdminError, DomainStatus, IdpReport, Saved};
use crate::discovery::Tenant;
use crate::discovery::tenant::{JitPolicy, LoginHint, Protocol, TenantOrigin};

/// A tenant as the API shows it: the fields of a tenant file plus where it lives.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantBody {
    /// URL slug.
    pub account: String,
    /// Display name.
    pub name: String,
    /// Email domains.
    pub domains: Vec<String>,
    /// Whether subdomains of `domains` belong to the tenant.
    pub include_subdomains: bool,
    /// Region, when not this gateway's.
    pub region: Option<String>,
    /// Single sign-on; absent for password login.
    pub sso: Option<SsoBody>,
    /// `file` (operator-managed, read-only here) or `database`.
    pub source: &'static str,
}

/// A tenant's `[sso]` table.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoBody {
    /// `saml2`, `wsfed` or `oidc`.
    pub protocol: &'static str,
    /// The sign-in button's text.
    pub button: String,
    /// The IdP's entity ID, when given by hand.
    pub issuer: Option<String>,
    /// The IdP's sign-in URL, when given by hand.
    pub sso_url: Option<String>,
    /// Signing certificates (PEM or base64), when given by hand.
    pub certificate: Vec<String>,
    /// The WS-Federation sign-in URL, when given by hand (`wsfed`).
    pub wsfed_url: Option<String>,
    /// The AD FS WS-Trust endpoint devices sign in through (`wsfed`).
    pub wstrust_url: Option<String>,
    /// Where the metadata is fetched from.
    pub idp_metadata_url: Option<String>,
    /// Whether AuthnRequests are signed.
    pub sign_requests: bool,
    /// Whether IdP-initiated logins are accepted.
    pub allow_idp_initiated: bool,
    /// `deny`, `waiting_room` or `create`.
    pub jit: &'static str,
    /// The attribute carrying the email.
    pub email_claim: Option<String>,
    /// `query`, `subject` or `none`.
    pub login_hint: &'static str,
    /// Whether the account page goes straight to the IdP.
    pub auto_redirect: bool,
    /// OpenID Connect: where the provider's configuration is, when not beside `issuer`.
    pub discovery_url: Option<String>,
    /// OpenID Connect: our client ID at the provider.
    pub client_id: Option<String>,
    /// OpenID Connect: `client_secret_basic` or `private_key_jwt` (the secret or key
    /// itself is never shown).
    pub client_auth: Option<&'static str>,
    /// OpenID Connect: scopes requested besides `openid`.
    pub scopes: Option<Vec<String>>,
    /// OpenID Connect: Entra's `domain_hint`.
    pub domain_hint: Option<String>,
}

pub(super) fn tenant_body(t: &Tenant) -> TenantBody {
    TenantBody {
        account: t.account.clone(),
        name: t.name.clone(),
        domains: t.domains.clone(),
        include_subdomains: t.include_subdomains,
        region: t.region.clone(),
        sso: t.sso.as_ref().map(|s| SsoBody {
            protocol: s.protocol.as_str(),
            button: s.button.clone(),
            issuer: s.issuer.clone(),
            sso_url: s.sso_url.as_ref().map(ToString::to_string),
            certificate: s.certificate.clone(),
            wsfed_url: s.wsfed_url.as_ref().map(ToString::to_string),
            wstrust_url: s.wstrust_url.as_ref().map(ToString::to_string),
            idp_metadata_url: s.idp_metadata_url.as_ref().map(ToString::to_string),
            sign_requests: s.sign_requests,
            allow_idp_initiated: s.allow_idp_initiated,
            jit: match s.jit {
                JitPolicy::Deny => "deny",
                JitPolicy::WaitingRoom => "waiting_room",
                JitPolicy::Create => "create",
            },
            email_claim: s.email_claim.clone(),
            login_hint: match s.login_hint {
                LoginHint::Query => "query",
                LoginHint::Subject => "subject",
                LoginHint::None => "none",
            },
            auto_redirect: s.auto_redirect,
            discovery_url: s.discovery_url.as_ref().map(ToString::to_string),
            client_id: s.client_id.clone(),
            client_auth: match (&s.client_secret, &s.client_key) {
                (Some(_), _) => Some("client_secret_basic"),
                (None, Some(_)) => Some("private_key_jwt"),
                (None, None) => None,
            },
            scopes: (s.protocol == Protocol::Oidc).then(|| s.scopes.clone()),
            domain_hint: s.domain_hint.clone(),
        }),
        source: match t.origin {
            TenantOrigin::File => "file",
            TenantOrigin::Import | TenantOrigin::Api => "database",
        },
    }
}

/// The tenants the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// By account.
    pub tenants: Vec<TenantBody>,
}

/// `GET /api/v1/tenants`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    tag = "management",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tenants this token reaches", body = TenantList),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not an admin token", body = MgmtErrorBody),
        (status = 429, description = "Too many failed token lookups", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn list_tenants(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Json<TenantList>, MgmtError> {
    let tenants = state
        .tenant_admin
        .list()
        .await?
        .iter()
        .filter(|t| caller.reaches(&t.account))
        .map(|t| tenant_body(t))
        .collect();
    Ok(Json(TenantList { tenants }))
}

/// `GET /api/v1/tenants/{account}`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{account}",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account")),
    responses(
        (status = 200, description = "The tenant", body = TenantBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn get_tenant(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<Json<TenantBody>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    Ok(Json(tenant_body(&tenant)))
}

/// A tenant as a tenant file writes it (documentation of the body: the handler reads the
/// JSON itself through the tenant file parser, so a problem has `check`'s words).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // a schema: the body is parsed as a tenant file, not into this type
pub struct TenantInput {
    /// URL slug: 1-63 lower-case letters, digits or '-'.
    pub account: String,
    /// Display name.
    pub name: Option<String>,
    /// Email domains; each routes to SSO only once its DNS proof holds.
    pub domains: Vec<String>,
    /// Whether subdomains of `domains` belong to the tenant.
    pub include_subdomains: Option<bool>,
    /// Region, when not this gateway's.
    pub region: Option<String>,
    /// Single sign-on; absent for password login.
    pub sso: Option<SsoInput>,
}

/// A tenant as a create or a patch left it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedTenant {
    /// The tenant.
    #[serde(flatten)]
    pub tenant: TenantBody,
    /// What `idp_metadata_url` gave, when the change named it (or made another URL or
    /// protocol the source): fetched and checked before anything was written, as an upload
    /// is. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetched_metadata: Option<IdpBody>,
}

/// What a metadata document gave (uploaded, or fetched from its URL): the IdP and its
/// signing certificates.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdpBody {
    /// The IdP's entity ID.
    pub entity_id: String,
    /// When each signing certificate expires.
    #[schema(value_type = Vec<Option<String>>)]
    pub certificates_not_after: Vec<Option<DateTime<Utc>>>,
    /// Certificates expiring within 30 days, as `realmgate check` warns.
    pub warnings: Vec<String>,
}

impl From<IdpReport> for IdpBody {
    fn from(r: IdpReport) -> Self {
        Self {
            entity_id: r.entity_id,
            certificates_not_after: r.certificates,
            warnings: r.warnings,
        }
    }
}

fn saved_body(saved: Saved) -> SavedTenant {
    SavedTenant {
        tenant: tenant_body(&saved.tenant),
        fetched_metadata: saved.fetched.map(IdpBody::from),
    }
}

/// A tenant's `[sso]` table, as in a tenant file.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // a schema, as `TenantInput`
pub struct SsoInput {
    /// `saml2`.
    pub protocol: Option<String>,
    /// The sign-in button's text.
    pub button: Option<String>,
    /// The IdP's entity ID (with `sso_url` and `certificate`).
    pub issuer: Option<String>,
    /// The IdP's sign-in URL.
    pub sso_url: Option<String>,
    /// Signing certificates (PEM or base64).
    pub certificate: Option<Vec<String>>,
    /// An https URL to fetch the metadata from (AD FS's
    /// /FederationMetadata/2007-06/FederationMetadata.xml): fetched and checked when saved.
    pub idp_metadata_url: Option<String>,
    /// Whether AuthnRequests are signed.
    pub sign_requests: Option<bool>,
    /// Whether IdP-initiated logins are accepted.
    pub allow_idp_initiated: Option<bool>,
    /// `deny`, `waiting_room` or `create`.
    pub jit: Option<String>,
    /// The attribute carrying the email.
    pub email_claim: Option<String>,
    /// `query`, `subject` or `none`.
    pub login_hint: Option<String>,
    /// Whether the account page goes straight to the IdP.
    pub auto_redirect: Option<bool>,
}

/// `POST /api/v1/tenants`: the operator's token only.
#[utoipa::path(
    post,
    path = "/api/v1/tenants",
    tag = "management",
    security(("bearer" = [])),
    request_body = TenantInput,
    responses(
        (status = 201, description = "Created (source database), with what its metadata URL gave", body = SavedTenant),
        (status = 400, description = "The tenant has problems, each listed (a metadata URL that gives no usable IdP metadata too)", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not the operator's admin token", body = MgmtErrorBody),
        (status = 409, description = "The account or a domain is taken (conflict), or a tenant file holds the account (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn create_tenant(
    State(state): State<SharedState>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<SavedTenant>), MgmtError> {
    if caller.0.account.is_some() {
        return Err(AdminError::Forbidden(format!(
            "token {} reaches one account; creating tenants needs the operator's token",
            caller.0.name
        ))
        .into());
    }
    let fields = json_body(body)?;
    let saved = state.tenant_admin.create(&caller.actor(), fields).await?;
    Ok((StatusCode::CREATED, Json(saved_body(saved))))
}

/// `PATCH /api/v1/tenants/{account}`.
#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{account}",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account")),
    request_body(content = Object, description = "A JSON Merge Patch (RFC 7396) of the tenant's fields (as TenantInput): null removes a key"),
    responses(
        (status = 200, description = "The changed tenant, with what its metadata URL gave when the patch named it", body = SavedTenant),
        (status = 400, description = "The result has problems, each listed (a metadata URL that gives no usable IdP metadata too)", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "A domain is taken (conflict), or the tenant is a file's (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn patch_tenant(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<SavedTenant>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let merge = json_body(body)?;
    let saved = state
        .tenant_admin
        .patch(&caller.actor(), &tenant.account, merge)
        .await?;
    Ok(Json(saved_body(saved)))
}

/// `DELETE /api/v1/tenants/{account}`.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{account}",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account")),
    responses(
        (status = 204, description = "Deleted; its users stay in the database"),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "The tenant is a file's (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn delete_tenant(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<StatusCode, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    state
        .tenant_admin
        .delete(&caller.actor(), &tenant.account)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an uploaded IdP metadata document gave.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetadataAnswer {
    /// The tenant, now with this IdP.
    pub tenant: TenantBody,
    /// What the document gave.
    #[serde(flatten)]
    pub idp: IdpBody,
}

/// `PUT /api/v1/tenants/{account}/idp-metadata`.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{account}/idp-metadata",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account")),
    request_body(content = String, content_type = "application/xml", description = "Federation Metadata XML (an EntityDescriptor with an IDPSSODescriptor)"),
    responses(
        (status = 200, description = "Stored; in force on the next login", body = MetadataAnswer),
        (status = 400, description = "The document has problems, each listed", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "The tenant is a file's (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn put_metadata(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
    body: Bytes,
) -> Result<Json<MetadataAnswer>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let report = state
        .tenant_admin
        .put_metadata(&caller.actor(), &tenant.account, body.to_vec())
        .await?;
    Ok(Json(MetadataAnswer {
        tenant: tenant_body(&report.tenant),
        idp: report.idp.into(),
    }))
}

/// A tenant domain and its DNS proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainBody {
    /// The domain.
    pub domain: String,
    /// Whether its proof holds (an API tenant's domain routes to SSO only then).
    pub verified: bool,
    /// When the proof held.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub verified_at: Option<DateTime<Utc>>,
    /// The TXT record to publish: its name.
    pub record_name: String,
    /// The TXT record to publish: its value.
    pub record_value: String,
    /// After a verify: `verified`, `missing`, `wrong_token` or `lookup_failed`.
    pub outcome: Option<&'static str>,
}

impl From<DomainStatus> for DomainBody {
    fn from(d: DomainStatus) -> Self {
        Self {
            domain: d.domain,
            verified: d.verified,
            verified_at: d.verified_at,
            record_name: d.record_name,
            record_value: d.record_value,
            outcome: d.outcome,
        }
    }
}

/// A tenant's domains.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainList {
    /// By domain.
    pub domains: Vec<DomainBody>,
}

/// `GET /api/v1/tenants/{account}/domains`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{account}/domains",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account")),
    responses(
        (status = 200, description = "Each domain with its proof and the TXT record to publish", body = DomainList),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn list_domains(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<Json<DomainList>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let domains = state.tenant_admin.domains(&tenant.account).await?;
    Ok(Json(DomainList {
        domains: domains.into_iter().map(DomainBody::from).collect(),
    }))
}

/// `POST /api/v1/tenants/{account}/domains/{domain}/verify`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{account}/domains/{domain}/verify",
    tag = "management",
    security(("bearer" = [])),
    params(
        ("account" = String, Path, description = "The tenant's account"),
        ("domain" = String, Path, description = "One of its domains"),
    ),
    responses(
        (status = 200, description = "The domain after the lookup (`outcome` says what was found)", body = DomainBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account or domain, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "The tenant is a file's (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn verify_domain(
    State(state): State<SharedState>,
    caller: Caller,
    Path((account, domain)): Path<(String, String)>,
) -> Result<Json<DomainBody>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let status = state
        .tenant_admin
        .verify(&caller.actor(), &tenant.account, &domain)
        .await?;
    Ok(Json(status.into()))
}
