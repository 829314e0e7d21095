//! One SQL builder for both backends: statements are text plus typed parameters; only the
//! placeholder style and a few functions differ by dialect.

use rawx_model::filter::{Cond, Filter, Op, Step};
use rawx_model::schema::ColumnType;
use rawx_model::{Resource, Row};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A typed null: PostgreSQL must know the type of every parameter.
    Null(ColumnType),
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

#[derive(Debug)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
    dialect: Dialect,
}

pub fn quote(ident: &str) -> String {
    format!("\"{ident}\"")
}

impl Sql {
    pub fn new(dialect: Dialect) -> Sql {
        Sql {
            text: String::new(),
            params: Vec::new(),
            dialect,
        }
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    pub fn bind(&mut self, p: Param) -> &mut Self {
        self.params.push(p);
        match self.dialect {
            Dialect::Sqlite => self.text.push('?'),
            Dialect::Postgres => {
                use std::fmt::Write;
                let _ = write!(self.text, "${}", self.params.len());
            }
        }
        self
    }
}

/// The JSON value of a column as a typed parameter. Values were validated against the schema
/// before they reach the store, so a mismatch here is a bug, reported rather than guessed.
pub fn param(ctype: ColumnType, v: &Value) -> Param {
    match (ctype, v) {
        (t, Value::Null) => Param::Null(t),
        (ColumnType::Int, Value::Number(n)) if n.is_i64() => {
            Param::Int(n.as_i64().unwrap_or_default())
        }
        (ColumnType::Float, Value::Number(n)) => Param::Float(n.as_f64().unwrap_or_default()),
        (ColumnType::Bool, Value::Bool(b)) => Param::Bool(*b),
        (ColumnType::Text, Value::String(s)) => Param::Text(s.clone()),
        (ColumnType::Text, other) => Param::Text(other.to_string()),
        (t, other) => {
            tracing::error!(?t, %other, "value does not fit its column; storing null");
            Param::Null(t)
        }
    }
}

fn columns_of<'a>(
    res: &'static Resource,
    row: &'a Row,
) -> Vec<(&'static str, ColumnType, &'a Value)> {
    res.columns()
        .filter_map(|(c, t)| row.get(c).map(|v| (c, t, v)))
        .collect()
}

pub fn select(
    d: Dialect,
    res: &'static Resource,
    filter: &Filter,
    order: &[(&str, bool)],
    page: Option<(u64, u64)>,
) -> Sql {
    let all: Vec<&str> = res.columns().map(|(c, _)| c).collect();
    select_columns(d, res, &all, filter, order, page)
}

/// `select` of only `columns`.
pub fn select_columns(
    d: Dialect,
    res: &'static Resource,
    columns: &[&str],
    filter: &Filter,
    order: &[(&str, bool)],
    page: Option<(u64, u64)>,
) -> Sql {
    let mut sql = Sql::new(d);
    let cols: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    sql.push(&format!(
        "SELECT {} FROM {} WHERE ",
        cols.join(", "),
        quote(res.key)
    ));
    render(&mut sql, res.key, filter);
    if !order.is_empty() {
        let o: Vec<String> = order
            .iter()
            .map(|(c, desc)| format!("{} {}", quote(c), if *desc { "DESC" } else { "ASC" }))
            .collect();
        sql.push(&format!(" ORDER BY {}", o.join(", ")));
    }
    if let Some((limit, offset)) = page {
        sql.push(" LIMIT ");
        sql.bind(Param::Int(limit as i64));
        sql.push(" OFFSET ");
        sql.bind(Param::Int(offset as i64));
    }
    sql
}

pub fn count(d: Dialect, res: &'static Resource, filter: &Filter) -> Sql {
    let mut sql = Sql::new(d);
    sql.push(&format!("SELECT COUNT(*) FROM {} WHERE ", quote(res.key)));
    render(&mut sql, res.key, filter);
    sql
}

