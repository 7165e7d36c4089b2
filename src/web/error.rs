//! Every failure a request can meet, mapped once to an HTTP answer: a page for people, JSON
//! with a stable `error` code for programs. The precise reason goes to the log; the answer
//! says only what the person can act on.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::accounts::AccountsError;
use crate::admin::{AdminError, ErrorKind};
use crate::discovery::{DirectoryError, EmailError};
use crate::i18n::{Catalog, Lang};
use crate::login::LoginError;
use crate::oauth::device::DeviceError;
use crate::saml::SamlError;
use crate::session::StoreError;

use super::pages::Pages;

/// Errors of the web layer.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The typed email is not an address.
    #[error("invalid email: {0}")]
    InvalidEmail(#[from] EmailError),
    /// The form's CSRF token is missing or does not match the cookie.
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// `return_to` points somewhere the gateway must not send people.
    #[error("return_to refused: {0}")]
    ReturnTo(String),
    /// The request body or parameters are malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No such account or page.
    #[error("not found")]
    NotFound,
    /// The session store is down.
    #[error("backend unavailable: {0}")]
    Store(#[from] StoreError),
    /// The tenant source is down.
    #[error("backend unavailable: {0}")]
    Directory(#[from] DirectoryError),
    /// The user database is down (the active-user check of a session).
    #[error("backend unavailable: {0}")]
    Accounts(#[source] std::sync::Arc<AccountsError>),
    /// The check that admits a session failed (one of the two above, shared by the
    /// requests that waited for the same check).
    #[error("{0}")]
    SessionCheck(#[source] std::sync::Arc<WebError>),
    /// A `Set-Cookie` header could not be built.
    #[error("Set-Cookie of cookie {name:?}: {source}")]
    SetCookie {
        /// The cookie.
        name: String,
        /// Why.
        source: axum::http::header::InvalidHeaderValue,
    },
    /// A device code lookup failed for another reason than its rate limit.
    #[error("device code lookup failed: {0}")]
    Device(#[source] DeviceError),
    /// A login step refused.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// Not signed in.
    #[error("no valid session")]
    Unauthenticated,
    /// A management operation of the account admin console refused or failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl From<crate::wsfed::WsFedError> for WebError {
    fn from(e: crate::wsfed::WsFedError) -> Self {
        WebError::Login(LoginError::WsFed(e))
    }
}

impl From<SamlError> for WebError {
    fn from(e: SamlError) -> Self {
        WebError::Login(LoginError::Saml(e))
    }
}

impl WebError {
    /// Whether a backend failed (a 503 worth retrying), here or in the login step.
    fn is_unavailable(&self) -> bool {
        match self {
            WebError::Store(_)
            | WebError::Directory(_)
            | WebError::Accounts(_)
            | WebError::SessionCheck(_)
            | WebError::SetCookie { .. }
            | WebError::Device(_) => true,
            WebError::Login(e) => e.is_unavailable(),
            WebError::Admin(e) => e.kind() == ErrorKind::Unavailable,
            _ => false,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::InvalidEmail(_) => "invalid_email",
            WebError::Csrf => "csrf_failed",
            WebError::ReturnTo(_) => "invalid_return_to",
            WebError::BadRequest(_) => "bad_request",
            WebError::NotFound => "not_found",
            WebError::Store(_)
            | WebError::Directory(_)
            | WebError::Accounts(_)
            | WebError::SessionCheck(_)
            | WebError::SetCookie { .. }
            | WebError::Device(_) => "temporarily_unavailable",
            WebError::Login(e) => e.code(),
            WebError::Unauthenticated => "unauthenticated",
            WebError::Admin(AdminError::StaleSignIn { .. }) => "reauthentication_required",
            WebError::Admin(e) => match e.kind() {
                ErrorKind::Invalid => "invalid",
                ErrorKind::Forbidden => "forbidden",
                ErrorKind::NotFound => "not_found",
                ErrorKind::Conflict => "conflict",
                ErrorKind::ManagedInFile => "managed_in_file",
                ErrorKind::Unavailable => "temporarily_unavailable",
            },
        }
    }

    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::InvalidEmail(_) | WebError::ReturnTo(_) | WebError::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::Admin(e) => match e.kind() {
                ErrorKind::Invalid => StatusCode::BAD_REQUEST,
                ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::Conflict | ErrorKind::ManagedInFile => StatusCode::CONFLICT,
                ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            },
            WebError::Store(_)
            | WebError::Directory(_)
            | WebError::Accounts(_)
            | WebError::SessionCheck(_)
            | WebError::SetCookie { .. }
            | WebError::Device(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Login(e) => match e {
                LoginError::BadCredentials(_) => StatusCode::UNAUTHORIZED,
                LoginError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                LoginError::UnknownAccount(_) => StatusCode::NOT_FOUND,
                LoginError::NoIdp(_) => StatusCode::SERVICE_UNAVAILABLE,
                e if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
                LoginError::Refused(_) | LoginError::Disabled | LoginError::SsoRequired => {
                    StatusCode::FORBIDDEN
                }
                _ => StatusCode::BAD_REQUEST,
            },
        }
    }

    /// What a person or a program is told: a catalog key, and the seconds to wait when
    /// the message names them.
    pub fn message_key(&self) -> (&'static str, Option<u64>) {
        let key = match self {
            WebError::InvalidEmail(e) => email_error_key(e),
            WebError::Csrf => "error-csrf",
            WebError::ReturnTo(_) => "error-return-to",
            WebError::BadRequest(_) => "error-bad-request",
            WebError::NotFound => "error-not-found",
            WebError::Unauthenticated => "error-unauthenticated",
            WebError::Login(LoginError::RateLimited(r)) => {
                return ("error-rate-limited", Some(r.seconds()));
            }
            WebError::Login(e) => login_message(e),
            // Shown to an administrator of the account, about their own account's users:
            // the operation's own words say what to fix. Never a backend's internals.
            WebError::Admin(e) if e.kind() == ErrorKind::Unavailable => UNAVAILABLE,
            WebError::Admin(AdminError::NotAdmin(_)) => "error-not-admin",
            WebError::Admin(AdminError::StaleSignIn { .. }) => "error-stale-sign-in",
            WebError::Admin(_) => "error-admin-refused",
            WebError::Store(_)
            | WebError::Directory(_)
            | WebError::Accounts(_)
            | WebError::SessionCheck(_)
            | WebError::SetCookie { .. }
            | WebError::Device(_) => UNAVAILABLE,
        };
        (key, None)
    }

    /// What a program is told, in English (the API's language).
    pub fn public_message(&self) -> String {
        let (key, seconds) = self.message_key();
        let args: Vec<(&str, fluent_bundle::FluentValue<'_>)> =
            seconds.map(|s| ("seconds", s.into())).into_iter().collect();
        Catalog::shared().message(Lang::En, key, &args)
    }

    /// Logs the refusal and counts refused logins. `account`, once the tenant is known, goes
    /// into both: without it an operator cannot tell which customer's IdP is failing.
    pub(super) fn log(&self, account: Option<&str>) {
        if let WebError::Login(e) = self {
            match account {
                Some(account) => metrics::counter!("realmgate_login_errors_total", "code" => e.code(), "account" => account.to_string()),
                None => metrics::counter!("realmgate_login_errors_total", "code" => e.code()),
            }
            .increment(1);
        }
        match self {
            e if e.is_unavailable() => {
                tracing::error!(code = self.code(), account, reason = %self, "request failed");
            }
            // Not transient: the tenant's SSO stays refused until its metadata loads.
            WebError::Login(LoginError::NoIdp(_)) => {
                tracing::warn!(code = self.code(), account, reason = %self, "request refused: the tenant's IdP metadata is unavailable");
            }
            _ => tracing::info!(code = self.code(), account, reason = %self, "request refused"),
        }
    }
}

/// What a person is told when a backend failed.
const UNAVAILABLE: &str = "error-unavailable";

/// The catalog key of what a person is told about an address that is not one.
pub fn email_error_key(e: &EmailError) -> &'static str {
    match e {
        EmailError::Empty => "email-empty",
        EmailError::TooLong => "email-too-long",
        EmailError::At => "email-at",
        EmailError::Whitespace => "email-whitespace",
        EmailError::Noncharacter => "email-noncharacter",
        EmailError::LocalPart => "email-local-part",
        EmailError::Domain => "email-domain",
    }
}

/// What a person is told about a refused login (its catalog key): enough to act on,
/// nothing an attacker could use (the log has the precise reason).
fn login_message(e: &LoginError) -> &'static str {
    use crate::accounts::Refusal;
    match e {
        LoginError::Saml(SamlError::StatusNotSuccess { .. })
        | LoginError::Oidc(crate::oidc::OidcError::IdpError { .. }) => "error-idp-status",
        LoginError::Oidc(e) if e.is_unavailable() => UNAVAILABLE,
        LoginError::WsFed(e) if e.is_unavailable() => UNAVAILABLE,
        LoginError::Saml(_)
        | LoginError::Oidc(_)
        | LoginError::WsFed(_)
        | LoginError::WrongProtocol { .. }
        | LoginError::Replay(_)
        | LoginError::Unsolicited(_)
        | LoginError::UnknownIssuer(_) => "error-authentication",
        LoginError::NoPendingRequest | LoginError::OtherBrowser => "error-other-browser",
        LoginError::Refused(Refusal::NotProvisioned) => "error-not-provisioned",
        LoginError::Refused(Refusal::Disabled) | LoginError::Disabled => "error-disabled",
        LoginError::Refused(Refusal::ForeignDomain) | LoginError::BadAssertedEmail(_) => {
            "error-foreign-email"
        }
        LoginError::Refused(_) => "error-unmatched",
        LoginError::BadCredentials(_) => "password-incorrect",
        LoginError::SsoRequired => "error-sso-required",
        LoginError::RateLimited(_) => "error-rate-limited",
        LoginError::UnknownAccount(_) => "error-not-found",
        LoginError::NoIdp(_) => "error-no-idp",
        LoginError::LinkInvalid => "link-invalid",
        LoginError::PasswordMismatch => "set-password-mismatch",
        LoginError::WeakPassword => "set-password-weak",
        LoginError::Store(_)
        | LoginError::Accounts(_)
        | LoginError::Directory(_)
        | LoginError::Pending(_)
        | LoginError::Worker(_)
        | LoginError::Slots(_) => UNAVAILABLE,
    }
}

/// A `WebError` answered as an HTML page.
pub struct PageError(pub WebError, pub std::sync::Arc<Pages>);

impl PageError {
    /// The page for a refusal of a known tenant: its log line and login error metric name
    /// the account.
    pub fn for_account(self, account: Option<&str>) -> Response {
        let PageError(err, pages) = self;
        page(err, &pages, account)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.for_account(None)
    }
}

/// Renders `err` as the error page, after logging it (with `account` when known).
fn page(err: WebError, pages: &Pages, account: Option<&str>) -> Response {
    err.log(account);
    let title = match err.status() {
        StatusCode::NOT_FOUND => "error-title-not-found",
        StatusCode::SERVICE_UNAVAILABLE => "error-title-unavailable",
        _ => "error-title-sign-in",
    };
    let (message, seconds) = err.message_key();
    let body = pages.render(
        "error",
        &json!({"title": title, "message": message, "seconds": seconds, "code": err.code()}),
    );
    with_retry_after(&err, (err.status(), body).into_response())
}

fn with_retry_after(err: &WebError, mut res: Response) -> Response {
    if let WebError::Login(LoginError::RateLimited(r)) = err
        && let Ok(v) = axum::http::HeaderValue::from_str(&r.seconds().to_string())
    {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    res
}

/// A `WebError` answered as JSON: `{"error": code, "message": text}`.
pub struct ApiError(pub WebError);

/// The JSON body of every `/api/v1` refusal. A named type rather than ad-hoc JSON so the
/// OpenAPI document describes exactly what [`ApiError`] serialises.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    /// Stable machine-readable code: programs branch on this, never on `message`.
    #[schema(value_type = super::openapi::ApiErrorCode)]
    pub error: &'static str,
    /// What to tell the person, in English.
    pub message: String,
}

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log(None);
        let res = (
            self.0.status(),
            Json(ApiErrorBody {
                error: self.0.code(),
                message: self.0.public_message(),
            }),
        )
            .into_response();
        with_retry_after(&self.0, res)
    }
}
