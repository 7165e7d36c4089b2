//! The `realmgate` command line. The only place that uses `anyhow`: every module has its
//! own error type, and here they become a message and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use realmgate::config::Config;
use realmgate::discovery::{DomainProof, Email, map, proof::Outcome};
use realmgate::{app, telemetry};

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
    /// Domain ownership proofs.
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
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
            Command::Check => check(&config),
            Command::Domain {
                command: DomainCommand::Verify { domain },
            } => verify_domain(&config, &domain).await,
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
            app::run(listener, state, shutdown_signal()).await?;
        }
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!("loading TLS files {} and {}", cert.display(), key.display())
                })?;
            let handle = axum_server::Handle::new();
            let drain = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
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

/// Completes on SIGTERM or Ctrl-C; in-flight requests then drain.
async fn shutdown_signal() {
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
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; draining in-flight requests");
}

fn check(config: &Config) -> anyhow::Result<ExitCode> {
    match map::load_dir(&config.domains_dir) {
        Ok(map) => {
            println!(
                "ok: configuration and {} tenant(s), {} domain(s) in {}",
                map.tenants().count(),
                map.domain_count(),
                config.domains_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            println!("{} problem(s) found", problems.len());
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn verify_domain(config: &Config, domain: &str) -> anyhow::Result<ExitCode> {
    let email = Email::parse(&format!("x@{domain}")).context("not a valid domain name")?;
    let domain = email.domain();
    let map = map::load_dir(&config.domains_dir).map_err(|p| {
        anyhow::anyhow!(
            "{}",
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let tenant = map.lookup(domain).with_context(|| {
        format!(
            "no tenant in {} lists {domain}",
            config.domains_dir.display()
        )
    })?;
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
