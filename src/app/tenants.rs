//! Tenants: the one loader (files or PostgreSQL, every problem reported at once), the
//! import into PostgreSQL, and the reloads that follow changes while serving.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::accounts::Pool;
use crate::accounts::tenants::TenantStore;
use crate::config::{Config, Problem};
use crate::discovery::pg::{ImportSummary, ImportTenant, Listener};
use crate::discovery::{Change, FileSource, PgSource, TenantMap, TenantSource, map};
use crate::saml::{IdpMetadata, IdpRegistry};

use super::AppError;
use crate::web::state::{AppState, SharedState, Tenants};

/// The IdP of each SSO tenant of a map, by account.
pub type TenantIdps = HashMap<String, Arc<IdpMetadata>>;

/// A tenant map as loaded: the tenants that loaded, their IdPs, and every problem found.
#[derive(Debug, Default)]
pub struct Checked {
    /// The tenants without a problem of their own or a conflict with an earlier one.
    pub map: TenantMap,
    /// The IdP of each SSO tenant of `map` (empty when any IdP has a problem).
    pub idps: TenantIdps,
    /// Every problem: syntax, conflicts, IdP metadata and certificates, together.
    pub problems: Vec<Problem>,
}

impl Checked {
    /// The map and its IdPs when nothing is wrong, else every problem.
    pub fn into_result(self) -> Result<(TenantMap, TenantIdps), Vec<Problem>> {
        if self.problems.is_empty() {
            Ok((self.map, self.idps))
        } else {
            Err(self.problems)
        }
    }

    fn with_idps(map: TenantMap, mut problems: Vec<Problem>) -> Self {
        let idps = match IdpRegistry::build(&map) {
            Ok(idps) => idps,
            Err(more) => {
                problems.extend(more);
                TenantIdps::new()
            }
        };
        Self {
            map,
            idps,
            problems,
        }
    }
}

/// Every tenant of `dir` and the IdP of each. A file with a problem does not stop the
/// others being examined, so an operator sees every problem in one pass.
pub fn check_dir(dir: &Path) -> Checked {
    let (map, problems) = map::load_dir_all(dir);
    Checked::with_idps(map, problems)
}

/// Every tenant of `dir` and the IdP of each, refused on any problem: what `tenant import`
/// writes. No region rule: the PostgreSQL map is shared by the gateways of every region,
/// each with its own `regions`.
pub fn load_dir(dir: &Path) -> Result<(TenantMap, TenantIdps), Vec<Problem>> {
    check_dir(dir).into_result()
}

/// [`check_dir`] plus the rule this gateway's configuration adds: every tenant's `region`
/// is one it knows (a tenant of an unknown region would be served here, in the wrong place).
pub fn check_files(dir: &Path, config: &Config) -> Checked {
    let mut checked = check_dir(dir);
    if let Err(problems) = checked.map.check_regions(config) {
        checked.problems.extend(problems);
    }
    checked
}

/// The whole tenant map of the configured source, checked: what the CLI works on. It may
/// load it all (a million domains take seconds); the gateway never does with PostgreSQL.
pub async fn load(config: &Config) -> Result<Checked, AppError> {
    match config.tenant_database() {
        None => {
            let config = config.clone();
            tokio::task::spawn_blocking(move || check_files(&config.domains_dir, &config))
                .await
                .map_err(|e| AppError::Tenants(vec![join_problem("load", &e)]))
        }
        Some(url) => Ok(match PgSource::open(url).await?.load_map().await? {
            Ok(map) => Checked::with_idps(map, Vec::new()),
            Err(problems) => Checked {
                problems,
                ..Checked::default()
            },
        }),
    }
}

/// The map the file source starts with. A missing directory is an empty map rather than a
/// refusal to start: a first `serve` then works, and says where tenants go.
pub(super) fn first_files(config: &Config) -> Result<(TenantMap, TenantIdps), Vec<Problem>> {
    let dir = &config.domains_dir;
    if !dir.exists() {
        tracing::warn!(
            dir = %dir.display(),
            "no tenant directory: serving no tenants; create it and add a tenant file (README, \"Tenants\"); it is picked up without a restart"
        );
        return Ok((TenantMap::default(), TenantIdps::new()));
    }
    check_files(dir, config).into_result()
}

fn join_problem(source: &str, e: &tokio::task::JoinError) -> Problem {
    Problem {
        source: source.into(),
        line: None,
        message: e.to_string(),
    }
}

/// Validates `dir` like `check` and, only when it has no problem at all, makes it the
/// tenant map of the PostgreSQL database at `url` (see [`PgSource::import`]).
pub async fn import_tenants(url: &str, dir: &Path) -> Result<ImportSummary, AppError> {
    let dir = dir.to_path_buf();
    let tenants = tokio::task::spawn_blocking(move || {
        let (map, idps) = load_dir(&dir)?;
        let mut tenants = Vec::new();
        let mut problems = Vec::new();
        for t in map.tenants() {
            let entity_id = idps.get(&t.account).map(|m| m.entity_id.clone());
            match ImportTenant::read(t, entity_id) {
                Ok(t) => tenants.push(t),
                Err(p) => problems.push(p),
            }
        }
        if problems.is_empty() {
            Ok(tenants)
        } else {
            Err(problems)
        }
    })
    .await
    .map_err(|e| AppError::Tenants(vec![join_problem("import", &e)]))?
    .map_err(AppError::Tenants)?;
    let source = PgSource::open(url).await?;
    Ok(source.import(tenants).await?)
}

