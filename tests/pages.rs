//! The HTML pages as a person (or their screen reader) meets them: titles, errors tied to
//! their input, the favicon, colour contrast, and what the Waiting Room says to whom.

mod common;

use std::collections::HashMap;

use common::{TestApp, add_user, csrf, password_login, spawn_app};
use realmgate::accounts::Status;

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    client
        .get(app.at(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn title(html: &str) -> &str {
    let start = html.find("<title>").expect("a title") + 7;
    &html[start..start + html[start..].find("</title>").unwrap()]
}

/// The `<input>` tag whose id is `id`.
fn input<'h>(html: &'h str, id: &str) -> &'h str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}: {html}"));
    let start = html[..at].rfind("<input").expect("an input");
    &html[start..at + html[at..].find('>').unwrap() + 1]
}

#[tokio::test]
async fn titles_name_the_page_once() {
    let app = spawn_app(|_| {}).await;
    let client = app.client();
    assert_eq!(
        title(&page(&app, &client, "/").await),
        "Sign in · realmgate"
    );
    for path in ["/", "/fabrikam", "/nobody", "/waiting-room"] {
        let html = page(&app, &client, path).await;
        let parts: Vec<&str> = title(&html).split(" · ").collect();
        let mut distinct = parts.clone();
        distinct.dedup();
        assert_eq!(parts, distinct, "{path}: {}", title(&html));
    }
}

#[tokio::test]
async fn errors_are_tied_to_their_input() {
    let app = spawn_app(|_| {}).await;
    let client = app.client();
    // Before any error, nothing is marked.
    let html = page(&app, &client, "/").await;
    assert!(!input(&html, "email").contains("aria-invalid"), "{html}");

    let token = csrf(&app, &client).await;
    let res = client
        .post(app.at("/login/discover"))
        .form(&[("email", "alice"), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"error\""), "{html}");
    let email = input(&html, "email");
    assert!(
        email.contains("aria-invalid=\"true\"") && email.contains("aria-describedby=\"error\""),
        "{email}"
    );

    let res = password_login(
        &app,
        &client,
        &[("email", "carol@fabrikam.com"), ("password", "wrong")],
    )
    .await;
    assert_eq!(res.status(), 401);
    let html = res.text().await.unwrap();
    for id in ["email", "password"] {
        let tag = input(&html, id);
        assert!(
            tag.contains("aria-invalid=\"true\"") && tag.contains("aria-describedby=\"error\""),
            "{tag}"
        );
    }
}

#[tokio::test]
async fn pages_link_a_favicon_the_gateway_serves() {
    let app = spawn_app(|_| {}).await;
    let client = app.client();
    let html = page(&app, &client, "/").await;
    let link = html
        .split('<')
        .find(|t| t.starts_with("link rel=\"icon\""))
        .unwrap_or_else(|| panic!("no icon link: {html}"));
    let start = link.find("href=\"").unwrap() + 6;
    let href = &link[start..start + link[start..].find('"').unwrap()];
    let res = client.get(app.at(href)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{href}");
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.text().await.unwrap().starts_with("<svg"));
}

/// WCAG 2.x relative luminance of `#rrggbb`.
fn luminance(hex: &str) -> f64 {
    let hex = hex.trim_start_matches('#');
    assert_eq!(hex.len(), 6, "{hex}: write colours as #rrggbb");
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
}

fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The `--name: value` declarations of the first `:root { ... }` at or after `from`.
fn root_vars(css: &str, from: usize) -> HashMap<String, String> {
    let start = from + css[from..].find(":root {").expect(":root") + 7;
    let body = &css[start..start + css[start..].find('}').unwrap()];
    body.split(';')
        .filter_map(|d| d.trim().strip_prefix("--")?.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn error_and_body_text_meet_wcag_aa_contrast_in_light_and_dark() {
    let css = include_str!("../static/realmgate.css");
    // The ratios are about what the page shows: its text on its own background.
    assert!(css.contains("background: var(--bg); color: var(--fg);"));
    assert!(css.contains(".error { color: var(--err); }"));
    let light = root_vars(css, 0);
    let dark_at = css
        .find("@media (prefers-color-scheme: dark)")
        .expect("dark colours");
    let mut dark = light.clone();
    dark.extend(root_vars(css, dark_at));
    for (scheme, vars) in [("light", &light), ("dark", &dark)] {
        let var = |k: &str| {
            vars.get(k)
                .unwrap_or_else(|| panic!("{scheme}: no --{k}"))
                .as_str()
        };
        for text in ["err", "fg"] {
            let ratio = contrast(var(text), var("bg"));
            assert!(
                ratio >= 4.5,
                "{scheme}: --{text} on --bg is {ratio:.2}:1, below WCAG AA's 4.5:1"
            );
        }
        // The figure the stylesheet's comment gives is the one computed here.
        let stated = format!("{:.2}:1", contrast(var("err"), var("bg")));
        assert!(
            css.contains(&stated),
            "{scheme}: the comment should say {stated}"
        );
    }
}

#[tokio::test]
async fn the_waiting_room_tells_only_the_browser_a_sign_in_sent_there() {
    let app = spawn_app(|_| {}).await;
    // Anyone, without a session or a sign-in behind them.
    let html = page(&app, &app.client(), "/waiting-room").await;
    assert!(html.contains("Waiting for approval"), "{html}");
    for claim in ["account was created", "signed you in", "Your account"] {
        assert!(!html.contains(claim), "{claim:?} said to a visitor: {html}");
    }
    // A person whose right password found their account waiting.
    add_user(
        &app,
        "fabrikam",
        "wait@fabrikam.com",
        Some("pw for waiting"),
        false,
        Status::Waiting,
    )
    .await;
    let client = app.client();
    let res = password_login(
        &app,
        &client,
        &[
            ("email", "wait@fabrikam.com"),
            ("password", "pw for waiting"),
        ],
    )
    .await;
    assert_eq!(res.headers()["location"], "/waiting-room");
    let html = page(&app, &client, "/waiting-room").await;
    assert!(html.contains("Your account is waiting"), "{html}");
    assert!(!html.contains("account was created"), "{html}");
}
