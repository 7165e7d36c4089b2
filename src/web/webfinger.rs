//! WebFinger (RFC 7033) at `/.well-known/webfinger?resource=acct:EMAIL`: the standard way
//! for a client to ask "where does this person sign in?". The answer is the same
//! domain-only decision as `/api/v1/discover` (it names no user and reveals no account
//! existence), rate-limited per client address like the other discovery entry points.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::state::SharedState;
use crate::discovery::Email;

use super::discover::sign_in_url;

/// Link relation of the sign-in URL for the resource's organisation.
pub const SIGN_IN_REL: &str = "https://realmgate.dev/rel/sign-in";

/// OpenID Connect Discovery §2's issuer relation.
pub const OIDC_ISSUER_REL: &str = "http://openid.net/specs/connect/1.0/issuer";

fn jrd(status: StatusCode, body: Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jrd+json"),
    );
    // RFC 7033 §5: WebFinger is queried from browsers of other origins.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

fn refuse(status: StatusCode, code: &str) -> Response {
    jrd(status, json!({"error": code}))
}

/// `GET /.well-known/webfinger`.
#[utoipa::path(
    get,
    path = "/.well-known/webfinger",
    tag = "discovery",
    params(
        ("resource" = String, Query, description = "`acct:EMAIL`", pattern = "^acct:", example = "acct:ann@fabrikam.com"),
        ("rel" = Option<String>, Query, description = "Link relations to return"),
    ),
    responses(
        (status = 200, description = "JRD (RFC 7033 §4.4) with the sign-in link", content_type = "application/jrd+json", body = Object),
        (status = 400, description = "Missing or malformed resource", content_type = "application/jrd+json", body = super::openapi::JrdError),
        (status = 404, description = "Not an acct: this gateway answers for", content_type = "application/jrd+json", body = super::openapi::JrdError),
        (status = 429, description = "rate_limited", content_type = "application/jrd+json", body = super::openapi::JrdError),
        (status = 503, description = "A backend is down", content_type = "application/jrd+json", body = super::openapi::JrdError),
    )
)]
pub async fn webfinger(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ip = super::account::client_ip(&state, peer, &headers);
    match state
        .limiter
        .check("webfinger", &ip.to_string(), Utc::now())
        .await
    {
        Ok(()) => {}
        Err(crate::session::RateLimitError::Limited(r)) => {
            let mut res = refuse(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            if let Ok(v) = HeaderValue::from_str(&r.seconds().to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
        Err(e) => {
            tracing::error!(reason = %e, "webfinger rate limit unavailable");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
        }
    }
    let mut resource = None;
    let mut rels = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match &*k {
            "resource" if resource.is_none() => resource = Some(v.into_owned()),
            "resource" => return refuse(StatusCode::BAD_REQUEST, "invalid_request"),
            "rel" => rels.push(v.into_owned()),
            _ => {}
        }
    }
    // RFC 7033 §4.2: 400 without a resource; 404 for a resource we hold nothing about.
    let Some(resource) = resource else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Some(email) = resource
        .strip_prefix("acct:")
        .and_then(|e| Email::parse(e).ok())
    else {
        return refuse(StatusCode::NOT_FOUND, "unknown_resource");
    };
    let route = match state.discovery.route(&email).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(reason = %e, "webfinger discovery failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
        }
    };
    route.count();
    // The sign-in link, and OpenID Connect's issuer relation (OIDC Discovery §2): this
    // gateway is the issuer an app signs its users in with, whatever their IdP.
    let links: Vec<Value> = [
        json!({"rel": SIGN_IN_REL, "type": "text/html", "href": sign_in_url(&state.config, &email, &route)}),
        json!({"rel": OIDC_ISSUER_REL, "href": state.oauth.issuer}),
    ]
    .into_iter()
    .filter(|l| rels.is_empty() || rels.iter().any(|r| l["rel"] == r.as_str()))
    .collect();
    jrd(
        StatusCode::OK,
        json!({"subject": format!("acct:{}", email.as_str()), "links": links}),
    )
}
