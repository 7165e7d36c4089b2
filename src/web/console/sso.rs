//! The Single Sign-On section, `/{account}/admin/sso`: how the account signs in (password,
//! SAML 2.0, WS-Federation or OpenID Connect) and its IdP (Issuer + Sign In URL +
//! certificate, a Federation Metadata upload, or its URL), the JIT policy and the button;
//! beside them, what the IdP administrator types into Entra (Identifier, Reply URL,
//! Sign-on URL), our SP metadata URL, the IdP certificates' expiry and the fail-safe URL.
//!
//! A save is one call of [`crate::admin::TenantAdmin::patch`] (an upload, of
//! [`crate::admin::TenantAdmin::put_metadata`]), the operations of the management API:
//! checked as `realmgate check` checks a tenant file, applied whole or not at all, audited
//! with the admin's name. A Federation Metadata URL is fetched and checked as it is saved
//! (refused with `check`'s reason, the form kept as typed); once accepted, the page shows
//! the IdP it gave and its certificates' expiry, from the copy the logins now use. Both
//! need a sign-in of the last 15 minutes. A file tenant's settings are the operator's:
//! shown, never changed here.

use axum::extract::Query;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Console, ConsoleForm, done, with_csrf};
use crate::admin::{AdminError, ErrorKind};
use crate::discovery::{JitPolicy, Protocol, SsoSettings, TenantOrigin};
use crate::web::error::WebError;

/// The notices a change redirects back with; anything else shows none.
const NOTICES: &[&str] = &["saved", "metadata_saved", "metadata_fetched"];

/// The page's query: the notice of the change just made.
#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    done: Option<String>,
}

/// The settings form: every field text, as typed; empty is absent.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct SsoForm {
    #[serde(default)]
    csrf: String,
    /// `password`, `saml2`, `wsfed` or `oidc`.
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    button: String,
    #[serde(default)]
    jit: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    sso_url: String,
    /// One or more certificates: Base64 DER, or PEM blocks one after the other.
    #[serde(default)]
    certificate: String,
    #[serde(default)]
    idp_metadata_url: String,
    #[serde(default)]
    wsfed_url: String,
    #[serde(default)]
    wstrust_url: String,
    #[serde(default)]
    discovery_url: String,
    #[serde(default)]
    client_id: String,
    /// Empty keeps the stored secret: it is never shown again.
    #[serde(default)]
    client_secret: String,
}

with_csrf!(SsoForm);

/// `GET /{account}/admin/sso`.
pub async fn page(console: Console, query: Result<Query<PageQuery>, QueryRejection>) -> Response {
    let notice = query
        .ok()
        .and_then(|Query(q)| q.done)
        .filter(|d| NOTICES.contains(&d.as_str()));
    let form = form_of(console.tenant.sso.as_ref());
    let data = view(&console, &form, &[], notice.as_deref()).await;
    console.render(StatusCode::OK, "console_sso", "sso", data)
}

/// `POST /{account}/admin/sso`: the settings, as a merge patch of the tenant's `[sso]`.
pub async fn save(ConsoleForm { console, form }: ConsoleForm<SsoForm>) -> Response {
    let back = console.path("/sso");
    if let Err(e) = console.admin.require_recent_sign_in(Utc::now()) {
        return console.problem(e.into(), &back);
    }
    let result = console
        .state
        .tenant_admin
        .patch(
            &console.admin.actor(),
            &console.tenant.account,
            merge_of(&form),
        )
        .await;
    match result {
        Ok(saved) if saved.fetched.is_some() => done(&back, "metadata_fetched"),
        Ok(_) => done(&back, "saved"),
        Err(e) => refused(&console, e, &form).await,
    }
}

/// `POST /{account}/admin/sso/metadata`: a console upload ([`Console::upload`]) of the
/// IdP's Federation Metadata XML.
pub async fn metadata(console: Console, upload: Result<Multipart, MultipartRejection>) -> Response {
    let back = console.path("/sso");
    let xml = match read_upload(&console, upload).await {
        Ok(xml) => xml,
        Err(e) => return console.problem(e, &back),
    };
    let result = console
        .state
        .tenant_admin
        .put_metadata(&console.admin.actor(), &console.tenant.account, xml)
        .await;
    match result {
        Ok(_) => done(&back, "metadata_saved"),
        Err(e) => refused(&console, e, &form_of(console.tenant.sso.as_ref())).await,
    }
}

