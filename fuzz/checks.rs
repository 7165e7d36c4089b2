//! The checks behind every fuzz target: each takes the raw input, runs the gateway's real
//! code on it the way a handler or the loader does, and panics when an invariant breaks.
//! `fuzz_targets/*.rs` call them; `tests/fuzz_regressions.rs` includes this file too and
//! replays every committed seed and regression through them in plain `cargo test`.
//!
//! Fixtures come from `tests/testdata/saml` through `include_bytes!` (paths relative to
//! this file), so both builds see the same bytes without knowing where they run from.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::Query;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use http::{HeaderValue, Uri};
use openssl::pkey::{PKey, Private, Public};
use realmgate::config::Config;
use realmgate::discovery::email::{MAX_LEN, is_noncharacter, normalize_domain};
use realmgate::discovery::tenant::{self, SsoSettings, Tenant, TenantFile};
use realmgate::discovery::{Email, map};
use realmgate::saml::keys::SpKeys;
use realmgate::saml::request::{RequestParams, SIG_ALG_RSA_SHA256, redirect_url};
use realmgate::saml::response::{Expected, VerifiedAssertion, peek_issuer, validate};
use realmgate::saml::xml::{self, NS_ASSERTION, NS_PROTOCOL};
use realmgate::saml::{IdpMetadata, Sp};
use realmgate::scim::{self, Filter, Lookup, Patch, ScimError, ScimGroup, ScimUser, UserFacts};
use realmgate::web::discover::{EntryQuery, checked_return_to, sso_start_path};
use url::Url;

// ---------------------------------------------------------------------------------------
// email

/// `Email::parse` on a form value (form decoding is lossy UTF-8, so is this).
///
/// Invariants: an accepted address is at most 254 bytes, `local@domain` with a local part
/// of 1-64 bytes without `@`, spaces, controls or noncharacters (it goes into XML); its domain is lower-case ASCII (punycode)
/// labels; parsing its own output gives it back; the ASCII case of the domain never changes
/// the domain discovery routes on; `normalize_domain` is idempotent.
pub fn email(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    if let Some(d) = normalize_domain(&input) {
        assert_normal_domain(&d);
        assert_eq!(
            normalize_domain(&d).as_deref(),
            Some(d.as_str()),
            "normalize_domain is not idempotent"
        );
    }
    let e = match Email::parse(&input) {
        Ok(e) => e,
        Err(err) => {
            assert!(!err.to_string().is_empty());
            return;
        }
    };
    let (local, domain) = (e.local_part(), e.domain());
    assert!(e.as_str().len() <= MAX_LEN, "too long: {e:?}");
    assert_eq!(e.as_str(), format!("{local}@{domain}"));
    assert!(!local.is_empty() && local.len() <= 64, "local part: {e:?}");
    assert!(
        !local
            .chars()
            .any(|c| c == '@' || c.is_whitespace() || c.is_control() || is_noncharacter(c)),
        "local part: {e:?}"
    );
    assert_normal_domain(domain);
    assert_eq!(
        Email::parse(e.as_str()).as_ref(),
        Ok(&e),
        "parsing the normalised form changes it"
    );
    let upper = format!("{local}@{}", domain.to_ascii_uppercase());
    assert_eq!(
        Email::parse(&upper).map(|u| u.domain().to_string()),
        Ok(domain.to_string()),
        "the domain's case changes where discovery routes"
    );
}