pub fn delete_where(d: Dialect, res: &'static Resource, filter: &Filter) -> Sql {
    let mut sql = Sql::new(d);
    sql.push(&format!("DELETE FROM {} WHERE ", quote(res.key)));
    render(&mut sql, res.key, filter);
    sql
}

/// Multi-row `INSERT … RETURNING "id"`s for `rows`: one statement per run of rows with the
/// same columns, each as large as the dialect's parameter limit allows, so storing a batch of
/// events is a few statements instead of one per event. `created`/`modified` default to `now`.
pub fn insert_rows(d: Dialect, res: &'static Resource, rows: &[Row], now: &Value) -> Vec<Sql> {
    // SQLite allows 32,766 parameters per statement, PostgreSQL 65,535.
    let max_params = match d {
        Dialect::Sqlite => 32_000,
        Dialect::Postgres => 65_000,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        // The columns in the first row's own order (a batch is built by one function, so every
        // row has the same keys in the same order): values are then bound by position, with
        // no lookup per value. Keys that are not columns are skipped, stamps added if absent.
        let first = &rows[i];
        let keep: Vec<Option<ColumnType>> = first.keys().map(|k| res.column_type(k)).collect();
        let mut cols: Vec<(&str, ColumnType)> = first
            .keys()
            .zip(&keep)
            .filter_map(|(k, t)| t.map(|t| (k.as_str(), t)))
            .collect();
        let stamps: Vec<&str> = ["created", "modified"]
            .into_iter()
            .filter(|c| !first.contains_key(*c))
            .collect();
        cols.extend(stamps.iter().map(|c| (*c, ColumnType::Text)));
        let per_stmt = (max_params / cols.len().max(1)).max(1);
        let mut end = i + 1;
        while end < rows.len() && end - i < per_stmt && rows[end].keys().eq(first.keys()) {
            end += 1;
        }
        let mut sql = Sql::new(d);
        let names: Vec<String> = cols.iter().map(|(c, _)| quote(c)).collect();
        sql.push(&format!(
            "INSERT INTO {} ({}) VALUES ",
            quote(res.key),
            names.join(", ")
        ));
        for (n, row) in rows[i..end].iter().enumerate() {
            sql.push(if n == 0 { "(" } else { ", (" });
            let values = row
                .values()
                .zip(&keep)
                .filter_map(|(v, t)| t.map(|t| (t, v)))
                .chain(stamps.iter().map(|_| (ColumnType::Text, now)));
            for (k, (t, v)) in values.enumerate() {
                if k > 0 {
                    sql.push(", ");
                }
                sql.bind(param(t, v));
            }
            sql.push(")");
        }
        sql.push(" RETURNING \"id\"");
        out.push(sql);
        i = end;
    }
    out
}

/// The part of `child`'s `row` that its `parent` table repeats (the columns of the same
/// names), plus, for an insert, the kind of the row.
pub fn parent_row(
    parent: &'static Resource,
    child: &'static Resource,
    row: &Row,
    insert: bool,
) -> Row {
    let mut out: Row = rawx_model::resources::inherited_columns(parent, child)
        .filter_map(|c| row.get(c).map(|v| (c.to_string(), v.clone())))
        .collect();
    if insert {
        out.insert(
            rawx_model::resources::TYPE_COLUMN.into(),
            Value::String(child.type_name.into()),
        );
    }
    out
}

pub fn update(d: Dialect, res: &'static Resource, id: i64, row: &Row) -> Sql {
    update_guarded(d, res, id, row, None)
}

pub fn update_guarded(
    d: Dialect,
    res: &'static Resource,
    id: i64,
    row: &Row,
    guard: Option<&Filter>,
) -> Sql {
    let mut sql = Sql::new(d);
    sql.push(&format!("UPDATE {} SET ", quote(res.key)));
    for (i, (c, t, v)) in columns_of(res, row)
        .into_iter()
        .filter(|(c, _, _)| *c != "id")
        .enumerate()
    {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(&format!("{} = ", quote(c)));
        sql.bind(param(t, v));
    }
    sql.push(" WHERE \"id\" = ");
    sql.bind(Param::Int(id));
    if let Some(g) = guard {
        sql.push(" AND ");
        render(&mut sql, res.key, g);
    }
    sql
}

