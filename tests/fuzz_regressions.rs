//! Replays every committed fuzz seed and regression (`fuzz/seeds/<target>/`,
//! `fuzz/regressions/<target>/`) through the same checks the `cargo fuzz` targets run, so a
//! crash found once stays fixed in plain `cargo test`.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::PathBuf;

/// Runs `check` on every file of the target's seed and regression directories and of
/// `extra` (test data that seeds the target too); returns how many there were.
fn replay(target: &str, extra: &[&str], check: fn(&[u8])) -> usize {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dirs = ["fuzz/seeds", "fuzz/regressions"]
        .iter()
        .map(|d| root.join(d).join(target))
        .chain(extra.iter().map(|d| root.join(d)));
    let mut n = 0;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for path in files {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            eprintln!("replaying {}", path.display());
            check(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn email() {
    assert!(replay("email", &[], checks::email) > 10);
}

#[test]
fn tenant_file() {
    assert!(replay("tenant_file", &["domains"], checks::tenant_file) > 3);
}

#[test]
fn saml_response() {
    assert!(
        replay(
            "saml_response",
            &["tests/testdata/saml"],
            checks::saml_response
        ) > 10
    );
}

#[test]
fn wsfed_wresult() {
    assert!(
        replay(
            "wsfed_wresult",
            &["tests/testdata/wsfed"],
            checks::wsfed_wresult
        ) > 10
    );
}

#[test]
fn saml_logout() {
    assert!(replay("saml_logout", &[], checks::saml_logout) >= 4);
}

#[test]
fn xml_document() {
    assert!(
        replay(
            "xml_document",
            &["tests/testdata/saml", "domains"],
            checks::xml_document
        ) > 10
    );
}

#[test]
fn redirect_query() {
    assert!(replay("redirect_query", &[], checks::redirect_query) > 10);
}

#[test]
fn scim_request() {
    assert!(replay("scim_request", &[], checks::scim_request) > 10);
}