async fn read_upload(
    console: &Console,
    upload: Result<Multipart, MultipartRejection>,
) -> Result<Vec<u8>, WebError> {
    let file = console.upload(upload).await?;
    console.admin.require_recent_sign_in(Utc::now())?;
    file.filter(|f| !f.is_empty())
        .map(|f| f.to_vec())
        .ok_or_else(|| WebError::BadRequest("no file was chosen".into()))
}

/// A refused change: a configuration with problems comes back as the form, as typed, with
/// every problem listed (nothing was applied); any other refusal is the problem page.
async fn refused(console: &Console, e: AdminError, form: &SsoForm) -> Response {
    let status = match e.kind() {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        _ => return console.problem(e.into(), &console.path("/sso")),
    };
    tracing::info!(account = %console.tenant.account, problems = ?e.problems(), "SSO settings refused");
    let data = view(console, form, &e.problems(), None).await;
    console.render(status, "console_sso", "sso", data)
}

/// The merge patch of the tenant's fields that `form` asks for: `password` removes `[sso]`;
/// otherwise every field of the form is set, or removed when empty, so what is saved is
/// what the form showed. A protocol's fields are removed under another protocol.
fn merge_of(form: &SsoForm) -> Value {
    let protocol = form.protocol.trim();
    if protocol == "password" {
        return json!({"sso": null});
    }
    let text = |s: &str| match s.trim() {
        "" => Value::Null,
        t => json!(t),
    };
    let only = |p: &str, s: &str| if protocol == p { text(s) } else { Value::Null };
    let certificates = certificates(&form.certificate);
    let mut sso = json!({
        "protocol": text(protocol),
        "button": text(&form.button),
        "jit": text(&form.jit),
        "issuer": text(&form.issuer),
        "certificate": if certificates.is_empty() || protocol == "oidc" { Value::Null } else { json!(certificates) },
        "idp_metadata_url": if protocol == "oidc" { Value::Null } else { text(&form.idp_metadata_url) },
        "sso_url": only("saml2", &form.sso_url),
        "wsfed_url": only("wsfed", &form.wsfed_url),
        "wstrust_url": only("wsfed", &form.wstrust_url),
        "discovery_url": only("oidc", &form.discovery_url),
        "client_id": only("oidc", &form.client_id),
        "client_secret": Value::Null,
    });
    if protocol == "oidc" && !form.client_secret.trim().is_empty() {
        sso["client_secret"] = json!(form.client_secret.trim());
    } else if protocol == "oidc"
        && let Some(o) = sso.as_object_mut()
    {
        // Left empty: the stored secret stays.
        o.remove("client_secret");
    }
    json!({ "sso": sso })
}

/// The certificates of the text box: each PEM block, or else the Base64 text blocks
/// between blank lines (Entra's "Certificate (Base64)" file is one PEM block).
fn certificates(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    let end = "-----END CERTIFICATE-----";
    let blocks: Vec<String> = if text.contains(end) {
        text.split_inclusive(end).map(str::to_string).collect()
    } else {
        text.split("\n\n").map(str::to_string).collect()
    };
    blocks
        .into_iter()
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect()
}

/// The form showing `sso` as stored (the client secret never shown).
fn form_of(sso: Option<&SsoSettings>) -> SsoForm {
    let Some(s) = sso else {
        return SsoForm {
            protocol: "password".into(),
            jit: "waiting_room".into(),
            ..SsoForm::default()
        };
    };
    let url = |u: &Option<url::Url>| u.as_ref().map(ToString::to_string).unwrap_or_default();
    SsoForm {
        protocol: s.protocol.as_str().into(),
        button: s.button.clone(),
        jit: jit_name(s.jit).into(),
        issuer: s.issuer.clone().unwrap_or_default(),
        sso_url: url(&s.sso_url),
        certificate: s.certificate.join("\n"),
        idp_metadata_url: url(&s.idp_metadata_url),
        wsfed_url: url(&s.wsfed_url),
        wstrust_url: url(&s.wstrust_url),
        discovery_url: url(&s.discovery_url),
        client_id: s.client_id.clone().unwrap_or_default(),
        ..SsoForm::default()
    }
}

fn jit_name(jit: JitPolicy) -> &'static str {
    match jit {
        JitPolicy::Deny => "deny",
        JitPolicy::WaitingRoom => "waiting_room",
        JitPolicy::Create => "create",
    }
}