/// `f` as a condition on `table`'s rows, appended to `sql`.
pub fn render_filter(sql: &mut Sql, table: &str, f: &Filter) {
    render(sql, table, f)
}

fn render(sql: &mut Sql, table: &str, f: &Filter) {
    match f {
        Filter::All(v) | Filter::Any(v) if v.is_empty() => {
            sql.push(if matches!(f, Filter::All(_)) {
                "1=1"
            } else {
                "1=0"
            });
        }
        Filter::All(v) | Filter::Any(v) => {
            let joiner = if matches!(f, Filter::All(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, part) in v.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                render(sql, table, part);
            }
            sql.push(")");
        }
        Filter::Not(inner) => {
            sql.push("NOT (");
            render(sql, table, inner);
            sql.push(")");
        }
        Filter::On {
            path,
            column,
            ctype,
            cond,
        } => render_path(sql, table, path, column, *ctype, cond),
    }
}

fn render_path(
    sql: &mut Sql,
    table: &str,
    path: &[Step],
    column: &str,
    ctype: ColumnType,
    cond: &Cond,
) {
    let Some((step, rest)) = path.split_first() else {
        render_cond(
            sql,
            &format!("{}.{}", quote(table), quote(column)),
            ctype,
            cond,
        );
        return;
    };
    match step {
        Step::Fk { column: fk, target } => {
            sql.push(&format!(
                "{}.{} IN (SELECT {t}.\"id\" FROM {t} WHERE ",
                quote(table),
                quote(fk),
                t = quote(target)
            ));
            render_path(sql, target, rest, column, ctype, cond);
            sql.push(")");
        }
        Step::Link {
            relation,
            from_left,
        } => {
            let (mine, other) = if *from_left {
                (relation.left, relation.right)
            } else {
                (relation.right, relation.left)
            };
            sql.push(&format!(
                "{}.\"id\" IN (SELECT {l}.{mc} FROM {l} WHERE {l}.{oc} IN (SELECT {o}.\"id\" FROM {o} WHERE ",
                quote(table),
                l = quote(relation.table),
                mc = quote(mine.1),
                oc = quote(other.1),
                o = quote(other.0),
            ));
            render_path(sql, other.0, rest, column, ctype, cond);
            sql.push("))");
        }
    }
}

fn like_pattern(s: &str, prefix: bool, suffix: bool) -> String {
    let escaped = s
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!(
        "{}{}{}",
        if prefix { "%" } else { "" },
        escaped,
        if suffix { "%" } else { "" }
    )
}

