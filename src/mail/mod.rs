//! Mail: what realmgate sends people (invitations, password resets, Waiting Room notices,
//! approval and denial notices), how it is rendered, and the [`Mailer`] that delivers it.
//!
//! Sending never holds up a login or a page: [`Postman::send_later`] hands the message to
//! a task, and a failure there is logged with its reason and counted
//! (`realmgate_mail_failures_total`), never answered as an error to the person.
//!
//! # Layout
//! - this file: the [`Mailer`] trait, [`MailError`], [`Postman`] and [`open`], which picks
//!   the backend from `smtp_url`;
//! - [`outbox`]: the embedded default, one `.eml` file per message in `data_dir/outbox/`;
//! - [`smtp`]: a relay through `lettre` (tokio, rustls);
//! - [`letters`]: the messages, rendered from `templates/mail/` with the catalog's words.

pub mod letters;
pub mod outbox;
pub mod smtp;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::Config;

pub use letters::{Invitation, Letters};
pub use outbox::Outbox;
pub use smtp::Smtp;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// `smtp_url` cannot be used (config validation catches the common mistakes).
    #[error("smtp_url: {0}")]
    Url(#[source] lettre::transport::smtp::Error),
    /// The relay refused the message or could not be reached.
    #[error("SMTP: {0}")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// The outbox file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An address (`mail_from`, a recipient) that mail headers cannot carry.
    #[error("address {address:?}: {source}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        source: lettre::address::AddressError,
    },
    /// The message could not be assembled.
    #[error("message: {0}")]
    Build(#[source] lettre::error::Error),
    /// A mail template failed to render.
    #[error(transparent)]
    Render(#[from] crate::i18n::I18nError),
}

/// A way of delivering mail. Object safe: the application holds an `Arc<dyn Mailer>`
/// chosen once from the configuration.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Delivers `message`, or says why not.
    async fn send(&self, message: &lettre::Message) -> Result<(), MailError>;

    /// The backend's name in logs and metrics (`outbox`, `smtp`).
    fn kind(&self) -> &'static str;
}

/// The mailer `config` names: SMTP when `smtp_url` is set, else the outbox in `data_dir`.
pub fn open(config: &Config) -> Result<Arc<dyn Mailer>, MailError> {
    Ok(match &config.smtp_url {
        Some(url) => Arc::new(Smtp::new(url)?),
        None => Arc::new(Outbox::new(config.data_dir.join("outbox"))),
    })
}

/// Sends messages through a [`Mailer`] without making anyone wait for it.
#[derive(Clone)]
pub struct Postman {
    mailer: Arc<dyn Mailer>,
}

impl Postman {
    /// Sending through `mailer`.
    pub fn new(mailer: Arc<dyn Mailer>) -> Self {
        Self { mailer }
    }

    /// Sends now, logging and counting the outcome; the error is returned for callers
    /// (the CLI, tests) that report it.
    pub async fn send(
        &self,
        what: &'static str,
        message: lettre::Message,
    ) -> Result<(), MailError> {
        let kind = self.mailer.kind();
        let to = recipients(&message);
        match self.mailer.send(&message).await {
            Ok(()) => {
                metrics::counter!("realmgate_mail_sent_total", "message" => what, "backend" => kind)
                    .increment(1);
                tracing::info!(message = what, backend = kind, to = %to, "mail sent");
                Ok(())
            }
            Err(e) => {
                metrics::counter!("realmgate_mail_failures_total", "message" => what, "backend" => kind)
                    .increment(1);
                tracing::warn!(message = what, backend = kind, to = %to, reason = %e, "mail not sent");
                Err(e)
            }
        }
    }

    /// Sends in a task of its own: the caller (a login, a page) goes on at once, and a
    /// failure is logged and counted by [`Postman::send`].
    pub fn send_later(&self, what: &'static str, message: lettre::Message) {
        let postman = self.clone();
        tokio::spawn(async move {
            let _ = postman.send(what, message).await;
        });
    }
}

/// What an operation that mails people holds: the messages, the postman, and the
/// gateway's public URL, since links in mail must be absolute.
#[derive(Clone)]
pub struct Outreach {
    /// The messages.
    pub letters: Arc<Letters>,
    /// Their delivery.
    pub postman: Postman,
    base_url: String,
}

impl Outreach {
    /// Mail of `letters` through `postman`, linking to `public_url`.
    pub fn new(letters: Arc<Letters>, postman: Postman, public_url: &str) -> Self {
        Self {
            letters,
            postman,
            base_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    /// The absolute URL of `path` on this gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a message built by `build` in the background; a message that cannot even be
    /// built (an address lettre refuses) is logged and counted like a failed delivery.
    pub fn send_later(&self, what: &'static str, build: Result<lettre::Message, MailError>) {
        match build {
            Ok(message) => self.postman.send_later(what, message),
            Err(e) => {
                metrics::counter!("realmgate_mail_failures_total", "message" => what, "backend" => "render")
                    .increment(1);
                tracing::warn!(message = what, reason = %e, "mail not sent");
            }
        }
    }
}

/// The envelope's recipients, for log lines.
fn recipients(message: &lettre::Message) -> String {
    message
        .envelope()
        .to()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
