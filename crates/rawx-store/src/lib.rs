//! rawx's store: the one trait every other crate reads and writes state through, and its two
//! backends — SQLite (the embedded default) and PostgreSQL (several nodes sharing the work).
//!
//! Architecture invariant: the store knows the schema (`rawx-model`) but not HTTP, JSON shapes
//! or permissions; callers pass filters that already hold the permission rule. Both backends
//! are stamped from one implementation (`backend.rs`) over one SQL builder (`sql.rs`), so they
//! cannot drift, and one story suite (`tests/story.rs`) runs against each.

mod backend;
mod ddl;
mod sql;

use async_trait::async_trait;
use rawx_model::filter::{Filter, ListQuery};
use rawx_model::{Relation, Resource, Row};
use std::sync::Arc;

pub use backend::{PostgresStore, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    /// A unique constraint over these columns was violated.
    #[error("unique constraint over {0:?} violated")]
    Unique(Vec<String>),
    /// A row still refers to the one being deleted, or a reference points nowhere.
    #[error("foreign key constraint violated: {0}")]
    ForeignKey(String),
    #[error("database error: {0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, DbError>;

/// A row a [`Write`] names: one that exists, or one an earlier `Insert` step of the same
/// batch makes (`New(step, index)`: the `index`-th row of step `step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Id(i64),
    New(usize, usize),
}

/// One step of a [`Store::apply`] batch. Steps run in order in one transaction.
#[derive(Debug, Clone)]
pub enum Write {
    /// Inserts rows (multi-row statements; `created`/`modified` stamped when absent).
    Insert(&'static Resource, Vec<Row>),
    /// Sets the given columns of one row (`modified` stamped).
    Update(&'static Resource, i64, Row),
    /// Deletes these rows (cascades as the schema says).
    Delete(&'static Resource, Vec<i64>),
    /// Links pairs (left, right); a pair already linked stays as it is.
    Link(&'static Relation, Vec<(Key, Key)>),
    /// Unlinks pairs (left, right).
    Unlink(&'static Relation, Vec<(i64, i64)>),
}

/// A page of a list and the number of rows matching overall.
#[derive(Debug, Default)]
pub struct Page {
    pub count: u64,
    pub rows: Vec<Row>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgresql"`.
    fn backend(&self) -> &'static str;
    /// Brings the database to the current schema: creates missing tables, columns and indexes
    /// from the resource schema, then runs numbered data migrations once each.
    async fn migrate(&self) -> Result<()>;
    async fn list(&self, res: &'static Resource, q: &ListQuery) -> Result<Page>;
    async fn count(&self, res: &'static Resource, filter: &Filter) -> Result<u64>;
    /// Every row matching `filter`, in `order`, read page by page (for work that needs them
    /// all: an inventory's hosts, a job's events, the jobs holding capacity).
    async fn list_all(
        &self,
        res: &'static Resource,
        filter: &Filter,
        order: &[(&'static str, bool)],
    ) -> Result<Vec<Row>> {
        const PAGE: u64 = 5000;
        let mut out = Vec::new();
        for page in 1.. {
            let q = ListQuery {
                filter: filter.clone(),
                order: order.to_vec(),
                page,
                page_size: PAGE,
            };
            let p = self.list(res, &q).await?;
            let n = p.rows.len() as u64;
            out.extend(p.rows);
            if n < PAGE || page * PAGE >= p.count {
                break;
            }
        }
        Ok(out)
    }
    /// Every row matching `filter`, only `columns`, in `order`, in one query: for reading a
    /// few columns of many rows (a job's output from 100,000 events).
    async fn project(
        &self,
        res: &'static Resource,
        filter: &Filter,
        columns: &[&'static str],
        order: &[(&'static str, bool)],
    ) -> Result<Vec<Row>>;
    /// The first row matching `filter`, in id order.
    async fn find(&self, res: &'static Resource, filter: &Filter) -> Result<Option<Row>>;
    async fn get(&self, res: &'static Resource, id: i64) -> Result<Row>;
    /// Inserts one row (`id` assigned by the database unless given) and returns its id.
    async fn insert(&self, res: &'static Resource, row: &Row) -> Result<i64>;
    /// Inserts many rows in one transaction: all or none. Returns their ids, in `rows` order.
    async fn insert_many(&self, res: &'static Resource, rows: &[Row]) -> Result<Vec<i64>>;
    /// Sets the given columns; `NotFound` when the row is gone.
    async fn update(&self, res: &'static Resource, id: i64, row: &Row) -> Result<()>;
    /// Sets the given columns only if the row still matches `guard` (a compare-and-set: how
    /// one of several task managers claims a job). Returns whether it did.
    async fn update_if(
        &self,
        res: &'static Resource,
        id: i64,
        guard: &Filter,
        row: &Row,
    ) -> Result<bool>;
    async fn delete(&self, res: &'static Resource, id: i64) -> Result<()>;
    /// Deletes every row matching `filter` in one statement; how many went.
    async fn delete_where(&self, res: &'static Resource, filter: &Filter) -> Result<u64>;
    /// Links two rows; linking twice is not an error.
    async fn link(&self, rel: &'static Relation, left: i64, right: i64) -> Result<()>;
    async fn unlink(&self, rel: &'static Relation, left: i64, right: i64) -> Result<()>;
    /// The right-side ids linked to `left` (or left-side ids linked to `right` when
    /// `from_left` is false).
    async fn linked(&self, rel: &'static Relation, from_left: bool, id: i64) -> Result<Vec<i64>>;
    /// Every `(left, right)` pair of `rel` whose left row matches `left` (a filter on the
    /// left resource), in one query: an inventory's group memberships at once.
    async fn pairs(&self, rel: &'static Relation, left: &Filter) -> Result<Vec<(i64, i64)>>;
    /// Runs `steps` in one transaction, all or none (AWX's `transaction.atomic` around an
    /// inventory import). Returns the ids each `Insert` step made, per step (empty for others).
    async fn apply(&self, steps: &[Write]) -> Result<Vec<Vec<i64>>>;
    /// Runs `SELECT 1`: is the database there?
    async fn ping(&self) -> Result<()>;
    /// Waits for, then holds, the database-wide lock named `key` until the guard is dropped:
    /// one process at a time across every node sharing the database (a PostgreSQL advisory
    /// lock in an open transaction; a lock file beside a SQLite database). For work such as
    /// seeding, which several replicas starting together must not do twice.
    async fn exclusive(&self, key: i64) -> Result<Exclusive>;
    /// The database's current time, formatted as `rawx_model::now_string` formats times: the
    /// one clock every node sharing the database agrees on (heartbeats are judged by it).
    async fn db_now(&self) -> Result<String>;
    /// A second handle on the same database with a small pool of its own (`connections`), for
    /// work that must not queue behind this handle's (the heartbeat).
    async fn separate(&self, connections: u32) -> Result<DynStore>;
}

/// Holds a lock taken by [`Store::exclusive`]; dropping it releases the lock.
pub struct Exclusive {
    _held: Box<dyn Send>,
}

impl Exclusive {
    pub(crate) fn new(held: impl Send + 'static) -> Exclusive {
        Exclusive {
            _held: Box::new(held),
        }
    }
}

pub type DynStore = Arc<dyn Store>;

/// Opens the store a URL names: `sqlite://path` (created when missing) or `postgres://…`.
pub async fn open(url: &str) -> Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Arc::new(SqliteStore::open(path).await?))
    } else {
        Err(DbError::Other(format!(
            "unsupported database URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DB"
        )))
    }
}
