//! Password login, the no-sso fail-safe page, the Waiting Room, sign-out, the signed-in
//! page, and forward-auth for reverse proxies.

use std::net::{IpAddr, SocketAddr};

use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::state::{AppState, SharedState};
use crate::discovery::Route;
use crate::i18n::Lang;
use crate::login::{LoginError, PasswordAttempt, PasswordOutcome};
use crate::session::Session;

use super::discover::checked_return_to;
use super::error::{PageError, WebError};
use super::guard::{self, SESSION_COOKIE, with_cookie};

/// The password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    return_to: Option<String>,
    /// Set by the no-sso page: the account whose fail-safe this is.
    account: Option<String>,
    no_sso: Option<String>,
}

/// `POST /login/password`.
pub async fn password(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let pages = state.pages.clone();
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return PageError(e, pages).into_response();
    }
    let return_to = match checked_return_to(&state.config, form.return_to.as_deref()) {
        Ok(r) => r,
        Err(e) => return PageError(e, pages).into_response(),
    };
    let no_sso = form
        .no_sso
        .as_ref()
        .and(form.account.as_deref())
        .filter(|a| !a.is_empty());
    let attempt = PasswordAttempt {
        email: &form.email,
        password: &form.password,
        client_ip: client_ip(&state, peer, &headers),
        no_sso,
    };
    match state.login.password_login(attempt, Utc::now()).await {
        Ok(PasswordOutcome::SignedIn { session, lang }) => {
            remember_language(&state, session.user_id, lang).await;
            signed_in(&state, &session, return_to.as_ref().map(|u| u.as_str()))
        }
        Ok(PasswordOutcome::Waiting(user)) => {
            remember_language(&state, user.id, user.lang).await;
            to_waiting_room(&state, WaitingVia::Password)
        }
        Err(e @ (LoginError::BadCredentials(_) | LoginError::RateLimited(_))) => {
            // The same page, status and bytes whatever the reason (unknown user, wrong
            // password, no password): the email is not echoed back.
            let status = match &e {
                LoginError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let (csrf, set_cookie) = match guard::csrf_token(&state.config, &headers) {
                Ok(t) => t,
                Err(e) => return PageError(e, pages).into_response(),
            };
            let body = state.pages.render(
                "password",
                &json!({
                    "csrf": csrf,
                    "error": if status == StatusCode::TOO_MANY_REQUESTS { "password-too-many" } else { "password-incorrect" },
                    "invalid": status == StatusCode::UNAUTHORIZED,
                    "return_to": return_to.as_ref().map(|u| u.as_str()),
                    "account": no_sso,
                    "no_sso": no_sso.is_some(),
                    "back_url": "/",
                }),
            );
            let retry = match &e {
                LoginError::RateLimited(r) => HeaderValue::from_str(&r.seconds().to_string()).ok(),
                _ => None,
            };
            let mut res = with_cookie(status, set_cookie, body);
            if let Some(v) = retry {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        Err(e) => PageError(e.into(), pages).into_response(),
    }
}

/// The address rate limits apply to: the peer, or the client named in `X-Forwarded-For`
/// when the peer is a configured trusted proxy (never trusted otherwise: it is forgeable).
pub fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let peer_ip = peer.ip();
    if !state.config.trusted_proxies.contains(&peer_ip) {
        return peer_ip;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.rsplit(',')
                .map(str::trim)
                .find_map(|s| s.parse::<IpAddr>().ok())
        })
        .unwrap_or(peer_ip)
}

/// `GET /{account}/no-sso`: the fail-safe password page for an SSO account's admins;
/// `return_to` (the admin console asking for a fresh sign-in) is where it lands after.
pub async fn no_sso_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<super::discover::EntryQuery>,
) -> Response {
    let pages = state.pages.clone();
    let return_to = match checked_return_to(&state.config, q.return_to.as_deref()) {
        Ok(r) => r,
        Err(e) => return PageError(e, pages).into_response(),
    };
    let tenant = super::discover::account_tenant(&state, &account).await;
    // A tenant homed in another region has its users there: its fail-safe is there too.
    if let Ok(t) = &tenant
        && let Route::OtherRegion { url, tenant, .. } =
            state.discovery.route_to_home(t.clone(), None).await
    {
        let path = format!("/{}/no-sso", tenant.account);
        let to = super::discover::other_region_url(&url, &path, None, None);
        return Redirect::to(to.as_str()).into_response();
    }
    match tenant {
        Ok(t) if t.sso.is_some() => {
            tracing::info!(target: "audit", event = "no_sso_page", account = %account);
            let (csrf, set_cookie) = match guard::csrf_token(&state.config, &headers) {
                Ok(t) => t,
                Err(e) => return PageError(e, pages).into_response(),
            };
            let body = state.pages.render(
                "password",
                &json!({
                    "csrf": csrf,
                    "account": account,
                    "no_sso": true,
                    "return_to": return_to.as_ref().map(|u| u.as_str()),
                    "notice": "no-sso-notice",
                    "tenant_name": t.name,
                    "back_url": "/",
                }),
            );
            with_cookie(StatusCode::OK, set_cookie, body)
        }
        Ok(_) => Redirect::to(&format!("/{account}")).into_response(),
        Err(e) => PageError(e, pages).into_response(),
    }
}

