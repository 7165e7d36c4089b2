//! Every catalog key a template names (`{{t "key"}}`, and a page's `title="key"` that its
//! frame translates, in `templates/` and `templates/mail/`) exists in every language's
//! catalog: a missing key would show as itself on a page or in a mail. So does every key a
//! handler hands a page, and no template shows a word of its own.

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

/// Words a template may show as they are: protocol and DNS terms, the same in every
/// language (what an IdP's configuration screen calls them).
const AS_IS: &[&str] = &[
    "TXT",
    "Issuer",
    "NameID",
    "sub",
    "Destination",
    "InResponseTo",
];

#[test]
fn templates_show_no_words_outside_the_catalogs() {
    fn words(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                words(&path, out);
                continue;
            }
            // Drop every `{{…}}` expression, then every tag: what is left is shown text.
            let mut text = std::fs::read_to_string(&path).unwrap();
            for (open, close) in [("{{", "}}"), ("<", ">")] {
                let mut kept = String::new();
                let mut rest = text.as_str();
                while let Some(at) = rest.find(open) {
                    kept.push_str(&rest[..at]);
                    kept.push(' ');
                    rest = rest[at..]
                        .find(close)
                        .map_or("", |end| &rest[at + end + close.len()..]);
                }
                kept.push_str(rest);
                text = kept;
            }
            for word in text.split(|c: char| !c.is_alphabetic()) {
                if word.chars().count() >= 3 && !AS_IS.contains(&word) {
                    out.push((path.display().to_string(), word.to_string()));
                }
            }
        }
    }
    let mut found = Vec::new();
    words(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        &mut found,
    );
    assert!(found.is_empty(), "words not from a catalog: {found:?}");
}

/// The keys handlers hand to the page templates (`"title": "key"`, `"message": "key"`,
/// `"link_label": "key"` in `src/web`'s page data) exist in every language.
#[test]
fn every_key_a_handler_names_exists_in_every_language() {
    fn keys(dir: &Path, out: &mut BTreeSet<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                keys(&path, out);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Page data: a line naming the page's title; the API's JSON has none.
            for line in text.lines().filter(|l| l.contains("\"title\": \"")) {
                for field in ["\"title\": \"", "\"message\": \"", "\"link_label\": \""] {
                    for value in line.split(field).skip(1) {
                        if let Some(end) = value.find('"') {
                            out.insert((path.display().to_string(), value[..end].to_string()));
                        }
                    }
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    keys(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"),
        &mut found,
    );
    assert!(found.len() > 10, "the scan found too few keys: {found:?}");
    for lang in Lang::ALL {
        let known = Catalog::keys(lang);
        let missing: Vec<_> = found.iter().filter(|(_, k)| !known.contains(k)).collect();
        assert!(missing.is_empty(), "{}: {missing:?}", lang.tag());
    }
}