fn render_cond(sql: &mut Sql, col: &str, ctype: ColumnType, cond: &Cond) {
    let text_col = if ctype == ColumnType::Text {
        col.to_string()
    } else {
        format!("CAST({col} AS TEXT)")
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match cond {
        Cond::Op(op, v) => match op {
            Op::Exact | Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                let sym = match op {
                    Op::Exact => "=",
                    Op::Gt => ">",
                    Op::Gte => ">=",
                    Op::Lt => "<",
                    _ => "<=",
                };
                sql.push(&format!("{col} {sym} "));
                sql.bind(param(ctype, v));
            }
            Op::IExact => {
                sql.push(&format!("LOWER({text_col}) = LOWER("));
                sql.bind(Param::Text(text(v)));
                sql.push(")");
            }
            Op::IContains | Op::IStartsWith | Op::IEndsWith => {
                let (pre, suf) = match op {
                    Op::IContains => (true, true),
                    Op::IStartsWith => (false, true),
                    _ => (true, false),
                };
                sql.push(&format!("LOWER({text_col}) LIKE "));
                sql.bind(Param::Text(like_pattern(&text(v), pre, suf)));
                sql.push(" ESCAPE '\\'");
            }
            Op::Contains => {
                let f = if sql.dialect == Dialect::Sqlite {
                    "instr"
                } else {
                    "strpos"
                };
                sql.push(&format!("{f}({text_col}, "));
                sql.bind(Param::Text(text(v)));
                sql.push(") > 0");
            }
            Op::StartsWith => {
                let p = Param::Text(text(v));
                sql.push(&format!("substr({text_col}, 1, length("));
                sql.bind(p.clone());
                sql.push(")) = ");
                sql.bind(p);
            }
            Op::EndsWith => {
                let p = Param::Text(text(v));
                sql.push(&format!("(length({text_col}) >= length("));
                sql.bind(p.clone());
                sql.push(&format!(
                    ") AND substr({text_col}, length({text_col}) - length("
                ));
                sql.bind(p.clone());
                sql.push(") + 1) = ");
                sql.bind(p);
                sql.push(")");
            }
            Op::Regex | Op::IRegex => {
                let insensitive = *op == Op::IRegex;
                match sql.dialect {
                    Dialect::Sqlite => {
                        sql.push(&format!("{text_col} REGEXP "));
                        let pat = if insensitive {
                            format!("(?i){}", text(v))
                        } else {
                            text(v)
                        };
                        sql.bind(Param::Text(pat));
                    }
                    Dialect::Postgres => {
                        sql.push(&format!(
                            "{text_col} {} ",
                            if insensitive { "~*" } else { "~" }
                        ));
                        sql.bind(Param::Text(text(v)));
                    }
                }
            }
        },
        Cond::In(values) if values.is_empty() => {
            sql.push("1=0");
        }
        Cond::In(values) => {
            sql.push(&format!("{col} IN ("));
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(param(ctype, v));
            }
            sql.push(")");
        }
        Cond::IsNull(true) => {
            sql.push(&format!("{col} IS NULL"));
        }
        Cond::IsNull(false) => {
            sql.push(&format!("{col} IS NOT NULL"));
        }
        Cond::InTable {
            table,
            select,
            where_col,
            value,
        } => {
            sql.push(&format!(
                "{col} IN (SELECT {} FROM {} WHERE {} = ",
                quote(select),
                quote(table),
                quote(where_col)
            ));
            sql.bind(Param::Int(*value));
            sql.push(")");
        }
        Cond::InSelect {
            table,
            column,
            filter,
        } => {
            sql.push(&format!(
                "{col} IN (SELECT {t}.{} FROM {t} WHERE ",
                quote(column),
                t = quote(table)
            ));
            render(sql, table, filter);
            sql.push(")");
        }
        Cond::FirstPer {
            table,
            group_by,
            filter,
        } => {
            sql.push(&format!(
                "{col} IN (SELECT MIN({t}.\"id\") FROM {t} WHERE ",
                t = quote(table)
            ));
            render(sql, table, filter);
            sql.push(&format!(" GROUP BY {}.{})", quote(table), quote(group_by)));
        }
        Cond::JsonContains(doc) => match sql.dialect {
            Dialect::Postgres => {
                sql.push(&format!("CAST({col} AS jsonb) @> CAST("));
                sql.bind(Param::Text(doc.to_string()));
                sql.push(" AS jsonb)");
            }
            Dialect::Sqlite => {
                let mut depth = 0;
                json_contains_sqlite(sql, col, "$", doc, &mut depth);
            }
        },
    }
}

/// A JSON path step for SQLite's JSON functions: `."key"` (quoted, so any key works).
fn path_key(path: &str, key: &str) -> String {
    format!("{path}.\"{}\"", key.replace('"', "\\\""))
}

/// SQLite's `json_type` of a JSON scalar, for a typed comparison.
fn json_type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "'null'",
        Value::Bool(true) => "'true'",
        Value::Bool(false) => "'false'",
        Value::Number(_) => "'integer','real'",
        _ => "'text'",
    }
}

