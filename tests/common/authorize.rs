//! A relying party's authorization request at realmgate's `/oauth2/authorize` as a browser
//! follows it (plain HTTP, no redirects followed for it): through the password step when it
//! has no session, on to the app's redirect URI with the code.
#![allow(dead_code)]

use std::collections::HashMap;

use super::TestApp;
use super::idp::hidden;

/// The query of `location` (an absolute URL), by name.
pub fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Follows the authorization request `url` as `browser`, signing in at the password step
/// with `login` (email, password) when it shows, and answers the query the app's redirect
/// URI receives; that URI must start with `redirect`.
pub async fn through_password_step(
    app: &TestApp,
    browser: &reqwest::Client,
    url: &str,
    (email, password): (&str, &str),
    redirect: &str,
) -> HashMap<String, String> {
    let res = browser.get(url).send().await.unwrap();
    let resume = if res.status().is_redirection() {
        res.headers()["location"].to_str().unwrap().to_string()
    } else {
        let html = res.text().await.unwrap();
        assert!(html.contains("action=\"/login/password\""), "{html}");
        let return_to = hidden(&html, "return_to").unwrap();
        let res = browser
            .post(app.at("/login/password"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf", &super::csrf_of(&html)),
                ("return_to", &return_to),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        res.headers()["location"].to_str().unwrap().to_string()
    };
    let resume = if resume.starts_with('/') {
        app.at(&resume)
    } else {
        resume
    };
    let res = browser.get(&resume).send().await.unwrap();
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(redirect), "{loc}");
    query_of(&loc)
}
