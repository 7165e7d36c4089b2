//! The RFC 7644 §3.4.2.2 filter language, the subset Entra and compliance checkers send:
//! comparisons (`eq ne co sw ew gt ge lt le`), `pr`, `and`, `or`, `not (...)`, grouping,
//! attribute paths with a sub-attribute or a value filter (`emails[type eq "work"].value`).
//!
//! Bounded before any work: the text by [`MAX_LEN`], nesting by [`MAX_DEPTH`], terms by
//! [`MAX_TERMS`], so a hostile query costs microseconds and never overflows the stack.
//! Evaluation runs over the resource's JSON, so users and groups share one evaluator.

use serde_json::Value;

use super::error::ScimError;
use super::resource::{GROUP_SCHEMA, USER_SCHEMA};

/// Longest filter accepted; Entra's longest is a `userName eq` with a 254-byte address.
pub const MAX_LEN: usize = 1024;
/// Deepest nesting of parentheses, `not` and value filters.
pub const MAX_DEPTH: usize = 8;
/// Most comparisons in one filter.
pub const MAX_TERMS: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains (strings).
    Co,
    /// Starts with (strings).
    Sw,
    /// Ends with (strings).
    Ew,
    /// Greater than (strings, dates).
    Gt,
    /// Greater or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less or equal.
    Le,
}

/// A literal of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// A JSON string.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// An attribute path: `userName`, `name.givenName`, `meta.lastModified`; names lower-cased
/// (attribute names are case-insensitive, RFC 7643 §2.1), schema URN prefix removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The attribute, lower-case.
    pub attr: String,
    /// The sub-attribute, lower-case.
    pub sub: Option<String>,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`.
    Compare(AttrPath, Op, Literal),
    /// `path pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// `attr[filter]`, optionally followed by `.sub op value` / `.sub pr`: some value of the
    /// multi-valued `attr` matches `filter` (and the rest).
    ValuePath {
        /// The multi-valued attribute, lower-case.
        attr: String,
        /// The filter on each of its values.
        filter: Box<Filter>,
        /// A comparison of a sub-attribute of the same value.
        then: Option<Box<Filter>>,
    },
}

/// A filter the glue can answer by an index lookup instead of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// `userName eq "x"` (compare case-insensitively).
    UserName(&'a str),
    /// `externalId eq "x"` (exact).
    ExternalId(&'a str),
}

impl Filter {
    /// Parses `filter` within the bounds above.
    pub fn parse(filter: &str) -> Result<Self, ScimError> {
        if filter.len() > MAX_LEN {
            return Err(invalid(format!("longer than {MAX_LEN} bytes")));
        }
        let mut p = Parser {
            tokens: tokenize(filter)?,
            at: 0,
            terms: 0,
        };
        let f = p.or(0)?;
        match p.tokens.get(p.at) {
            None => Ok(f),
            Some(t) => Err(invalid(format!("unexpected {t:?}"))),
        }
    }

    /// Whether this is a plain `userName eq` / `externalId eq` of a string.
    pub fn lookup(&self) -> Option<Lookup<'_>> {
        let Self::Compare(AttrPath { attr, sub: None }, Op::Eq, Literal::Str(v)) = self else {
            return None;
        };
        match attr.as_str() {
            "username" => Some(Lookup::UserName(v)),
            "externalid" => Some(Lookup::ExternalId(v)),
            _ => None,
        }
    }

    /// Whether `resource` (a serialised `ScimUser` or `ScimGroup`) matches.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Self::Compare(path, op, lit) => {
                let found = values(resource, path);
                // An unassigned attribute is null (RFC 7643 §2.5).
                if found.is_empty() && *lit == Literal::Null {
                    return *op == Op::Eq;
                }
                found.iter().any(|v| compare(v, *op, lit, case_exact(path)))
            }
            Self::Present(path) => values(resource, path).iter().any(|v| present(v)),
            Self::And(a, b) => a.matches(resource) && b.matches(resource),
            Self::Or(a, b) => a.matches(resource) || b.matches(resource),
            Self::Not(a) => !a.matches(resource),
            Self::ValuePath { attr, filter, then } => as_list(get(resource, attr))
                .iter()
                .any(|item| filter.matches(item) && then.as_ref().is_none_or(|t| t.matches(item))),
        }
    }
}

