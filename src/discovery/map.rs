//! The tenant map: every tenant and an index from email domain to tenant, built from the
//! files in `domains/` and checked as a whole (a domain or account claimed twice is an error).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use crate::config::{Config, Problem, line_of};

use super::tenant::{self, Tenant, TenantFile};

/// An immutable snapshot of all tenants. Reloads build a new one and swap it in whole.
#[derive(Debug, Default)]
pub struct TenantMap {
    by_domain: HashMap<Box<str>, Arc<Tenant>>,
    by_account: HashMap<String, Arc<Tenant>>,
}

impl TenantMap {
    /// Builds a map from tenants, reporting conflicts. `tenants` carry their file names.
    pub fn build(tenants: Vec<Tenant>) -> Result<Self, Vec<Problem>> {
        let (map, problems) = Self::build_all(tenants);
        if problems.is_empty() {
            Ok(map)
        } else {
            Err(problems)
        }
    }

    /// The map of every tenant that conflicts with none before it, and the conflicts: what
    /// `check` goes on to examine (IdP metadata, certificates) so it reports every problem
    /// in one pass.
    pub fn build_all(tenants: Vec<Tenant>) -> (Self, Vec<Problem>) {
        let mut map = TenantMap::default();
        let mut problems = Vec::new();
        for t in tenants {
            let t = Arc::new(t);
            if let Some(other) = map.by_account.get(&t.account) {
                problems.push(Problem {
                    source: t.file.display().to_string(),
                    line: line_in(&t.file, "account"),
                    message: format!(
                        "account {:?} is also declared in {}",
                        t.account,
                        other.file.display()
                    ),
                });
                continue;
            }
            for d in &t.domains {
                if let Some(other) = map.by_domain.get(d.as_str()) {
                    problems.push(Problem {
                        source: t.file.display().to_string(),
                        line: line_in(&t.file, "domains"),
                        message: format!(
                            "domain {d:?} is already claimed by account {:?} ({}); a domain belongs to one tenant",
                            other.account,
                            other.file.display()
                        ),
                    });
                } else {
                    map.by_domain.insert(d.as_str().into(), t.clone());
                }
            }
            map.by_account.insert(t.account.clone(), t);
        }
        (map, problems)
    }

    /// The tenant owning `domain`: an exact match, else the nearest parent domain of a tenant
    /// with `include_subdomains`. Cost grows with the number of labels, not of tenants.
    pub fn lookup(&self, domain: &str) -> Option<Arc<Tenant>> {
        if let Some(t) = self.by_domain.get(domain) {
            return Some(t.clone());
        }
        let mut rest = domain;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(t) = self.by_domain.get(parent)
                && t.include_subdomains
            {
                return Some(t.clone());
            }
            rest = parent;
        }
        None
    }

    /// The tenant with this URL slug.
    pub fn account(&self, account: &str) -> Option<Arc<Tenant>> {
        self.by_account.get(account).cloned()
    }

    /// All tenants, in no particular order.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_account.values()
    }

    /// Number of indexed domains.
    pub fn domain_count(&self) -> usize {
        self.by_domain.len()
    }

    /// On a gateway of several regions (`region` or `regions` set), every tenant whose
    /// `region` is neither this gateway's nor one of `regions`, as problems. Discovery can
    /// forward only to a configured region, so such a tenant would be served here, away
    /// from its home: refused like any other tenant problem (`check`, start-up, reload).
    /// A gateway without regions serves every tenant itself.
    pub fn check_regions(&self, config: &Config) -> Result<(), Vec<Problem>> {
        if config.region.is_none() && config.regions.is_empty() {
            return Ok(());
        }
        let configured: Vec<&str> = config
            .region
            .iter()
            .chain(config.regions.keys())
            .map(String::as_str)
            .collect();
        let mut problems: Vec<Problem> = self
            .tenants()
            .filter_map(|t| Some((t, t.region.as_deref().filter(|r| !configured.contains(r))?)))
            .map(|(t, region)| Problem {
                source: t.file.display().to_string(),
                line: line_in(&t.file, "region"),
                message: format!(
                    "region {region:?} is not configured (this gateway knows {configured:?}): add it to [regions] with its gateway's URL, or correct the tenant's region"
                ),
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        problems.sort_by(|a, b| a.source.cmp(&b.source));
        Err(problems)
    }
}

fn line_in(file: &Path, key: &str) -> Option<usize> {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| key_line(&t, key))
}

/// Line of `key` in a tenant file: a top-level key, else one of the `[sso]` table, however
/// TOML lets it be written (bare, quoted, dotted as `sso.button`, in an inline table), so
/// every problem points the operator at a line. Found by the `tenant_file` fuzz target:
/// matching `key =` at a line start missed all but the first form.
pub fn key_line(text: &str, key: &str) -> Option<usize> {
    fn entry<'t, 'i>(table: &'t DeTable<'i>, name: &str) -> Option<(usize, &'t DeValue<'i>)> {
        table
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(k, v)| (k.span().start, v.get_ref()))
    }
    let doc = DeTable::parse(text).ok()?;
    let root = doc.get_ref();
    let at = match entry(root, key) {
        Some((at, _)) => at,
        None => entry(entry(root, "sso")?.1.as_table()?, key)?.0,
    };
    Some(line_of(text, at))
}

/// Reads every `*.toml` file of `dir` (sorted, so reports are stable) and builds the map.
/// Every problem of every file is collected.
pub fn load_dir(dir: &Path) -> Result<TenantMap, Vec<Problem>> {
    let (map, problems) = load_dir_all(dir);
    if problems.is_empty() {
        Ok(map)
    } else {
        Err(problems)
    }
}

