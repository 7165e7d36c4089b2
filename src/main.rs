//! The `realmgate` command line. The only place that uses `anyhow`: every module has its
//! own error type, and here they become a message and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use realmgate::accounts::{self, NewUser, Origin, Passwords, Status, UserStore};
use realmgate::config::Config;
use realmgate::discovery::{DomainProof, Email, PgSource, map, proof::Outcome};
use realmgate::saml::{IdpRegistry, Sp, SpKeys, sp_metadata};
use realmgate::{app, telemetry};

/// mimalloc rather than glibc's malloc: the request path allocates many small, short-lived
/// buffers on two or more threads, where glibc's arenas and free-list consolidation showed
/// up as about a tenth of the gateway's CPU under load (bench/run.sh, perf). C libraries
/// (libxml2, xmlsec, OpenSSL, SQLite) keep their own malloc; none frees Rust memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "realmgate",
    version,
    about = "Email-first home-realm discovery login gateway"
)]
struct Cli {
    /// Configuration file (TOML); every key can also be set as REALMGATE_<KEY>.
    #[arg(long, global = true, env = "REALMGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gateway.
    Serve,
    /// Validate the configuration and every tenant file; exit non-zero on any problem.
    Check,
    /// Print the SP metadata XML to give to IdP administrators.
    Metadata,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Domain ownership proofs.
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
    },
    /// Tenants in PostgreSQL (`tenant_source = "postgres://..."`).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Validate DIR like `check` and, when it has no problem, make its tenant files (and
    /// their IdP metadata files) the tenant map in PostgreSQL, in one transaction: tenants
    /// no longer in DIR are removed. Running gateways are notified.
    Import {
        /// A directory of tenant files, like `domains/`.
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user (pre-provisioned: active at once).
    Add {
        #[arg(long)]
        account: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Administrator of the account (may use /{account}/no-sso with a password).
        #[arg(long)]
        admin: bool,
        /// Read a password from standard input (never from the command line).
        #[arg(long)]
        password_stdin: bool,
        /// Prompt for a password on the terminal.
        #[arg(long, conflicts_with = "password_stdin")]
        password_prompt: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        account: Option<String>,
        /// Only users waiting for approval.
        #[arg(long)]
        waiting: bool,
    },
    /// Approve a user of the Waiting Room.
    Approve {
        #[arg(long)]
        account: String,
        #[arg(long)]
        email: String,
    },
    /// Disable a user.
    Disable {
        #[arg(long)]
        account: String,
        #[arg(long)]
        email: String,
    },
    /// Import users from a CSV file (columns email, name, admin); idempotent.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum DomainCommand {
    /// Check the DNS TXT proof of DOMAIN for the tenant that lists it.
    Verify {
        /// The domain, e.g. contoso.com.
        domain: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let vars = std::env::vars().filter(|(k, _)| k != "REALMGATE_CONFIG");
    let config = match Config::load(cli.config.as_deref(), vars) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(config).await,
            Command::Check => check(&config).await,
            Command::Metadata => metadata(&config),
            Command::User { command } => user(&config, command).await,
            Command::Domain {
                command: DomainCommand::Verify { domain },
            } => verify_domain(&config, &domain).await,
            Command::Tenant {
                command: TenantCommand::Import { dir },
            } => import_tenants(&config, &dir).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    telemetry::init_logs(config.log_format);
    let listen = config.listen;
    let tls = config.tls_cert.clone().zip(config.tls_key.clone());
    let state = app::build(config).await?;
    app::spawn_reloader(state.clone()).context("watching the tenant directory")?;
    tracing::info!(%listen, public_url = %state.config.public_url, tls = tls.is_some(), "realmgate listening");
    match tls {
        None => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            app::run(listener, state.clone(), shutdown_signal(state)).await?;
        }
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!("loading TLS files {} and {}", cert.display(), key.display())
                })?;
            let handle = axum_server::Handle::new();
            let drain = handle.clone();
            let draining = state.clone();
            tokio::spawn(async move {
                shutdown_signal(draining).await;
                drain.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
            });
            let app = realmgate::web::router(state)
                .into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum_server::bind_rustls(listen, tls)
                .handle(handle)
                .serve(app)
                .await?;
        }
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C at once, and on SIGTERM (an orchestrated stop) after
/// [`app::drain`]; in-flight requests then drain.
async fn shutdown_signal(state: app::State) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => app::drain(&state).await,
    }
    tracing::info!("shutdown requested; draining in-flight requests");
}

