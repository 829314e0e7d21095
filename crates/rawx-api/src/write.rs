//! The one write path: every create, update, delete, associate and disassociate the API makes
//! to a resource passes here, after its permission check and its resource's rules, as a
//! `Change`. `record` is the one place that sees them all: a log line (creates and deletes at
//! INFO; the rest at DEBUG) and an activity stream entry (`activity.rs`).
//!
//! Not through here: sessions and the caller's own login bookkeeping (`auth.rs`, `root.rs`),
//! the seed, and what the domain writes for a launch or a cancel (`rawx_domain::launch`).

use crate::activity::{self, Activity};
use crate::{AppState, Identity};
use rawx_domain::roles;
use rawx_model::resources::{ACTIVITY_STREAM, ROLE_USERS};
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
    if activity::enabled(state).await {
        if let Ok(after) = state.store.get(res, id).await {
            record_activity(state, ident, Activity::Create { res, after: &after }).await;
        }
    }
    roles_follow(state, res, id).await?;
    user_flags_follow(state, res, id).await?;
    // A credential made for a user (`user` on create) is that user's: AWX adds them to its
    // admin role.
    if let Some(owner) = rawx_model::schema::int(row, "user") {
        if let Some(admin) = roles::role_of(&*state.store, res.key, id, "admin_role")
            .await
            .map_err(domain_db)?
        {
            roles::set_user(&*state.store, admin, owner, true, Some(ident.actor.user_id))
                .await
                .map_err(domain_db)?;
        }
    }
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
    let before = match activity::enabled(state).await {
        true => state.store.get(res, id).await.ok(),
        false => None,
    };
    state.store.update(res, id, row).await?;
    record(ident, Change::Update { res, id, row });
    if let Some(before) = before {
        if let Ok(after) = state.store.get(res, id).await {
            let what = Activity::Update {
                res,
                before: &before,
                after: &after,
            };
            record_activity(state, ident, what).await;
        }
    }
    roles_follow(state, res, id).await?;
    roles::sync_dependents(&*state.store, res, id)
        .await
        .map_err(domain_db)?;
    user_flags_follow(state, res, id).await
}

/// A user's system roles follow the flags (`is_superuser`, `is_system_auditor`).
async fn user_flags_follow(
    state: &AppState,
    res: &'static Resource,
    id: i64,
) -> Result<(), DbError> {
    if res.key != rawx_model::resources::USERS.key {
        return Ok(());
    }
    roles::sync_user_flags(&*state.store, id)
        .await
        .map_err(domain_db)
}

pub async fn delete(
    state: &AppState,
    ident: &Identity,
    res: &'static Resource,
    id: i64,
) -> Result<(), DbError> {
    let before = match activity::enabled(state).await {
        true => state.store.get(res, id).await.ok(),
        false => None,
    };
    state.store.delete(res, id).await?;
    record(ident, Change::Delete { res, id });
    if let Some(before) = before {
        record_activity(
            state,
            ident,
            Activity::Delete {
                res,
                before: &before,
            },
        )
        .await;
    }
    roles::delete_object(&*state.store, res, id)
        .await
        .map_err(domain_db)
}

/// An object's roles follow it: made with it, their implicit parents set from its foreign
/// keys again after every change (a template moved to another organization).
async fn roles_follow(state: &AppState, res: &'static Resource, id: i64) -> Result<(), DbError> {
    if !rawx_model::rbac::has_roles(res) {
        return Ok(());
    }
    let row = state.store.get(res, id).await?;
    roles::sync_object(&*state.store, res, &row)
        .await
        .map_err(domain_db)
}

/// Grants `role` to a team or revokes it (`on`): recorded as the association of the team's
/// member role as the role's parent, as AWX records `member_role.parents`.
pub async fn grant_team(
    state: &AppState,
    ident: &Identity,
    role: i64,
    team: i64,
    on: bool,
) -> Result<(), DbError> {
    roles::grant_team_by(&*state.store, role, team, on, Some(ident.actor.user_id))
        .await
        .map_err(domain_db)?;
    let user = ident.username();
    tracing::debug!(role, team, user, granted = on, "team role");
    if activity::enabled(state).await {
        record_activity(state, ident, Activity::TeamRole { role, team, on }).await;
    }
    Ok(())
}

fn domain_db(e: rawx_domain::DomainError) -> DbError {
    match e {
        rawx_domain::DomainError::Db(e) => e,
        other => DbError::Other(other.to_string()),
    }
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
    // A user's direct grant: through the domain, which also keeps DAB's assignment (and the
    // system roles' flags) in step.
    if relation.table == ROLE_USERS.table {
        roles::set_user(
            &*state.store,
            left,
            right,
            associate,
            Some(ident.actor.user_id),
        )
        .await
        .map_err(domain_db)?;
    }
    let what = Activity::Link {
        relation,
        left,
        right,
        associate,
    };
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
    if activity::enabled(state).await {
        record_activity(state, ident, what).await;
    }
    Ok(())
}

/// The activity stream's entry of a change, stored after it (the caller read
/// `ACTIVITY_STREAM_ENABLED` once, before it read the rows the entry needs); one that cannot
/// be stored is logged and never fails the change.
async fn record_activity(state: &AppState, ident: &Identity, what: Activity<'_>) {
    let Some(entry) = activity::entry_for(state, ident, what).await else {
        return;
    };
    if let Err(e) = state.store.insert(&ACTIVITY_STREAM, &entry).await {
        tracing::warn!(error = %e, "cannot record an activity stream entry");
    }
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
