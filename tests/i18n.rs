//! Every catalog key a template names (`{{t "key"}}`, and a page's `title="key"` that its
//! frame translates, in `templates/` and `templates/mail/`) exists in every language's
//! catalog: a missing key would show as itself on a page or in a mail.

use std::collections::BTreeSet;
use std::path::Path;

use realmgate::i18n::{Catalog, Lang};

fn template_keys(dir: &Path, out: &mut BTreeSet<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            template_keys(&path, out);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // A page's title is a key: `{{#> layout title="key"}}`, `{{#> console title="key"}}`.
        for title in text.split(" title=\"").skip(1) {
            if let Some(end) = title.find('"') {
                out.insert((path.display().to_string(), title[..end].to_string()));
            }
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find("t \"") {
            let before = rest[..at].chars().last();
            rest = &rest[at + 3..];
            if !matches!(before, Some('{') | Some('(') | Some(' ')) {
                continue;
            }
            if let Some(end) = rest.find('"') {
                out.insert((path.display().to_string(), rest[..end].to_string()));
            }
        }
    }
}

#[test]
fn every_key_a_template_names_exists_in_every_language() {
    let mut keys = BTreeSet::new();
    template_keys(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        &mut keys,
    );
    assert!(keys.len() > 40, "the scan found too few keys: {keys:?}");
    for lang in Lang::ALL {
        let known = Catalog::keys(lang);
        let missing: Vec<_> = keys.iter().filter(|(_, k)| !known.contains(k)).collect();
        assert!(missing.is_empty(), "{}: {missing:?}", lang.tag());
    }
}
