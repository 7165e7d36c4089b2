//! The message catalogs: one Fluent bundle per [`Lang`], from the `.ftl` files of
//! `locales/`, compiled into the binary so a deployment is one file and a broken catalog
//! fails at start-up (and in tests), never on a person's request.

use std::collections::BTreeSet;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

use super::{I18nError, Lang};

/// The catalog files: every language has the same file names (a test checks that each
/// has the same message ids too).
const FILES: &[(Lang, &str, &str)] = &[
    (
        Lang::En,
        "pages.ftl",
        include_str!("../../locales/en/pages.ftl"),
    ),
    (
        Lang::En,
        "mail.ftl",
        include_str!("../../locales/en/mail.ftl"),
    ),
    (
        Lang::En,
        "console-sso.ftl",
        include_str!("../../locales/en/console-sso.ftl"),
    ),
    (
        Lang::Fr,
        "pages.ftl",
        include_str!("../../locales/fr/pages.ftl"),
    ),
    (
        Lang::Fr,
        "mail.ftl",
        include_str!("../../locales/fr/mail.ftl"),
    ),
    (
        Lang::Fr,
        "console-sso.ftl",
        include_str!("../../locales/fr/console-sso.ftl"),
    ),
];

/// Every language's messages.
pub struct Catalog {
    /// In the order of [`Lang::ALL`]; the concurrent bundle, because pages render on every
    /// runtime thread at once.
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

impl Catalog {
    /// Parses every file; the error names the first file that does not load.
    pub fn new() -> Result<Self, I18nError> {
        let mut bundles = Vec::new();
        for lang in Lang::ALL {
            let id = lang
                .tag()
                .parse()
                .map_err(
                    |e: unic_langid::LanguageIdentifierError| I18nError::Catalog {
                        lang: lang.tag(),
                        file: "-",
                        message: e.to_string(),
                    },
                )?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // No Unicode isolation marks around arguments: they would show as stray
            // characters in plain-text mail and in copied addresses.
            bundle.set_use_isolating(false);
            for (file_lang, file, source) in FILES {
                if *file_lang != lang {
                    continue;
                }
                let error = |message: String| I18nError::Catalog {
                    lang: lang.tag(),
                    file,
                    message,
                };
                let resource = FluentResource::try_new(source.to_string())
                    .map_err(|(_, errors)| error(format!("{errors:?}")))?;
                bundle
                    .add_resource(resource)
                    .map_err(|errors| error(format!("{errors:?}")))?;
            }
            bundles.push((lang, bundle));
        }
        Ok(Self { bundles })
    }

    /// The compiled-in catalogs, parsed once for the process. For answers built where no
    /// state is at hand (the English message of an API error); should the files not load,
    /// every message reads as its key, and start-up (`Catalog::new`) reports why.
    pub fn shared() -> &'static Catalog {
        static SHARED: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(|| {
            Catalog::new().unwrap_or(Catalog {
                bundles: Vec::new(),
            })
        });
        &SHARED
    }

    fn bundle(&self, lang: Lang) -> Option<&FluentBundle<FluentResource>> {
        self.bundles
            .iter()
            .find(|(l, _)| *l == lang)
            .map(|(_, b)| b)
    }

    /// The message `key` in `lang` with `args` filled in. A key missing from `lang` falls
    /// back to English, and one missing everywhere shows as itself (and is logged): a
    /// visible gap rather than a failed page. Tests keep both from happening.
    pub fn message(&self, lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        for bundle in [self.bundle(lang), self.bundle(Lang::En)]
            .into_iter()
            .flatten()
        {
            let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            if !errors.is_empty() {
                tracing::error!(key, lang = lang.tag(), ?errors, "message formatting failed");
            }
            return text.into_owned();
        }
        tracing::error!(key, lang = lang.tag(), "message missing from every catalog");
        key.to_string()
    }

    /// The message ids `lang`'s files define.
    pub fn keys(lang: Lang) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for (file_lang, _, source) in FILES {
            if *file_lang != lang {
                continue;
            }
            let resource = match FluentResource::try_new(source.to_string()) {
                Ok(r) | Err((r, _)) => r,
            };
            for entry in resource.entries() {
                if let fluent_syntax::ast::Entry::Message(m) = entry {
                    keys.insert(m.id.name.to_string());
                }
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_exists_in_every_language() {
        let english = Catalog::keys(Lang::En);
        assert!(!english.is_empty());
        for lang in Lang::ALL {
            let keys = Catalog::keys(lang);
            let missing: Vec<_> = english.difference(&keys).collect();
            let extra: Vec<_> = keys.difference(&english).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{}: missing {missing:?}, not in English {extra:?}",
                lang.tag()
            );
        }
    }

    #[test]
    fn every_catalog_loads_and_fills_arguments() {
        let catalog = Catalog::new().unwrap();
        let text = catalog.message(
            Lang::Fr,
            "title-suffix",
            &[("title", "Connexion".into()), ("brand", "Acme".into())],
        );
        assert_eq!(text, "Connexion · Acme");
        assert_eq!(catalog.message(Lang::En, "no-such-key", &[]), "no-such-key");
    }
}