async fn check(config: &Config) -> anyhow::Result<ExitCode> {
    let (loaded, place) = match config.tenant_database() {
        None => (
            app::load_tenants(&config.domains_dir),
            config.domains_dir.display().to_string(),
        ),
        Some(url) => {
            let loaded = PgSource::open(url).await?.load_map().await?;
            let loaded = loaded.and_then(|map| IdpRegistry::build(&map).map(|idps| (map, idps)));
            (loaded, "PostgreSQL (tenant_source)".to_string())
        }
    };
    let (map, idps) = match loaded {
        Ok(loaded) => loaded,
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            println!("{} problem(s) found", problems.len());
            return Ok(ExitCode::FAILURE);
        }
    };
    // Each metadata URL, as `serve` would fetch it at start, within 10 s.
    app::install_crypto_provider();
    let client = realmgate::saml::http_client(config.idp_metadata_ca.as_deref())?;
    let (fetched, problems) =
        IdpRegistry::check_urls(&map, &client, std::time::Duration::from_secs(10)).await;
    if !problems.is_empty() {
        for p in &problems {
            println!("{p}");
        }
        println!("{} problem(s) found", problems.len());
        return Ok(ExitCode::FAILURE);
    }
    let registry = IdpRegistry::new(idps.into_iter().chain(fetched).collect());
    let soon = registry.expiring_certs(
        chrono::Utc::now(),
        std::time::Duration::from_secs(30 * 86_400),
    );
    for (account, not_after) in &soon {
        println!(
            "warning: account {account}: an IdP signing certificate expires on {not_after}; ask the IdP administrator for the new one before SSO breaks"
        );
    }
    println!(
        "ok: configuration, {} tenant(s), {} domain(s), {} IdP(s) in {place}",
        map.tenants().count(),
        map.domain_count(),
        registry.all().len(),
    );
    Ok(ExitCode::SUCCESS)
}

/// The whole tenant map of the configured source, or every problem as one error. The CLI
/// may load it all (a million domains take seconds); the gateway never does with
/// PostgreSQL.
async fn load_tenants(config: &Config) -> anyhow::Result<map::TenantMap> {
    let loaded = match config.tenant_database() {
        None => map::load_dir(&config.domains_dir),
        Some(url) => PgSource::open(url).await?.load_map().await?,
    };
    loaded.map_err(|p| {
        let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{}", lines.join("\n"))
    })
}

