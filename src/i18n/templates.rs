//! Handlebars templates that take their words from the [`Catalog`]: `{{t "key"}}`, with
//! arguments as `{{t "signed-in-as" name=email}}`, and a key held in a variable as
//! `{{t error}}`. The language is the one the render is for; every render also sees the
//! operator's globals (the brand), so no page or mail can forget them.

use std::sync::Arc;

use fluent_bundle::FluentValue;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde::Serialize;
use serde_json::Value;

use super::{Catalog, I18nError, Lang};

/// How a template's values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// HTML: pages and the HTML part of mail.
    Html,
    /// None: the plain-text part of mail, where `&amp;` would be shown as such.
    None,
}

/// Compiled templates over one catalog.
pub struct Templates {
    registry: Handlebars<'static>,
    /// Merged into every render's data under their own names (`brand`), unless the data
    /// sets them itself.
    globals: serde_json::Map<String, Value>,
}

impl Templates {
    /// Compiles `sources` (name, text); the error names the template that does not compile.
    pub fn new(
        catalog: Arc<Catalog>,
        sources: &[(&str, &str)],
        escape: Escape,
        globals: serde_json::Map<String, Value>,
    ) -> Result<Self, I18nError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(false);
        if escape == Escape::None {
            registry.register_escape_fn(handlebars::no_escape);
        }
        registry.register_helper("t", Box::new(Translate(catalog)));
        for (name, source) in sources {
            registry
                .register_template_string(name, *source)
                .map_err(|e| I18nError::Template {
                    name: name.to_string(),
                    source: Box::new(e),
                })?;
        }
        Ok(Self { registry, globals })
    }

    /// Renders `name` in `lang` with `data` (an object; its `lang` is set to `lang`).
    pub fn render(
        &self,
        name: &str,
        lang: Lang,
        data: &impl Serialize,
    ) -> Result<String, I18nError> {
        match serde_json::to_value(data) {
            Ok(data) => self.render_value(name, lang, data),
            Err(e) => Err(I18nError::Render {
                name: name.to_string(),
                source: Box::new(RenderErrorReason::SerdeError(e).into()),
            }),
        }
    }

    /// [`Templates::render`] of data already JSON, taken as is rather than copied (a
    /// list page's data is thousands of values).
    pub fn render_value(&self, name: &str, lang: Lang, data: Value) -> Result<String, I18nError> {
        let mut data = match data {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        for (key, value) in &self.globals {
            data.entry(key.clone()).or_insert_with(|| value.clone());
        }
        data.insert("lang".into(), Value::String(lang.tag().into()));
        self.registry
            .render(name, &Value::Object(data))
            .map_err(|source| I18nError::Render {
                name: name.to_string(),
                source: Box::new(source),
            })
    }
}

/// The `t` helper: the catalog message named by its first parameter, in the language of
/// the render's data, with its hash parameters as the message's arguments.
struct Translate(Arc<Catalog>);

impl HelperDef for Translate {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let key = h
            .param(0)
            .and_then(|p| p.value().as_str())
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("t", 0))?;
        let lang = ctx
            .data()
            .get("lang")
            .and_then(Value::as_str)
            .and_then(Lang::from_tag)
            .unwrap_or_default();
        let args: Vec<(&str, FluentValue<'_>)> = h
            .hash()
            .iter()
            .map(|(name, value)| {
                let value = match value.value() {
                    Value::Number(n) => n.as_f64().map_or(FluentValue::None, FluentValue::from),
                    Value::String(s) => FluentValue::from(s.as_str()),
                    Value::Null => FluentValue::from(""),
                    other => FluentValue::from(other.to_string()),
                };
                (*name, value)
            })
            .collect();
        Ok(ScopedJson::Derived(Value::String(
            self.0.message(lang, key, &args),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates(escape: Escape) -> Templates {
        let mut globals = serde_json::Map::new();
        globals.insert("brand".into(), serde_json::json!({"name": "A&B"}));
        Templates::new(
            Arc::new(Catalog::new().unwrap()),
            &[(
                "t",
                "{{t \"title-suffix\" title=title brand=brand.name}}|{{lang}}",
            )],
            escape,
            globals,
        )
        .unwrap()
    }

    #[test]
    fn messages_follow_the_language_and_escaping() {
        let html = templates(Escape::Html);
        let data = serde_json::json!({"title": "<Sign in>"});
        assert_eq!(
            html.render("t", Lang::En, &data).unwrap(),
            "&lt;Sign in&gt; · A&amp;B|en"
        );
        let text = templates(Escape::None);
        assert_eq!(
            text.render("t", Lang::Fr, &data).unwrap(),
            "<Sign in> · A&B|fr"
        );
    }
}