fn invalid(reason: String) -> ScimError {
    ScimError::InvalidFilter(reason)
}

/// RFC 7643 §4.1: `id`, `externalId` and group member ids are caseExact; `userName`,
/// email addresses and the rest are not.
fn case_exact(path: &AttrPath) -> bool {
    matches!(
        (path.attr.as_str(), path.sub.as_deref()),
        ("id" | "externalid", None)
            | ("members", Some("value") | None)
            | ("meta", Some("location"))
    )
}

fn get<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn as_list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

/// The values a path selects. A multi-valued complex attribute without a sub-attribute
/// selects its `value`s (RFC 7644 §3.4.2.2).
fn values<'v>(resource: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let top = as_list(get(resource, &path.attr));
    let sub = path.sub.as_deref().or_else(|| {
        top.first()
            .filter(|v| v.is_object() && matches!(get(resource, &path.attr), Some(Value::Array(_))))
            .map(|_| "value")
    });
    match sub {
        Some(sub) => top.into_iter().filter_map(|v| get(v, sub)).collect(),
        None => top,
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(v: &Value, op: Op, lit: &Literal, exact: bool) -> bool {
    match (v, lit) {
        (Value::String(s), Literal::Str(l)) => {
            let (s, l) = if exact {
                (s.clone(), l.clone())
            } else {
                (s.to_lowercase(), l.to_lowercase())
            };
            match op {
                Op::Eq => s == l,
                Op::Ne => s != l,
                Op::Co => s.contains(&l),
                Op::Sw => s.starts_with(&l),
                Op::Ew => s.ends_with(&l),
                Op::Gt | Op::Ge | Op::Lt | Op::Le => ordered(&s, &l, op),
            }
        }
        (Value::Bool(b), Literal::Bool(l)) => match op {
            Op::Eq => b == l,
            Op::Ne => b != l,
            _ => false,
        },
        (Value::Null, Literal::Null) => op == Op::Eq,
        (_, Literal::Null) => op == Op::Ne,
        _ => op == Op::Ne,
    }
}

/// Dates compare as instants (`meta.lastModified gt "2026-01-01T00:00:00Z"` must hold for
/// `...+01:00` spellings too), other strings lexicographically (RFC 7644 §3.4.2.2).
fn ordered(s: &str, l: &str, op: Op) -> bool {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let ord = match (parse(s), parse(l)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => s.cmp(l),
    };
    match op {
        Op::Gt => ord.is_gt(),
        Op::Ge => ord.is_ge(),
        Op::Lt => ord.is_lt(),
        _ => ord.is_le(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                let mut end = None;
                let mut escaped = false;
                for (i, c) in chars.by_ref().skip(1) {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let end = end.ok_or_else(|| invalid("unterminated string".into()))?;
                let s = serde_json::from_str(&text[at..=end])
                    .map_err(|e| invalid(format!("bad string: {e}")))?;
                tokens.push(Token::Str(s));
            }
            c if is_word(c) => {
                let mut end = text.len();
                while let Some(&(i, c)) = chars.peek() {
                    if !is_word(c) {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(text[at..end].to_string()));
            }
            c => return Err(invalid(format!("unexpected character {c:?}"))),
        }
    }
    Ok(tokens)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '$')
}

/// A path's name without the core schema URN of users or groups; the enterprise extension
/// is not kept, so its attributes are unknown here.
pub(crate) fn strip_schema(name: &str) -> &str {
    for urn in [USER_SCHEMA, GROUP_SCHEMA] {
        if let Some(rest) = name
            .get(..urn.len())
            .filter(|p| p.eq_ignore_ascii_case(urn))
            .and_then(|_| name[urn.len()..].strip_prefix(':'))
        {
            return rest;
        }
    }
    name
}

/// Parses `attr` or `attr.sub` (lower-cased).
pub(crate) fn attr_path(word: &str) -> Result<AttrPath, ScimError> {
    let name = strip_schema(word).to_ascii_lowercase();
    let (attr, sub) = match name.split_once('.') {
        Some((a, s)) => (a.to_string(), Some(s.to_string())),
        None => (name, None),
    };
    let ok = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !ok(&attr) || sub.as_deref().is_some_and(|s| !ok(s)) {
        return Err(invalid(format!("bad attribute path {word:?}")));
    }
    Ok(AttrPath { attr, sub })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    terms: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: Token) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if t == token => Ok(()),
            other => Err(invalid(format!("expected {token:?}, found {other:?}"))),
        }
    }

    fn or(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.and(depth)?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.unary(depth)?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn nested(&mut self, depth: usize, close: Token) -> Result<Filter, ScimError> {
        if depth >= MAX_DEPTH {
            return Err(invalid(format!("nested deeper than {MAX_DEPTH}")));
        }
        let f = self.or(depth + 1)?;
        self.expect(close)?;
        Ok(f)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.at += 1;
            self.expect(Token::Open)?;
            return Ok(Filter::Not(Box::new(self.nested(depth, Token::Close)?)));
        }
        match self.next() {
            Some(Token::Open) => self.nested(depth, Token::Close),
            Some(Token::Word(w)) => {
                if self.tokens.get(self.at) == Some(&Token::OpenBracket) {
                    self.at += 1;
                    let path = attr_path(&w)?;
                    if path.sub.is_some() {
                        return Err(invalid(format!("{w:?}[...] needs a plain attribute")));
                    }
                    let filter = Box::new(self.nested(depth, Token::CloseBracket)?);
                    let then = match self.tokens.get(self.at) {
                        Some(Token::Word(s)) if s.starts_with('.') => {
                            let sub = format!("x{s}");
                            self.at += 1;
                            Some(Box::new(self.comparison(&sub)?))
                        }
                        _ => None,
                    };
                    return Ok(Filter::ValuePath {
                        attr: path.attr,
                        filter,
                        then: then.map(|t| Box::new(reroot(*t))),
                    });
                }
                self.comparison(&w)
            }
            other => Err(invalid(format!("expected an attribute, found {other:?}"))),
        }
    }

    fn comparison(&mut self, word: &str) -> Result<Filter, ScimError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(invalid(format!("more than {MAX_TERMS} comparisons")));
        }
        let path = attr_path(word)?;
        let Some(Token::Word(op)) = self.next() else {
            return Err(invalid(format!("expected an operator after {word:?}")));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(invalid(format!("unknown operator {other:?}"))),
        };
        let lit = match self.next() {
            Some(Token::Str(s)) => Literal::Str(s),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            other => return Err(invalid(format!("expected a value, found {other:?}"))),
        };
        if !matches!(lit, Literal::Str(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(invalid(format!("{op:?} applies to strings and dates only")));
        }
        Ok(Filter::Compare(path, op, lit))
    }
}