async fn import_tenants(config: &Config, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let url = config.tenant_database().context(
        "tenant import writes to PostgreSQL: set tenant_source = \"postgres://...\" (or REALMGATE_TENANT_SOURCE)",
    )?;
    let started = std::time::Instant::now();
    match app::import_tenants(url, dir).await {
        Ok(s) => {
            println!(
                "imported {}: {} tenant(s) added, {} updated, {} removed, {} unchanged; {} domain(s), {} written, in {:.1} s",
                dir.display(),
                s.added,
                s.updated,
                s.removed,
                s.unchanged,
                s.domains,
                s.domains_written,
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(app::AppError::Tenants(problems)) => {
            for p in &problems {
                println!("{p}");
            }
            println!("{} problem(s) found; nothing was imported", problems.len());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

fn metadata(config: &Config) -> anyhow::Result<ExitCode> {
    let keys = SpKeys::load_or_generate(config)?;
    print!(
        "{}",
        sp_metadata(&Sp::from_config(config, std::sync::Arc::new(keys)))
    );
    Ok(ExitCode::SUCCESS)
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<ExitCode> {
    let store = accounts::open(&config.database_url()).await?;
    let now = chrono::Utc::now();
    match command {
        UserCommand::Add {
            account,
            email,
            name,
            admin,
            password_stdin,
            password_prompt,
        } => {
            let email = Email::parse(&email).context("--email")?;
            let map = load_tenants(config).await?;
            let tenant = map
                .account(&account)
                .with_context(|| format!("no tenant declares account {account:?}"))?;
            anyhow::ensure!(
                tenant.owns_domain(email.domain()),
                "{} is not one of account {account}'s domains ({})",
                email.domain(),
                tenant.domains.join(", ")
            );
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\n', '\r']).to_string())
            } else if password_prompt {
                Some(rpassword::prompt_password("Password: ")?)
            } else {
                None
            };
            let password_hash = match password.filter(|p| !p.is_empty()) {
                Some(p) => {
                    anyhow::ensure!(
                        p.chars().count() >= 8,
                        "use a password of at least 8 characters"
                    );
                    Some(Passwords::new()?.hash(&p).await?)
                }
                None => None,
            };
            let mut new = NewUser::new(&account, email, Origin::Cli, now);
            new.name = name.unwrap_or_default();
            new.admin = admin;
            new.password_hash = password_hash;
            let user = store.add(new).await?;
            tracing::info!(target: "audit", event = "user_added", account = %user.account, email = %user.email, user_id = user.id, admin = user.admin);
            println!("added {} to {} (id {})", user.email, user.account, user.id);
        }
        UserCommand::List { account, waiting } => {
            let status = waiting.then_some(Status::Waiting);
            let users = store.list(account.as_deref(), status).await?;
            println!(
                "{:<6} {:<16} {:<32} {:<9} {:<6} {:<7} {:<20}",
                "id", "account", "email", "status", "admin", "origin", "last login"
            );
            for u in &users {
                println!(
                    "{:<6} {:<16} {:<32} {:<9} {:<6} {:<7} {:<20}",
                    u.id,
                    u.account,
                    u.email.as_str(),
                    u.status.to_string(),
                    if u.admin { "yes" } else { "" },
                    u.origin.to_string(),
                    u.last_login_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default()
                );
            }
            println!("{} user(s)", users.len());
        }
        UserCommand::Approve { account, email } => {
            let user = store
                .set_status(&account, &Email::parse(&email)?, Status::Active)
                .await?;
            tracing::info!(target: "audit", event = "user_approved", account = %user.account, email = %user.email, user_id = user.id);
            println!("approved {} ({})", user.email, user.account);
        }
        UserCommand::Disable { account, email } => {
            let user = store
                .set_status(&account, &Email::parse(&email)?, Status::Disabled)
                .await?;
            tracing::info!(target: "audit", event = "user_disabled", account = %user.account, email = %user.email, user_id = user.id);
            println!("disabled {} ({})", user.email, user.account);
        }
        UserCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let map = load_tenants(config).await?;
            let owner = |e: &Email| map.lookup(e.domain()).map(|t| t.account.clone());
            let summary = accounts::import_csv(&store, &text, &owner, now).await?;
            for e in &summary.errors {
                println!("{}:{e}", file.display());
            }
            println!(
                "{} created, {} updated, {} unchanged, {} error(s)",
                summary.created,
                summary.updated,
                summary.unchanged,
                summary.errors.len()
            );
            if !summary.errors.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify_domain(config: &Config, domain: &str) -> anyhow::Result<ExitCode> {
    let email = Email::parse(&format!("x@{domain}")).context("not a valid domain name")?;
    let domain = email.domain();
    let map = load_tenants(config).await?;
    let tenant = map
        .lookup(domain)
        .with_context(|| format!("no tenant lists {domain}"))?;
    let secret = app::secret(config)?;
    let proof = DomainProof::new(config.dns_server, &secret)?;
    let record = DomainProof::record_name(domain);
    let value = format!(
        "{}{}",
        realmgate::discovery::proof::TXT_PREFIX,
        proof.token(&tenant.account, domain)
    );
    let outcome = proof.check(&tenant.account, domain).await;
    let code = match &outcome {
        Outcome::Verified => {
            println!("verified: {domain} belongs to account {}", tenant.account);
            ExitCode::SUCCESS
        }
        Outcome::Missing => {
            println!("not verified: no TXT record at {record}");
            ExitCode::FAILURE
        }
        Outcome::WrongToken { found } => {
            println!("not verified: {record} has {found:?}, none is the expected value");
            ExitCode::FAILURE
        }
        Outcome::LookupFailed(reason) => {
            println!("unknown: the DNS lookup of {record} failed: {reason}");
            ExitCode::from(3)
        }
    };
    if outcome != Outcome::Verified {
        println!("publish this record to verify:\n  {record}. TXT \"{value}\"");
    }
    Ok(code)
}
