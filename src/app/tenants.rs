//! Tenants: the one loader (files or PostgreSQL, every problem reported at once), the
//! import into PostgreSQL, and the reloads that follow changes while serving.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::accounts::Pool;
use crate::accounts::tenants::TenantStore;
use crate::admin::Actor;
use crate::config::{Config, Problem};
use crate::discovery::pg::{ImportSummary, ImportTenant, Listener};
use crate::discovery::{Change, FileSource, Layered, PgSource, TenantMap, TenantSource, map};
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

/// Every tenant the CLI works on, checked, and the directory that serves them as `serve`
/// does: the configured source (the `domains/` files, or `tenant_source`) and, beside the
/// files, the management API's tenants in the users' database, read by the one loader of
/// [`database_tenants`] and layered by [`Layered`] (files first).
pub struct Loaded {
    /// Every problem: syntax, conflicts (a domain or account of a file and a database
    /// tenant too), IdP metadata and certificates, together.
    pub problems: Vec<Problem>,
    /// The IdP of each SSO tenant with metadata, by account.
    pub idps: TenantIdps,
    /// The maps of the parts, in the order the directory reads them.
    pub maps: Vec<Arc<TenantMap>>,
    /// The tenants as the gateway finds them.
    pub directory: Arc<dyn TenantSource>,
}

impl Loaded {
    /// The directory when nothing is wrong, else every problem.
    pub fn into_directory(self) -> Result<Arc<dyn TenantSource>, Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(self.directory)
        } else {
            Err(self.problems)
        }
    }
}

/// The whole tenant map of the configured source, checked, with the management API's
/// tenants beside the files: what the CLI works on. It may load it all (a million domains
/// take seconds); the gateway never does with PostgreSQL.
pub async fn load(config: &Config) -> Result<Loaded, AppError> {
    let Some(url) = config.tenant_database() else {
        let dir = config.clone();
        let files = tokio::task::spawn_blocking(move || check_files(&dir.domains_dir, &dir))
            .await
            .map_err(|e| AppError::Tenants(vec![join_problem("load", &e)]))?;
        let pool = crate::accounts::open(&config.database_url()).await?.pool();
        let (database, mut problems) = match database_tenants(&pool).await {
            Ok(db) => (db, Vec::new()),
            Err(AppError::Tenants(problems)) => (DatabaseTenants::none(), problems),
            Err(e) => return Err(e),
        };
        let stored = match database.map().await? {
            Ok(map) => map,
            Err(more) => {
                problems.extend(more);
                TenantMap::default()
            }
        };
        problems.extend(shadowed(&files.map, &stored));
        let stored = Checked::with_idps(stored, problems);
        let mut idps = stored.idps;
        idps.extend(files.idps);
        let files_map = Arc::new(FileSource::new(files.map));
        let maps = vec![files_map.snapshot(), Arc::new(stored.map)];
        return Ok(Loaded {
            problems: files.problems.into_iter().chain(stored.problems).collect(),
            idps,
            maps,
            directory: Arc::new(Layered {
                files: files_map,
                database: database.source,
            }),
        });
    };
    let checked = match PgSource::open(url).await?.load_map().await? {
        Ok(map) => Checked::with_idps(map, Vec::new()),
        Err(problems) => Checked {
            problems,
            ..Checked::default()
        },
    };
    let source = Arc::new(FileSource::new(checked.map));
    Ok(Loaded {
        problems: checked.problems,
        idps: checked.idps,
        maps: vec![source.snapshot()],
        directory: source,
    })
}

/// The accounts and domains of database tenants that a file tenant holds too: served, the
/// file wins (`Layered`), so the database tenant is partly hidden; the tenant operations
/// refuse to make such a pair, but a file written by hand later can.
fn shadowed(files: &TenantMap, stored: &TenantMap) -> Vec<Problem> {
    let mut problems = Vec::new();
    for t in stored.tenants() {
        let source = t.file.display().to_string();
        if let Some(f) = files.account(&t.account) {
            problems.push(Problem {
                source: source.clone(),
                line: None,
                message: format!(
                    "account {:?} of the management API is also declared by {}; the file hides it",
                    t.account,
                    f.file.display()
                ),
            });
        }
        for d in &t.domains {
            if let Some(f) = files.lookup(d).filter(|f| f.account != t.account) {
                problems.push(Problem {
                    source: source.clone(),
                    line: None,
                    message: format!(
                        "domain {d:?} is also claimed by {}; a domain belongs to one tenant",
                        f.file.display()
                    ),
                });
            }
        }
    }
    problems
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
    spawn_domain_rechecker(&state);
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

/// Looks the held DNS proofs of the management API's domains up again every
/// `domain_recheck_seconds` (never when 0), for as long as the gateway lives: a domain
/// whose record is gone stops routing to SSO (`TenantAdmin::recheck`).
fn spawn_domain_rechecker(state: &SharedState) {
    let every = state.config.domain_recheck_seconds;
    if every == 0 {
        return;
    }
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            match state.tenant_admin.recheck(&Actor::Gateway).await {
                Ok(dropped) if !dropped.is_empty() => {
                    tracing::info!(
                        domains = dropped.len(),
                        "DNS proofs re-checked; some domains no longer route to SSO"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "DNS proofs not re-checked; trying again at the next interval");
                }
            }
        }
    });
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

/// The management API's tenants beside the `domains/` files, in the users' database.
pub(super) struct DatabaseTenants {
    /// What [`Layered`] reads them through.
    pub source: Arc<dyn TenantSource>,
    /// SQLite's rows as a map, which the tenant operations swap after each write.
    pub memory: Option<Arc<FileSource>>,
    /// PostgreSQL's source, whose notifications a gateway follows.
    pub pg: Option<Arc<PgSource>>,
}

impl DatabaseTenants {
    /// No database tenants (the CLI, when the stored ones have problems).
    fn none() -> Self {
        let empty = Arc::new(FileSource::default());
        Self {
            source: empty.clone(),
            memory: Some(empty),
            pg: None,
        }
    }

    /// Every one of them as a map, checked as a whole (the CLI).
    async fn map(&self) -> Result<Result<TenantMap, Vec<Problem>>, AppError> {
        match (&self.memory, &self.pg) {
            (_, Some(pg)) => Ok(pg.load_map().await?),
            (Some(memory), None) => {
                let tenants = memory.snapshot().tenants().map(|t| (**t).clone()).collect();
                Ok(TenantMap::build(tenants))
            }
            (None, None) => Ok(Ok(TenantMap::default())),
        }
    }
}

/// The management API's tenants in the users' database, as a gateway with `domains/` files
/// serves them: PostgreSQL is queried live through a [`PgSource`] over the same pool (and
/// followed by its notifications, so every gateway sees a change within a notification's
/// delay); SQLite, one gateway per file, is held as a map the tenant operations swap after
/// each write.
pub(super) async fn database_tenants(pool: &Pool) -> Result<DatabaseTenants, AppError> {
    match pool {
        Pool::Postgres(pg) => {
            let source = Arc::new(PgSource::over(pg.clone()).await?);
            Ok(DatabaseTenants {
                source: source.clone(),
                memory: None,
                pg: Some(source),
            })
        }
        Pool::Sqlite(_) => {
            let stored = TenantStore::new(pool.clone()).all().await?;
            let map = TenantMap::build(stored).map_err(AppError::Tenants)?;
            let memory = Arc::new(FileSource::new(map));
            Ok(DatabaseTenants {
                source: memory.clone(),
                memory: Some(memory),
                pg: None,
            })
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