/// `x.sub op v` parsed after `attr[...]` compares `sub` of the selected value itself.
fn reroot(f: Filter) -> Filter {
    let sub = |p: AttrPath| AttrPath {
        attr: p.sub.unwrap_or(p.attr),
        sub: None,
    };
    match f {
        Filter::Compare(p, op, lit) => Filter::Compare(sub(p), op, lit),
        Filter::Present(p) => Filter::Present(sub(p)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "42",
            "externalId": "Ext-1",
            "userName": "Ann.Lee@Contoso.com",
            "displayName": "Ann Lee",
            "active": true,
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [
                {"value": "ann@contoso.com", "type": "work", "primary": true},
                {"value": "ann@home.example", "type": "home"}
            ],
            "meta": {"resourceType": "User", "lastModified": "2026-03-01T10:00:00Z"}
        })
    }

    fn check(filter: &str) -> bool {
        Filter::parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .matches(&user())
    }

    #[test]
    fn entra_and_tester_filters() {
        for (filter, expected) in [
            (r#"userName eq "ann.lee@contoso.com""#, true),
            (r#"USERNAME EQ "ANN.LEE@CONTOSO.COM""#, true),
            (r#"userName eq "bob@contoso.com""#, false),
            (r#"externalId eq "Ext-1""#, true),
            (r#"externalId eq "ext-1""#, false),
            (r#"id eq "42""#, true),
            (r#"displayName co "nn L""#, true),
            (r#"userName sw "ann.""#, true),
            (r#"userName ew "@contoso.com""#, true),
            (r#"userName ne "x""#, true),
            (r#"emails.value eq "ann@home.example""#, true),
            (r#"emails eq "ann@contoso.com""#, true),
            (r#"emails[type eq "work"]"#, true),
            (r#"emails[type eq "work"].value eq "ann@contoso.com""#, true),
            (
                r#"emails[type eq "work"].value eq "ann@home.example""#,
                false,
            ),
            (r#"emails[type eq "work" and primary eq true]"#, true),
            (r#"emails[type eq "other"]"#, false),
            (r#"meta.lastModified gt "2026-02-28T23:59:59Z""#, true),
            (r#"meta.lastModified gt "2026-03-01T11:00:00+02:00""#, true),
            (r#"meta.lastModified ge "2026-03-01T10:00:00Z""#, true),
            (r#"meta.lastModified lt "2026-03-01T10:00:00Z""#, false),
            (r#"meta.lastModified le "2026-03-01T10:00:00Z""#, true),
            ("active eq true", true),
            ("active eq False", false),
            ("active ne false", true),
            ("title pr", false),
            ("name.givenName pr", true),
            ("title eq null", true),
            ("displayName eq null", false),
            (r#"name.familyName eq "lee" and active eq true"#, true),
            (r#"userName eq "x" or name.givenName eq "ann""#, true),
            (r#"not (userName eq "x")"#, true),
            (
                r#"not(userName eq "x") and (active eq false or id eq "42")"#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann.lee@contoso.com""#,
                true,
            ),
            (r#"displayName eq "Ann \"Lee""#, false),
        ] {
            assert_eq!(check(filter), expected, "{filter}");
        }
    }

    #[test]
    fn precedence_and_binds_tighter() {
        assert!(check(r#"id eq "42" or id eq "x" and id eq "y""#));
        assert!(!check(r#"(id eq "42" or id eq "x") and id eq "y""#));
    }

    #[test]
    fn lookups() {
        let f = Filter::parse(r#"userName eq "a@b.c""#).unwrap();
        assert_eq!(f.lookup(), Some(Lookup::UserName("a@b.c")));
        let f = Filter::parse(r#"ExternalID EQ "x""#).unwrap();
        assert_eq!(f.lookup(), Some(Lookup::ExternalId("x")));
        for other in [
            r#"userName ne "a""#,
            r#"userName co "a""#,
            r#"userName eq "a" and active eq true"#,
            r#"displayName eq "a""#,
            "userName eq null",
        ] {
            assert_eq!(Filter::parse(other).unwrap().lookup(), None, "{other}");
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            r#"userName eq a"#,
            r#"userName eq 5"#,
            r#"active gt true"#,
            r#"(userName eq "a""#,
            r#"userName eq "a")"#,
            r#"not userName eq "a""#,
            r#"emails[type eq "work""#,
            r#"name.givenName[type eq "x"]"#,
            r#"userName eq "a" and"#,
            r#"userName eq "a" userName eq "b""#,
            r#"user*Name eq "a""#,
            r#".x eq "a""#,
            r#"userName eq "\q""#,
            "userName eq \"a\" ; drop",
        ] {
            let err = Filter::parse(bad).unwrap_err();
            assert_eq!(err.scim_type(), Some("invalidFilter"), "{bad}: {err}");
        }
    }

    #[test]
    fn bounds() {
        let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_LEN));
        assert!(Filter::parse(&long).is_err());
        let deep = format!(
            "{}id eq \"1\"{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(Filter::parse(&deep).is_ok());
        let deeper = format!(
            "{}id eq \"1\"{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(Filter::parse(&deeper).is_err());
        let nots = "not (".repeat(200) + "id eq \"1\"" + &")".repeat(200);
        assert!(Filter::parse(&nots).is_err());
        let many = vec![r#"id eq "1""#; MAX_TERMS + 1].join(" or ");
        assert!(Filter::parse(&many).is_err());
        let enough = vec![r#"id eq "1""#; MAX_TERMS].join(" or ");
        assert!(Filter::parse(&enough).is_ok());
    }
}
