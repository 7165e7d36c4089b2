//! The tenant operations: create, change and delete the tenants of the management API, give
//! them IdP metadata; their domains (list, add, remove, verify, re-check) and DNS proofs are
//! in [`domains`], the check of a metadata URL being saved in [`metadata_url`]. The API and
//! the console call these; each change is checked exactly like a `domains/` file by `check`
//! (`discovery::map::load_text`, `IdpRegistry::check_tenant`, the region rule, a metadata
//! URL fetched), applied whole or not at all, recorded with before and after, and in force
//! on this gateway at once (its caches forget the tenant; other gateways hear PostgreSQL's
//! NOTIFY).
//!
//! File tenants (and those of `tenant import`) are the operator's: any change to one is
//! [`AdminError::ManagedInFile`]. A domain belongs to one tenant across files and
//! database; the refusal never names the tenant holding it.

mod domains;
mod metadata_url;

pub use domains::DomainStatus;
pub use metadata_url::IdpReport;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::{Actor, AdminError, record};
use crate::accounts::AccountsError;
use crate::accounts::tenants::{TenantRecord, TenantStore};
use crate::audit::AuditLog;
use crate::config::{Config, Problem};
use crate::discovery::map::load_text;
use crate::discovery::tenant::TenantFile;
use crate::discovery::{
    Change, Discovery, DomainProof, FileSource, Tenant, TenantMap, TenantOrigin,
};
use crate::saml::{IdpMetadata, IdpRegistry};

/// Where an uploaded metadata document is said to live in a stored tenant's text: the
/// document itself is in the row (`idp_metadata`), never read from disk.
const STORED_METADATA: &str = "idp-metadata.xml";

/// What an uploaded metadata document says, with the warnings `check` would print.
#[derive(Debug, Clone)]
pub struct MetadataReport {
    /// The tenant, now with this IdP.
    pub tenant: Arc<Tenant>,
    /// What the document says.
    pub idp: IdpReport,
}

/// A tenant as a create or a patch left it.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The tenant as now served.
    pub tenant: Arc<Tenant>,
    /// What its metadata URL gave, when the change fetched it (it named the URL, or made
    /// another URL or protocol the source): the report an upload gives.
    pub fetched: Option<IdpReport>,
}

/// The tenant operations.
pub struct TenantAdmin {
    store: TenantStore,
    /// The operator's `domains/` files; `None` when tenants come from `tenant_source`.
    files: Option<Arc<FileSource>>,
    /// SQLite's tenants as served (one gateway per file), swapped after each write.
    memory: Option<Arc<FileSource>>,
    /// Held while SQLite's map is rebuilt and swapped: two writers each rebuilding without
    /// it could swap in the older read last, and a tenant just created would not be served.
    swapping: tokio::sync::Mutex<()>,
    discovery: Arc<Discovery>,
    idps: Arc<IdpRegistry>,
    proof: Arc<DomainProof>,
    config: Config,
    audit: AuditLog,
}

/// The handles [`TenantAdmin`] works with.
pub struct TenantAdminParts {
    /// Rows in the users' (or the `tenant_source`) database.
    pub store: TenantStore,
    /// The operator's files, when served.
    pub files: Option<Arc<FileSource>>,
    /// The in-memory map of SQLite's rows, when that is how they are served.
    pub memory: Option<Arc<FileSource>>,
    /// Discovery, whose caches forget a changed tenant.
    pub discovery: Arc<Discovery>,
    /// The IdPs, whose on-demand copies forget it too.
    pub idps: Arc<IdpRegistry>,
    /// DNS proofs of API domains (whatever `require_verified_domains` says).
    pub proof: Arc<DomainProof>,
    /// For the region rule.
    pub config: Config,
    /// Where changes are recorded.
    pub audit: AuditLog,
}

