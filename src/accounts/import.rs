//! CSV import of pre-provisioned users (`realmgate user import FILE.csv`).
//!
//! Format: a header row naming the columns, in any order and letter case: `email`
//! (required), `name`, `admin` (`true/false`, `yes/no`, `1/0`, empty = false) and
//! `account` (optional: by default the account is the tenant owning the email's domain).
//!
//! Rules:
//! - **Idempotent**: importing the same file twice changes nothing the second time. A user
//!   that already exists (same account, email in any letter case) keeps its status,
//!   password, subject and origin (an import never re-enables a disabled user nor approves
//!   a waiting one); only its name (when the cell is not empty) and its admin flag (when
//!   the column is present and the cell is not empty) are updated to the file's values.
//! - New users are created `active`, without password, origin `import`; they are matched
//!   by email at their first SSO login.
//! - A bad row is reported as `line N: reason` and skipped; the other rows are imported.
//!   A file without an `email` column, or with an unknown column (a typo would otherwise
//!   silently drop data), is refused as a whole.

use chrono::{DateTime, Utc};

use super::{AccountsError, NewUser, Origin, UserStore};
use crate::discovery::Email;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Users created.
    pub created: usize,
    /// Existing users whose name or admin flag changed.
    pub updated: usize,
    /// Existing users already as in the file.
    pub unchanged: usize,
    /// One `line N: reason` per rejected row.
    pub errors: Vec<String>,
}

/// Column positions found in the header.
struct Columns {
    email: usize,
    name: Option<usize>,
    admin: Option<usize>,
    account: Option<usize>,
}

/// One valid row, ready to apply.
struct Row {
    line: u64,
    account: String,
    email: Email,
    name: Option<String>,
    admin: Option<bool>,
}

/// Imports `csv_text`; `owner` gives the account owning an email's domain (the tenant map).
/// With `only`, a row of any other account is rejected: one tenant's import (the API)
/// must not write another tenant's users through the account column.
pub async fn import_csv(
    store: &dyn UserStore,
    csv_text: &str,
    owner: &(dyn Fn(&Email) -> Option<String> + Sync),
    only: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ImportSummary, AccountsError> {
    let mut summary = ImportSummary::default();
    let mut rows = parse(csv_text, owner, &mut summary.errors)?;
    if let Some(only) = only {
        rows.retain(|row| {
            let ours = row.account == only;
            if !ours {
                summary.errors.push(format!(
                    "line {}: {} is not of account {only}",
                    row.line, row.email
                ));
            }
            ours
        });
    }
    for row in rows {
        match store.by_email(&row.account, &row.email).await? {
            Some(user) => {
                let name = row.name.unwrap_or_else(|| user.name.clone());
                let admin = row.admin.unwrap_or(user.admin);
                if name == user.name && admin == user.admin {
                    summary.unchanged += 1;
                } else {
                    store.set_profile(user.id, &name, admin).await?;
                    summary.updated += 1;
                }
            }
            None => {
                let mut new = NewUser::new(&row.account, row.email, Origin::Import, now);
                new.name = row.name.unwrap_or_default();
                new.admin = row.admin.unwrap_or(false);
                match store.add(new).await {
                    Ok(_) => summary.created += 1,
                    Err(
                        e @ (AccountsError::Exists { .. } | AccountsError::SubjectInUse { .. }),
                    ) => {
                        summary.errors.push(format!("line {}: {e}", row.line));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(summary)
}

/// Reads every row, collecting the valid ones and a message per bad one.
fn parse(
    text: &str,
    owner: &(dyn Fn(&Email) -> Option<String> + Sync),
    errors: &mut Vec<String>,
) -> Result<Vec<Row>, AccountsError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| AccountsError::Import(format!("line 1: {e}")))?
        .clone();
    let columns = columns(&headers)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        match row(&record, &columns, owner) {
            Ok(mut row) => {
                row.line = line;
                rows.push(row);
            }
            Err(reason) => errors.push(format!("line {line}: {reason}")),
        }
    }
    Ok(rows)
}

fn columns(headers: &csv::StringRecord) -> Result<Columns, AccountsError> {
    let (mut email, mut name, mut admin, mut account) = (None, None, None, None);
    for (i, h) in headers.iter().enumerate() {
        let slot = match h.to_ascii_lowercase().as_str() {
            "email" => &mut email,
            "name" => &mut name,
            "admin" => &mut admin,
            "account" => &mut account,
            other => {
                return Err(AccountsError::Import(format!(
                    "line 1: unknown column {other:?}; the columns are email, name, admin and account"
                )));
            }
        };
        if slot.replace(i).is_some() {
            return Err(AccountsError::Import(format!(
                "line 1: column {h:?} appears twice"
            )));
        }
    }
    let email = email.ok_or_else(|| {
        AccountsError::Import(
            "line 1: no email column; the header must be like email,name,admin".into(),
        )
    })?;
    Ok(Columns {
        email,
        name,
        admin,
        account,
    })
}

fn row(
    record: &csv::StringRecord,
    columns: &Columns,
    owner: &(dyn Fn(&Email) -> Option<String> + Sync),
) -> Result<Row, String> {
    let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).filter(|s| !s.is_empty());
    let raw = cell(Some(columns.email)).ok_or("the email is missing")?;
    let email = Email::parse(raw).map_err(|e| format!("invalid email {raw:?}: {e}"))?;
    let admin =
        match cell(columns.admin) {
            None => None,
            Some(v) => Some(parse_bool(v).ok_or_else(|| {
                format!("admin must be true or false (or yes/no, 1/0), not {v:?}")
            })?),
        };
    let owning = owner(&email);
    let account = match (cell(columns.account), owning) {
        (Some(given), Some(owning)) if given != owning => {
            return Err(format!(
                "the domain {} belongs to account {owning:?}, not {given:?}",
                email.domain()
            ));
        }
        (Some(given), _) => given.to_string(),
        (None, Some(owning)) => owning,
        (None, None) => {
            return Err(format!(
                "no tenant owns the domain {}; add it to a file in domains/ or fill the account column",
                email.domain()
            ));
        }
    };
    Ok(Row {
        line: 0,
        account,
        email,
        name: cell(columns.name).map(str::to_string),
        admin,
    })
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contoso(_: &Email) -> Option<String> {
        Some("contoso".into())
    }

    #[test]
    fn excel_byte_order_mark_and_spaces_are_accepted() {
        let mut errors = Vec::new();
        let rows = parse(
            "\u{feff}Email , Name\n  alice@contoso.com , Alice \n",
            &contoso,
            &mut errors,
        )
        .expect("header accepted");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].email.as_str(), "alice@contoso.com");
        assert_eq!(rows[0].name.as_deref(), Some("Alice"));
        assert_eq!(rows[0].line, 2);
    }

    #[test]
    fn short_rows_and_booleans() {
        let mut errors = Vec::new();
        let rows = parse(
            "email,name,admin\n,x,true\nb@contoso.com,B,YES\nc@contoso.com,C,0\n",
            &contoso,
            &mut errors,
        )
        .expect("header accepted");
        assert_eq!(errors, ["line 2: the email is missing"]);
        let admins: Vec<_> = rows.iter().map(|r| r.admin).collect();
        assert_eq!(admins, [Some(true), Some(false)]);
    }
}