/// Like [`load_dir`], but also returns the map of the tenants that loaded without a
/// problem (see [`TenantMap::build_all`]).
pub fn load_dir_all(dir: &Path) -> (TenantMap, Vec<Problem>) {
    let mut problems = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            let problem = Problem {
                source: dir.display().to_string(),
                line: None,
                message: format!("cannot read the tenant directory: {e}"),
            };
            return (TenantMap::default(), vec![problem]);
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    // Files are independent: parse them on every core (a map of a million domains is
    // mostly TOML parsing), then combine in file order so reports stay stable.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let parsed: Vec<Result<Tenant, Vec<Problem>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|p| load_file(p)).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join().unwrap_or_else(|_| {
                    vec![Err(vec![Problem {
                        source: dir.display().to_string(),
                        line: None,
                        message: "a tenant file parser panicked".into(),
                    }])]
                })
            })
            .collect()
    });
    let mut tenants = Vec::with_capacity(files.len());
    for result in parsed {
        match result {
            Ok(t) => tenants.push(t),
            Err(mut p) => problems.append(&mut p),
        }
    }
    let (map, mut conflicts) = TenantMap::build_all(tenants);
    problems.append(&mut conflicts);
    (map, problems)
}

/// Parses and checks one tenant file.
pub fn load_file(path: &Path) -> Result<Tenant, Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem {
            source: path.display().to_string(),
            line: None,
            message: format!("cannot read the file: {e}"),
        }]
    })?;
    load_text(path, &text)
}

/// Parses and checks the text of a tenant file named `path`: the one check of a tenant,
/// for `domains/` files, stored rows and the management API alike (same problems, same
/// words, each with its line).
pub fn load_text(path: &Path, text: &str) -> Result<Tenant, Vec<Problem>> {
    let source = path.display().to_string();
    let file: TenantFile = toml::from_str(text).map_err(|e| {
        vec![Problem {
            source: source.clone(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        }]
    })?;
    tenant::validate(file, path).map_err(|list| {
        list.into_iter()
            .map(|(key, message)| Problem {
                source: source.clone(),
                line: key_line(text, key),
                message,
            })
            .collect()
    })
}

/// A tenant as stored in a database (its file's text, and its IdP metadata document),
/// through [`load_text`]; a row that no longer passes (rules tightened by an upgrade) is
/// one problem naming the account, never served half-checked.
pub fn load_stored(
    account: &str,
    file_name: &str,
    content: &str,
    idp_metadata: Option<Vec<u8>>,
) -> Result<Tenant, Problem> {
    let problem = |message: String| Problem {
        source: format!("tenant {account:?} ({file_name})"),
        line: None,
        message,
    };
    let mut t = load_text(Path::new(file_name), content).map_err(|list| {
        let messages: Vec<String> = list.into_iter().map(|p| p.message).collect();
        problem(messages.join("; "))
    })?;
    if t.account != account {
        return Err(problem(format!(
            "the stored file declares account {:?}",
            t.account
        )));
    }
    t.stored_idp_metadata = idp_metadata.map(Arc::from);
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn lookup_exact_and_subdomain() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a.toml",
            "account = \"a\"\ndomains = [\"a.com\", \"a.co.uk\"]\ninclude_subdomains = true\n",
        );
        write(
            dir.path(),
            "b.toml",
            "account = \"b\"\ndomains = [\"b.com\"]\n",
        );
        let map = load_dir(dir.path()).unwrap();
        assert_eq!(map.lookup("a.co.uk").unwrap().account, "a");
        assert_eq!(map.lookup("x.y.a.com").unwrap().account, "a");
        assert!(map.lookup("x.b.com").is_none());
        assert!(map.lookup("com").is_none());
        assert_eq!(map.account("b").unwrap().domains, vec!["b.com"]);
    }

    #[test]
    fn key_lines_however_the_key_is_written() {
        let text = "\"account\" = \"a\"\ndomains = [\n]\nsso.button = \"\"\n[device]\n";
        assert_eq!(key_line(text, "account"), Some(1));
        assert_eq!(key_line(text, "domains"), Some(2));
        assert_eq!(key_line(text, "sso"), Some(4));
        assert_eq!(key_line(text, "button"), Some(4));
        let inline = "account = \"a\"\n\nsso = { idp_metadata_url = \"http://x\" }\n";
        assert_eq!(key_line(inline, "idp_metadata_url"), Some(3));
        assert_eq!(key_line(inline, "name"), None);
    }

    #[test]
    fn every_problem_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a.toml",
            "account = \"a\"\ndomains = [\"shared.com\"]\n",
        );
        write(
            dir.path(),
            "b.toml",
            "account = \"b\"\n\ndomains = [\"shared.com\"]\n",
        );
        write(
            dir.path(),
            "c.toml",
            "account = \"c\"\ndomain = [\"c.com\"]\n",
        );
        write(
            dir.path(),
            "d.toml",
            "account = \"Login\"\ndomains = [\"not a domain\"]\n",
        );
        let problems = load_dir(dir.path()).unwrap_err();
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 4, "{shown:#?}");
        assert!(
            shown
                .iter()
                .any(|p| p.contains("b.toml:3:") && p.contains("already claimed"))
        );
        assert!(
            shown
                .iter()
                .any(|p| p.contains("c.toml:2:") && p.contains("domain"))
        );
        assert!(
            shown
                .iter()
                .any(|p| p.contains("d.toml:1:") && p.contains("URL slug"))
        );
        assert!(
            shown
                .iter()
                .any(|p| p.contains("d.toml:2:") && p.contains("not a valid domain"))
        );
    }
}