fn bind_scalar(sql: &mut Sql, v: &Value) {
    match v {
        Value::Number(n) if n.is_i64() => sql.bind(Param::Int(n.as_i64().unwrap_or_default())),
        Value::Number(n) => sql.bind(Param::Float(n.as_f64().unwrap_or_default())),
        Value::String(s) => sql.bind(Param::Text(s.clone())),
        other => sql.bind(Param::Text(other.to_string())),
    };
}

/// PostgreSQL's `@>` written with SQLite's JSON functions: every key of an object pattern
/// present with a containing value, every element of an array pattern contained in some
/// element (`EXISTS … json_each`), a scalar equal and of the same JSON type. Paths are bound
/// as parameters: fact names come from users.
fn json_contains_sqlite(sql: &mut Sql, doc: &str, path: &str, pat: &Value, depth: &mut u32) {
    let json_type = |sql: &mut Sql| {
        sql.push(&format!("json_type({doc}, "));
        sql.bind(Param::Text(path.to_string()));
        sql.push(")");
    };
    match pat {
        Value::Object(m) if m.is_empty() => {
            json_type(sql);
            sql.push(" = 'object'");
        }
        Value::Object(m) => {
            sql.push("(");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    sql.push(" AND ");
                }
                json_contains_sqlite(sql, doc, &path_key(path, k), v, depth);
            }
            sql.push(")");
        }
        Value::Array(items) => {
            sql.push("(");
            json_type(sql);
            sql.push(" = 'array'");
            for item in items {
                *depth += 1;
                let j = format!("rawx_je{depth}");
                sql.push(&format!(" AND EXISTS (SELECT 1 FROM json_each({doc}, "));
                sql.bind(Param::Text(path.to_string()));
                sql.push(&format!(") AS {j} WHERE "));
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        let ty = if item.is_object() { "object" } else { "array" };
                        sql.push(&format!("{j}.type = '{ty}' AND "));
                        json_contains_sqlite(sql, &format!("{j}.value"), "$", item, depth);
                    }
                    Value::Null | Value::Bool(_) => {
                        sql.push(&format!("{j}.type IN ({})", json_type_of(item)));
                    }
                    scalar => {
                        sql.push(&format!(
                            "{j}.type IN ({}) AND {j}.value = ",
                            json_type_of(scalar)
                        ));
                        bind_scalar(sql, scalar);
                    }
                }
                sql.push(")");
            }
            sql.push(")");
        }
        Value::Null | Value::Bool(_) => {
            json_type(sql);
            sql.push(&format!(" IN ({})", json_type_of(pat)));
        }
        scalar => {
            sql.push("(");
            json_type(sql);
            sql.push(&format!(
                " IN ({}) AND json_extract({doc}, ",
                json_type_of(scalar)
            ));
            sql.bind(Param::Text(path.to_string()));
            sql.push(") = ");
            bind_scalar(sql, scalar);
            sql.push(")");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rawx_model::filter::parse_list_query;
    use rawx_model::resources::HOSTS;

    #[test]
    fn placeholders_follow_the_dialect() {
        let q = parse_list_query(
            &HOSTS,
            &[
                ("inventory__organization__name".into(), "Ops".into()),
                ("name__icontains".into(), "W_b".into()),
            ],
        )
        .unwrap();
        let pg = select(
            Dialect::Postgres,
            &HOSTS,
            &q.filter,
            &q.order,
            Some((25, 0)),
        );
        assert!(pg.text.contains("\"hosts\".\"inventory\" IN (SELECT \"inventories\".\"id\" FROM \"inventories\" WHERE \"inventories\".\"organization\" IN (SELECT \"organizations\".\"id\" FROM \"organizations\" WHERE \"organizations\".\"name\" = $1))"), "{}", pg.text);
        assert!(pg.text.ends_with("LIMIT $3 OFFSET $4"), "{}", pg.text);
        assert_eq!(pg.params[1], Param::Text("%w\\_b%".into()));
        let lite = select(Dialect::Sqlite, &HOSTS, &q.filter, &q.order, None);
        assert!(!lite.text.contains('$') && lite.text.matches('?').count() == 2);
    }
}