/// Reloads `domains/`. On any problem the last good map stays in service and the problems
/// are returned (and logged by the caller).
pub async fn reload(state: &AppState) -> Result<usize, Vec<Problem>> {
    let Tenants::Files(files, _) = &state.tenants else {
        return Err(vec![Problem {
            source: "reload".into(),
            line: None,
            message: "tenants come from PostgreSQL: change them with `realmgate tenant import`"
                .into(),
        }]);
    };
    let config = state.config.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        check_files(&config.domains_dir, &config).into_result()
    })
    .await
    .map_err(|e| vec![join_problem("reload", &e)])?;
    match loaded {
        Ok((map, idps)) => {
            state
                .login
                .idps
                .replace(idps, IdpRegistry::url_sources(&map));
            state.login.idps.record_metrics(chrono::Utc::now());
            let count = map.domain_count();
            if let Some(proof) = &state.discovery.proof {
                proof.refresh(&map).await;
            }
            files.replace(map);
            state.discovery.directory.invalidate();
            metrics::counter!("realmgate_reloads_total", "result" => "ok").increment(1);
            Ok(count)
        }
        Err(problems) => {
            metrics::counter!("realmgate_reloads_total", "result" => "rejected").increment(1);
            Err(problems)
        }
    }
}

/// Forgets what the caches hold about changed tenants: cached lookups, IdPs and DNS
/// verdicts loaded on demand.
pub fn forget(state: &AppState, change: &Change) {
    state.discovery.forget(change);
    state.login.idps.forget(change);
}

/// Follows tenant changes: for the file source, reloads on SIGHUP and whenever a file of
/// `domains/` changes (debounced, so an editor's write-rename-chmod sequence triggers one
/// reload); for PostgreSQL, forgets what each import notification names, and everything
/// on SIGHUP.
pub fn spawn_reloader(state: SharedState) -> Result<(), notify::Error> {
    match &state.tenants {
        Tenants::Files(_, database) => {
            let taken = database.lock().map(|mut l| l.take()).unwrap_or(None);
            if let Some((source, listener)) = taken {
                follow(&state, source, listener);
            }
            spawn_file_reloader(state)
        }
        Tenants::Postgres(source, listener) => {
            let taken = listener.lock().map(|mut l| l.take()).unwrap_or(None);
            if let Some(listener) = taken {
                follow(&state, source.clone(), listener);
            }
            #[cfg(unix)]
            {
                let weak = Arc::downgrade(&state);
                tokio::spawn(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    if let Ok(mut hup) = signal(SignalKind::hangup()) {
                        while hup.recv().await.is_some() {
                            let Some(state) = weak.upgrade() else { break };
                            tracing::info!("SIGHUP: forgetting every cached tenant");
                            forget(&state, &Change::All);
                        }
                    }
                });
            }
            Ok(())
        }
    }
}

/// Forgets what each notification of `source` names, for as long as the gateway lives.
fn follow(state: &SharedState, source: Arc<PgSource>, listener: Listener) {
    let weak = Arc::downgrade(state);
    tokio::spawn(listener.run(source, move |change| {
        let Some(state) = weak.upgrade() else {
            return false;
        };
        tracing::info!(?change, "tenants changed in PostgreSQL");
        forget(&state, change);
        true
    }));
}

/// The management API's tenants beside the `domains/` files, in the users' database:
/// PostgreSQL is queried live through a [`PgSource`] over the same pool (and followed by
/// its notifications, so every gateway sees a change within a notification's delay);
/// SQLite, one gateway per file, is held as a map the tenant operations swap after each
/// write. Gives the source, that map, and the subscription to run.
pub(super) async fn database_tenants(
    pool: &Pool,
) -> Result<
    (
        Arc<dyn TenantSource>,
        Option<Arc<FileSource>>,
        Option<(Arc<PgSource>, Listener)>,
    ),
    AppError,
> {
    match pool {
        Pool::Postgres(pg) => {
            let source = Arc::new(PgSource::over(pg.clone()).await?);
            let listener = source.listen().await?;
            Ok((source.clone(), None, Some((source, listener))))
        }
        Pool::Sqlite(_) => {
            let stored = TenantStore::new(pool.clone()).all().await?;
            let map = TenantMap::build(stored).map_err(AppError::Tenants)?;
            let memory = Arc::new(FileSource::new(map));
            Ok((memory.clone(), Some(memory), None))
        }
    }
}

fn spawn_file_reloader(state: SharedState) -> Result<(), notify::Error> {
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(16);
    let fs_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok_and(|e| !e.kind.is_access()) {
            let _ = fs_tx.try_send(());
        }
    })?;
    let dir = state.config.domains_dir.clone();
    // A directory that does not exist yet cannot be watched: its parent is, until it
    // appears (see [`first_files`]).
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut watching = dir.is_dir();
    if watching {
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    } else {
        watcher.watch(&parent, RecursiveMode::NonRecursive)?;
    }
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut hup) = signal(SignalKind::hangup()) {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading tenant files");
                if tx.send(()).await.is_err() {
                    break;
                }
            }
        }
    });
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let mut watcher = watcher;
        while rx.recv().await.is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            while rx.try_recv().is_ok() {}
            if !watching {
                // Something else of the parent changed; nothing to load yet.
                if !dir.is_dir() {
                    continue;
                }
                match watcher.watch(&dir, RecursiveMode::NonRecursive) {
                    Ok(()) => {
                        watching = true;
                        let _ = watcher.unwatch(&parent);
                        tracing::info!(dir = %dir.display(), "tenant directory created; watching it");
                    }
                    Err(e) => {
                        tracing::error!(dir = %dir.display(), error = %e, "cannot watch the tenant directory");
                        continue;
                    }
                }
            }
            match reload(&state).await {
                Ok(domains) => tracing::info!(domains, "tenant map reloaded"),
                Err(problems) => {
                    for p in &problems {
                        tracing::error!(problem = %p, "tenant reload rejected; keeping the last good map");
                    }
                }
            }
        }
    });
    Ok(())
}
