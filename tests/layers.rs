//! Keeps `src/lib.rs`'s layer rule true: every `crate::` (or `super::` climbing to the crate
//! root) path from one top-level module to another must point down the layers, and nothing
//! below `web` may name an HTTP server type. A plain scan of the sources rather than a
//! compiler plugin: the rule is about what the files say, and a failure names the file and
//! the line to change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, top first. A module may use any module of a lower layer.
const LAYERS: &[&[&str]] = &[
    &["app"],
    &["web"],
    &["login", "oauth", "admin", "scim"],
    &[
        "wsfed",
        "saml",
        "oidc",
        "accounts",
        "discovery",
        "session",
        "audit",
        "mail",
    ],
    &["config", "telemetry", "secrets", "i18n"],
];

/// Uses within one layer, each a deliberate direction (the reverse would be a cycle).
const SIDEWAYS: &[(&str, &str)] = &[
    // Device login signs people in with a password the way the login pages do.
    ("oauth", "login"),
    // Users and the SAML core both speak in the tenant map's types (`Tenant`, `Email`).
    ("accounts", "discovery"),
    ("saml", "discovery"),
    ("oidc", "discovery"),
    // The audit log lives in the users' database, through its pool.
    ("audit", "accounts"),
    // SCIM is a protocol over the management operations, not a second set of them.
    ("scim", "admin"),
    // WS-Federation tokens pass SAML's parser, signature checks and assertion rules, and
    // its STS comes from the tenant's settings.
    ("wsfed", "saml"),
    ("wsfed", "discovery"),
    // Logs and metrics are configured (format, listen address) by the configuration.
    ("telemetry", "config"),
    // The gateway secret's file and value come from the configuration.
    ("secrets", "config"),
    // The operator's default language is one the catalogs have.
    ("config", "i18n"),
    // Mail is addressed with the validated `Email`.
    ("mail", "discovery"),
];

/// Crates whose types are HTTP serving; only `web` and `app` (which builds it) name them.
const HTTP_CRATES: &[&str] = &[
    "axum",
    "axum_server",
    "hyper",
    "hyper_util",
    "http",
    "tower",
    "tower_http",
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `src/saml/xml.rs` → `["saml", "xml"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Top-level modules a line names: `crate::x::...`, or `super::` chains that reach the root.
fn targets(line: &str, here: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            found.insert(word(&rest[at + 7..]));
        }
        rest = &rest[at + 7..];
    }
    let mut rest = line;
    while let Some(at) = rest.find("super::") {
        let before = rest[..at].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            rest = &rest[at + 7..];
            continue;
        }
        let mut tail = &rest[at..];
        // A file's own items sit in `here`; each `super` climbs one module.
        let mut depth = here.len();
        while let Some(t) = tail.strip_prefix("super::") {
            depth = depth.saturating_sub(1);
            tail = t;
        }
        if depth == 0 {
            found.insert(word(tail));
        }
        rest = &rest[at + 7..];
    }
    found.retain(|m| !m.is_empty());
    found
}

fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

#[test]
fn dependencies_point_down_the_layers() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let here = module_path(&src, file);
        let Some(top) = here.first().cloned() else {
            continue;
        };
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            problems.push(format!(
                "{}: module `{top}` is in no layer of tests/layers.rs (and src/lib.rs)",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        // Unit tests may reach anywhere to build fixtures.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = code_of(line);
            for target in targets(code, &here) {
                if target == top {
                    continue;
                }
                let ok = match layer_of(&target) {
                    Some(l) => l > own || SIDEWAYS.contains(&(top.as_str(), target.as_str())),
                    None => false,
                };
                if !ok {
                    problems.push(format!(
                        "{}:{}: `{top}` uses `{target}`, which is not below it",
                        file.display(),
                        n + 1
                    ));
                }
            }
            if own > layer_of("web").expect("web is a layer") {
                for c in HTTP_CRATES {
                    let pat = format!("{c}::");
                    let hit = code.match_indices(&pat).any(|(at, _)| {
                        !code[..at]
                            .chars()
                            .last()
                            .is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
                    });
                    if hit {
                        problems.push(format!(
                            "{}:{}: `{top}` names the HTTP crate `{c}`; only web and app may",
                            file.display(),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layer rule broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scan_sees_crate_and_super_paths() {
    let here = vec!["login".to_string()];
    assert_eq!(
        targets("use crate::web::guard::random_token;", &here),
        BTreeSet::from(["web".to_string()])
    );
    assert_eq!(
        targets("use super::app::AppState;", &here),
        BTreeSet::from(["app".to_string()])
    );
    let deeper = vec!["oauth".to_string(), "device".to_string()];
    assert_eq!(
        targets("use super::grants::Subject;", &deeper),
        BTreeSet::new()
    );
    assert_eq!(
        targets("use super::super::web::X;", &deeper),
        BTreeSet::from(["web".to_string()])
    );
    assert_eq!(
        targets("let x = $crate::y; notcrate::z", &here),
        BTreeSet::new()
    );
}