/// Sets the session cookie and sends the person on.
pub fn signed_in(state: &AppState, session: &Session, return_to: Option<&str>) -> Response {
    let cookie = match guard::set_cookie(
        &state.config,
        &guard::cookie_name(&state.config, SESSION_COOKIE),
        &session.id,
        cookie::SameSite::Lax,
        Some(state.config.session_max_seconds as i64),
    ) {
        Ok(c) => c,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let mut res = Redirect::to(return_to.unwrap_or("/me")).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

/// Remembers the language of this request as the user's (that of their last sign-in),
/// for the mail sent to them later: an approval, an invitation, a Waiting Room notice.
/// Written only when it differs from `stored`, so a sign-in in the usual language costs
/// no write. A failure is logged; the sign-in goes on.
pub async fn remember_language(state: &AppState, user_id: i64, stored: Option<Lang>) {
    let lang = super::pages::lang();
    if stored == Some(lang) {
        return;
    }
    if let Err(e) = state.users.set_lang(user_id, lang).await {
        tracing::warn!(user_id, reason = %e, "the language of the sign-in was not remembered");
    }
}

/// The session of this request, if any.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, WebError> {
    let Some(id) = guard::cookie(headers, &guard::cookie_name(&state.config, SESSION_COOKIE))
    else {
        return Ok(None);
    };
    let Some(session) = state.sessions.load(&id, Utc::now()).await? else {
        return Ok(None);
    };
    let users = state.users.clone();
    let sessions = state.sessions.clone();
    let user_id = session.user_id;
    let gate = state
        .active_users
        .try_get_with(user_id, async move {
            let active = users
                .by_id(user_id)
                .await
                .map(|u| u.is_some_and(|u| u.status == crate::accounts::Status::Active))
                .map_err(|e| WebError::Accounts(std::sync::Arc::new(e)))?;
            let ended_at = sessions.ended_at(user_id).await?;
            Ok::<_, WebError>(UserGate { active, ended_at })
        })
        .await
        .map_err(WebError::SessionCheck)?;
    let reason = if !gate.active {
        "user no longer active"
    } else if gate.ended_at.is_some_and(|t| session.created_at <= t) {
        "the user's sessions were ended (password reset)"
    } else {
        return Ok(Some(session));
    };
    tracing::info!(target: "audit", event = "session_ended", reason, user_id, account = %session.account);
    state.sessions.destroy(&id).await?;
    Ok(None)
}

/// What admits a user's sessions, cached per user for at most 30 s (`active_users`).
#[derive(Debug, Clone, Copy)]
pub struct UserGate {
    /// The user exists and is active.
    pub active: bool,
    /// Sessions opened up to then were ended (`Sessions::end_all`).
    pub ended_at: Option<chrono::DateTime<Utc>>,
}

/// `GET /me`: who is signed in.
pub async fn me(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    match current(&state, &headers).await {
        Ok(Some(s)) => {
            let (csrf, set_cookie) = match guard::csrf_token(&state.config, &headers) {
                Ok(t) => t,
                Err(e) => return PageError(e, state.pages.clone()).into_response(),
            };
            let body = state.pages.render(
                "message",
                &json!({"title": "signed-in-title", "message": "signed-in-as", "name": s.name, "email": s.email, "signed_in": true, "csrf": csrf}),
            );
            with_cookie(StatusCode::OK, set_cookie, body)
        }
        Ok(None) => Redirect::to("/").into_response(),
        Err(e) => PageError(e, state.pages.clone()).into_response(),
    }
}

/// The cookie by which a sign-in tells the Waiting Room it just sent this browser there,
/// and how. The page has no session to read (the account is not approved), and a link
/// cannot set a cookie, so nobody else can make the page tell a visitor that they signed
/// in or that their account was created.
const WAITING_COOKIE: &str = "realmgate_waiting";

/// How long the Waiting Room keeps recognising the browser a sign-in sent there.
const WAITING_SECONDS: i64 = 600;

/// The sign-in that found the person's account waiting for approval.
#[derive(Debug, Clone, Copy)]
pub enum WaitingVia {
    /// An IdP vouched for them (the account may have just been created for them).
    Sso,
    /// Their password was right.
    Password,
}

impl WaitingVia {
    const ALL: [WaitingVia; 2] = [WaitingVia::Sso, WaitingVia::Password];

    /// The cookie's value.
    fn as_str(self) -> &'static str {
        match self {
            WaitingVia::Sso => "sso",
            WaitingVia::Password => "password",
        }
    }

    /// The catalog key of what the Waiting Room tells the person this sign-in sent there.
    fn message(self) -> &'static str {
        match self {
            WaitingVia::Sso => "waiting-sso",
            WaitingVia::Password => "waiting-password",
        }
    }
}

