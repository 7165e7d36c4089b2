//! The HTML pages: handlebars templates compiled into the binary, so a deployment is one
//! file and a template typo fails at start-up (and in tests), not on a user's request.

use axum::response::Html;
use handlebars::Handlebars;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../templates/layout.hbs")),
    ("email", include_str!("../../templates/email.hbs")),
    ("sso", include_str!("../../templates/sso.hbs")),
    ("password", include_str!("../../templates/password.hbs")),
    ("error", include_str!("../../templates/error.hbs")),
    ("message", include_str!("../../templates/message.hbs")),
    ("device", include_str!("../../templates/device.hbs")),
    (
        "post_binding",
        include_str!("../../templates/post_binding.hbs"),
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
        "console_audit",
        include_str!("../../templates/console_audit.hbs"),
    ),
    (
        "console_traces",
        include_str!("../../templates/console_traces.hbs"),
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
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
];

/// The compiled templates.
pub struct Pages {
    registry: Handlebars<'static>,
}

impl Pages {
    /// Compiles every template; an error names the template.
    pub fn new() -> Result<Self, handlebars::TemplateError> {
        let mut registry = Handlebars::new();
        // Strict mode turns a misspelt variable into an error instead of an empty string.
        registry.set_strict_mode(false);
        for (name, source) in TEMPLATES {
            registry.register_template_string(name, *source)?;
        }
        Ok(Self { registry })
    }

    /// Renders `name` with `data` (HTML-escaped by handlebars).
    pub fn render(&self, name: &str, data: &impl Serialize) -> Html<String> {
        match self.registry.render(name, data) {
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
