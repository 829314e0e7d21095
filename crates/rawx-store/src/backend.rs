//! The two backends. Their code is one text stamped twice by `store_impl!`: sqlx gives SQLite
//! and PostgreSQL the same API, so only the pool type and the dialect differ.

use crate::ddl;
use crate::sql::{self, Dialect, Param, Sql};
use crate::{DbError, Exclusive, Page, Result, Store};
use async_trait::async_trait;
use rawx_model::filter::{Filter, ListQuery};
use rawx_model::schema::ColumnType;
use rawx_model::{Relation, Resource, Row};
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row as _;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
    writes: Option<tokio::sync::Mutex<()>>,
    /// The database file, beside which `exclusive` keeps its lock files.
    path: String,
}

pub struct PostgresStore {
    pool: PgPool,
    writes: Option<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    pub async fn open(path: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .with_regexp();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(|e| DbError::Other(format!("cannot open SQLite database {path}: {e}")))?;
        // SQLite takes one writer at a time; a second connection that tries waits in SQLite's
        // busy handler, sleeping 1, 2, 5 … 100 ms between tries. Queueing this process's
        // writes here instead hands the lock on at once (readers never wait, in WAL mode).
        Ok(SqliteStore {
            pool,
            writes: Some(tokio::sync::Mutex::new(())),
            path: path.to_string(),
        })
    }

    /// SQLite's clock is the machine's (the database is a local file), as rawx formats it.
    const NOW_SQL: &'static str = "SELECT strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')";

    async fn separate_pool(&self, connections: u32) -> Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections.max(1))
            .connect_with(self.pool.connect_options().as_ref().clone())
            .await
            .map_err(map_err)?;
        Ok(SqliteStore {
            pool,
            writes: Some(tokio::sync::Mutex::new(())),
            path: self.path.clone(),
        })
    }

    /// An advisory `flock` on `<database>.lock-<key>`: processes sharing the file share the
    /// lock; the kernel drops it with the process, so a crash never leaves it held. (A write
    /// transaction would also serialize, but would block the holder's own writes on the
    /// pool's other connections.)
    async fn take_exclusive(&self, key: i64) -> Result<Exclusive> {
        let path = format!("{}.lock-{key}", self.path);
        let file = tokio::task::spawn_blocking(move || {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            f.lock()?;
            Ok::<_, std::io::Error>(f)
        })
        .await
        .map_err(|e| DbError::Other(e.to_string()))?
        .map_err(|e| DbError::Other(format!("cannot lock {}.lock-{key}: {e}", self.path)))?;
        Ok(Exclusive::new(file))
    }
}

impl PostgresStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| DbError::Other(format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(PostgresStore { pool, writes: None })
    }

    const NOW_SQL: &'static str =
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

    async fn separate_pool(&self, connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(self.pool.connect_options().as_ref().clone())
            .await
            .map_err(map_err)?;
        Ok(PostgresStore { pool, writes: None })
    }

    /// A transaction-scoped advisory lock in a transaction kept open by the guard: dropping
    /// it rolls back, which releases the lock, and a crashed holder's session ends with it.
    async fn take_exclusive(&self, key: i64) -> Result<Exclusive> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok(Exclusive::new(tx))
    }
}

/// PostgreSQL's `deadlock_detected` (40P01) and `serialization_failure` (40001): the
/// transaction was rolled back whole and may simply run again.
fn retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

fn map_err(e: sqlx::Error) -> DbError {
    match e {
        sqlx::Error::RowNotFound => DbError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let cols = db
                .constraint()
                .and_then(ddl::columns_of_index)
                .or_else(|| {
                    // SQLite: "UNIQUE constraint failed: hosts.name, hosts.inventory"
                    let (_, list) = db.message().split_once(": ")?;
                    Some(
                        list.split(", ")
                            .map(|c| c.rsplit('.').next().unwrap_or(c).to_string())
                            .collect(),
                    )
                })
                .unwrap_or_default();
            DbError::Unique(cols)
        }
        // SQLite reports an ON DELETE RESTRICT refusal as a trigger constraint (1811).
        sqlx::Error::Database(db)
            if db.is_foreign_key_violation()
                || db.message().contains("FOREIGN KEY constraint failed") =>
        {
            DbError::ForeignKey(db.message().to_string())
        }
        other => DbError::Other(other.to_string()),
    }
}