fn assert_normal_domain(d: &str) {
    assert!(d.len() <= 253 && d.contains('.'), "domain {d:?}");
    for label in d.split('.') {
        assert!(
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "label {label:?} of domain {d:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// tenant_file

/// Separates the tenant files of one input (a TOML comment, so a single file stays valid).
pub const FILE_SEPARATOR: &[u8] = b"\n#~~~\n";

/// The tenant loader (`map::load_dir`, as `serve`, `check` and reloads run it) on up to
/// four files split at [`FILE_SEPARATOR`], written to a scratch directory.
///
/// Invariants: every problem names one of the files and, when the file is readable text,
/// a line inside it; an accepted map indexes every tenant by account and by each of its
/// normalised domains.
pub fn tenant_file(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!(
        "realmgate-fuzz-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let mut texts: HashMap<String, Option<String>> = HashMap::new();
    for (i, part) in split(data, FILE_SEPARATOR).into_iter().take(4).enumerate() {
        let path = dir.join(format!("t{i}.toml"));
        std::fs::write(&path, part).expect("scratch file");
        texts.insert(
            path.display().to_string(),
            String::from_utf8(part.to_vec()).ok(),
        );
    }
    let result = map::load_dir(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(map) => {
            let tenants: Vec<&Arc<Tenant>> = map.tenants().collect();
            assert_eq!(tenants.len(), texts.len(), "a file was dropped silently");
            for t in tenants {
                assert!(
                    map.account(&t.account).is_some_and(|a| Arc::ptr_eq(&a, t)),
                    "account {:?} not indexed",
                    t.account
                );
                for d in &t.domains {
                    assert_eq!(normalize_domain(d).as_deref(), Some(d.as_str()));
                    assert!(
                        map.lookup(d).is_some_and(|o| Arc::ptr_eq(&o, t)),
                        "domain {d:?} does not route to {:?}",
                        t.account
                    );
                }
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for p in &problems {
                assert!(!p.message.is_empty());
                let text = texts
                    .get(&p.source)
                    .unwrap_or_else(|| panic!("problem names no tenant file: {p}"));
                if let Some(text) = text {
                    let last = text.matches('\n').count() + 1;
                    assert!(
                        p.line.is_some_and(|l| (1..=last).contains(&l)),
                        "problem without a line in the file: {p}\n--- file ---\n{text}"
                    );
                }
            }
        }
    }
}

fn split<'a>(mut data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    while let Some(at) = data.windows(sep.len()).position(|w| w == sep) {
        parts.push(&data[..at]);
        data = &data[at + sep.len()..];
    }
    parts.push(data);
    parts
}

// ---------------------------------------------------------------------------------------
// saml_response

const SP_ENTITY: &str = "https://login.example.com/";
const ACS: &str = "https://login.example.com/auth/saml/callback";
const ACS_ALIAS: &str = "https://login.example.com/saml2/idpresponse";
const REQUEST_ID: &str = "_0123456789abcdef0123456789abcdef";
const EMAIL_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
/// The fixed clock: inside the validity window of every generated test response.
const NOW: &str = "2030-01-01T00:01:00Z";

/// Responses the test IdP signed that `validate` accepts at [`NOW`] (solicited ones for
/// [`REQUEST_ID`], then the IdP-initiated one): the only logins that exist.
const ACCEPTED: [&[u8]; 8] = [
    include_bytes!("../tests/testdata/saml/valid_assertion_signed.xml"),
    include_bytes!("../tests/testdata/saml/valid_both_signed.xml"),
    include_bytes!("../tests/testdata/saml/valid_response_signed.xml"),
    include_bytes!("../tests/testdata/saml/comment_in_nameid.xml"),
    include_bytes!("../tests/testdata/saml/encrypted_gcm_inherited_namespace.xml"),
    include_bytes!("../tests/testdata/saml/encrypted_gcm_response_signed.xml"),
    include_bytes!("../tests/testdata/saml/encrypted_gcm_signed_assertion.xml"),
    include_bytes!("../tests/testdata/saml/unsolicited_allowed.xml"),
];

struct SamlFixture {
    idp: IdpMetadata,
    sp_key: PKey<Private>,
    acs: Vec<String>,
    now: DateTime<Utc>,
    /// Facts of every accepted test response, `in_response_to` cleared.
    known: Vec<VerifiedAssertion>,
}

impl SamlFixture {
    /// A login this browser started (`Some(REQUEST_ID)`) or an IdP-initiated one (`None`).
    fn expected(&self, request_id: Option<&'static str>) -> Expected<'_> {
        Expected {
            idp: &self.idp,
            entity_id: SP_ENTITY,
            acs_urls: &self.acs,
            request_id,
            allow_unsolicited: request_id.is_none(),
            skew: Duration::from_secs(120),
            email_claim: Some(EMAIL_CLAIM),
            decryption_key: Some(&self.sp_key),
        }
    }

    /// Every way the ACS may call `validate` for this input; the accepted facts, if any.
    fn validate_all(&self, b64: &str) -> Vec<VerifiedAssertion> {
        [Some(REQUEST_ID), None]
            .into_iter()
            .filter_map(|rid| match validate(b64, &self.expected(rid), self.now) {
                Ok(a) => Some(a),
                Err(e) => {
                    assert!(!e.code().is_empty() && !e.to_string().is_empty());
                    None
                }
            })
            .collect()
    }
}

fn saml_fixture() -> &'static SamlFixture {
    static FIXTURE: OnceLock<SamlFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut f = SamlFixture {
            idp: IdpMetadata::parse(include_bytes!("../tests/testdata/saml/idp-metadata.xml"))
                .expect("test IdP metadata"),
            sp_key: PKey::private_key_from_pem(include_bytes!("../tests/testdata/saml/sp-key.pem"))
                .expect("test SP key"),
            acs: vec![ACS.into(), ACS_ALIAS.into()],
            now: DateTime::parse_from_rfc3339(NOW)
                .expect("NOW")
                .with_timezone(&Utc),
            known: Vec::new(),
        };
        let mut known = Vec::new();
        for xml in ACCEPTED {
            let accepted = f.validate_all(&STANDARD.encode(xml));
            assert!(
                !accepted.is_empty(),
                "a known-good test response is refused"
            );
            known.extend(accepted.into_iter().map(facts));
        }
        f.known = known;
        f
    })
}

/// What identifies a login, without the request it answered (set by the caller's
/// `Expected`, not read from the message).
fn facts(a: VerifiedAssertion) -> VerifiedAssertion {
    VerifiedAssertion {
        in_response_to: None,
        ..a
    }
}

/// `validate` (both the solicited and the IdP-initiated way, at a fixed clock, with the test
/// IdP's metadata and the SP decryption key) and `peek_issuer`, on the input as XML (base64
/// encoded here, as a browser posts it) and as the raw `SAMLResponse` form value.
///
/// Invariants: never a panic; every refusal has a code and a reason; an accepted response
/// carries exactly the facts of one of the responses the test IdP signed (any other accepted
/// login would be a forgery: the key is not available to the fuzzer); `peek_issuer` gives a
/// non-empty trimmed name, the same one `validate` accepts, and refuses a message only for
/// the reason `validate` refuses it too (the IdP-initiated path logs the real reason).
pub fn saml_response(data: &[u8]) {
    let f = saml_fixture();
    let form_value = String::from_utf8_lossy(data);
    for input in [STANDARD.encode(data).as_str(), &form_value] {
        let issuer = match peek_issuer(input) {
            Ok(issuer) => issuer,
            Err(e) => {
                for rid in [Some(REQUEST_ID), None] {
                    assert_eq!(
                        validate(input, &f.expected(rid), f.now).map_err(|v| v.code()),
                        Err(e.code()),
                        "peek_issuer and validate refuse for different reasons"
                    );
                }
                None
            }
        };
        if let Some(i) = &issuer {
            assert!(!i.is_empty() && i.trim() == i, "peek_issuer gave {i:?}");
        }
        for a in f.validate_all(input) {
            if let Some(i) = &issuer {
                assert_eq!(i, &a.issuer, "peek_issuer disagrees with validate");
            }
            let a = facts(a);
            assert!(
                f.known.contains(&a),
                "accepted a login the IdP never signed: {a:#?}"
            );
        }
    }
    // The same message behind a UTF-16 declaration and an internal subset, in UTF-16LE
    // without a BOM: ASCII plus NULs to a byte scan, a DTD to libxml2 (issue #11).
    let hidden = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE r [<!ENTITY x \"y\">]>{}",
        String::from_utf8_lossy(data.strip_prefix(b"<?xml").map_or(data, |d| {
            d.iter()
                .position(|&b| b == b'>')
                .map_or(d, |end| &d[end + 1..])
        }))
    );
    let hidden: Vec<u8> = hidden.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert!(
        f.validate_all(&STANDARD.encode(hidden)).is_empty(),
        "a UTF-16 document with a DTD was a login"
    );
}

// ---------------------------------------------------------------------------------------
// saml_logout

/// Our SingleLogoutService URL in the fixture.
const SLO: &str = "https://login.example.com/saml/slo";

/// `saml::logout::Received` of the input as an HTTP-Redirect query and as an HTTP-POST
/// `SAMLRequest` or `SAMLResponse` (base64 encoded here, as a browser posts it, and raw),
/// then its `issuer` and `verify` with the test IdP's metadata at a fixed clock.
///
/// Invariants: never a panic; every refusal has a code and a reason; nothing verifies (no
/// seed is signed with the test IdP's key, and the fuzzer does not have it: anything
/// accepted would be a forgery).
pub fn saml_logout(data: &[u8]) {
    use realmgate::saml::logout::{self, Received};
    let f = saml_fixture();
    let text = String::from_utf8_lossy(data);
    let b64 = STANDARD.encode(data);
    let refused = |e: &realmgate::saml::SamlError| {
        assert!(!e.code().is_empty() && !e.to_string().is_empty());
    };
    for received in [
        Received::from_query(&text),
        Received::from_post(Some(&b64), None, Some("relay")),
        Received::from_post(None, Some(&b64), None),
        Received::from_post(Some(&text), None, None),
    ] {
        let received = match received {
            Ok(r) => r,
            Err(e) => {
                refused(&e);
                continue;
            }
        };
        if let Err(e) = received.issuer() {
            refused(&e);
        }
        let expected = logout::Expected {
            idp: &f.idp,
            slo_url: SLO,
            skew: Duration::from_secs(120),
        };
        match logout::verify(&received, &expected, f.now) {
            Ok(v) => panic!("verified a logout message the IdP never signed: {v:#?}"),
            Err(e) => refused(&e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// xml_document

/// `xml::parse` on raw bytes, as metadata files and fetched metadata reach it.
///
/// Invariants: never a panic; every refusal has a code; an accepted document is UTF-8
/// without NUL whose declaration, if any, names UTF-8, passes the limiter scan, and its
/// tree stays within the limits the scan enforces (attributes and namespace declarations
/// per element, elements, depth), so the scan never counts less than libxml2 builds; the
/// same document in UTF-16 (either byte order, with or without a BOM) is always refused.
pub fn xml_document(data: &[u8]) {
    let doc = match xml::parse(data) {
        Ok(doc) => doc,
        Err(e) => {
            assert!(!e.code().is_empty() && !e.to_string().is_empty());
            return;
        }
    };
    let text = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let text = std::str::from_utf8(text).expect("accepted bytes that are not UTF-8");
    assert!(!text.contains('\0'), "accepted a NUL byte");
    assert!(
        xml::check_complexity(text.as_bytes()).is_ok(),
        "accepted above the limits"
    );
    if let Some(decl) = text
        .strip_prefix("<?xml")
        .filter(|d| d.starts_with(|c: char| c.is_ascii_whitespace()))
    {
        let decl = &decl[..decl.find("?>").unwrap_or(decl.len())];
        if let Some(at) = decl.find("encoding") {
            let value = decl[at + "encoding".len()..]
                .trim_start_matches([' ', '=', '"', '\'', '\t', '\r', '\n']);
            assert!(
                value
                    .get(..5)
                    .is_some_and(|v| v.eq_ignore_ascii_case("UTF-8")),
                "accepted the declaration {decl:?}"
            );
        }
    }
    let root = doc.get_root_element().expect("accepted without a root");
    let mut elements = 0;
    let mut stack = vec![(root, 1)];
    while let Some((node, depth)) = stack.pop() {
        elements += 1;
        assert!(depth <= xml::MAX_DEPTH, "accepted depth {depth}");
        let attributes = node.get_properties().len() + node.get_namespace_declarations().len();
        assert!(
            attributes <= xml::MAX_ATTRIBUTES,
            "accepted {attributes} attributes"
        );
        stack.extend(
            node.get_child_elements()
                .into_iter()
                .map(|c| (c, depth + 1)),
        );
    }
    assert!(
        elements <= xml::MAX_ELEMENTS,
        "accepted {elements} elements"
    );
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for utf16 in [
        le.clone(),
        be.clone(),
        [&b"\xFF\xFE"[..], &le].concat(),
        [&b"\xFE\xFF"[..], &be].concat(),
    ] {
        assert!(xml::parse(&utf16).is_err(), "accepted UTF-16 {utf16:?}");
    }
}

// ---------------------------------------------------------------------------------------
// redirect_query

struct RedirectFixture {
    /// An HTTPS gateway with two allowed hosts, and a development one on the defaults.
    configs: Vec<Config>,
    tenant: Tenant,
    sp: Sp,
    sp_public: PKey<Public>,
    /// Tenant settings: hint as a query parameter, then as the request's Subject.
    settings: Vec<SsoSettings>,
    /// IdP SSO endpoints, one with a query of its own (Entra and AD FS use them).
    destinations: Vec<Url>,
    now: DateTime<Utc>,
}

/// The RelayState the gateway sends: a 43-character token (fixed: a fuzz run must be
/// reproducible).
const RELAY: &str = "rRrRrRrRrRrRrRrRrRrRrRrRrRrRrRrRrRrRrRrR-_0";

fn redirect_fixture() -> &'static RedirectFixture {
    static FIXTURE: OnceLock<RedirectFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let https = Config {
            public_url: Url::parse("https://login.example.com").expect("url"),
            allowed_return_hosts: vec!["login.example.com".into(), "APP.example.com".into()],
            ..Config::default()
        };
        let file: TenantFile =
            toml::from_str("account = \"contoso\"\ndomains = [\"contoso.com\"]\n").expect("toml");
        let tenant = tenant::validate(file, Path::new("contoso.toml")).expect("tenant");
        let keys = SpKeys::from_pem(
            include_str!("../tests/testdata/saml/sp-key.pem"),
            include_str!("../tests/testdata/saml/sp-cert.pem"),
            None,
        )
        .expect("test SP keys");
        let sp_public = openssl::x509::X509::from_der(keys.cert_der())
            .and_then(|c| c.public_key())
            .expect("SP public key");
        let sp = Sp::from_config(&https, Arc::new(keys));
        let settings = [
            "login_hint = \"query\"\nwhr = \"contoso.com\"",
            "login_hint = \"subject\"\nforce_authn = true",
        ]
        .iter()
        .map(|extra| toml::from_str(&format!("idp_metadata = \"x.xml\"\n{extra}")).expect("sso"))
        .collect();
        RedirectFixture {
            configs: vec![https, Config::default()],
            tenant,
            sp,
            sp_public,
            settings,
            destinations: vec![
                Url::parse("https://login.microsoftonline.com/contoso/saml2").expect("url"),
                Url::parse("https://idp.example.com/sso?tenant=a%26b&x=1").expect("url"),
            ],
            now: DateTime::parse_from_rfc3339(NOW)
                .expect("NOW")
                .with_timezone(&Utc),
        }
    })
}

/// The query of `GET /{account}` and `GET /sso/{account}/start`, parsed as those handlers
/// do (the request target as hyper takes it, axum's `Query<EntryQuery>`, the `return_to`
/// guard, `Email::parse` of `login_hint`), then what the gateway builds from it: the
/// account page's redirect to the SSO start, and the signed HTTP-Redirect binding URL to
/// the IdP, each decoded back the way its reader does.
///
/// Invariants: an accepted `return_to` is an http(s) URL without credentials on an allowed
/// host (https only from an https gateway), reads back the same in a browser, is a valid
/// `Location`, and is accepted again unchanged; the SSO start path round-trips `return_to`
/// and `login_hint`; the IdP URL keeps the endpoint's own parameters, carries each SAML
/// parameter once, its signature verifies over the exact encoded bytes, and the inflated
/// AuthnRequest parses with the right ID, Destination and hint.
pub fn redirect_query(data: &[u8]) {
    let f = redirect_fixture();
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    // Whatever hyper refuses as a request target never reaches a handler.
    let Ok(uri) = format!("/contoso?{query}").parse::<Uri>() else {
        return;
    };
    let Ok(Query(q)) = Query::<EntryQuery>::try_from_uri(&uri) else {
        return;
    };
    let hint = q.login_hint.as_deref().and_then(|h| Email::parse(h).ok());
    for config in &f.configs {
        let Ok(return_to) = checked_return_to(config, q.return_to.as_deref()) else {
            continue;
        };
        if let Some(url) = &return_to {
            assert_allowed_return(config, url);
        }
        let path = sso_start_path(&f.tenant, hint.as_ref(), return_to.as_ref());
        assert!(
            HeaderValue::from_str(&path).is_ok(),
            "invalid Location {path:?}"
        );
        let uri: Uri = path
            .parse()
            .expect("the SSO start path is a request target");
        let Query(again) =
            Query::<EntryQuery>::try_from_uri(&uri).expect("the SSO start query parses");
        assert_eq!(
            again.login_hint.as_deref(),
            hint.as_ref().map(Email::as_str),
            "login_hint changed on the way to {path}"
        );
        let again_to = checked_return_to(config, again.return_to.as_deref())
            .unwrap_or_else(|e| panic!("{path} refused again: {e}"));
        assert_eq!(
            again_to, return_to,
            "return_to changed on the way to {path}"
        );
    }
    if let Some(email) = &hint {
        for (settings, destination) in f.settings.iter().zip(&f.destinations) {
            idp_redirect_round_trip(f, settings, destination, email);
        }
    }
}

fn assert_allowed_return(config: &Config, url: &Url) {
    assert!(matches!(url.scheme(), "https" | "http"), "scheme of {url}");
    assert!(
        url.scheme() == "https" || !config.is_https(),
        "plain http from an https gateway: {url}"
    );
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "credentials: {url}"
    );
    let host = url.host_str().unwrap_or_default();
    assert!(
        config.return_hosts().iter().any(|h| h == host),
        "open redirect to {url}"
    );
    let reread = Url::parse(url.as_str()).expect("a browser reads the Location back");
    assert_eq!(
        reread.host_str(),
        url.host_str(),
        "host read back differently"
    );
    assert!(
        HeaderValue::from_str(url.as_str()).is_ok(),
        "invalid Location {url}"
    );
    assert_eq!(
        checked_return_to(config, Some(url.as_str())).ok(),
        Some(Some(url.clone())),
        "an accepted return_to is refused or changed when checked again"
    );
}

/// Reads our HTTP-Redirect binding URL as an IdP does (SAML bindings 3.4.4.1).
fn idp_redirect_round_trip(
    f: &RedirectFixture,
    settings: &SsoSettings,
    destination: &Url,
    email: &Email,
) {
    let params = RequestParams {
        id: REQUEST_ID,
        destination,
        login_hint: Some(email.as_str()),
        sso: settings,
        now: f.now,
    };
    let url = redirect_url(&f.sp, &params, RELAY).expect("the redirect URL builds");
    assert!(
        HeaderValue::from_str(url.as_str()).is_ok(),
        "invalid Location {url}"
    );
    let raw_query = url.query().expect("a query");
    let raw: Vec<(&str, &str)> = raw_query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let decoded: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let one = |name: &str| -> (&str, &str) {
        let found: Vec<usize> = (0..raw.len()).filter(|&i| raw[i].0 == name).collect();
        assert_eq!(found.len(), 1, "{name} in {url}");
        (raw[found[0]].1, decoded[found[0]].1.as_str())
    };
    for (k, v) in destination.query_pairs() {
        assert!(
            decoded.iter().any(|(dk, dv)| *dk == k && *dv == v),
            "the endpoint's parameter {k} was lost: {url}"
        );
    }
    // The signature covers the parameters exactly as encoded in the URL.
    let (request_raw, request) = one("SAMLRequest");
    let (relay_raw, relay) = one("RelayState");
    let (alg_raw, alg) = one("SigAlg");
    assert_eq!(relay, RELAY);
    assert_eq!(alg, SIG_ALG_RSA_SHA256);
    let signed = format!("SAMLRequest={request_raw}&RelayState={relay_raw}&SigAlg={alg_raw}");
    let signature = STANDARD
        .decode(one("Signature").1)
        .expect("Signature is base64");
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &f.sp_public)
            .expect("verifier");
    verifier.update(signed.as_bytes()).expect("verifier");
    assert!(
        verifier.verify(&signature).expect("verify"),
        "the signature does not cover the encoded query of {url}"
    );
    let mut xml_text = String::new();
    flate2::read::DeflateDecoder::new(&STANDARD.decode(request).expect("base64")[..])
        .read_to_string(&mut xml_text)
        .expect("SAMLRequest inflates");
    let doc = xml::parse(xml_text.as_bytes())
        .unwrap_or_else(|e| panic!("our AuthnRequest is not XML ({e}): {xml_text}"));
    let root = xml::root(&doc).expect("root");
    assert!(xml::is(&root, NS_PROTOCOL, "AuthnRequest"));
    assert_eq!(root.get_attribute("ID").as_deref(), Some(REQUEST_ID));
    assert_eq!(
        root.get_attribute("Destination").as_deref(),
        Some(destination.as_str())
    );
    let subject_hint = xml::child(&root, NS_ASSERTION, "Subject")
        .and_then(|s| xml::child(&s, NS_ASSERTION, "NameID"))
        .and_then(|n| xml::whole_text(&n));
    let query_hint: Vec<&str> = decoded
        .iter()
        .filter(|(k, _)| k == "login_hint")
        .map(|(_, v)| v.as_str())
        .collect();
    match settings.login_hint {
        realmgate::discovery::LoginHint::Subject => {
            assert_eq!(subject_hint.as_deref(), Some(email.as_str()));
            assert!(query_hint.is_empty());
        }
        _ => {
            assert_eq!(query_hint, [email.as_str()]);
            assert_eq!(subject_hint, None);
        }
    }
}

