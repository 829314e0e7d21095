//! AWX's `host_filter` language (`awx/main/utils/filters.py`'s `SmartFilter`): `key=value`
//! terms joined by `and` / `or` (`and` binds tighter), grouped by parentheses, keys and values
//! optionally in double quotes. A key is a host lookup of the list language
//! (`name__startswith=web`, `groups__name="db servers"`, `inventory__organization__name=Ops`),
//! `search=` / `REL__search=` (the resource's search fields, case-insensitive), or an
//! `ansible_facts__a__b[]__c=v` path, which becomes a containment test on the host's facts
//! (`{"a": {"b": [{"c": v}]}}`), as AWX turns it into `ansible_facts__contains`.
//!
//! Used for smart inventories' hosts (with the organization and one host per name) and for
//! `/hosts/?host_filter=`.

use crate::filter::{condition, Cond, Filter, QueryError, Step};
use crate::resources::{by_key, HOSTS};
use crate::schema::ColumnType;
use serde_json::{json, Map, Value};

/// Why a `host_filter` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmartError {
    /// The grammar did not parse: AWX's `Invalid query <filter>`.
    Syntax(String),
    /// `ansible_facts…__<lookup>=` with a lookup other than `exact`: AWX's
    /// `ansible_facts does not support searching with __<lookup>`.
    FactsLookup(String),
    /// A key naming no field, or a value of the wrong type.
    Query(QueryError),
}

impl std::fmt::Display for SmartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmartError::Syntax(s) => write!(f, "Invalid query {s}"),
            SmartError::FactsLookup(l) => {
                write!(f, "ansible_facts does not support searching with __{l}")
            }
            SmartError::Query(e) => write!(f, "{e}"),
        }
    }
}

/// Django's `JSONField` lookups other than `exact`: the serializer refuses a filter that
/// starts with an `ansible_facts` key ending in one of them.
const JSON_LOOKUPS: &[&str] = &[
    "iexact",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "contains",
    "icontains",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "range",
    "isnull",
    "regex",
    "iregex",
    "contained_by",
    "has_key",
    "has_keys",
    "has_any_keys",
];

const FACTS: &str = "ansible_facts";

/// AWX's serializer check (`validate_host_filter`): `re.match('ansible_facts[^=]+__L=')`,
/// anchored at the start of the whole filter.
fn facts_lookup_refused(s: &str) -> Option<&'static str> {
    let rest = s.strip_prefix(FACTS)?;
    let head = rest.split('=').next().unwrap_or("");
    if head.len() == rest.len() {
        return None;
    }
    JSON_LOOKUPS.iter().copied().find(|l| {
        let suffix = format!("__{l}");
        head.len() > suffix.len() && head.ends_with(&suffix)
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Eq,
    /// A bare word.
    Atom(String),
    /// A double-quoted string (its content).
    Quoted(String),
}

fn tokens(s: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '=' => {
                chars.next();
                out.push(Tok::Eq);
            }
            '"' => {
                chars.next();
                let mut q = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => q.push(c),
                        None => return None,
                    }
                }
                out.push(Tok::Quoted(q));
            }
            _ => {
                let mut a = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()=\"".contains(c) {
                        break;
                    }
                    a.push(c);
                    chars.next();
                }
                out.push(Tok::Atom(a));
            }
        }
    }
    Some(out)
}

/// A term's value as AWX reads it: quoted text stays text (its quotes kept, for the facts
/// path's `"null"` rule), bare words become null, booleans and numbers when they look so.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Quoted(String),
    Bare(String),
}

/// A parsed expression before it is turned into a filter.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Term(String, Val),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Atom(a)) if a == k)
    }
    fn expr(&mut self) -> Option<Expr> {
        let mut alts = vec![self.and_expr()?];
        while self.keyword("or") {
            self.pos += 1;
            alts.push(self.and_expr()?);
        }
        Some(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Expr::Or(alts)
        })
    }
    fn and_expr(&mut self) -> Option<Expr> {
        let mut all = vec![self.primary()?];
        while self.keyword("and") {
            self.pos += 1;
            all.push(self.primary()?);
        }
        Some(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::And(all)
        })
    }
    fn primary(&mut self) -> Option<Expr> {
        match self.peek()?.clone() {
            Tok::Open => {
                self.pos += 1;
                let e = self.expr()?;
                (self.peek() == Some(&Tok::Close)).then(|| self.pos += 1)?;
                Some(e)
            }
            Tok::Atom(k) | Tok::Quoted(k) => {
                self.pos += 1;
                (self.peek() == Some(&Tok::Eq)).then(|| self.pos += 1)?;
                let v = match self.peek() {
                    Some(Tok::Atom(v)) => Val::Bare(v.clone()),
                    Some(Tok::Quoted(v)) => Val::Quoted(v.clone()),
                    // `key=` with nothing after it: AWX fails on it too.
                    _ => return None,
                };
                self.pos += 1;
                Some(Expr::Term(k, v))
            }
            _ => None,
        }
    }
}

