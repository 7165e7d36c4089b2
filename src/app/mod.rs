//! The application: start-up (where the tenant source is chosen, once, and the state of
//! `web` and the services in it are built) here; serving in `serve` (`run`, which tests call on port 0); tenant loading, import
//! and reloads in `tenants`.

mod serve;
mod tenants;

pub use serve::{Listeners, drain, run, shutdown_signal};
pub use tenants::{
    Checked, Loaded, TenantIdps, check_dir, forget, import_tenants, load, load_dir, reload,
    spawn_reloader,
};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::accounts::clients::ClientStore;
use crate::accounts::tenants::TenantStore;
use crate::accounts::{self, AccountsError, Passwords, Pool, UserStore};
use crate::admin::clients::ClientAdmin;
use crate::admin::{Admin, TenantAdmin, TenantAdminParts};
use crate::config::{Config, Problem};
use crate::discovery::{
    Directory, DirectoryError, Discovery, DomainProof, FileSource, Layered, PgSource, TenantSource,
};
use crate::i18n::Catalog;
use crate::login::{Login, Traces};
use crate::mail::{self, Letters, Outreach, Postman};
use crate::oauth::device::Devices;
use crate::saml::{IdpRegistry, SamlError, Sp, SpKeys};
use crate::secrets::{self, SecretsError};
use crate::session::{self, Links, RateLimitPolicy, RateLimiter, Sessions, Store, StoreError};
use crate::telemetry;
use crate::web::pages::Pages;
use crate::web::state::{AppState, SharedState, Tenants};

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The tenant files have problems.
    #[error("tenant files have problems:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Tenants(Vec<Problem>),
    /// A file could not be read, or an address bound.
    #[error("{path}: {source}")]
    Io {
        /// The file or address.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A page template or catalog does not load, or the brand logo cannot be read.
    #[error("pages: {0}")]
    Pages(#[from] crate::web::pages::PagesError),
    /// A catalog, or a mail template, does not load.
    #[error(transparent)]
    I18n(#[from] crate::i18n::I18nError),
    /// The mailer cannot be set up (`smtp_url`, `mail_from`).
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::MailError),
    /// The gateway secret could not be read or generated.
    #[error(transparent)]
    Secret(#[from] SecretsError),
    /// The DNS resolver could not be set up.
    #[error(transparent)]
    Proof(#[from] crate::discovery::proof::ProofError),
    /// The SP key or the IdP metadata could not be loaded.
    #[error(transparent)]
    Saml(#[from] SamlError),
    /// The HTTPS client for IdP metadata URLs could not be built (`idp_metadata_ca`).
    #[error(transparent)]
    MetadataClient(#[from] crate::saml::FetchError),
    /// The OpenID Connect provider client could not be built.
    #[error("OpenID Connect client: {0}")]
    OidcClient(#[from] crate::oidc::OidcError),
    /// The OAuth signing key could not be loaded or generated.
    #[error("OAuth: {0}")]
    OAuth(#[from] crate::oauth::OAuthError),
    /// The user database could not be opened or migrated.
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    /// The session store could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tenant database could not be reached.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// Password-reset requests per typed address: 5 in 15 minutes, and lockouts never start
/// (nothing is guessed here; the limit only keeps one mailbox from being flooded).
const RESET_POLICY: RateLimitPolicy = RateLimitPolicy {
    limit: 5,
    window: Duration::from_secs(15 * 60),
    lockout_after: u64::MAX,
    failure_window: Duration::from_secs(60),
    base_lockout: Duration::from_secs(1),
    max_lockout: Duration::from_secs(1),
};

/// Builds the state from a configuration: loads tenants (refusing to start on any problem)
/// or connects to their database, the gateway secret and the templates.
pub async fn build(config: Config) -> Result<SharedState, AppError> {
    install_crypto_provider();
    // The recorder first: gauges set before it exists (the IdP certificate expiry below)
    // would be dropped, and stay absent until the next reload.
    let metrics = telemetry::metrics();
    let client = crate::saml::http_client(config.idp_metadata_ca.as_deref())?;
    let api_fetcher = crate::saml::ApiFetcher::new(
        config.idp_metadata_ca.as_deref(),
        config.allow_private_idp_urls,
    )?;
    let secret = secrets::gateway_secret(&config)?;
    let proof = if config.require_verified_domains {
        Some(DomainProof::new(config.dns_server, &secret)?)
    } else {
        None
    };
    let users_db = accounts::open(&config.database_url()).await?;
    let users_pool = users_db.pool();
    let (tenants, source, idps, proof, memory): (Tenants, Arc<dyn TenantSource>, _, _, _) =
        match config.tenant_database() {
            None => {
                let (map, configured) = tenants::first_files(&config).map_err(AppError::Tenants)?;
                let idps = Arc::new(IdpRegistry::fetching(client, api_fetcher));
                idps.replace(configured, IdpRegistry::url_sources(&map));
                idps.record_metrics(chrono::Utc::now());
                let proof = proof.map(Arc::new);
                if let Some(proof) = &proof {
                    proof.refresh(&map).await;
                }
                let files = Arc::new(FileSource::new(map));
                let database = tenants::database_tenants(&users_pool).await?;
                let listener = match database.pg {
                    Some(pg) => {
                        let listener = pg.listen().await?;
                        Some((pg, listener))
                    }
                    None => None,
                };
                let memory = database.memory;
                let layered = Arc::new(Layered {
                    files: files.clone(),
                    database: database.source,
                });
                (
                    Tenants::Files(files, Mutex::new(listener)),
                    layered,
                    idps,
                    proof,
                    memory,
                )
            }
            Some(url) => {
                let pg = Arc::new(PgSource::open(url).await?);
                let listener = pg.listen().await?;
                (
                    Tenants::Postgres(pg.clone(), Mutex::new(Some(listener))),
                    pg,
                    Arc::new(IdpRegistry::on_demand(client, api_fetcher)),
                    proof.map(|p| Arc::new(p.on_demand())),
                    None,
                )
            }
        };
    let catalog = Arc::new(Catalog::new()?);
    let keys = Arc::new(SpKeys::load_or_generate(&config)?);
    let sp = Arc::new(Sp::from_config(&config, keys));
    let tenant_pool = match &tenants {
        Tenants::Postgres(pg, _) => Pool::Postgres(pg.pool().clone()),
        Tenants::Files(..) => users_pool.clone(),
    };
    let users: Arc<dyn UserStore> = Arc::new(users_db);
    // Over the same store handle, so the API's changes and the logins' reads are one pool.
    let admin = Admin::over(users.clone(), users_pool.clone());
    let store = session::open(&config.session_store).await?;
    let client_store = ClientStore::new(users_pool.clone());
    let oauth = oauth_server(
        &config,
        clients_of(&config, client_store.clone()),
        store.clone(),
        users.clone(),
    )?;
    let discovery = Arc::new(Discovery {
        directory: Directory::new(source, 1_000_000, Duration::from_secs(300)),
        proof,
        region: config.region.clone(),
        regions: config.regions.clone(),
    });
    let sessions = Sessions::new(
        store.clone(),
        Duration::from_secs(config.session_idle_seconds),
        Duration::from_secs(config.session_max_seconds),
    )
    .notifying(Arc::new(crate::oauth::logout::BackChannel::new(
        oauth.clone(),
    )));
    let limiter = RateLimiter::new(
        store.clone(),
        RateLimitPolicy {
            limit: config.login_attempts_per_minute,
            lockout_after: config.lockout_after_failures,
            ..RateLimitPolicy::default()
        },
    );
    let pages = Arc::new(Pages::new(&config, catalog.clone())?);
    let logo_url = pages
        .brand_logo
        .as_ref()
        .map(|_| config.url(&format!("/static/{}", crate::web::pages::BRAND_LOGO)));
    let outreach = Outreach::new(
        Arc::new(Letters::new(&config, catalog, logo_url)?),
        Postman::new(mail::open(&config)?),
        config.public_url.as_str(),
    );
    let links = Links::new(store.clone(), sessions.clone());
    let admin = admin.with_mail(outreach.clone(), links.clone());
    // Calls to IdPs on a person's behalf (OpenID Connect, WS-Trust): the metadata fetches'
    // roots, no redirects (a token or password request redirected elsewhere would carry
    // our credentials or the person's), bounded in time.
    let idp_calls = crate::oidc::http_client(crate::saml::http_client_builder(
        config.idp_metadata_ca.as_deref(),
    )?)?;
    // The same for the management API's tenants, whose URLs an account admin types: public
    // addresses only, unless the operator allows others (`discovery::reach`).
    let public_only = !config.allow_private_idp_urls;
    let api_idp_calls = crate::discovery::reach::Guarded {
        client: crate::oidc::http_client(crate::discovery::reach::restrict(
            crate::saml::http_client_builder(config.idp_metadata_ca.as_deref())?,
            public_only,
        ))?,
        public_only,
    };
    let login = Arc::new(Login {
        discovery: discovery.clone(),
        idps,
        sp,
        store: store.clone(),
        sessions: sessions.clone(),
        users: users.clone(),
        limiter: limiter.clone(),
        saml_slots: Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()) * 4,
        )),
        passwords: Passwords::new()?,
        skew: Duration::from_secs(config.clock_skew_seconds),
        traces: Traces::new(store.clone()),
        oidc: Arc::new(crate::oidc::Providers::new(idp_calls, api_idp_calls)),
        oidc_redirect: url::Url::parse(&config.url(crate::web::oidc::CALLBACK)).map_err(|e| {
            AppError::OidcClient(crate::oidc::OidcError::RedirectUri(format!(
                "{}: {e}",
                config.url(crate::web::oidc::CALLBACK)
            )))
        })?,
        outreach,
        links,
        reset_limiter: RateLimiter::new(store.clone(), RESET_POLICY),
    });
    let tenant_admin = Arc::new(TenantAdmin::new(TenantAdminParts {
        store: TenantStore::new(tenant_pool),
        files: match &tenants {
            Tenants::Files(files, _) => Some(files.clone()),
            Tenants::Postgres(..) => None,
        },
        memory,
        discovery: discovery.clone(),
        idps: login.idps.clone(),
        proof: match &discovery.proof {
            Some(p) => p.clone(),
            None => Arc::new(DomainProof::new(config.dns_server, &secret)?),
        },
        config: config.clone(),
        audit: admin.audit.clone(),
    }));
    let client_admin = Arc::new(ClientAdmin::new(
        client_store,
        config.oauth_clients.clone(),
        discovery.clone(),
        admin.audit.clone(),
    ));
    let devices = Devices {
        oauth: oauth.clone(),
        login: login.clone(),
        verification_uri: config.url("/device"),
    };
    Ok(Arc::new(AppState {
        discovery,
        tenants,
        pages,
        metrics,
        users,
        admin,
        tenant_admin,
        client_admin,
        sessions,
        limiter,
        store,
        oauth,
        login,
        devices,
        active_users: moka::future::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(Duration::from_secs(30))
            .build(),
        draining: std::sync::atomic::AtomicBool::new(false),
        config,
    }))
}

/// Re-reads the token signing keys every [`RELOAD_EVERY`](crate::oauth::keys::RELOAD_EVERY),
/// so a `keys rotate` (by the CLI, on the shared `data_dir`) reaches this instance: the
/// next key is published here before any instance signs with it.
pub fn spawn_key_reloader(state: &SharedState) {
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::oauth::keys::RELOAD_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            if let Err(e) = state.oauth.keys.reload() {
                tracing::error!(error = %e, "token signing keys not reloaded; the ones in use stay");
            }
        }
    });
}

/// Where the OAuth endpoints find clients: the configuration's, then `database`'s.
fn clients_of(config: &Config, database: ClientStore) -> Arc<dyn crate::oauth::ClientSource> {
    Arc::new(crate::oauth::Layered {
        files: crate::oauth::Clients::new(config.oauth_clients.clone()),
        database,
    })
}

/// The OAuth server of `config`, finding clients in `clients`, over the shared `store` and
/// the `users`.
fn oauth_server(
    config: &Config,
    clients: Arc<dyn crate::oauth::ClientSource>,
    store: Arc<dyn Store>,
    users: Arc<dyn UserStore>,
) -> Result<Arc<crate::oauth::OAuth>, AppError> {
    Ok(Arc::new(crate::oauth::OAuth::new(
        clients,
        crate::oauth::TokenKeys::load_or_generate(&config.data_dir)?,
        config.public_url.as_str().trim_end_matches('/').to_string(),
        store,
        users,
    )))
}

/// The back-channel logout sender of `config`, for a command (`user disable`) that ends
/// sessions outside the serving process: it reads the same shared store, and the same
/// clients (configuration, then the users' database).
pub async fn backchannel(
    config: &Config,
    users: &Arc<dyn UserStore>,
) -> Result<crate::oauth::logout::BackChannel, AppError> {
    let store = session::open(&config.session_store).await?;
    let pool = accounts::open(&config.database_url()).await?.pool();
    Ok(crate::oauth::logout::BackChannel::new(oauth_server(
        config,
        clients_of(config, ClientStore::new(pool)),
        store,
        users.clone(),
    )?))
}

/// Selects aws-lc-rs as rustls' process-wide provider. Both it and ring are compiled in
/// (reqwest brings ring), and rustls refuses to guess between two.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
