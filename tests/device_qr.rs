//! The QR code of `verification_uri_complete` on the `/device` approval page: present,
//! inline (a `data:` SVG within the page's CSP) and encoding exactly the URL the device
//! authorization answered with.

mod common;

use base64::Engine;
use common::{add_active, spawn_app};
use realmgate::config::OAuthClient;
use serde_json::Value;

#[tokio::test]
async fn approval_page_shows_the_qr_code_of_the_complete_verification_uri() {
    let app = spawn_app(|c| {
        c.oauth_clients = vec![OAuthClient {
            client_id: "mfp".into(),
            redirect_uris: vec![],
            ..Default::default()
        }];
    })
    .await;
    add_active(&app, "fabrikam", "carol@fabrikam.com", "correct horse").await;
    let d: Value = reqwest::Client::new()
        .post(app.at("/oauth2/device_authorization"))
        .form(&[("client_id", "mfp"), ("login_hint", "carol@fabrikam.com")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let complete = d["verification_uri_complete"].as_str().unwrap();

    // The person follows the complete URI, signs in with the password, and is back on /device.
    let browser = app.client();
    let html = browser
        .get(complete)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let return_to = common::idp::hidden(&html, "return_to").unwrap();
    let res = browser
        .post(app.at("/login/password"))
        .form(&[
            ("email", "carol@fabrikam.com"),
            ("password", "correct horse"),
            ("csrf", common::csrf_of(&html).as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_string();
    let res = browser.get(&back).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("img-src 'self' data:"), "{csp}");
    let html = common::unescape(&res.text().await.unwrap());
    assert!(html.contains("action=\"/device/decide\""), "{html}");

    let start = html
        .find("<figure id=\"qr\"><img src=\"")
        .expect("no QR code")
        + 26;
    let src = &html[start..start + html[start..].find('"').unwrap()];
    assert_eq!(
        Some(src.to_string()),
        realmgate::web::qr::data_uri(complete),
        "the QR code does not encode {complete}"
    );
    let svg = base64::engine::general_purpose::STANDARD
        .decode(src.strip_prefix("data:image/svg+xml;base64,").unwrap())
        .unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    // No script: the picture is an image, not markup the page runs.
    assert!(!svg.contains("<script"));
}
