//! AWX's list query language (`?name__icontains=x&or__id=3&organization__name=Ops&order_by=-id`)
//! parsed against a resource's schema into a filter tree the store turns into SQL.

use crate::resources::{by_key, table_by_key};
use crate::schema::{ColumnType, Kind, Relation, Resource, SubList};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Not(Box<Filter>),
    /// A condition on `column` of the resource reached by walking `path` from the listed one.
    On {
        path: Vec<Step>,
        column: &'static str,
        ctype: ColumnType,
        cond: Cond,
    },
}

impl Filter {
    pub fn and(self, other: Filter) -> Filter {
        match self {
            Filter::All(mut v) => {
                v.push(other);
                Filter::All(v)
            }
            f => Filter::All(vec![f, other]),
        }
    }
    /// `column = value` on the listed resource itself.
    pub fn eq(column: &'static str, ctype: ColumnType, value: Value) -> Filter {
        Filter::On {
            path: vec![],
            column,
            ctype,
            cond: Cond::Op(Op::Exact, value),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Follow the foreign key in `column` to the `target` table.
    Fk {
        column: &'static str,
        target: &'static str,
    },
    /// Cross a link table to the other side.
    Link {
        relation: &'static Relation,
        from_left: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Exact,
    IExact,
    Contains,
    IContains,
    StartsWith,
    IStartsWith,
    EndsWith,
    IEndsWith,
    Regex,
    IRegex,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Op(Op, Value),
    In(Vec<Value>),
    IsNull(bool),
    /// The column's value is among `SELECT select FROM table WHERE where_col = value`: how
    /// permission rules say "an organization this user belongs to".
    InTable {
        table: &'static str,
        select: &'static str,
        where_col: &'static str,
        value: i64,
    },
    /// The column's value is among `SELECT column FROM table WHERE filter` (the filter's columns
    /// are `table`'s): how role rules say "an object whose read role this user holds" in one
    /// statement, nested as deep as the rule needs.
    InSelect {
        table: &'static str,
        column: &'static str,
        filter: Box<Filter>,
    },
    /// The column's value is among `SELECT MIN(id) FROM table WHERE filter GROUP BY group_by`:
    /// one row per value of `group_by`, the oldest (a smart inventory's hosts are distinct by
    /// name, AWX's `order_by('name', 'pk').distinct('name')`).
    FirstPer {
        table: &'static str,
        group_by: &'static str,
        filter: Box<Filter>,
    },
    /// The column holds a JSON document that contains this one (PostgreSQL's `@>`: objects by
    /// their keys, arrays by any element, scalars equal), AWX's `ansible_facts__contains`.
    JsonContains(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Filter,
    /// `(column, descending)`; `id` always closes the list so pages are stable.
    pub order: Vec<(&'static str, bool)>,
    pub page: u64,
    pub page_size: u64,
}

pub const DEFAULT_PAGE_SIZE: u64 = 25;
pub const MAX_PAGE_SIZE: u64 = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// 400 `{"detail": …}`.
    #[error("{0}")]
    Invalid(String),
    /// 404 `{"detail": "Invalid page."}`
    #[error("Invalid page.")]
    InvalidPage,
}

/// Parameters that are never filters.
const RESERVED: &[&str] = &[
    "page",
    "page_size",
    "format",
    "order",
    "order_by",
    "search",
    "type",
    "host_filter",
    "count_disabled",
    "no_truncate",
    "limit",
    "validate",
    "hostvars",
    "towervars",
    "all",
];

pub fn parse_list_query(
    res: &'static Resource,
    params: &[(String, String)],
) -> Result<ListQuery, QueryError> {
    let mut all = Vec::new();
    let mut any = Vec::new();
    let mut order = Vec::new();
    let mut page = 1;
    let mut page_size = DEFAULT_PAGE_SIZE;
    for (key, value) in params {
        match key.as_str() {
            "page" => {
                page = value
                    .parse::<u64>()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or(QueryError::InvalidPage)?;
            }
            "page_size" => {
                page_size = value
                    .parse::<u64>()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| QueryError::Invalid(format!("Invalid page_size: {value}")))?
                    .min(MAX_PAGE_SIZE);
            }
            "order_by" | "order" => {
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (desc, name) = match part.strip_prefix('-') {
                        Some(n) => (true, n),
                        None => (false, part),
                    };
                    let column = own_column(res, name).ok_or_else(|| {
                        QueryError::Invalid(format!("Cannot resolve keyword '{name}' into field."))
                    })?;
                    order.push((column, desc));
                }
            }
            "search" => {
                for term in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    let alts = res
                        .search_fields
                        .iter()
                        .map(|f| Filter::On {
                            path: vec![],
                            // A search field the schema names may be internal (a role's
                            // `role_field`): searching it is what the schema declares.
                            column: own_column(res, f)
                                .or_else(|| res.field(f).map(|x| x.name))
                                .expect("search field is a column"),
                            ctype: ColumnType::Text,
                            cond: Cond::Op(Op::IContains, Value::String(term.to_string())),
                        })
                        .collect();
                    all.push(Filter::Any(alts));
                }
            }
            k if RESERVED.contains(&k) => {}
            k => {
                let (negate, or, rest) = strip_prefixes(k);
                let f = parse_condition(res, rest, value)?;
                let f = if negate { Filter::Not(Box::new(f)) } else { f };
                if or {
                    any.push(f)
                } else {
                    all.push(f)
                }
            }
        }
    }
    if !any.is_empty() {
        all.push(Filter::Any(any));
    }
    if order.is_empty() {
        let default = res.order;
        let (desc, name) = match default.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, default),
        };
        order.push((own_column(res, name).unwrap_or("id"), desc));
    }
    if !order.iter().any(|(c, _)| *c == "id") {
        order.push(("id", false));
    }
    Ok(ListQuery {
        filter: Filter::All(all),
        order,
        page,
        page_size,
    })
}