/// The page's data: the form (`form`, as stored or as typed), the refusal's `problems`,
/// the notice, and what the IdP administrator needs of us.
async fn view(
    console: &Console,
    form: &SsoForm,
    problems: &[String],
    notice: Option<&str>,
) -> Value {
    let state = &console.state;
    let tenant = &console.tenant;
    let account = &tenant.account;
    let sp = &state.login.sp;
    let sso = tenant.sso.as_ref();
    // The IdP as in force now: its entity and the expiry of each signing certificate.
    let idp = match sso {
        Some(s) if s.protocol != Protocol::Oidc => state.login.idps.for_tenant(tenant).await,
        _ => None,
    };
    let now = Utc::now();
    let certificates: Vec<Value> = idp
        .iter()
        .flat_map(|m| m.certs.iter())
        .map(|c| {
            json!({
                "not_after": c.not_after.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                "expired": c.not_after.is_some_and(|t| t < now),
                "soon": c.not_after.is_some_and(|t| t >= now && t < now + chrono::TimeDelta::days(30)),
            })
        })
        .collect();
    let choices = |current: &str, names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({"value": n, "key": format!("console-sso-choice-{}", n.replace('_', "-")), "selected": *n == current}))
            .collect()
    };
    let read_only = tenant.origin != TenantOrigin::Api;
    json!({
        "form": {
            "protocol": form.protocol,
            "button": form.button,
            "issuer": form.issuer,
            "sso_url": form.sso_url,
            "certificate": form.certificate,
            "idp_metadata_url": form.idp_metadata_url,
            "wsfed_url": form.wsfed_url,
            "wstrust_url": form.wstrust_url,
            "discovery_url": form.discovery_url,
            "client_id": form.client_id,
        },
        "protocols": choices(&form.protocol, &["password", "saml2", "wsfed", "oidc"]),
        "jits": choices(&form.jit, &["deny", "waiting_room", "create"]),
        "secret_set": sso.is_some_and(|s| s.client_secret.is_some()),
        "uploaded_metadata": tenant.stored_idp_metadata.is_some(),
        "metadata_file": sso.and_then(|s| s.idp_metadata.as_ref()).filter(|_| read_only).map(|p| p.display().to_string()),
        "read_only": read_only,
        "file": read_only.then(|| tenant.file.display().to_string()),
        "sso": sso.is_some(),
        "idp_entity_id": idp.as_ref().map(|m| m.entity_id.clone()),
        "certificates": certificates,
        "problems": problems,
        "done": notice,
        "sp": {
            "entity_id": sp.entity_id,
            "reply_url": sp.acs_urls().first(),
            "sign_on_url": state.config.url(&format!("/{account}")),
            "metadata_url": state.config.url("/saml/metadata"),
            "oidc_redirect": state.login.oidc_redirect.as_str(),
        },
        "fail_safe_url": state.config.url(&format!("/{account}/no-sso")),
        "test_url": console.path("/sso/test"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entra's download is one PEM block; several blocks (a rollover) are several
    /// certificates; bare Base64 blocks are split at blank lines.
    #[test]
    fn the_certificate_box_gives_each_certificate() {
        let pem = |b: &str| {
            format!("-----BEGIN CERTIFICATE-----\r\n{b}\r\n-----END CERTIFICATE-----\r\n")
        };
        assert_eq!(certificates(&pem("QUFB")).len(), 1);
        let two = certificates(&format!("{}\n{}", pem("QUFB"), pem("QkJC")));
        assert_eq!(two.len(), 2);
        assert!(two[1].starts_with("-----BEGIN") && two[1].contains("QkJC"));
        assert_eq!(
            certificates("QUFB\nQUFB\n\nQkJC\n"),
            vec!["QUFB\nQUFB", "QkJC"]
        );
        assert!(certificates("  \n").is_empty());
    }

    /// What is saved is what the form shows: empty fields are removed, another protocol's
    /// fields too, and an empty client secret keeps the stored one.
    #[test]
    fn the_merge_patch_is_the_form() {
        let form = SsoForm {
            protocol: "saml2".into(),
            issuer: " https://sts.windows.net/x/ ".into(),
            sso_url: "https://login.microsoftonline.com/x/saml2".into(),
            wsfed_url: "https://adfs.example/adfs/ls/".into(),
            ..SsoForm::default()
        };
        let m = merge_of(&form);
        assert_eq!(m["sso"]["issuer"], "https://sts.windows.net/x/");
        assert!(m["sso"]["wsfed_url"].is_null() && m["sso"]["certificate"].is_null());
        assert!(m["sso"]["client_secret"].is_null());
        let oidc = merge_of(&SsoForm {
            protocol: "oidc".into(),
            ..SsoForm::default()
        });
        assert!(oidc["sso"].get("client_secret").is_none());
        assert_eq!(
            merge_of(&SsoForm {
                protocol: "password".into(),
                ..SsoForm::default()
            }),
            json!({"sso": null})
        );
    }
}