impl TenantAdmin {
    /// The operations over `parts`.
    pub fn new(parts: TenantAdminParts) -> Self {
        Self {
            store: parts.store,
            files: parts.files,
            memory: parts.memory,
            swapping: tokio::sync::Mutex::new(()),
            discovery: parts.discovery,
            idps: parts.idps,
            proof: parts.proof,
            config: parts.config,
            audit: parts.audit,
        }
    }

    /// The tenant `account`, from files or database.
    pub async fn get(&self, account: &str) -> Result<Arc<Tenant>, AdminError> {
        self.discovery
            .directory
            .by_account(account)
            .await
            .map_err(AdminError::Directory)?
            .ok_or_else(|| AdminError::NotFound(format!("account {account}")))
    }

    /// Every tenant (files, then database), by account.
    pub async fn list(&self) -> Result<Vec<Arc<Tenant>>, AdminError> {
        let mut all: Vec<Arc<Tenant>> = self
            .files
            .iter()
            .flat_map(|f| f.snapshot().tenants().cloned().collect::<Vec<_>>())
            .collect();
        for t in self.store.all().await? {
            if !all.iter().any(|f| f.account == t.account) {
                all.push(Arc::new(t));
            }
        }
        all.sort_by(|a, b| a.account.cmp(&b.account));
        Ok(all)
    }

    /// Creates a tenant from `fields`: a tenant file's keys as JSON (the API's body), read
    /// as that file would be (`null` is an absent key). A metadata URL is fetched and
    /// checked first ([`metadata_url`]).
    pub async fn create(
        &self,
        actor: &Actor,
        fields: serde_json::Value,
    ) -> Result<Saved, AdminError> {
        let text = file_text(fields)?;
        let account = toml::from_str::<toml::Table>(&text)
            .ok()
            .and_then(|t| t.get("account")?.as_str().map(str::to_string))
            .unwrap_or_default();
        if let Some(t) = self.file_tenant(&account) {
            return Err(managed_in_file(&t));
        }
        let (tenant, record, _) = self.prepare(&account, &text, None)?;
        self.claimable(&tenant).await?;
        let idp = self.fetch_saved_url(None, &tenant, true).await?;
        self.store.write(&record, true).await.map_err(taken)?;
        let after = self.changed(&tenant.account, &[], &tenant.domains).await?;
        let fetched = self.primed(idp).await;
        self.audit(actor, "tenant_added", None, Some(&after))
            .await?;
        Ok(Saved {
            tenant: after,
            fetched,
        })
    }

    /// Applies `merge` (a JSON Merge Patch, RFC 7396, over the tenant's fields: `null`
    /// removes a key) to the API tenant `account`. An uploaded metadata document is kept
    /// unless the patch names another IdP (`idp_metadata_url`, `issuer`, `sso_url`,
    /// `certificate`) or removes `sso`. A metadata URL the patch names (or makes the source)
    /// is fetched and checked first ([`metadata_url`]).
    pub async fn patch(
        &self,
        actor: &Actor,
        account: &str,
        merge: serde_json::Value,
    ) -> Result<Saved, AdminError> {
        self.apply(actor, account, merge, "tenant_changed").await
    }