/// Checks a `host_filter` as AWX's serializer does and turns it into a filter on hosts.
pub fn parse(s: &str) -> Result<Filter, SmartError> {
    if let Some(l) = facts_lookup_refused(s) {
        return Err(SmartError::FactsLookup(l.to_string()));
    }
    let syntax = || SmartError::Syntax(s.to_string());
    let toks = tokens(s).ok_or_else(syntax)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.expr().ok_or_else(syntax)?;
    if p.pos != p.toks.len() {
        return Err(syntax());
    }
    to_filter(&e)
}

fn to_filter(e: &Expr) -> Result<Filter, SmartError> {
    Ok(match e {
        Expr::And(v) => Filter::All(v.iter().map(to_filter).collect::<Result<_, _>>()?),
        Expr::Or(v) => Filter::Any(v.iter().map(to_filter).collect::<Result<_, _>>()?),
        Expr::Term(k, v) => term(k, v)?,
    })
}

/// AWX's `string_to_type` of a bare word.
fn typed(s: &str) -> Value {
    match s {
        "null" => Value::Null,
        "true" => json!(true),
        "false" => json!(false),
        _ => {
            let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
            let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
            if digits(unsigned) {
                if let Ok(i) = s.parse::<i64>() {
                    return json!(i);
                }
            }
            if let Some((a, b)) = unsigned.split_once('.') {
                if digits(a) && digits(b) {
                    if let Ok(f) = s.parse::<f64>() {
                        return json!(f);
                    }
                }
            }
            json!(s)
        }
    }
}

fn term(key: &str, val: &Val) -> Result<Filter, SmartError> {
    if key.starts_with(FACTS) {
        return Ok(facts_term(key, val));
    }
    if key.contains("search") {
        return search_term(key, val);
    }
    let raw = match val {
        Val::Quoted(s) => s.clone(),
        Val::Bare(s) => match typed(s) {
            Value::String(s) => s,
            Value::Null => "null".into(),
            other => other.to_string(),
        },
    };
    // `name=null` is Django's `name=None`: a null check whatever the column's type.
    if matches!(val, Val::Bare(s) if s == "null") && !key.ends_with("__isnull") {
        let base = key.rsplit_once("__").map_or(key, |(head, last)| {
            if matches!(last, "exact" | "iexact") {
                head
            } else {
                key
            }
        });
        return condition(&HOSTS, &format!("{base}__isnull"), "true").map_err(SmartError::Query);
    }
    condition(&HOSTS, key, &raw).map_err(SmartError::Query)
}