/// The Waiting Room's text (its catalog key) for a visitor no sign-in sent there: nothing
/// about them.
const WAITING_GENERIC: &str = "waiting-generic";

/// Sends the browser of a sign-in whose account awaits approval to the Waiting Room,
/// with the cookie that page reads.
pub fn to_waiting_room(state: &AppState, via: WaitingVia) -> Response {
    match guard::set_cookie(
        &state.config,
        &guard::cookie_name(&state.config, WAITING_COOKIE),
        via.as_str(),
        cookie::SameSite::Lax,
        Some(WAITING_SECONDS),
    ) {
        Ok(cookie) => {
            let mut res = Redirect::to("/waiting-room").into_response();
            res.headers_mut().append(header::SET_COOKIE, cookie);
            res
        }
        Err(e) => PageError(e, state.pages.clone()).into_response(),
    }
}

/// `GET /waiting-room`: what the sign-in that sent this browser found, or, without its
/// cookie, a text that says nothing about the visitor.
pub async fn waiting_room(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let cookie = guard::cookie(&headers, &guard::cookie_name(&state.config, WAITING_COOKIE));
    let message = cookie
        .and_then(|v| WaitingVia::ALL.into_iter().find(|w| w.as_str() == v))
        .map_or(WAITING_GENERIC, WaitingVia::message);
    state
        .pages
        .render(
            "message",
            &json!({"title": "waiting-title", "message": message}),
        )
        .into_response()
}

/// Sign-out form.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return PageError(e, state.pages.clone()).into_response();
    }
    let (expired, ended) = match sign_out(&state, &headers).await {
        Ok(signed_out) => signed_out,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let mut res = match ended {
        Some(s) => onward(&state, &headers, &s).await,
        None => Redirect::to("/").into_response(),
    };
    res.headers_mut().append(header::SET_COOKIE, expired);
    res
}

/// Where the browser goes once `ended` is over here: a SAML session whose IdP does Single
/// Logout to the IdP with our LogoutRequest (its answer bound to this browser), a
/// WS-Federation tenant's to its STS (`wsignout1.0`), every other to the start page.
async fn onward(state: &AppState, headers: &HeaderMap, ended: &Session) -> Response {
    let bound = guard::binding(
        &state.config,
        headers,
        super::sso::BINDING_COOKIE,
        cookie::SameSite::None,
        Some(crate::login::PENDING_TTL.as_secs() as i64),
    );
    if let Ok((binding, set_cookie)) = bound
        && let Some(start) = state.login.saml_logout(ended, &binding, Utc::now()).await
    {
        return super::sso::to_idp(state, start, set_cookie);
    }
    let reply = format!(
        "{}/",
        state.config.public_url.as_str().trim_end_matches('/')
    );
    let to = state.login.wsfed_signout(&ended.account, &reply).await;
    Redirect::to(to.as_ref().map_or("/", |u| u.as_str())).into_response()
}

/// Ends this browser's session (through `Sessions::destroy`, so the apps it signed in to
/// are told) and answers the cookie that clears it, with the session that ended, if one
/// was open: `/logout` and the end-session endpoint both sign out this way.
pub(super) async fn sign_out(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(HeaderValue, Option<Session>), WebError> {
    let name = guard::cookie_name(&state.config, SESSION_COOKIE);
    let mut ended = None;
    if let Some(id) = guard::cookie(headers, &name) {
        if let Ok(Some(s)) = state.sessions.load(&id, Utc::now()).await {
            tracing::info!(target: "audit", event = "logout", account = %s.account, email = %s.email, user_id = s.user_id);
            ended = Some(s);
        }
        state.sessions.destroy(&id).await?;
    }
    let expired = guard::set_cookie(&state.config, &name, "", cookie::SameSite::Lax, Some(0))?;
    Ok((expired, ended))
}

/// `GET /auth/verify`: forward-auth for nginx `auth_request`, Traefik ForwardAuth and Caddy
/// `forward_auth`. 200 with identity headers for a valid session, 401 otherwise.
pub async fn verify(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    match current(&state, &headers).await {
        Ok(Some(s)) => {
            let mut res = StatusCode::OK.into_response();
            let h = res.headers_mut();
            for (name, value) in [
                ("x-realmgate-user", s.user_id.to_string()),
                ("x-realmgate-email", s.email.clone()),
                ("x-realmgate-account", s.account.clone()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    h.insert(HeaderName::from_static(name), v);
                }
            }
            res
        }
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        // The stable JSON error, so a proxy that relays the answer (Traefik) or its logs
        // say why, rather than an empty 503.
        Err(e) => super::error::ApiError(e).into_response(),
    }
}