    /// [`TenantAdmin::patch`], recorded as `action`.
    async fn apply(
        &self,
        actor: &Actor,
        account: &str,
        merge: serde_json::Value,
        action: &str,
    ) -> Result<Saved, AdminError> {
        let before = self.writable(account).await?;
        refuse_keys(&merge)?;
        let mut fields = serde_json::to_value(file_of(&before))
            .map_err(|e| AdminError::Corrupt(format!("tenant {account}: {e}")))?;
        let names_url = merge
            .get("sso")
            .and_then(|s| s.get("idp_metadata_url"))
            .is_some_and(|u| !u.is_null());
        let new_idp = merge.get("sso").is_some_and(|s| {
            s.is_null()
                || ["idp_metadata_url", "issuer", "sso_url", "certificate"]
                    .iter()
                    .any(|k| s.get(k).is_some_and(|v| !v.is_null()))
        });
        if new_idp && let Some(sso) = fields.get_mut("sso").and_then(|s| s.as_object_mut()) {
            sso.remove("idp_metadata");
        }
        merge_patch(&mut fields, merge);
        if fields.get("account") != Some(&json!(account)) {
            return Err(AdminError::InvalidTenant(vec![
                "account is the tenant's URL slug and cannot change".into(),
            ]));
        }
        let metadata = before
            .stored_idp_metadata
            .as_deref()
            .map(<[u8]>::to_vec)
            .filter(|_| fields["sso"].get("idp_metadata").is_some());
        let text = toml_text(fields)?;
        let (tenant, record, _) = self.prepare(account, &text, metadata)?;
        self.claimable(&tenant).await?;
        let idp = self
            .fetch_saved_url(Some(&before), &tenant, names_url)
            .await?;
        self.store.write(&record, false).await.map_err(taken)?;
        let after = self
            .changed(account, &before.domains, &tenant.domains)
            .await?;
        let fetched = self.primed(idp).await;
        self.audit(actor, action, Some(&before), Some(&after))
            .await?;
        Ok(Saved {
            tenant: after,
            fetched,
        })
    }

    /// Deletes the API tenant `account` (its users stay, as they do when a file goes).
    pub async fn delete(&self, actor: &Actor, account: &str) -> Result<(), AdminError> {
        let before = self.writable(account).await?;
        if !self.store.delete(account).await? {
            return Err(AdminError::NotFound(format!("account {account}")));
        }
        match self.changed(account, &before.domains, &[]).await {
            Err(AdminError::NotFound(_)) => {}
            Ok(_) => {
                return Err(AdminError::Corrupt(format!(
                    "account {account} is still served after its deletion"
                )));
            }
            Err(e) => return Err(e),
        }
        self.audit(actor, "tenant_deleted", Some(&before), None)
            .await
    }