// ---------------------------------------------------------------------------------------
// scim_request

/// The user every SCIM input is evaluated against and patched: the view `web::scim` builds
/// of a stored user.
fn scim_user() -> ScimUser {
    let facts = UserFacts {
        id: "42".into(),
        email: "ann@contoso.com".into(),
        name: "Ann Lee".into(),
        name_parts: realmgate::accounts::NameParts {
            given: Some("Ann".into()),
            family: Some("Lee".into()),
            formatted: Some("Ann Lee".into()),
        },
        emails: vec![realmgate::accounts::UserEmail::primary_work(
            &realmgate::discovery::Email::parse("ann@contoso.com").expect("an address"),
        )],
        active: true,
        external_id: Some("ext-1".into()),
        created: DateTime::UNIX_EPOCH,
        last_modified: DateTime::UNIX_EPOCH,
    };
    ScimUser::from_facts(&facts, "https://gw.example/scim/v2/contoso")
}

/// The same bytes as a `filter` query value, a PATCH `path`, and a PATCH body, through the
/// SCIM core as `web::scim` runs it on a request.
///
/// Invariants: every refusal is a 4xx with a `scimType`; an accepted filter is within the
/// length bound, and an index lookup it offers gives the answer the scan gives; a patch
/// has at most `MAX_OPERATIONS` operations, and applied never changes `id` or `meta` and
/// never leaves a user without `userName` or a group without `displayName`.
pub fn scim_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let refused = |e: &ScimError| {
        assert!((400..500).contains(&e.status()), "status of {e}");
        assert!(e.scim_type().is_some() && !e.to_string().is_empty(), "{e}");
    };
    let user = scim_user();
    let user_json = serde_json::to_value(&user).expect("a user serialises");
    match Filter::parse(&text) {
        Ok(filter) => {
            assert!(
                text.len() <= scim::filter::MAX_LEN,
                "accepted a long filter"
            );
            let matched = filter.matches(&user_json);
            match filter.lookup() {
                Some(Lookup::UserName(v)) => {
                    assert_eq!(matched, v.to_lowercase() == user.user_name.to_lowercase())
                }
                Some(Lookup::ExternalId(v)) => {
                    assert_eq!(matched, Some(v) == user.external_id.as_deref())
                }
                None => {}
            }
        }
        Err(e) => refused(&e),
    }
    if let Err(e) = scim::patch::parse_path(&text) {
        refused(&e);
    }
    let patch = match Patch::parse(data) {
        Ok(p) => p,
        Err(e) => return refused(&e),
    };
    assert!(patch.operations.len() <= scim::patch::MAX_OPERATIONS);
    match patch.apply_user(user.clone()) {
        Ok(after) => {
            assert_eq!(
                (&after.id, &after.meta),
                (&user.id, &user.meta),
                "read-only changed"
            );
            assert!(!after.user_name.trim().is_empty(), "userName removed");
        }
        Err(e) => refused(&e),
    }
    let group = ScimGroup {
        schemas: vec![scim::resource::GROUP_SCHEMA.into()],
        id: Some("g1".into()),
        display_name: "Sales".into(),
        ..ScimGroup::default()
    };
    match patch.apply_group(group) {
        Ok(after) => {
            assert_eq!(after.id.as_deref(), Some("g1"), "read-only changed");
            assert!(!after.display_name.trim().is_empty(), "displayName removed");
        }
        Err(e) => refused(&e),
    }
}

