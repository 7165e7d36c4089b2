//! The `realmgate` command line. The only place that uses `anyhow`: every module has its
//! own error type, and here they become a message and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use realmgate::accounts::{NewUser, Origin, Status};
use realmgate::admin::{Actor, Admin, Scope, UserPatch};
use realmgate::config::{Config, Problem};
use realmgate::discovery::{DomainProof, Email, TenantMap, TenantSource, proof::Outcome};
use realmgate::saml::{CHECK_FETCH_TIMEOUT, IdpRegistry, Sp, SpKeys, sp_metadata};
use realmgate::session::ended::Ended;
use realmgate::telemetry::{self, LogTo};
use realmgate::{app, secrets};

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
    /// Management API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Tenants in PostgreSQL (`tenant_source = "postgres://..."`).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// OAuth / OpenID Connect clients.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// The token signing keys in data_dir.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// One rotation step: publish a next key in the JWKS; run again (after at least a
    /// minute, once every instance publishes it) to make it sign and retire the old one,
    /// which stays published for the longest token lifetime.
    Rotate,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Print a new client secret, once, and the `client_secret_hash` to register: only
    /// the hash is kept, in `[[oauth_clients]]`.
    Secret,
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
enum TokenCommand {
    /// Create a token and print it, once: only its hash is kept.
    Create {
        /// Unique name, shown as the actor in the audit log.
        #[arg(long)]
        name: String,
        /// The one account the token reaches; without it, the operator's (every tenant).
        #[arg(long)]
        account: Option<String>,
        /// admin (the management API) or scim (provisioning).
        #[arg(long, default_value = "admin")]
        scope: String,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token: its next call is refused.
    Revoke {
        /// The token's name.
        name: String,
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
    // Every command logs: `user add` and the others write audit events.
    let to = match cli.command {
        Command::Serve => LogTo::Stdout,
        _ => LogTo::Stderr,
    };
    telemetry::init_logs(config.log_format, to);
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
            Command::Token { command } => token(&config, command).await,
            Command::Domain {
                command: DomainCommand::Verify { domain },
            } => verify_domain(&config, &domain).await,
            Command::Tenant {
                command: TenantCommand::Import { dir },
            } => import_tenants(&config, &dir).await,
            Command::Keys {
                command: KeysCommand::Rotate,
            } => {
                use realmgate::oauth::keys::{Rotation, rotate};
                match rotate(&config.data_dir, std::time::SystemTime::now())? {
                    Rotation::Published { kid } => println!(
                        "published next key {kid} in the JWKS; run `realmgate keys rotate` again in a minute or more to sign with it"
                    ),
                    Rotation::Promoted { kid } => println!(
                        "key {kid} now signs (every instance within 30 s); the old key stays published for 11 minutes"
                    ),
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Client {
                command: ClientCommand::Secret,
            } => {
                let secret = secrets::random_token();
                println!("client_secret = {secret}");
                println!(
                    "client_secret_hash = \"{}\"",
                    realmgate::oauth::client_auth::secret_hash(&secret)
                );
                Ok(ExitCode::SUCCESS)
            }
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
    let listeners = app::Listeners::bind(&config).await?;
    let state = app::build(config).await?;
    app::spawn_reloader(state.clone()).context("watching the tenant directory")?;
    app::spawn_key_reloader(&state);
    tracing::info!(listen = %state.config.listen, public_url = %state.config.public_url, tls = listeners.tls.is_some(), "realmgate listening");
    app::run(listeners, state.clone(), app::shutdown_signal(state)).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Prints every problem, then how many; the command then fails.
fn report(problems: &[Problem], outcome: &str) -> ExitCode {
    for p in problems {
        println!("{p}");
    }
    println!("{} problem(s) found{outcome}", problems.len());
    ExitCode::FAILURE
}

/// Everything at once: tenant files and the management API's tenants (syntax, conflicts,
/// IdP metadata and certificates) and the IdP metadata URLs, fetched.
async fn check(config: &Config) -> anyhow::Result<ExitCode> {
    let place = match config.tenant_database() {
        None => format!("{} and the users' database", config.domains_dir.display()),
        Some(_) => "PostgreSQL (tenant_source)".to_string(),
    };
    let loaded = app::load(config).await?;
    let mut problems = loaded.problems;
    // Each metadata URL, as `serve` would fetch it at start, within a bound.
    app::install_crypto_provider();
    let client = realmgate::saml::http_client(config.idp_metadata_ca.as_deref())?;
    // Each OpenID Connect provider, fetched as the first login would (configuration and
    // keys), and each private_key_jwt key, read.
    // The operator runs `check`: every tenant's provider is reached as is.
    let provider_calls = realmgate::oidc::http_client(realmgate::saml::http_client_builder(
        config.idp_metadata_ca.as_deref(),
    )?)?;
    let providers = realmgate::oidc::Providers::new(
        provider_calls.clone(),
        realmgate::discovery::reach::Guarded {
            client: provider_calls,
            public_only: false,
        },
    );
    let mut idps = loaded.idps;
    for map in &loaded.maps {
        let (fetched, more) = IdpRegistry::check_urls(map, &client, CHECK_FETCH_TIMEOUT).await;
        problems.extend(more);
        idps.extend(fetched);
        problems.extend(providers.check(map).await);
    }
    if !problems.is_empty() {
        return Ok(report(&problems, ""));
    }
    let registry = IdpRegistry::new(idps);
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
        loaded
            .maps
            .iter()
            .map(|m| m.tenants().count())
            .sum::<usize>(),
        loaded.maps.iter().map(|m| m.domain_count()).sum::<usize>(),
        registry.all().len(),
    );
    Ok(ExitCode::SUCCESS)
}

/// Every problem as one error: the user and domain commands refuse tenants the gateway
/// would not serve either.
fn refused(problems: &[Problem]) -> anyhow::Error {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    anyhow::anyhow!("{}", lines.join("\n"))
}

/// The tenants of the configured source (with the management API's, beside files) as the
/// gateway finds them, for the user and domain commands.
async fn directory(config: &Config) -> anyhow::Result<Arc<dyn TenantSource>> {
    app::load(config)
        .await?
        .into_directory()
        .map_err(|p| refused(&p))
}

/// The whole maps of the tenants (files first, then the management API's), for `user
/// import`, whose rows are matched to tenants without a lookup each.
async fn tenant_maps(config: &Config) -> anyhow::Result<Vec<Arc<TenantMap>>> {
    let loaded = app::load(config).await?;
    if !loaded.problems.is_empty() {
        return Err(refused(&loaded.problems));
    }
    Ok(loaded.maps)
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
        Err(app::AppError::Tenants(problems)) => Ok(report(&problems, "; nothing was imported")),
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
    let ops = Admin::open(&config.database_url()).await?;
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
            let tenant = directory(config)
                .await?
                .by_account(&account)
                .await?
                .with_context(|| format!("no tenant declares account {account:?}"))?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\n', '\r']).to_string())
            } else if password_prompt {
                Some(rpassword::prompt_password("Password: ")?)
            } else {
                None
            };
            let mut new = NewUser::new(&account, email, Origin::Cli, now);
            new.name = name.unwrap_or_default();
            new.admin = admin;
            let password = password.filter(|p| !p.is_empty());
            let user = ops
                .users
                .create(&Actor::Cli, &tenant, new, password.as_deref())
                .await?;
            println!("added {} to {} (id {})", user.email, user.account, user.id);
        }
        UserCommand::List { account, waiting } => {
            let status = waiting.then_some(Status::Waiting);
            let users = ops.users.store().list(account.as_deref(), status).await?;
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
            let found = ops.users.by_email(&account, &Email::parse(&email)?).await?;
            let user = ops.users.approve(&Actor::Cli, &account, found.id).await?;
            println!("approved {} ({})", user.email, user.account);
        }
        UserCommand::Disable { account, email } => {
            let found = ops.users.by_email(&account, &Email::parse(&email)?).await?;
            let disable = UserPatch {
                status: Some(Status::Disabled),
                ..UserPatch::default()
            };
            let user = ops
                .users
                .patch(&Actor::Cli, &account, found.id, &disable)
                .await?;
            println!("disabled {} ({})", user.email, user.account);
            // The apps it signed in to end their sessions too (through the shared store:
            // with `session_store = "memory"` the serving process tells them when the
            // user's session next comes back).
            app::backchannel(config, ops.users.store())
                .await?
                .deliver(Ended::User { user_id: user.id })
                .await;
        }
        UserCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let maps = tenant_maps(config).await?;
            let owner = |e: &Email| {
                maps.iter()
                    .find_map(|m| m.lookup(e.domain()))
                    .map(|t| t.account.clone())
            };
            let source = file.display().to_string();
            let summary = ops
                .users
                .import(&Actor::Cli, &source, &text, &owner, None)
                .await?;
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

async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let ops = Admin::open(&config.database_url()).await?;
    match command {
        TokenCommand::Create {
            name,
            account,
            scope,
        } => {
            let scope: Scope = scope.parse()?;
            let (token, value) = ops
                .tokens
                .create(&Actor::Cli, &name, account.as_deref(), scope)
                .await?;
            eprintln!(
                "created token {} (scope {}, {}); it is shown only now:",
                token.name,
                token.scope,
                token
                    .account
                    .as_deref()
                    .map_or("every account".to_string(), |a| format!("account {a}"))
            );
            println!("{value}");
        }
        TokenCommand::List => {
            let tokens = ops.tokens.list().await?;
            println!(
                "{:<24} {:<16} {:<6} {:<20} {:<20}",
                "name", "account", "scope", "created", "last used"
            );
            let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
            for t in &tokens {
                println!(
                    "{:<24} {:<16} {:<6} {:<20} {:<20}",
                    t.name,
                    t.account.as_deref().unwrap_or("*"),
                    t.scope.as_str(),
                    time(t.created_at),
                    t.last_used_at.map(time).unwrap_or_default()
                );
            }
            println!("{} token(s)", tokens.len());
        }
        TokenCommand::Revoke { name } => {
            ops.tokens.revoke(&Actor::Cli, &name).await?;
            println!("revoked {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify_domain(config: &Config, domain: &str) -> anyhow::Result<ExitCode> {
    let email = Email::parse(&format!("x@{domain}")).context("not a valid domain name")?;
    let domain = email.domain();
    let tenant = directory(config)
        .await?
        .by_domain(domain)
        .await?
        .with_context(|| format!("no tenant lists {domain}"))?;
    let secret = secrets::gateway_secret(config)?;
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
