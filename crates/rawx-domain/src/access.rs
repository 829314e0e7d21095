//! The store's half of a permission check: whether an actor may see an object. The rules are
//! `rawx_model::rbac`'s; the API adds its 403/404 answers on top.

use crate::DomainResult;
use rawx_model::filter::Filter;
use rawx_model::rbac::{read_filter, Actor};
use rawx_model::schema::{ColumnType, Resource};
use rawx_model::Row;
use rawx_store::Store;
use serde_json::json;

/// `filter`, narrowed to what `actor` may read of `res`.
pub fn visible_filter(res: &'static Resource, actor: &Actor, filter: Filter) -> Filter {
    match read_filter(res, actor) {
        Some(v) => filter.and(v),
        None => filter,
    }
}

/// The object with this id, if it exists and `actor` may see it.
pub async fn visible(
    store: &dyn Store,
    actor: &Actor,
    res: &'static Resource,
    id: i64,
) -> DomainResult<Option<Row>> {
    let by_id = Filter::eq("id", ColumnType::Int, json!(id));
    Ok(store.find(res, &visible_filter(res, actor, by_id)).await?)
}
