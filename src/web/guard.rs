//! Request guards shared by every surface: cookies, CSRF tokens, the `return_to` allow-list
//! and security headers.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use url::Url;

use crate::config::Config;
use crate::secrets::random_token;

use super::error::WebError;

/// Name of the CSRF cookie (double-submit pattern).
const CSRF_COOKIE: &str = "realmgate_csrf";

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Base name of the session cookie (see [`cookie_name`]).
pub const SESSION_COOKIE: &str = "realmgate_session";

/// Cookie name with the `__Host-` prefix under HTTPS: the browser then insists on `Secure`,
/// `Path=/` and no `Domain`, so a sibling subdomain cannot plant or overwrite it. Over
/// plain HTTP (development) browsers refuse such cookies, so the base name is used.
pub fn cookie_name(config: &Config, base: &str) -> String {
    if config.is_https() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// A `Set-Cookie` value: HttpOnly, Path=/, Secure under HTTPS.
///
/// `SameSite=None` is refused by browsers without `Secure`, so over plain HTTP (development
/// only) it is left out: Chromium then still sends the cookie on a top-level cross-site
/// POST made within two minutes, which covers a local test IdP.
///
/// Fails rather than answer an empty header when the cookie is no valid header value (a
/// control character in the name or value): the browser would keep no cookie and the flow
/// would break later, far from the cause.
pub fn set_cookie(
    config: &Config,
    name: &str,
    value: &str,
    same_site: SameSite,
    max_age: Option<i64>,
) -> Result<HeaderValue, WebError> {
    let mut c = Cookie::build((name.to_string(), value.to_string()))
        .path("/")
        .http_only(true)
        .secure(config.is_https());
    if same_site != SameSite::None || config.is_https() {
        c = c.same_site(same_site);
    }
    if let Some(secs) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(secs));
    }
    HeaderValue::from_str(&c.build().to_string()).map_err(|source| WebError::SetCookie {
        name: name.to_string(),
        source,
    })
}

/// This browser's binding cookie `base`, which ties a pending step (a form, an SSO or
/// OAuth request) to the browser that started it: the value it holds when it is one we
/// could have minted, else a fresh random one and the `Set-Cookie` that plants it.
pub fn binding(
    config: &Config,
    headers: &HeaderMap,
    base: &str,
    same_site: SameSite,
    max_age: Option<i64>,
) -> Result<(String, Option<HeaderValue>), WebError> {
    let name = cookie_name(config, base);
    if let Some(value) = cookie(headers, &name).filter(|v| v.len() == 43) {
        return Ok((value, None));
    }
    let value = random_token();
    let set = set_cookie(config, &name, &value, same_site, max_age)?;
    Ok((value, Some(set)))
}

/// The CSRF token of this browser, and the `Set-Cookie` to send when it is new.
pub fn csrf_token(
    config: &Config,
    headers: &HeaderMap,
) -> Result<(String, Option<HeaderValue>), WebError> {
    binding(config, headers, CSRF_COOKIE, SameSite::Lax, None)
}

