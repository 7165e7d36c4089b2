//! The language switch: `GET /lang/{tag}?back=/path` sets the `lang` cookie and returns to
//! the page it was clicked on. A plain link, so it works without JavaScript; a cookie,
//! so the choice outlives the page and beats `Accept-Language` on the next one.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::{PageError, WebError};
use super::guard;
use super::pages::PageContext;
use super::state::{AppState, SharedState};
use crate::i18n::Lang;

/// The cookie holding the chosen language (`__Host-lang` under HTTPS).
pub const LANG_COOKIE: &str = "lang";

/// A year: a language is a lasting preference.
const LANG_SECONDS: i64 = 365 * 24 * 3600;

/// Query of the switch.
#[derive(Debug, Deserialize)]
pub struct SwitchQuery {
    /// The page to return to.
    back: Option<String>,
}

/// The page context of a request: its language from the cookie or `Accept-Language`,
/// and, for a GET, its own path as the switch's way back.
pub fn page_context(
    state: &AppState,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> PageContext {
    let cookie = guard::cookie(headers, &guard::cookie_name(&state.config, LANG_COOKIE));
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let back = if method == axum::http::Method::GET {
        uri.path_and_query().map_or("/", |p| p.as_str())
    } else {
        "/"
    };
    PageContext {
        lang: Lang::negotiate(cookie.as_deref(), accept, state.config.default_language),
        back: super::discover::encode(back),
    }
}

/// `GET /lang/{tag}`: remembers the language and goes back.
pub async fn switch(
    State(state): State<SharedState>,
    Path(tag): Path<String>,
    Query(q): Query<SwitchQuery>,
) -> Response {
    let Some(lang) = Lang::from_tag(&tag) else {
        return PageError(WebError::NotFound, state.pages.clone()).into_response();
    };
    let back = q
        .back
        .as_deref()
        .filter(|b| is_local_path(b))
        .unwrap_or("/");
    match guard::set_cookie(
        &state.config,
        &guard::cookie_name(&state.config, LANG_COOKIE),
        lang.tag(),
        cookie::SameSite::Lax,
        Some(LANG_SECONDS),
    ) {
        Ok(cookie) => {
            let mut res = Redirect::to(back).into_response();
            res.headers_mut().append(header::SET_COOKIE, cookie);
            res
        }
        Err(e) => PageError(e, state.pages.clone()).into_response(),
    }
}

/// A path on this gateway: `/…` but not `//host` nor `/\host` (which browsers read as
/// another site), so the switch is no open redirect.
fn is_local_path(back: &str) -> bool {
    back.starts_with('/')
        && !back.starts_with("//")
        && !back.starts_with("/\\")
        && !back.chars().any(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_stays_on_this_gateway() {
        assert!(is_local_path("/device?user_code=AB"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "/\t/evil",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}