// ---------------------------------------------------------------------------------------
// wsfed_wresult

/// The `wresult`s the test STS signed (tests/testdata/wsfed/generate.py) that validate.
const WSFED_ACCEPTED: &[&[u8]] = &[
    include_bytes!("../tests/testdata/wsfed/valid_saml11.xml"),
    include_bytes!("../tests/testdata/wsfed/valid_saml2.xml"),
    include_bytes!("../tests/testdata/wsfed/valid_saml11_no_applies_to.xml"),
    include_bytes!("../tests/testdata/wsfed/valid_trust13_collection.xml"),
    include_bytes!("../tests/testdata/wsfed/email_outside_tenant.xml"),
    // A WS-Trust collection without its SOAP envelope: refused as an answer, a valid wresult.
    include_bytes!("../tests/testdata/wsfed/soap_bare_rstrc.xml"),
];

/// The WS-Trust answer the test STS signed that validates (a SOAP 1.2 envelope).
const WSTRUST_ACCEPTED: &[&[u8]] = &[include_bytes!("../tests/testdata/wsfed/soap_answer.xml")];

struct WsFedFixture {
    sts: IdpMetadata,
    acs: Vec<String>,
    now: DateTime<Utc>,
    known: Vec<VerifiedAssertion>,
}

impl WsFedFixture {
    /// `validate` of a `wresult`, or with `soap` `validate_soap` of a WS-Trust answer.
    fn validate(
        &self,
        text: &str,
        soap: bool,
    ) -> Result<VerifiedAssertion, realmgate::wsfed::WsFedError> {
        let expected = realmgate::wsfed::Expected {
            sts: &self.sts,
            realm: SP_ENTITY,
            acs_urls: &self.acs,
            skew: Duration::from_secs(120),
            email_claim: Some(EMAIL_CLAIM),
        };
        if soap {
            realmgate::wsfed::validate_soap(text, &expected, self.now)
        } else {
            realmgate::wsfed::validate(text, &expected, self.now)
        }
    }
}