fn strip_prefixes(mut key: &str) -> (bool, bool, &str) {
    let (mut negate, mut or) = (false, false);
    loop {
        if let Some(r) = key.strip_prefix("not__") {
            negate = true;
            key = r;
        } else if let Some(r) = key.strip_prefix("or__") {
            or = true;
            key = r;
        } else if let Some(r) = key.strip_prefix("chain__") {
            key = r;
        } else {
            return (negate, or, key);
        }
    }
}

/// A column of the resource that clients may filter and sort on.
fn own_column(res: &Resource, name: &str) -> Option<&'static str> {
    match name {
        "id" => Some("id"),
        "created" => Some("created"),
        "modified" => Some("modified"),
        _ => res
            .fields
            .iter()
            .find(|f| f.name == name && (!f.internal || f.filterable) && f.kind != Kind::Password)
            .map(|f| f.name),
    }
}

fn lookup(name: &str) -> Option<Result<Op, bool>> {
    Some(Ok(match name {
        "exact" => Op::Exact,
        "iexact" => Op::IExact,
        "contains" => Op::Contains,
        "icontains" => Op::IContains,
        "startswith" => Op::StartsWith,
        "istartswith" => Op::IStartsWith,
        "endswith" => Op::EndsWith,
        "iendswith" => Op::IEndsWith,
        "regex" => Op::Regex,
        "iregex" => Op::IRegex,
        "gt" => Op::Gt,
        "gte" => Op::Gte,
        "lt" => Op::Lt,
        "lte" => Op::Lte,
        "in" => return Some(Err(true)),
        "isnull" => return Some(Err(false)),
        _ => return None,
    }))
}

/// One `key=value` term of the query language (`groups__name__icontains=web`) on `res`.
pub fn condition(res: &'static Resource, key: &str, value: &str) -> Result<Filter, QueryError> {
    parse_condition(res, key, value)
}

fn parse_condition(res: &'static Resource, key: &str, value: &str) -> Result<Filter, QueryError> {
    let parts: Vec<&str> = key.split("__").collect();
    let mut path = Vec::new();
    let mut current = res;
    let mut i = 0;
    loop {
        let part = parts[i];
        let last_or_lookup =
            i + 1 == parts.len() || (i + 2 == parts.len() && lookup(parts[i + 1]).is_some());
        if !last_or_lookup {
            // A step across a foreign key or a link table.
            if let Some(field) = current.field(part).filter(|f| !f.internal) {
                if let Kind::Fk(target) = field.kind {
                    path.push(Step::Fk {
                        column: field.name,
                        target,
                    });
                    current = table_by_key(target).expect("fk target exists");
                    i += 1;
                    continue;
                }
            }
            if let Some(sub) = current.sub(part) {
                if let SubList::Linked {
                    relation,
                    from_left,
                } = sub.list
                {
                    path.push(Step::Link {
                        relation,
                        from_left,
                    });
                    let other = if from_left {
                        relation.right.0
                    } else {
                        relation.left.0
                    };
                    current = by_key(other).expect("relation side exists");
                    i += 1;
                    continue;
                }
            }
            return Err(no_field(current, part));
        }
        let column = own_column(current, part).ok_or_else(|| no_field(current, part))?;
        let ctype = current.column_type(column).expect("column has a type");
        let op = match parts.get(i + 1) {
            Some(l) => lookup(l).expect("checked above"),
            None => Ok(Op::Exact),
        };
        let cond = match op {
            Ok(op) => {
                if matches!(op, Op::Exact | Op::IExact)
                    && is_null_word(value)
                    && ctype != ColumnType::Text
                {
                    Cond::IsNull(true)
                } else {
                    let v = if matches!(
                        op,
                        Op::Contains
                            | Op::IContains
                            | Op::StartsWith
                            | Op::IStartsWith
                            | Op::EndsWith
                            | Op::IEndsWith
                            | Op::Regex
                            | Op::IRegex
                    ) {
                        Value::String(value.to_string())
                    } else {
                        typed(ctype, part, value)?
                    };
                    Cond::Op(op, v)
                }
            }
            Err(true) => Cond::In(
                value
                    .split(',')
                    .map(|v| typed(ctype, part, v))
                    .collect::<Result<_, _>>()?,
            ),
            Err(false) => Cond::IsNull(parse_bool(value).ok_or_else(|| {
                QueryError::Invalid(format!(
                    "'{value}' is not a valid boolean for {part}__isnull"
                ))
            })?),
        };
        return Ok(Filter::On {
            path,
            column,
            ctype,
            cond,
        });
    }
}

