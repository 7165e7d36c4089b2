//! Mail through an SMTP relay (`smtp_url`), with `lettre` on tokio and rustls.
//!
//! The URL is lettre's: `smtps://user:password@host:465` speaks TLS from the start,
//! `smtp://user:password@host:587?tls=required` upgrades with STARTTLS and refuses a relay
//! that cannot, and a bare `smtp://host:25` talks in clear (a relay on the same host or
//! network only). Credentials in the URL are percent-encoded.

use std::time::Duration;

use async_trait::async_trait;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{MailError, Mailer};

/// How long one delivery may take: a stuck relay must not pile up tasks.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A pooled connection to one relay.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Smtp {
    /// The relay of `url` (no connection is made until the first message).
    pub fn new(url: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(MailError::Url)?
            .timeout(Some(TIMEOUT))
            .build();
        Ok(Self { transport })
    }
}

#[async_trait]
impl Mailer for Smtp {
    async fn send(&self, message: &lettre::Message) -> Result<(), MailError> {
        self.transport
            .send(message.clone())
            .await
            .map(drop)
            .map_err(MailError::Smtp)
    }

    fn kind(&self) -> &'static str {
        "smtp"
    }
}
