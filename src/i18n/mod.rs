//! Languages: the message catalogs (Fluent files in `locales/{lang}/`, compiled in), the
//! choice of a person's language, and the templates that read the catalogs. At the bottom
//! of the layers (beside `config`) because pages (`web`) and mail (`mail`) both render
//! through it, so a text lives in one catalog file whoever shows it.
//!
//! # Layout
//! - this file: [`Lang`] and how a request chooses it;
//! - [`catalog`]: [`Catalog`], the Fluent bundles and the lookup of one message;
//! - [`templates`]: [`Templates`], handlebars with the `t` helper that reads the catalog.

pub mod catalog;
pub mod templates;

pub use catalog::Catalog;
pub use templates::{Escape, Templates};

/// Errors of this module: a catalog or template that does not load. Both are compiled
/// in, so these surface at start-up and in tests, never on a request.
#[derive(Debug, thiserror::Error)]
pub enum I18nError {
    /// A `.ftl` file does not parse or repeats a message id.
    #[error("locales/{lang}/{file}: {message}")]
    Catalog {
        /// The language of the file.
        lang: &'static str,
        /// The file's name.
        file: &'static str,
        /// What is wrong, from the Fluent parser.
        message: String,
    },
    /// A template does not compile.
    #[error("template {name}: {source}")]
    Template {
        /// The template's name.
        name: String,
        /// Why.
        #[source]
        source: Box<handlebars::TemplateError>,
    },
    /// A template failed while rendering (a missing partial, a helper given no key).
    #[error("rendering {name}: {source}")]
    Render {
        /// The template's name.
        name: String,
        /// Why.
        #[source]
        source: Box<handlebars::RenderError>,
    },
}

/// A language realmgate has a catalog for. A closed set: a request can only ever select
/// one of these, whatever its headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum Lang {
    /// English, the default and the language of the API's messages.
    #[default]
    #[serde(rename = "en")]
    En,
    /// French (Canadian wording).
    #[serde(rename = "fr")]
    Fr,
}

impl Lang {
    /// Every language, in the order the language switch lists them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// The BCP 47 tag, as in `<html lang>` and the `lang` cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// The language of a tag (`fr`, `fr-CA`, `EN-gb`), by its primary subtag.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Lang::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    /// The language of a request: the `lang` cookie set by the switch when it names one
    /// we have, else the best of `Accept-Language` (RFC 9110 section 12.5.4: highest
    /// weight first, the header's order among equals), else `fallback` (the operator's
    /// `default_language`).
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>, fallback: Lang) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::from_tag) {
            return lang;
        }
        let Some(header) = accept_language else {
            return fallback;
        };
        let mut best: Option<(u16, Lang)> = None;
        // Bounded: a header of thousands of entries costs no more than its first 32.
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, weight_of);
            if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, lang));
            }
        }
        best.map_or(fallback, |(_, l)| l)
    }
}

/// A `q` value in thousandths; an unreadable one counts as 0 (not acceptable).
fn weight_of(q: &str) -> u16 {
    q.trim()
        .parse::<f32>()
        .ok()
        .filter(|q| (0.0..=1.0).contains(q))
        .map_or(0, |q| (q * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_wins_then_the_heaviest_accepted_language() {
        assert_eq!(Lang::negotiate(Some("fr"), Some("en"), Lang::En), Lang::Fr);
        assert_eq!(
            Lang::negotiate(Some("de"), Some("fr-CA,en;q=0.5"), Lang::En),
            Lang::Fr
        );
        assert_eq!(
            Lang::negotiate(None, Some("de,en;q=0.3,fr;q=0.8"), Lang::En),
            Lang::Fr
        );
        assert_eq!(Lang::negotiate(None, Some("en-GB,fr"), Lang::Fr), Lang::En);
        assert_eq!(
            Lang::negotiate(None, Some("fr;q=0,en;q=0.1"), Lang::Fr),
            Lang::En
        );
        // Nothing we have: the operator's default.
        assert_eq!(Lang::negotiate(None, Some("de, ja"), Lang::En), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("de, ja"), Lang::Fr), Lang::Fr);
        assert_eq!(
            Lang::negotiate(None, Some("fr;q=bogus"), Lang::En),
            Lang::En
        );
        assert_eq!(Lang::negotiate(None, None, Lang::En), Lang::En);
        assert_eq!(Lang::negotiate(None, None, Lang::Fr), Lang::Fr);
    }
}