fn no_field(res: &Resource, name: &str) -> QueryError {
    QueryError::Invalid(format!("{} has no field named '{}'", res.verbose, name))
}

fn is_null_word(v: &str) -> bool {
    matches!(v, "None" | "none" | "Null" | "null")
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "True" | "true" | "1" => Some(true),
        "False" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn typed(ctype: ColumnType, field: &str, raw: &str) -> Result<Value, QueryError> {
    let bad = || QueryError::Invalid(format!("Invalid value for {field}: '{raw}'"));
    Ok(match ctype {
        ColumnType::Int => Value::from(raw.trim().parse::<i64>().map_err(|_| bad())?),
        ColumnType::Float => {
            serde_json::Number::from_f64(raw.trim().parse::<f64>().map_err(|_| bad())?)
                .map(Value::Number)
                .ok_or_else(bad)?
        }
        ColumnType::Bool => Value::Bool(parse_bool(raw).ok_or_else(bad)?),
        ColumnType::Text => Value::String(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{HOSTS, INVENTORIES};

    fn q(res: &'static Resource, s: &str) -> Result<ListQuery, QueryError> {
        let params: Vec<(String, String)> = s
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        parse_list_query(res, &params)
    }

    #[test]
    fn spans_foreign_keys_and_links() {
        let lq = q(
            &HOSTS,
            "inventory__organization__name=Ops&groups__name__icontains=web",
        )
        .unwrap();
        let Filter::All(parts) = lq.filter else {
            panic!()
        };
        assert_eq!(parts.len(), 2);
        match &parts[0] {
            Filter::On { path, column, .. } => {
                assert_eq!(path.len(), 2);
                assert_eq!(*column, "name");
            }
            f => panic!("{f:?}"),
        }
        match &parts[1] {
            Filter::On { path, cond, .. } => {
                assert!(matches!(path[0], Step::Link { .. }));
                assert_eq!(*cond, Cond::Op(Op::IContains, Value::from("web")));
            }
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn or_terms_are_grouped_and_ids_are_typed() {
        let lq = q(&INVENTORIES, "or__id=3&or__name=3").unwrap();
        let Filter::All(parts) = lq.filter else {
            panic!()
        };
        let Filter::Any(alts) = &parts[0] else {
            panic!()
        };
        assert_eq!(alts.len(), 2);
        assert!(
            matches!(&alts[0], Filter::On { cond: Cond::Op(Op::Exact, v), .. } if v.as_i64() == Some(3))
        );
    }

    #[test]
    fn rejects_unknown_fields_bad_values_and_pages() {
        assert_eq!(
            q(&HOSTS, "bogus=1"),
            Err(QueryError::Invalid(
                "Host has no field named 'bogus'".into()
            ))
        );
        assert!(matches!(
            q(&HOSTS, "id__gt=abc"),
            Err(QueryError::Invalid(_))
        ));
        assert_eq!(q(&HOSTS, "page=0"), Err(QueryError::InvalidPage));
        assert!(matches!(
            q(&HOSTS, "order_by=nope"),
            Err(QueryError::Invalid(_))
        ));
    }

    #[test]
    fn paging_defaults_and_caps() {
        let lq = q(&HOSTS, "page_size=1000&order_by=-name").unwrap();
        assert_eq!(lq.page_size, MAX_PAGE_SIZE);
        assert_eq!(lq.order, vec![("name", true), ("id", false)]);
    }
}