fn wsfed_fixture() -> &'static WsFedFixture {
    static FIXTURE: OnceLock<WsFedFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut f = WsFedFixture {
            sts: IdpMetadata::parse_for(
                include_bytes!("../tests/testdata/wsfed/sts-metadata.xml"),
                realmgate::discovery::Protocol::Wsfed,
            )
            .expect("test STS metadata"),
            acs: vec![ACS.into()],
            now: DateTime::parse_from_rfc3339(NOW)
                .expect("NOW")
                .with_timezone(&Utc),
            known: Vec::new(),
        };
        let known = WSFED_ACCEPTED
            .iter()
            .map(|xml| (xml, false))
            .chain(WSTRUST_ACCEPTED.iter().map(|xml| (xml, true)))
            .map(|(xml, soap)| {
                f.validate(std::str::from_utf8(xml).expect("UTF-8 test token"), soap)
                    .expect("a known-good test token is refused")
            })
            .collect();
        f.known = known;
        f
    })
}

/// `wsfed::validate` of the input as a `wresult` form value (the RSTR parser, the envelope,
/// the wrapping and signature checks, both SAML versions' rules), and `wsfed::validate_soap`
/// of it as a WS-Trust answer (the same parser behind a SOAP 1.2 envelope or fault), with
/// the test STS's metadata at a fixed clock.
///
/// Invariants: never a panic; every refusal has a code and a reason; an accepted token
/// carries exactly the facts of one the test STS signed (anything else accepted would be a
/// forgery: the STS key is not available to the fuzzer).
pub fn wsfed_wresult(data: &[u8]) {
    let f = wsfed_fixture();
    let wresult = String::from_utf8_lossy(data);
    for soap in [false, true] {
        match f.validate(&wresult, soap) {
            Ok(a) => assert!(
                f.known.contains(&a),
                "accepted a token the STS never signed: {a:#?}"
            ),
            Err(e) => assert!(!e.code().is_empty() && !e.to_string().is_empty()),
        }
    }
}