/// `search=v` (the host's search fields) or `REL__search=v` (the related resource's), each
/// field `icontains`, any of them.
fn search_term(key: &str, val: &Val) -> Result<Filter, SmartError> {
    let v = match val {
        Val::Quoted(s) => s.clone(),
        Val::Bare(s) => s.clone(),
    };
    let (prefix, res) = if key == "search" {
        (String::new(), &HOSTS)
    } else if let Some(rel) = key.strip_suffix("__search") {
        let first = rel.split("__").next().unwrap_or(rel);
        let target = HOSTS
            .sub(first)
            .and_then(|s| match s.list {
                crate::schema::SubList::Linked {
                    relation,
                    from_left,
                } => Some(if from_left {
                    relation.right.0
                } else {
                    relation.left.0
                }),
                _ => None,
            })
            .or_else(|| match HOSTS.field(first).map(|f| f.kind) {
                Some(crate::schema::Kind::Fk(t)) => Some(t),
                _ => None,
            })
            .and_then(by_key)
            .ok_or_else(|| {
                SmartError::Query(QueryError::Invalid(format!(
                    "No related field named {first}"
                )))
            })?;
        (format!("{first}__"), target)
    } else {
        return condition(&HOSTS, key, &v).map_err(SmartError::Query);
    };
    let alts = res
        .search_fields
        .iter()
        .map(|f| condition(&HOSTS, &format!("{prefix}{f}__icontains"), &v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(SmartError::Query)?;
    Ok(Filter::Any(alts))
}

/// `ansible_facts__a__b[]__c=v` → the facts contain `{"a": {"b": [{"c": v}]}}`
/// (`_json_path_to_contains`): `__exact` at the end is dropped, `[]` makes a list.
fn facts_term(key: &str, val: &Val) -> Filter {
    let k = key.strip_suffix("__exact").unwrap_or(key);
    let k = k
        .strip_prefix("ansible_facts__")
        .or_else(|| k.strip_prefix(FACTS))
        .unwrap_or(k);
    let leaf = match val {
        // Quotes are stripped, except around `null`, which then stays the text `"null"`.
        Val::Quoted(s) if s == "null" => json!("\"null\""),
        Val::Quoted(s) => json!(s),
        Val::Bare(s) => typed(s),
    };
    let mut doc = leaf;
    for piece in k.split("__").collect::<Vec<_>>().into_iter().rev() {
        doc = match piece.strip_suffix("[]") {
            Some(name) => json!({ name: [doc] }),
            None => {
                let mut m = Map::new();
                m.insert(piece.to_string(), doc);
                Value::Object(m)
            }
        };
    }
    Filter::On {
        path: vec![],
        column: FACTS,
        ctype: ColumnType::Text,
        cond: Cond::JsonContains(doc),
    }
}

/// The hosts of a smart inventory (`HostManager.get_queryset`): those matching its filter in
/// its organization, one per name (the oldest).
pub fn inventory_hosts(host_filter: &str, organization: Option<i64>) -> Result<Filter, SmartError> {
    let mut f = parse(host_filter)?;
    if let Some(org) = organization {
        f = Filter::All(vec![
            f,
            Filter::On {
                path: vec![Step::Fk {
                    column: "inventory",
                    target: "inventories",
                }],
                column: "organization",
                ctype: ColumnType::Int,
                cond: Cond::Op(crate::filter::Op::Exact, json!(org)),
            },
        ]);
    }
    Ok(Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::FirstPer {
            table: HOSTS.key,
            group_by: "name",
            filter: Box::new(f),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Op;

    fn on(f: &Filter) -> (&Vec<Step>, &'static str, &Cond) {
        match f {
            Filter::On {
                path, column, cond, ..
            } => (path, *column, cond),
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let f = parse("name=a or name=b and groups__name=\"db servers\"").unwrap();
        let Filter::Any(alts) = f else { panic!() };
        assert_eq!(alts.len(), 2);
        let Filter::All(both) = &alts[1] else {
            panic!("{alts:?}")
        };
        let (path, col, cond) = on(&both[1]);
        assert!(matches!(path[0], Step::Link { .. }));
        assert_eq!(col, "name");
        assert_eq!(cond, &Cond::Op(Op::Exact, json!("db servers")));
        let g = parse("(name=a or name=b) and enabled=true").unwrap();
        let Filter::All(parts) = g else { panic!() };
        assert!(matches!(parts[0], Filter::Any(_)));
        assert_eq!(on(&parts[1]).2, &Cond::Op(Op::Exact, json!(true)));
    }

    #[test]
    fn facts_paths_become_containment() {
        let f = parse("ansible_facts__ansible_lo__ipv6[]__scope=host").unwrap();
        assert_eq!(
            on(&f).2,
            &Cond::JsonContains(json!({"ansible_lo": {"ipv6": [{"scope": "host"}]}}))
        );
        let f = parse("ansible_facts__ansible_processor_vcpus=8").unwrap();
        assert_eq!(
            on(&f).2,
            &Cond::JsonContains(json!({"ansible_processor_vcpus": 8}))
        );
        let f = parse("ansible_facts__ansible_distribution_version=\"7.4\"").unwrap();
        assert_eq!(
            on(&f).2,
            &Cond::JsonContains(json!({"ansible_distribution_version": "7.4"}))
        );
        let f = parse("ansible_facts__ansible_distribution__exact=\"CentOS\"").unwrap();
        assert_eq!(
            on(&f).2,
            &Cond::JsonContains(json!({"ansible_distribution": "CentOS"}))
        );
        let f = parse("ansible_facts__ansible_distribution=レッドハット").unwrap();
        assert_eq!(
            on(&f).2,
            &Cond::JsonContains(json!({"ansible_distribution": "レッドハット"}))
        );
    }

    #[test]
    fn refusals_say_what_awx_says() {
        assert_eq!(
            parse("ansible_facts__ansible_distribution__icontains=cent")
                .unwrap_err()
                .to_string(),
            "ansible_facts does not support searching with __icontains"
        );
        assert_eq!(
            parse("ansible_facts__a__has_keys=x")
                .unwrap_err()
                .to_string(),
            "ansible_facts does not support searching with __has_keys"
        );
        for bad in ["name=", "(name=a", "name=a or", "name a", "name=\"x", "and"] {
            assert_eq!(
                parse(bad).unwrap_err(),
                SmartError::Syntax(bad.into()),
                "{bad}"
            );
        }
        assert!(matches!(
            parse("bogus=1").unwrap_err(),
            SmartError::Query(QueryError::Invalid(_))
        ));
    }

    #[test]
    fn search_spans_the_search_fields() {
        let Filter::Any(alts) = parse("search=\"HOST1\"").unwrap() else {
            panic!()
        };
        assert_eq!(alts.len(), HOSTS.search_fields.len());
        assert_eq!(on(&alts[0]).2, &Cond::Op(Op::IContains, json!("HOST1")));
        let Filter::Any(alts) = parse("groups__search=web").unwrap() else {
            panic!()
        };
        assert!(matches!(on(&alts[0]).0[0], Step::Link { .. }));
    }

    #[test]
    fn null_is_a_null_check() {
        assert_eq!(on(&parse("last_job=null").unwrap()).2, &Cond::IsNull(true));
        assert_eq!(
            on(&parse("description=null").unwrap()).2,
            &Cond::IsNull(true)
        );
    }
}
