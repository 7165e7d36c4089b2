//! The HTML pages: handlebars templates compiled into the binary, so a deployment is one
//! file and a template typo fails at start-up (and in tests), not on a user's request.
//! Their words come from the catalog (`i18n`), in the language of the request being
//! answered ([`lang`]), and every page carries the operator's brand.

use std::sync::Arc;

use axum::response::Html;
use fluent_bundle::FluentValue;
use serde::Serialize;
use serde_json::json;

use crate::config::Config;
use crate::i18n::{Catalog, Escape, I18nError, Lang, Templates};

/// The page templates, by name.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../templates/layout.hbs")),
    ("email", include_str!("../../templates/email.hbs")),
    ("sso", include_str!("../../templates/sso.hbs")),
    ("password", include_str!("../../templates/password.hbs")),
    ("error", include_str!("../../templates/error.hbs")),
    ("message", include_str!("../../templates/message.hbs")),
    ("device", include_str!("../../templates/device.hbs")),
    (
        "end_session",
        include_str!("../../templates/end_session.hbs"),
    ),
    (
        "post_binding",
        include_str!("../../templates/post_binding.hbs"),
    ),
    ("reset", include_str!("../../templates/reset.hbs")),
    (
        "set_password",
        include_str!("../../templates/set_password.hbs"),
    ),
    // The account admin console: its frame, then its pages.
    ("console", include_str!("../../templates/console.hbs")),
    (
        "console_denied",
        include_str!("../../templates/console_denied.hbs"),
    ),
    (
        "console_problem",
        include_str!("../../templates/console_problem.hbs"),
    ),
    (
        "console_home",
        include_str!("../../templates/console_home.hbs"),
    ),
    (
        "console_users",
        include_str!("../../templates/console_users.hbs"),
    ),
    (
        "console_import",
        include_str!("../../templates/console_import.hbs"),
    ),
    (
        "console_domains",
        include_str!("../../templates/console_domains.hbs"),
    ),
    (
        "console_audit",
        include_str!("../../templates/console_audit.hbs"),
    ),
    (
        "console_traces",
        include_str!("../../templates/console_traces.hbs"),
    ),
    (
        "console_sso",
        include_str!("../../templates/console_sso.hbs"),
    ),
    (
        "console_sso_test",
        include_str!("../../templates/console_sso_test.hbs"),
    ),
];

/// Static files, served from memory with a long cache lifetime.
pub const STATIC: &[(&str, &str, &str)] = &[
    (
        "realmgate.css",
        "text/css; charset=utf-8",
        include_str!("../../static/realmgate.css"),
    ),
    (
        "autosubmit.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/autosubmit.js"),
    ),
    (
        "copy.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/copy.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
];

/// Where the brand's stylesheet and logo are served (`ops::static_file`).
pub const BRAND_CSS: &str = "brand.css";
/// The logo's name under `/static/`.
pub const BRAND_LOGO: &str = "brand-logo";

/// What a page needs of the request it answers.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    /// The request's language ([`Lang::negotiate`]).
    pub lang: Lang,
    /// Where the language switch returns to, percent-encoded: the page itself for a GET,
    /// the sign-on page after a form.
    pub back: String,
}

tokio::task_local! {
    /// The request being answered, set once by the envelope layer, so every page (error
    /// pages built far from the request's headers included) renders in its language
    /// without each path carrying it along.
    static REQUEST: PageContext;
}

/// Runs `f` (a request's handling) with `context` for its pages.
pub async fn with_context<F: std::future::Future>(context: PageContext, f: F) -> F::Output {
    REQUEST.scope(context, f).await
}

/// The language of the request being answered; English outside of one.
pub fn lang() -> Lang {
    REQUEST.try_with(|c| c.lang).unwrap_or_default()
}

/// The compiled templates.
pub struct Pages {
    templates: Templates,
    /// The templates' catalog, for words a handler formats once per page rather than a
    /// template once per row.
    catalog: Arc<Catalog>,
    /// The stylesheet of the brand colour (the CSP allows no inline style).
    pub brand_css: String,
    /// The logo file's media type and bytes, read at start-up.
    pub brand_logo: Option<(&'static str, Vec<u8>)>,
}

impl Pages {
    /// Compiles every template over `catalog`, with `config`'s brand; the logo file is
    /// read here, once.
    pub fn new(config: &Config, catalog: Arc<Catalog>) -> Result<Self, PagesError> {
        let brand_logo = match &config.brand_logo {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|source| PagesError::Logo {
                    path: path.display().to_string(),
                    source,
                })?;
                crate::config::logo_type(path).map(|t| (t, bytes))
            }
            None => None,
        };
        let mut globals = serde_json::Map::new();
        globals.insert(
            "brand".into(),
            json!({
                "name": config.brand_name,
                "logo": brand_logo.as_ref().map(|_| format!("/static/{BRAND_LOGO}")),
            }),
        );
        globals.insert(
            "languages".into(),
            json!(
                Lang::ALL
                    .iter()
                    .map(|l| json!({"tag": l.tag(), "key": format!("language-{}", l.tag())}))
                    .collect::<Vec<_>>()
            ),
        );
        Ok(Self {
            templates: Templates::new(catalog.clone(), TEMPLATES, Escape::Html, globals)?,
            catalog,
            brand_css: format!(
                ":root {{ --accent: {}; --on-accent: {}; }}\n",
                config.brand_color,
                config.brand_text_color()
            ),
            brand_logo,
        })
    }

    /// The catalog message `key` in the request's language, as `{{t key}}` would print it
    /// (before escaping).
    pub fn message(&self, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        self.catalog.message(lang(), key, args)
    }

    /// Renders `name` with `data` (HTML-escaped by handlebars) in the request's language.
    pub fn render(&self, name: &str, data: &impl Serialize) -> Html<String> {
        self.render_value(name, serde_json::to_value(data).unwrap_or_default())
    }

    /// [`Pages::render`] of data already JSON, taken rather than copied.
    pub fn render_value(&self, name: &str, mut data: serde_json::Value) -> Html<String> {
        let context = REQUEST.try_with(Clone::clone).unwrap_or_default();
        if let Some(map) = data.as_object_mut() {
            let back = if context.back.is_empty() {
                "%2F".to_string()
            } else {
                context.back
            };
            map.entry("back").or_insert(back.into());
        }
        match self.templates.render_value(name, context.lang, data) {
            Ok(html) => Html(html),
            Err(e) => {
                // Templates are compiled in and covered by tests; this is a programming error,
                // answered with a minimal page rather than a panic.
                tracing::error!(template = name, error = %e, "template rendering failed");
                Html("<!doctype html><title>Error</title><p>Something went wrong.</p>".into())
            }
        }
    }
}

/// Why the pages could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    /// A template or catalog does not load.
    #[error(transparent)]
    I18n(#[from] I18nError),
    /// `brand_logo` cannot be read.
    #[error("brand_logo {path}: {source}")]
    Logo {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}
