//! The messages realmgate sends, each rendered from `templates/mail/` twice, as plain text
//! and as HTML, in the recipient's language, with the operator's brand.

use std::sync::Arc;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use serde_json::{Value, json};

use super::MailError;
use crate::config::Config;
use crate::discovery::Email;
use crate::i18n::{Catalog, Escape, Lang, Templates};

const HTML: &[(&str, &str)] = &[
    (
        "mail_layout",
        include_str!("../../templates/mail/layout.html.hbs"),
    ),
    (
        "mail_action",
        include_str!("../../templates/mail/action.html.hbs"),
    ),
    (
        "invite",
        include_str!("../../templates/mail/invite.html.hbs"),
    ),
    ("reset", include_str!("../../templates/mail/reset.html.hbs")),
    (
        "waiting",
        include_str!("../../templates/mail/waiting.html.hbs"),
    ),
    (
        "decision",
        include_str!("../../templates/mail/decision.html.hbs"),
    ),
];

const TEXT: &[(&str, &str)] = &[
    (
        "invite",
        include_str!("../../templates/mail/invite.txt.hbs"),
    ),
    ("reset", include_str!("../../templates/mail/reset.txt.hbs")),
    (
        "waiting",
        include_str!("../../templates/mail/waiting.txt.hbs"),
    ),
    (
        "decision",
        include_str!("../../templates/mail/decision.txt.hbs"),
    ),
];

/// Where an invitation sends the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invitation {
    /// An SSO tenant: the account's Sign-on URL.
    SignIn(String),
    /// A password tenant: the one-time set-password link (7 days).
    SetPassword(String),
}

/// Renders every message.
pub struct Letters {
    catalog: Arc<Catalog>,
    html: Templates,
    text: Templates,
    from: Mailbox,
    brand: String,
    /// The operator's `default_language`.
    default_lang: Lang,
}

impl Letters {
    /// The messages of `config`'s brand, sent from `mail_from`; `logo_url` is where pages
    /// serve the brand logo, when there is one.
    pub fn new(
        config: &Config,
        catalog: Arc<Catalog>,
        logo_url: Option<String>,
    ) -> Result<Self, MailError> {
        let from = config
            .mail_from
            .parse::<Mailbox>()
            .map_err(|source| MailError::Address {
                address: config.mail_from.clone(),
                source,
            })?;
        let mut globals = serde_json::Map::new();
        globals.insert(
            "brand".into(),
            json!({
                "name": config.brand_name,
                "color": config.brand_color,
                "text_color": config.brand_text_color(),
                "logo_url": logo_url,
            }),
        );
        Ok(Self {
            html: Templates::new(catalog.clone(), HTML, Escape::Html, globals.clone())?,
            text: Templates::new(catalog.clone(), TEXT, Escape::None, globals)?,
            catalog,
            from,
            brand: config.brand_name.clone(),
            default_lang: config.default_language,
        })
    }

    /// The language to write to someone in: their own once known (saved at their
    /// sign-ins and requests), else the operator's default.
    pub fn lang_for(&self, known: Option<Lang>) -> Lang {
        known.unwrap_or(self.default_lang)
    }

    /// The invitation to `tenant` (its display name).
    pub fn invitation(
        &self,
        to: &Email,
        lang: Lang,
        tenant: &str,
        invitation: &Invitation,
    ) -> Result<Message, MailError> {
        let (url, set_password) = match invitation {
            Invitation::SignIn(url) => (url, false),
            Invitation::SetPassword(url) => (url, true),
        };
        let subject = self.subject(lang, "invite-subject", tenant, to);
        let data = json!({"tenant": tenant, "url": url, "set_password": set_password});
        self.build(to, lang, "invite", subject, data)
    }

    /// The password-reset link for `to`.
    pub fn password_reset(&self, to: &Email, lang: Lang, url: &str) -> Result<Message, MailError> {
        let subject = self.subject(lang, "reset-subject", "", to);
        let data = json!({"email": to.as_str(), "url": url});
        self.build(to, lang, "reset", subject, data)
    }

    /// Tells the administrator `to` that `person` waits for approval in `tenant`;
    /// `url` is where they approve.
    pub fn waiting_room(
        &self,
        to: &Email,
        lang: Lang,
        tenant: &str,
        person: &Email,
        url: &str,
    ) -> Result<Message, MailError> {
        let subject = self.subject(lang, "waiting-subject", tenant, person);
        let data = json!({"tenant": tenant, "email": person.as_str(), "url": url});
        self.build(to, lang, "waiting", subject, data)
    }

    /// Tells `to` that an administrator of `tenant` approved (with where to sign in) or
    /// denied (with the reason given, if any) their account.
    pub fn decision(
        &self,
        to: &Email,
        lang: Lang,
        tenant: &str,
        approved: Result<&str, Option<&str>>,
    ) -> Result<Message, MailError> {
        let (key, data) = match approved {
            Ok(url) => (
                "approved-subject",
                json!({"tenant": tenant, "approved": true, "url": url}),
            ),
            Err(reason) => (
                "denied-subject",
                json!({"tenant": tenant, "approved": false, "reason": reason}),
            ),
        };
        let subject = self.subject(lang, key, tenant, to);
        self.build(to, lang, "decision", subject, data)
    }

    fn subject(&self, lang: Lang, key: &str, tenant: &str, email: &Email) -> String {
        self.catalog.message(
            lang,
            key,
            &[
                ("brand", self.brand.as_str().into()),
                ("tenant", tenant.into()),
                ("email", email.as_str().into()),
            ],
        )
    }

    fn build(
        &self,
        to: &Email,
        lang: Lang,
        template: &str,
        subject: String,
        mut data: Value,
    ) -> Result<Message, MailError> {
        data["subject"] = Value::String(subject.clone());
        let text = self.text.render(template, lang, &data)?;
        let html = self.html.render(template, lang, &data)?;
        let to = to
            .as_str()
            .parse::<Mailbox>()
            .map_err(|source| MailError::Address {
                address: to.to_string(),
                source,
            })?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(MailError::Build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letters() -> Letters {
        Letters::new(&Config::default(), Arc::new(Catalog::new().unwrap()), None).unwrap()
    }

    fn body(message: &Message) -> String {
        String::from_utf8(message.formatted()).unwrap()
    }

    #[test]
    fn every_message_renders_in_both_languages_with_both_parts() {
        let l = letters();
        let to = Email::parse("ann@fabrikam.com").unwrap();
        for lang in Lang::ALL {
            let messages = [
                l.invitation(
                    &to,
                    lang,
                    "Fabrikam",
                    &Invitation::SetPassword("https://x/set?t=1".into()),
                ),
                l.invitation(
                    &to,
                    lang,
                    "Fabrikam",
                    &Invitation::SignIn("https://x/fabrikam".into()),
                ),
                l.password_reset(&to, lang, "https://x/reset?t=2"),
                l.waiting_room(&to, lang, "Fabrikam", &to, "https://x/fabrikam/admin"),
                l.decision(&to, lang, "Fabrikam", Ok("https://x/fabrikam")),
                l.decision(&to, lang, "Fabrikam", Err(Some("not staff <b>"))),
            ];
            for m in messages {
                let text = body(&m.unwrap());
                assert!(
                    text.contains("text/plain") && text.contains("text/html"),
                    "{text}"
                );
                assert!(!text.contains("mail-"), "a key was not translated: {text}");
            }
        }
        let denied = body(
            &l.decision(&to, Lang::Fr, "Fabrikam", Err(Some("<b>")))
                .unwrap(),
        );
        assert!(denied.contains("&lt;b&gt;"), "HTML part escapes: {denied}");
    }
}