    /// Makes `xml` (Federation Metadata) the IdP of the API tenant `account`, checked like
    /// a file's `idp_metadata`; a password tenant becomes an SSO tenant with the default
    /// settings.
    pub async fn put_metadata(
        &self,
        actor: &Actor,
        account: &str,
        xml: Vec<u8>,
    ) -> Result<MetadataReport, AdminError> {
        let before = self.writable(account).await?;
        let mut file = file_of(&before);
        let mut sso = file.sso.take().unwrap_or_default();
        sso.idp_metadata = Some(PathBuf::from(STORED_METADATA));
        sso.idp_metadata_url = None;
        sso.issuer = None;
        sso.sso_url = None;
        sso.certificate = Vec::new();
        file.sso = Some(sso);
        let text = toml::to_string(&file)
            .map_err(|e| AdminError::Corrupt(format!("tenant {account}: {e}")))?;
        let (tenant, record, idp) = self.prepare(account, &text, Some(xml))?;
        let idp = idp.ok_or_else(|| AdminError::Invalid("the tenant has no IdP".into()))?;
        self.store.write(&record, false).await.map_err(taken)?;
        let after = self
            .changed(account, &before.domains, &tenant.domains)
            .await?;
        self.audit(
            actor,
            "tenant_metadata_changed",
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(MetadataReport {
            idp: IdpReport::of(&idp, Utc::now()),
            tenant: after,
        })
    }

    /// The file tenant of `account`, if the operator's files hold one.
    fn file_tenant(&self, account: &str) -> Option<Arc<Tenant>> {
        self.files.as_ref()?.snapshot().account(account)
    }

    /// The API tenant `account`: another origin is the operator's (409 naming its file).
    async fn writable(&self, account: &str) -> Result<Arc<Tenant>, AdminError> {
        let tenant = self.get(account).await?;
        if tenant.origin != TenantOrigin::Api {
            return Err(managed_in_file(&tenant));
        }
        Ok(tenant)
    }

    /// Checks `content` (a tenant file's text, with its uploaded metadata) as `check`
    /// checks a tenant file, and gives the tenant, the row to write and its IdP, or every
    /// problem.
    fn prepare(
        &self,
        account: &str,
        content: &str,
        metadata: Option<Vec<u8>>,
    ) -> Result<(Tenant, TenantRecord, Option<IdpMetadata>), AdminError> {
        let file_name = format!("api:{account}");
        let messages = |list: Vec<Problem>| list.into_iter().map(|p| p.message).collect();
        let mut tenant = load_text(Path::new(&file_name), content)
            .map_err(|list| AdminError::InvalidTenant(messages(list)))?;
        tenant.stored_idp_metadata = metadata.clone().map(Arc::from);
        tenant.origin = TenantOrigin::Api;
        let mut problems = Vec::new();
        let idp = match IdpRegistry::check_tenant(&tenant) {
            Ok(idp) => idp,
            Err(p) => {
                problems.push(p.message);
                None
            }
        };
        let single = TenantMap::build(vec![tenant.clone()])
            .map_err(|list| AdminError::InvalidTenant(messages(list)))?;
        if let Err(list) = single.check_regions(&self.config) {
            problems.extend(messages(list));
        }
        if !problems.is_empty() {
            return Err(AdminError::InvalidTenant(problems));
        }
        let record = TenantRecord {
            account: tenant.account.clone(),
            file_name,
            content: content.to_string(),
            idp_metadata: metadata,
            idp_entity_id: idp.as_ref().map(|m| m.entity_id.clone()),
            allow_idp_initiated: tenant.sso.as_ref().is_some_and(|s| s.allow_idp_initiated),
            include_subdomains: tenant.include_subdomains,
            domains: tenant.domains.clone(),
        };
        Ok((tenant, record, idp))
    }

    /// Refuses (409, every one listed) the domains of `tenant` that another tenant holds,
    /// in the files (exactly, or as a subdomain of one that includes them) or the database.
    async fn claimable(&self, tenant: &Tenant) -> Result<(), AdminError> {
        let files = self.files.as_ref().map(|f| f.snapshot());
        let mut problems = Vec::new();
        for d in &tenant.domains {
            let in_files = files
                .as_ref()
                .and_then(|m| m.lookup(d))
                .is_some_and(|t| t.account != tenant.account);
            let in_database = self
                .store
                .owner_of(d)
                .await?
                .is_some_and(|a| a != tenant.account);
            if in_files || in_database {
                problems.push(format!(
                    "domain {d:?} is already claimed by another tenant; a domain belongs to one tenant"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AdminError::Taken(problems))
        }
    }

    /// Puts a write in force here: SQLite's map swapped, and every cache that may hold
    /// the tenant or its old or new domains forgotten. Gives the tenant as now served
    /// (`NotFound` once deleted).
    async fn changed(
        &self,
        account: &str,
        old: &[String],
        new: &[String],
    ) -> Result<Arc<Tenant>, AdminError> {
        if let Some(memory) = &self.memory {
            let _swapping = self.swapping.lock().await;
            let map = TenantMap::build(self.store.all().await?).map_err(|list| {
                AdminError::Corrupt(format!("{} stored tenant problem(s)", list.len()))
            })?;
            memory.replace(map);
        }
        let change = Change::Tenants {
            accounts: HashSet::from([account.to_string()]),
            domains: old.iter().chain(new).cloned().collect(),
        };
        self.discovery.forget(&change);
        self.idps.forget(&change);
        self.discovery
            .directory
            .by_account(account)
            .await
            .map_err(AdminError::Directory)?
            .ok_or_else(|| AdminError::NotFound(format!("account {account}")))
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        before: Option<&Tenant>,
        after: Option<&Tenant>,
    ) -> Result<(), AdminError> {
        let account = after
            .or(before)
            .map(|t| t.account.clone())
            .unwrap_or_default();
        record(
            &self.audit,
            actor,
            Some(&account),
            action,
            &account,
            before.map(snapshot),
            after.map(snapshot),
        )
        .await
    }
}

/// What the audit log keeps of a tenant: its file's fields, and the IdP entity of an
/// uploaded document (not the document).
fn snapshot(t: &Tenant) -> serde_json::Value {
    use sha2::Digest;
    let mut v = serde_json::to_value(file_of(t)).unwrap_or_default();
    if let Some(doc) = &t.stored_idp_metadata {
        v["idp_metadata_sha256"] = json!(crate::secrets::hex(&sha2::Sha256::digest(doc)));
    }
    v["verified_domains"] = json!(t.verified_domains);
    v
}

/// Keys of a tenant file the API does not take: `idp_metadata` names a file on the
/// server (the document is uploaded with `PUT idp-metadata` instead), and the device
/// allow-list is the operator's network policy.
const NOT_FROM_API: [&str; 2] = ["idp_metadata", "device_allowlist"];

fn refuse_keys(fields: &serde_json::Value) -> Result<(), AdminError> {
    let sso = fields.get("sso").and_then(|s| s.as_object());
    let mut problems = Vec::new();
    for key in NOT_FROM_API {
        if fields.get(key).is_some() || sso.is_some_and(|s| s.contains_key(key)) {
            problems.push(format!(
                "{key} cannot be set through the API{}",
                if key == "idp_metadata" {
                    ": upload the document with PUT /api/v1/tenants/{account}/idp-metadata"
                } else {
                    ""
                }
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AdminError::InvalidTenant(problems))
    }
}

/// The tenant file text of a new tenant's JSON fields (`source`, read-only, is ignored).
fn file_text(mut fields: serde_json::Value) -> Result<String, AdminError> {
    if !fields.is_object() {
        return Err(AdminError::InvalidTenant(vec![
            "the body must be a JSON object of a tenant file's keys".into(),
        ]));
    }
    refuse_keys(&fields)?;
    if let Some(o) = fields.as_object_mut() {
        o.remove("source");
    }
    toml_text(fields)
}

/// JSON fields as TOML text, so they are read by the tenant file parser itself: unknown
/// keys, wrong types and bad values get `check`'s words.
fn toml_text(mut fields: serde_json::Value) -> Result<String, AdminError> {
    drop_nulls(&mut fields);
    if let Some(o) = fields.as_object_mut() {
        o.remove("source");
    }
    let value = toml::Value::try_from(&fields).map_err(|e| {
        AdminError::InvalidTenant(vec![format!("the body cannot be a tenant file: {e}")])
    })?;
    toml::to_string(&value).map_err(|e| {
        AdminError::InvalidTenant(vec![format!("the body cannot be a tenant file: {e}")])
    })
}

/// Removes `null` members (an absent key in a file), at every depth.
fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            o.retain(|_, v| !v.is_null());
            o.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// RFC 7396 JSON Merge Patch (also of OAuth clients).
pub(super) fn merge_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
    let serde_json::Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Some(t) = target.as_object_mut() else {
        return;
    };
    for (k, v) in patch {
        if v.is_null() {
            t.remove(&k);
        } else {
            merge_patch(t.entry(k).or_insert(serde_json::Value::Null), v);
        }
    }
}

/// The tenant file of a served tenant, to change and check again.
fn file_of(t: &Tenant) -> TenantFile {
    TenantFile {
        account: t.account.clone(),
        name: Some(t.name.clone()),
        domains: t.domains.clone(),
        include_subdomains: t.include_subdomains,
        region: t.region.clone(),
        device_allowlist: Vec::new(),
        sso: t.sso.clone(),
    }
}

fn managed_in_file(t: &Tenant) -> AdminError {
    AdminError::ManagedInFile(t.file.display().to_string())
}

/// A write another writer beat: its refusal is a conflict, never naming that tenant.
fn taken(e: AccountsError) -> AdminError {
    match e {
        AccountsError::TenantTaken(m) => AdminError::Taken(vec![m]),
        e => e.into(),
    }
}
