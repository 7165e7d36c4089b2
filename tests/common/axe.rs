//! axe-core in real Chromium: the WCAG 2.1 A and AA rules run on a page as a person sees
//! it (styles, colours, the 400 px layout). Any page can be checked:
//! `common::axe::assert_accessible(&browser, &url, "what").await` after `Browser::start()`,
//! or `violations` to look at them. axe-core comes from the npm test peers
//! (`tests/peers/node_modules/axe-core/axe.min.js`, installed by scripts/test.sh).

use super::Browser;

/// The WCAG 2.1 A and AA rule tags.
const TAGS: &str = r#"["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]"#;

/// axe-core's source; `None` (skip) outside CI when the npm peers are not installed.
pub fn source() -> Option<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/node_modules/axe-core/axe.min.js"
    );
    if !super::require_program(path) {
        return None;
    }
    Some(std::fs::read_to_string(path).unwrap())
}

/// The violations on the page the browser shows now, one line each: the rule, its impact
/// and the elements (by selector) that break it.
pub async fn violations(browser: &Browser, axe: &str) -> Vec<String> {
    let c = &browser.client;
    c.execute(axe, vec![]).await.unwrap();
    let script = format!(
        "const done = arguments[arguments.length - 1];
         axe.run(document, {{ runOnly: {{ type: 'tag', values: {TAGS} }} }})
            .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' +
                v.nodes.map(n => n.target.join(' ')).join(', '))))
            .catch(e => done(['axe failed: ' + e]));"
    );
    let found = c.execute_async(&script, vec![]).await.unwrap();
    serde_json::from_value(found).unwrap()
}

/// Opens `url` and fails the test, naming `what`, on any WCAG 2.1 AA violation.
pub async fn assert_accessible(browser: &Browser, axe: &str, url: &str, what: &str) {
    browser.client.goto(url).await.unwrap();
    browser.wait_for("main").await;
    check_current(browser, axe, what).await;
}

/// Fails the test, naming `what`, on any violation on the page shown now (one reached
/// through a form rather than a URL).
pub async fn check_current(browser: &Browser, axe: &str, what: &str) {
    let found = violations(browser, axe).await;
    assert!(
        found.is_empty(),
        "{what}: WCAG 2.1 AA violations:\n{}",
        found.join("\n")
    );
}