/// A page response with an optional `Set-Cookie`.
pub fn with_cookie(
    status: StatusCode,
    set_cookie: Option<HeaderValue>,
    body: impl IntoResponse,
) -> Response {
    let mut res = (status, body).into_response();
    if let Some(c) = set_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Checks a submitted form token against the cookie, in constant time.
pub fn check_csrf(config: &Config, headers: &HeaderMap, submitted: &str) -> Result<(), WebError> {
    let cookie = cookie(headers, &cookie_name(config, CSRF_COOKIE)).ok_or(WebError::Csrf)?;
    let same: bool = subtle::ConstantTimeEq::ct_eq(cookie.as_bytes(), submitted.as_bytes()).into();
    if same && !cookie.is_empty() {
        Ok(())
    } else {
        Err(WebError::Csrf)
    }
}

/// Validates `return_to`, answering the absolute URL to redirect to.
///
/// Accepted: a path on this gateway (`/app`), or an http(s) URL whose host is in
/// `allowed_return_hosts`. Refused: everything browsers might read differently from us
/// (backslashes, control characters, scheme-relative `//evil`, credentials in the URL).
pub fn return_to(config: &Config, raw: &str) -> Result<Url, WebError> {
    let refuse = |why: &str| WebError::ReturnTo(format!("{why}: {raw:?}"));
    if raw.is_empty() || raw.len() > 2048 {
        return Err(refuse("empty or too long"));
    }
    if raw
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(refuse("control character, space or backslash"));
    }
    let lower = raw.to_ascii_lowercase();
    let url = if raw.starts_with('/') {
        if raw.starts_with("//") || lower.starts_with("/%2f") || lower.starts_with("/%5c") {
            return Err(refuse("scheme-relative"));
        }
        config
            .public_url
            .join(raw)
            .map_err(|_| refuse("unparsable"))?
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        Url::parse(raw).map_err(|_| refuse("unparsable"))?
    } else {
        return Err(refuse("not a path or an http(s) URL"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in URL"));
    }
    if url.scheme() == "http" && config.is_https() {
        return Err(refuse("plain http from an https gateway"));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    if !config.return_hosts().contains(&host) {
        return Err(refuse("host not in allowed_return_hosts"));
    }
    Ok(url)
}

/// Adds security headers to every response, and `no-store` to everything but static files
/// (auth pages must never be cached by a shared proxy or the back button).
pub fn security_headers(h: &mut HeaderMap, is_static: bool) {
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
         form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'",
        ));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            public_url: Url::parse("https://login.example.com").unwrap(),
            allowed_return_hosts: vec!["login.example.com".into(), "app.example.com".into()],
            ..Config::default()
        }
    }

    fn plain_http() -> Config {
        Config {
            public_url: Url::parse("http://localhost:8080").unwrap(),
            ..Config::default()
        }
    }

    #[test]
    fn cookie_names_are_host_prefixed_under_https() {
        assert_eq!(
            cookie_name(&config(), SESSION_COOKIE),
            "__Host-realmgate_session"
        );
        assert_eq!(
            cookie_name(&plain_http(), SESSION_COOKIE),
            "realmgate_session"
        );
    }

    #[test]
    fn a_cookie_that_cannot_be_a_header_is_an_error_not_an_empty_set_cookie() {
        for c in [config(), plain_http()] {
            assert!(set_cookie(&c, "realmgate_csrf", "a\nb", SameSite::Lax, None).is_err());
            assert!(set_cookie(&c, "realmgate\r", "ok", SameSite::None, Some(60)).is_err());
        }
    }

    #[test]
    fn same_site_none_only_where_browsers_accept_it() {
        let https = set_cookie(&config(), "n", "v", SameSite::None, Some(60)).unwrap();
        let https = https.to_str().unwrap();
        assert!(
            https.contains("SameSite=None") && https.contains("Secure"),
            "{https}"
        );
        let http = set_cookie(&plain_http(), "n", "v", SameSite::None, Some(60)).unwrap();
        let http = http.to_str().unwrap();
        assert!(
            !http.contains("SameSite") && !http.contains("Secure"),
            "{http}"
        );
        let lax = set_cookie(&plain_http(), "n", "v", SameSite::Lax, None).unwrap();
        assert!(lax.to_str().unwrap().contains("SameSite=Lax"));
    }

    #[test]
    fn a_binding_is_reused_only_when_we_could_have_minted_it() {
        let c = config();
        let mut headers = HeaderMap::new();
        let (fresh, set) = binding(&c, &headers, "realmgate_oauth", SameSite::Lax, None).unwrap();
        let set = set.unwrap();
        assert!(
            set.to_str()
                .unwrap()
                .starts_with(&format!("__Host-realmgate_oauth={fresh}"))
        );
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("__Host-realmgate_oauth={fresh}")).unwrap(),
        );
        let (again, set) = binding(&c, &headers, "realmgate_oauth", SameSite::Lax, None).unwrap();
        assert_eq!((again.as_str(), set), (fresh.as_str(), None));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-realmgate_oauth=planted"),
        );
        let (other, set) = binding(&c, &headers, "realmgate_oauth", SameSite::Lax, None).unwrap();
        assert!(other != "planted" && set.is_some());
    }

    #[test]
    fn accepts_own_paths_and_allowed_hosts() {
        let c = config();
        assert_eq!(
            return_to(&c, "/apps?x=1").unwrap().as_str(),
            "https://login.example.com/apps?x=1"
        );
        assert_eq!(
            return_to(&c, "https://APP.example.com/inbox")
                .unwrap()
                .as_str(),
            "https://app.example.com/inbox"
        );
    }

    #[test]
    fn refuses_open_redirects() {
        let c = config();
        let payloads = include_str!("../../tests/data/open_redirects.txt");
        let mut n = 0;
        for p in payloads
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            assert!(return_to(&c, p).is_err(), "accepted {p:?}");
            n += 1;
        }
        assert!(n > 50);
    }
}
