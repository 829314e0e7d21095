//! The one write path: every create, update, delete, associate and disassociate the API makes
//! to a resource passes here, after its permission check and its resource's rules, as a
//! `Change`. `record` is the one place that sees them all: today a log line (creates and
//! deletes at INFO, as before; the rest at DEBUG); AWX's activity stream hooks in here.
//!
//! Not through here: sessions and the caller's own login bookkeeping (`auth.rs`, `root.rs`),
//! the seed, and what the domain writes for a launch or a cancel (`rawx_domain::launch`).

use crate::{AppState, Identity};
use rawx_model::schema::{Relation, Resource};
use rawx_model::Row;
use rawx_store::DbError;

/// One change to the API's objects.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    Create {
        res: &'a Resource,
        id: i64,
    },
    Update {
        res: &'a Resource,
        id: i64,
        row: &'a Row,
    },
    Delete {
        res: &'a Resource,
        id: i64,
    },
    Associate {
        relation: &'a Relation,
        left: i64,
        right: i64,
    },
    Disassociate {
        relation: &'a Relation,
        left: i64,
        right: i64,
    },
}

/// Stores a new object; its id.
pub async fn create(
    state: &AppState,
    ident: &Identity,
    res: &'static Resource,
    row: &Row,
) -> Result<i64, DbError> {
    let id = state.store.insert(res, row).await?;
    record(ident, Change::Create { res, id });
    Ok(id)
}

/// Changes the fields `row` names.
pub async fn update(
    state: &AppState,
    ident: &Identity,
    res: &'static Resource,
    id: i64,
    row: &Row,
) -> Result<(), DbError> {
    state.store.update(res, id, row).await?;
    record(ident, Change::Update { res, id, row });
    Ok(())
}

pub async fn delete(
    state: &AppState,
    ident: &Identity,
    res: &'static Resource,
    id: i64,
) -> Result<(), DbError> {
    state.store.delete(res, id).await?;
    record(ident, Change::Delete { res, id });
    Ok(())
}

/// Links `right` to `left` (`associate`), or removes the link (`disassociate`).
pub async fn link(
    state: &AppState,
    ident: &Identity,
    relation: &'static Relation,
    left: i64,
    right: i64,
    associate: bool,
) -> Result<(), DbError> {
    if associate {
        state.store.link(relation, left, right).await?;
        record(
            ident,
            Change::Associate {
                relation,
                left,
                right,
            },
        );
    } else {
        state.store.unlink(relation, left, right).await?;
        record(
            ident,
            Change::Disassociate {
                relation,
                left,
                right,
            },
        );
    }
    Ok(())
}

/// Every stored change, once.
fn record(ident: &Identity, change: Change<'_>) {
    let user = ident.username();
    match change {
        Change::Create { res, id } => tracing::info!(resource = res.key, id, user, "created"),
        Change::Delete { res, id } => tracing::info!(resource = res.key, id, user, "deleted"),
        Change::Update { res, id, row } => {
            let fields: Vec<&str> = row.keys().map(String::as_str).collect();
            tracing::debug!(resource = res.key, id, user, ?fields, "updated")
        }
        Change::Associate {
            relation,
            left,
            right,
        } => tracing::debug!(relation = relation.table, left, right, user, "associated"),
        Change::Disassociate {
            relation,
            left,
            right,
        } => tracing::debug!(
            relation = relation.table,
            left,
            right,
            user,
            "disassociated"
        ),
    }
}