/// A change stamps `modified` (an insert stamps both times while binding, in `insert_rows`).
fn modified_now(row: &Row) -> Row {
    let mut row = row.clone();
    row.insert("modified".into(), Value::String(rawx_model::now_string()));
    row
}

macro_rules! store_impl {
    ($store:ty, $db:ty, $dialect:expr, $name:literal, $columns_sql:literal, $lock_sql:expr) => {
        impl $store {
            /// Holds this process's turn to write, where the database takes one writer at a time.
            async fn writing(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
                match &self.writes {
                    Some(m) => Some(m.lock().await),
                    None => None,
                }
            }

            fn query<'q>(sql: &'q Sql) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
                let mut q = sqlx::query(&sql.text);
                for p in &sql.params {
                    q = match p {
                        Param::Null(ColumnType::Int) => q.bind(None::<i64>),
                        Param::Null(ColumnType::Float) => q.bind(None::<f64>),
                        Param::Null(ColumnType::Bool) => q.bind(None::<bool>),
                        Param::Null(ColumnType::Text) => q.bind(None::<String>),
                        Param::Int(i) => q.bind(*i),
                        Param::Float(f) => q.bind(*f),
                        Param::Bool(b) => q.bind(*b),
                        Param::Text(s) => q.bind(s.as_str()),
                    };
                }
                q
            }

            fn decode(res: &'static Resource, row: &<$db as sqlx::Database>::Row) -> Result<Row> {
                Self::decode_columns(res.columns(), row)
            }

            fn decode_columns(
                columns: impl Iterator<Item = (&'static str, ColumnType)>,
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<Row> {
                let mut out = Row::new();
                for (i, (col, t)) in columns.enumerate() {
                    let v = match t {
                        ColumnType::Int => row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::from)),
                        ColumnType::Float => row.try_get::<Option<f64>, _>(i).map(|v| v.map(Value::from)),
                        ColumnType::Bool => row.try_get::<Option<bool>, _>(i).map(|v| v.map(Value::Bool)),
                        ColumnType::Text => row.try_get::<Option<String>, _>(i).map(|v| v.map(Value::String)),
                    }
                    .map_err(map_err)?;
                    out.insert(col.into(), v.unwrap_or(Value::Null));
                }
                Ok(out)
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn exclusive(&self, key: i64) -> Result<Exclusive> {
                self.take_exclusive(key).await
            }

            async fn db_now(&self) -> Result<String> {
                let t: String = sqlx::query_scalar(Self::NOW_SQL)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(t)
            }

            async fn separate(&self, connections: u32) -> Result<crate::DynStore> {
                Ok(std::sync::Arc::new(self.separate_pool(connections).await?))
            }

            async fn migrate(&self) -> Result<()> {
                let _writing = self.writing().await;
                let d = $dialect;
                let mut tx = self.pool.begin().await.map_err(map_err)?;
                // Several nodes may start at once against one PostgreSQL: one migrates.
                if let Some(lock) = $lock_sql {
                    sqlx::query(lock).execute(&mut *tx).await.map_err(map_err)?;
                }
                // Every table first, then the columns they lack: a column may name a table
                // created after its own (`ddl::deferred`).
                for res in ddl::creation_order() {
                    sqlx::query(&ddl::create_table(d, res)).execute(&mut *tx).await.map_err(map_err)?;
                }
                for res in ddl::creation_order() {
                    let existing: Vec<String> = sqlx::query_scalar($columns_sql)
                        .bind(res.key)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    for f in res.fields.iter().filter(|f| !existing.iter().any(|c| c == f.name)) {
                        tracing::info!(table = res.key, column = f.name, "adding column");
                        let stmt = format!("ALTER TABLE {} ADD COLUMN {}", sql::quote(res.key), ddl::column_def(d, f));
                        sqlx::query(&stmt).execute(&mut *tx).await.map_err(map_err)?;
                    }
                    for idx in ddl::indexes(res) {
                        sqlx::query(&idx).execute(&mut *tx).await.map_err(map_err)?;
                    }
                }
                for rel in ddl::relations() {
                    for stmt in ddl::create_link_table(d, rel) {
                        sqlx::query(&stmt).execute(&mut *tx).await.map_err(map_err)?;
                    }
                }
                sqlx::query("CREATE TABLE IF NOT EXISTS rawx_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)")
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                let done: Vec<i64> = sqlx::query_scalar("SELECT version FROM rawx_migrations")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                for m in ddl::DATA_MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
                    tracing::info!(version = m.version, name = m.name, "data migration");
                    for stmt in (m.statements)(d) {
                        sqlx::query(&stmt).execute(&mut *tx).await.map_err(map_err)?;
                    }
                    let mut ins = Sql::new(d);
                    ins.push("INSERT INTO rawx_migrations (version, name, applied) VALUES (");
                    ins.bind(Param::Int(m.version)).push(", ");
                    ins.bind(Param::Text(m.name.to_string())).push(", ");
                    ins.bind(Param::Text(rawx_model::now_string())).push(")");
                    Self::query(&ins).execute(&mut *tx).await.map_err(map_err)?;
                }
                // After the data migrations: a move deletes rows whose parent rows it then makes.
                for stmt in ddl::parent_triggers(d) {
                    sqlx::query(&stmt).execute(&mut *tx).await.map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)
            }

            async fn list(&self, res: &'static Resource, q: &ListQuery) -> Result<Page> {
                let count = self.count(res, &q.filter).await?;
                let offset = (q.page - 1) * q.page_size;
                if count == 0 || offset >= count {
                    return Ok(Page { count, rows: vec![] });
                }
                let sql = sql::select($dialect, res, &q.filter, &q.order, Some((q.page_size, offset)));
                let rows = Self::query(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
                let rows = rows.iter().map(|r| Self::decode(res, r)).collect::<Result<_>>()?;
                Ok(Page { count, rows })
            }

            async fn project(
                &self,
                res: &'static Resource,
                filter: &Filter,
                columns: &[&'static str],
                order: &[(&'static str, bool)],
            ) -> Result<Vec<Row>> {
                let typed: Vec<(&'static str, ColumnType)> = columns
                    .iter()
                    .map(|c| (*c, res.column_type(c).unwrap_or(ColumnType::Text)))
                    .collect();
                let sql = sql::select_columns($dialect, res, columns, filter, order, None);
                let rows = Self::query(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
                rows.iter()
                    .map(|r| Self::decode_columns(typed.iter().copied(), r))
                    .collect()
            }

            async fn count(&self, res: &'static Resource, filter: &Filter) -> Result<u64> {
                let sql = sql::count($dialect, res, filter);
                // Run to completion, as every statement here (see `insert`).
                let rows = Self::query(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
                let row = rows.first().ok_or_else(|| DbError::Other("COUNT returned no row".into()))?;
                Ok(row.try_get::<i64, _>(0).map_err(map_err)? as u64)
            }

            async fn find(&self, res: &'static Resource, filter: &Filter) -> Result<Option<Row>> {
                let sql = sql::select($dialect, res, filter, &[("id", false)], Some((1, 0)));
                match Self::query(&sql).fetch_all(&self.pool).await.map_err(map_err)?.first() {
                    Some(r) => Ok(Some(Self::decode(res, r)?)),
                    None => Ok(None),
                }
            }

            async fn get(&self, res: &'static Resource, id: i64) -> Result<Row> {
                let f = Filter::eq("id", ColumnType::Int, Value::from(id));
                self.find(res, &f).await?.ok_or(DbError::NotFound)
            }

            async fn insert(&self, res: &'static Resource, row: &Row) -> Result<i64> {
                if rawx_model::resources::parent_of(res).is_some() {
                    return Ok(self.insert_many(res, std::slice::from_ref(row)).await?.remove(0));
                }
                let _writing = self.writing().await;
                let now = Value::String(rawx_model::now_string());
                let sql = sql::insert_rows($dialect, res, std::slice::from_ref(row), &now).remove(0);
                // Statements are stepped to completion (`fetch_all`) before their connection goes
                // back to the pool, so none is left half-run holding a SQLite transaction open.
                let rows = Self::query(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
                let r = rows.first().ok_or_else(|| DbError::Other("INSERT returned no id".into()))?;
                r.try_get::<i64, _>(0).map_err(map_err)
            }

            async fn insert_many(&self, res: &'static Resource, rows: &[Row]) -> Result<Vec<i64>> {
                let _writing = self.writing().await;
                let now = Value::String(rawx_model::now_string());
                let mut ids = Vec::with_capacity(rows.len());
                let mut tx = self.pool.begin().await.map_err(map_err)?;
                if let Some(parent) = rawx_model::resources::parent_of(res) {
                    // The parent row first: its id is the child's (one sequence for every kind).
                    for row in rows {
                        let up = sql::insert_rows($dialect, parent, &[sql::parent_row(parent, res, row, true)], &now).remove(0);
                        let got = Self::query(&up).fetch_all(&mut *tx).await.map_err(map_err)?;
                        let id: i64 = got
                            .first()
                            .ok_or_else(|| DbError::Other("INSERT returned no id".into()))?
                            .try_get(0)
                            .map_err(map_err)?;
                        let mut child = row.clone();
                        child.insert("id".into(), Value::from(id));
                        let down = sql::insert_rows($dialect, res, &[child], &now).remove(0);
                        Self::query(&down).fetch_all(&mut *tx).await.map_err(map_err)?;
                        ids.push(id);
                    }
                    tx.commit().await.map_err(map_err)?;
                    return Ok(ids);
                }
                for sql in sql::insert_rows($dialect, res, rows, &now) {
                    let mut got: Vec<i64> = Self::query(&sql)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(map_err)?
                        .iter()
                        .map(|r| r.try_get::<i64, _>(0))
                        .collect::<std::result::Result<_, _>>()
                        .map_err(map_err)?;
                    // Ids come from one increasing sequence, drawn in VALUES order, whatever
                    // order RETURNING reports them in.
                    got.sort_unstable();
                    ids.extend(got);
                }
                tx.commit().await.map_err(map_err)?;
                Ok(ids)
            }

            async fn update(&self, res: &'static Resource, id: i64, row: &Row) -> Result<()> {
                if rawx_model::resources::parent_of(res).is_some() {
                    return match self.update_if(res, id, &Filter::All(vec![]), row).await? {
                        true => Ok(()),
                        false => Err(DbError::NotFound),
                    };
                }
                let _writing = self.writing().await;
                let sql = sql::update($dialect, res, id, &modified_now(row));
                let done = Self::query(&sql).execute(&self.pool).await.map_err(map_err)?;
                if done.rows_affected() == 0 {
                    return Err(DbError::NotFound);
                }
                Ok(())
            }

            async fn update_if(&self, res: &'static Resource, id: i64, guard: &Filter, row: &Row) -> Result<bool> {
                let _writing = self.writing().await;
                let row = modified_now(row);
                let sql = sql::update_guarded($dialect, res, id, &row, Some(guard));
                let Some(parent) = rawx_model::resources::parent_of(res) else {
                    let done = Self::query(&sql).execute(&self.pool).await.map_err(map_err)?;
                    return Ok(done.rows_affected() == 1);
                };
                // The columns the parent repeats change with the child's, in one transaction.
                let up = sql::update($dialect, parent, id, &sql::parent_row(parent, res, &row, false));
                let mut tries = 0u32;
                loop {
                    let attempt: std::result::Result<bool, sqlx::Error> = async {
                        let mut tx = self.pool.begin().await?;
                        let done = Self::query(&sql).execute(&mut *tx).await?;
                        if done.rows_affected() != 1 {
                            return Ok(false);
                        }
                        Self::query(&up).execute(&mut *tx).await?;
                        tx.commit().await?;
                        Ok(true)
                    }
                    .await;
                    match attempt {
                        // PostgreSQL chose this transaction as a deadlock's (or a
                        // serialization conflict's) victim and rolled it back whole: nothing
                        // of it was written, so it runs again rather than losing the write
                        // (a job's final state, say).
                        Err(e) if retryable(&e) && tries < 3 => {
                            tries += 1;
                            tracing::warn!(table = res.key, id, tries, error = %e, "write retried after a deadlock");
                            tokio::time::sleep(std::time::Duration::from_millis(20 << tries)).await;
                        }
                        other => return other.map_err(map_err),
                    }
                }
            }

            async fn delete(&self, res: &'static Resource, id: i64) -> Result<()> {
                let _writing = self.writing().await;
                let mut sql = Sql::new($dialect);
                sql.push(&format!("DELETE FROM {} WHERE \"id\" = ", sql::quote(res.key)));
                sql.bind(Param::Int(id));
                let done = Self::query(&sql).execute(&self.pool).await.map_err(map_err)?;
                if done.rows_affected() == 0 {
                    return Err(DbError::NotFound);
                }
                Ok(())
            }

            async fn delete_where(&self, res: &'static Resource, filter: &Filter) -> Result<u64> {
                let _writing = self.writing().await;
                let sql = sql::delete_where($dialect, res, filter);
                let done = Self::query(&sql).execute(&self.pool).await.map_err(map_err)?;
                Ok(done.rows_affected())
            }

            async fn link(&self, rel: &'static Relation, left: i64, right: i64) -> Result<()> {
                let _writing = self.writing().await;
                let mut sql = Sql::new($dialect);
                sql.push(&format!(
                    "INSERT INTO {} ({}, {}) VALUES (",
                    sql::quote(rel.table),
                    sql::quote(rel.left.1),
                    sql::quote(rel.right.1)
                ));
                sql.bind(Param::Int(left)).push(", ");
                sql.bind(Param::Int(right)).push(") ON CONFLICT DO NOTHING");
                Self::query(&sql).execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }

            async fn unlink(&self, rel: &'static Relation, left: i64, right: i64) -> Result<()> {
                let _writing = self.writing().await;
                let mut sql = Sql::new($dialect);
                sql.push(&format!("DELETE FROM {} WHERE {} = ", sql::quote(rel.table), sql::quote(rel.left.1)));
                sql.bind(Param::Int(left));
                sql.push(&format!(" AND {} = ", sql::quote(rel.right.1)));
                sql.bind(Param::Int(right));
                Self::query(&sql).execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }

            async fn linked(&self, rel: &'static Relation, from_left: bool, id: i64) -> Result<Vec<i64>> {
                let (mine, other) = if from_left { (rel.left.1, rel.right.1) } else { (rel.right.1, rel.left.1) };
                let mut sql = Sql::new($dialect);
                sql.push(&format!(
                    "SELECT {} FROM {} WHERE {} = ",
                    sql::quote(other),
                    sql::quote(rel.table),
                    sql::quote(mine)
                ));
                sql.bind(Param::Int(id));
                sql.push(&format!(" ORDER BY {}", sql::quote(other)));
                let rows = Self::query(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
                rows.iter().map(|r| r.try_get::<i64, _>(0).map_err(map_err)).collect()
            }

            async fn pairs(&self, rel: &'static Relation, left: &Filter) -> Result<Vec<(i64, i64)>> {
                let left_res = rawx_model::resources::by_key(rel.left.0)
                    .ok_or_else(|| DbError::Other(format!("{} is no resource", rel.left.0)))?;
                let mut sql = Sql::new($dialect);
                sql.push(&format!(
                    "SELECT {}, {} FROM {} WHERE {} IN (SELECT \"id\" FROM {} WHERE ",
                    sql::quote(rel.left.1),
                    sql::quote(rel.right.1),
                    sql::quote(rel.table),
                    sql::quote(rel.left.1),
                    sql::quote(left_res.key),
                ));
                sql::render_filter(&mut sql, left_res.key, left);
                sql.push(")");
                let rows = Self::query(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<i64, _>(0).map_err(map_err)?, r.try_get::<i64, _>(1).map_err(map_err)?)))
                    .collect()
            }

            async fn apply(&self, steps: &[crate::Write]) -> Result<Vec<Vec<i64>>> {
                use crate::{Key, Write};
                // Rows per statement for id lists and link pairs (far below both databases'
                // parameter limits).
                const CHUNK: usize = 5000;
                let _writing = self.writing().await;
                let now = Value::String(rawx_model::now_string());
                let mut made: Vec<Vec<i64>> = Vec::with_capacity(steps.len());
                let mut tx = self.pool.begin().await.map_err(map_err)?;
                for step in steps {
                    let mut ids = Vec::new();
                    match step {
                        Write::Insert(res, rows) => {
                            if rawx_model::resources::parent_of(res).is_some() {
                                return Err(DbError::Other(format!("apply: {} has a parent table", res.key)));
                            }
                            for sql in sql::insert_rows($dialect, res, rows, &now) {
                                let mut got: Vec<i64> = Self::query(&sql)
                                    .fetch_all(&mut *tx)
                                    .await
                                    .map_err(map_err)?
                                    .iter()
                                    .map(|r| r.try_get::<i64, _>(0))
                                    .collect::<std::result::Result<_, _>>()
                                    .map_err(map_err)?;
                                // Ids are drawn in VALUES order, whatever order RETURNING uses.
                                got.sort_unstable();
                                ids.extend(got);
                            }
                        }
                        Write::Update(res, id, row) => {
                            let sql = sql::update($dialect, res, *id, &modified_now(row));
                            Self::query(&sql).execute(&mut *tx).await.map_err(map_err)?;
                        }
                        Write::Delete(res, del) => {
                            for chunk in del.chunks(CHUNK) {
                                let mut sql = Sql::new($dialect);
                                sql.push(&format!("DELETE FROM {} WHERE \"id\" IN (", sql::quote(res.key)));
                                for (i, id) in chunk.iter().enumerate() {
                                    if i > 0 {
                                        sql.push(", ");
                                    }
                                    sql.bind(Param::Int(*id));
                                }
                                sql.push(")");
                                Self::query(&sql).execute(&mut *tx).await.map_err(map_err)?;
                            }
                        }
                        Write::Link(rel, pairs) => {
                            let resolve = |k: &Key| -> Result<i64> {
                                match k {
                                    Key::Id(i) => Ok(*i),
                                    Key::New(s, i) => made
                                        .get(*s)
                                        .and_then(|m| m.get(*i))
                                        .copied()
                                        .ok_or_else(|| DbError::Other(format!("apply: no row {i} made by step {s}"))),
                                }
                            };
                            for chunk in pairs.chunks(CHUNK) {
                                let mut sql = Sql::new($dialect);
                                sql.push(&format!(
                                    "INSERT INTO {} ({}, {}) VALUES ",
                                    sql::quote(rel.table),
                                    sql::quote(rel.left.1),
                                    sql::quote(rel.right.1)
                                ));
                                for (i, (l, r)) in chunk.iter().enumerate() {
                                    sql.push(if i == 0 { "(" } else { ", (" });
                                    sql.bind(Param::Int(resolve(l)?)).push(", ");
                                    sql.bind(Param::Int(resolve(r)?)).push(")");
                                }
                                sql.push(" ON CONFLICT DO NOTHING");
                                Self::query(&sql).execute(&mut *tx).await.map_err(map_err)?;
                            }
                        }
                        Write::Unlink(rel, pairs) => {
                            // Grouped by left row: `left = ? AND right IN (…)`.
                            let mut by_left: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
                            for (l, r) in pairs {
                                by_left.entry(*l).or_default().push(*r);
                            }
                            for (l, rights) in by_left {
                                for chunk in rights.chunks(CHUNK) {
                                    let mut sql = Sql::new($dialect);
                                    sql.push(&format!("DELETE FROM {} WHERE {} = ", sql::quote(rel.table), sql::quote(rel.left.1)));
                                    sql.bind(Param::Int(l));
                                    sql.push(&format!(" AND {} IN (", sql::quote(rel.right.1)));
                                    for (i, r) in chunk.iter().enumerate() {
                                        if i > 0 {
                                            sql.push(", ");
                                        }
                                        sql.bind(Param::Int(*r));
                                    }
                                    sql.push(")");
                                    Self::query(&sql).execute(&mut *tx).await.map_err(map_err)?;
                                }
                            }
                        }
                    }
                    made.push(ids);
                }
                tx.commit().await.map_err(map_err)?;
                Ok(made)
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }
        }
    };
}

store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    Dialect::Sqlite,
    "sqlite",
    "SELECT name FROM pragma_table_info(?)",
    None::<&str>
);
store_impl!(
    PostgresStore,
    sqlx::Postgres,
    Dialect::Postgres,
    "postgresql",
    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
    Some("SELECT pg_advisory_xact_lock(727377)")
);
