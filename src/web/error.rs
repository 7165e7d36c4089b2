//! Every failure a request can meet, mapped once to an HTTP answer: a page for people, JSON
//! with a stable `error` code for programs. The precise reason goes to the log; the answer
//! says only what the person can act on.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::discovery::{DirectoryError, EmailError};

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
    /// A backend (tenant source, store, database) is down.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
}

impl From<DirectoryError> for WebError {
    fn from(e: DirectoryError) -> Self {
        WebError::Unavailable(e.to_string())
    }
}

impl WebError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::InvalidEmail(_) => "invalid_email",
            WebError::Csrf => "csrf_failed",
            WebError::ReturnTo(_) => "invalid_return_to",
            WebError::BadRequest(_) => "bad_request",
            WebError::NotFound => "not_found",
            WebError::Unavailable(_) => "temporarily_unavailable",
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
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What a person or a program is told.
    pub fn public_message(&self) -> String {
        match self {
            WebError::InvalidEmail(e) => e.to_string(),
            WebError::Csrf => {
                "Your sign-in form expired. Go back, reload the page and try again.".into()
            }
            WebError::ReturnTo(_) => {
                "The link you followed asks to send you to a site this sign-in service does not serve.".into()
            }
            WebError::BadRequest(_) => "The request could not be understood.".into(),
            WebError::NotFound => "There is nothing here.".into(),
            WebError::Unavailable(_) => {
                "Sign-in is temporarily unavailable. Please try again in a minute.".into()
            }
        }
    }

    fn log(&self) {
        if matches!(self, WebError::Unavailable(_)) {
            tracing::error!(code = self.code(), reason = %self, "request failed");
        } else {
            tracing::info!(code = self.code(), reason = %self, "request refused");
        }
    }
}

/// A `WebError` answered as an HTML page.
pub struct PageError(pub WebError, pub std::sync::Arc<Pages>);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let PageError(err, pages) = self;
        err.log();
        let title = match err.status() {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::SERVICE_UNAVAILABLE => "Temporarily unavailable",
            _ => "Sign-in problem",
        };
        let body = pages.render(
            "error",
            &json!({"title": title, "message": err.public_message(), "code": err.code()}),
        );
        (err.status(), body).into_response()
    }
}

/// A `WebError` answered as JSON: `{"error": code, "message": text}`.
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        (
            self.0.status(),
            Json(json!({"error": self.0.code(), "message": self.0.public_message()})),
        )
            .into_response()
    }
}
