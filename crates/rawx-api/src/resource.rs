//! What differs by resource, behind one trait: the questions AWX's `access.py` asks (may the
//! caller read, add, change, delete, attach; which rows a list shows), the checks before a
//! create, update or delete, what a row's JSON adds (AWX's serializer: `related`,
//! `summary_fields`, derived fields), and the routes a resource has beyond the generic ones.
//!
//! Every resource of the schema has one `ResourceApi` (`resources::registry()`): a module of
//! `resources/` for those with rules of their own, `Plain` for the rest. The generic handlers
//! and the renderer ask it and never branch on a resource's key. Adding a resource = its schema
//! in `rawx-model`, a module here implementing what differs, one line in the registry.
//!
//! Every default is the generic rule, so a module states only what differs.

use crate::error::{ApiError, ApiResult};
use crate::view::{Renderer, Summary};
use crate::{AppState, Identity};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::MethodRouter;
use rawx_model::filter::Filter;
use rawx_model::rbac::{self, Actor};
use rawx_model::schema::{Relation, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Routes a resource adds: `(path, methods)`, served and permission-walked like the rest.
pub type Routes = Vec<(&'static str, MethodRouter<Arc<AppState>>)>;

#[async_trait::async_trait]
pub trait ResourceApi: Send + Sync + 'static {
    /// The schema this serves.
    fn schema(&self) -> &'static Resource;

    // ---- access (AWX's `access.py`) ----

    /// The list filter (`filtered_queryset`): what of this resource `actor` may read; `None`
    /// for everything.
    fn read_filter(&self, actor: &Actor) -> Option<Filter> {
        rbac::read_filter(self.schema(), actor)
    }

    /// May `actor` read this resource's members listed under `parent` (a sub-list by foreign
    /// key)? Beyond seeing the parent.
    fn may_list_under(&self, _actor: &Actor, _parent: &Row) -> bool {
        true
    }

    /// `can_add`: may the caller create `row` (validated and prepared)?
    async fn can_add(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        r.may_add(self.schema(), row).await
    }

    /// `can_change`: may the caller change `row` (the stored object, or it as the change
    /// would leave it)?
    async fn can_change(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        r.may_write(self.schema(), row).await
    }

    /// `can_delete`.
    async fn can_delete(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        r.may_write(self.schema(), row).await
    }

    /// `can_cancel` of a job of this kind, beyond its launcher (who always may): by default
    /// whoever may change it.
    async fn can_cancel(&self, r: &mut Renderer<'_>, job: &Row) -> ApiResult<bool> {
        r.may_write(self.schema(), job).await
    }

    /// `can_attach` / `can_unattach`: may the caller change the members of `relation` of
    /// `owner` (this resource is the relation's owning, left side), here by `other` (`None`
    /// when it is made by the same request)?
    async fn can_attach(
        &self,
        r: &mut Renderer<'_>,
        owner: &Row,
        _relation: &'static Relation,
        _other: Option<&Row>,
    ) -> ApiResult<bool> {
        r.may_write(self.schema(), owner).await
    }

    // ---- checks before writes ----

    /// Drops what a client may send that is not a field (before validation).
    fn clean_body(&self, _body: &mut Value) {}

    /// A create this resource makes its own way (a token's secret shown once): `Some`
    /// answer, or `None` for the generic create. `parent` is the object of a sub-list POST.
    async fn create(
        &self,
        _state: &AppState,
        _ident: &Identity,
        _parent: Option<&Row>,
        _body: &Value,
    ) -> ApiResult<Option<Response>> {
        Ok(None)
    }

    /// Rules after schema validation, before the permission check and the write, on create
    /// (`existing` is `None`) and update. May fill fields the server decides.
    async fn prepare(
        &self,
        _state: &AppState,
        _ident: &Identity,
        _row: &mut Row,
        _existing: Option<&Row>,
    ) -> ApiResult<()> {
        Ok(())
    }

    /// After a create is stored (an ad hoc command starts).
    fn created(&self, _state: &AppState, _id: i64) {}

    /// After a create or an update is stored, before it is answered: what AWX's model `save`
    /// does next (a project from source control starts its update). `existing` is the row
    /// before an update, `None` after a create.
    async fn saved(
        &self,
        _state: &AppState,
        _ident: &Identity,
        _id: i64,
        _existing: Option<&Row>,
    ) -> ApiResult<()> {
        Ok(())
    }

    /// Rules before a delete, after the permission check.
    async fn before_delete(
        &self,
        _state: &AppState,
        _ident: &Identity,
        _row: &Row,
    ) -> ApiResult<()> {
        Ok(())
    }

    /// After a delete is stored (`row` as it was): what AWX's model `delete` does next (a
    /// project from source control has its checkout removed).
    fn deleted(&self, _state: &AppState, _row: &Row) {}

    /// The jobs' column naming this resource, for AWX's 409 when active jobs use it.
    fn used_by_jobs_as(&self) -> Option<&'static str> {
        None
    }

    /// The answer to a delete the database refused because something still uses the object.
    fn in_use(&self) -> ApiError {
        ApiError::Status(
            StatusCode::CONFLICT,
            json!({"error": format!("{} is in use by other objects and cannot be deleted.", self.schema().verbose)}),
        )
    }

    /// Rules of a link of `relation` (this resource owns it: the left side) beyond both
    /// objects being visible and the owner writable.
    async fn check_link(
        &self,
        _state: &AppState,
        _relation: &'static Relation,
        _left: i64,
        _right: i64,
    ) -> ApiResult<()> {
        Ok(())
    }

    // ---- the object's JSON (AWX's serializer) ----

    /// This resource's entry in other objects' `summary_fields`.
    fn summary(&self) -> Summary {
        Summary::NAME
    }

    /// Links beyond its foreign keys and sub-lists.
    fn related(&self, _row: &Row, _related: &mut Map<String, Value>) {}

    /// `summary_fields` beyond its foreign keys.
    async fn summary_fields(
        &self,
        _r: &mut Renderer<'_>,
        _row: &Row,
        _summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        Ok(())
    }

    /// `summary_fields.user_capabilities` beyond `edit` and `delete` (AWX's serializer's
    /// `show_capabilities`: a template's `start`, …), each as AWX's `get_user_capabilities`.
    async fn user_capabilities(
        &self,
        _r: &mut Renderer<'_>,
        _row: &Row,
        _caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        Ok(())
    }

    /// A stored field never shown as stored (a token's string).
    fn masked(&self, _field: &str) -> bool {
        false
    }

    /// Fields AWX derives rather than stores, written over the stored ones.
    async fn derived(
        &self,
        _r: &mut Renderer<'_>,
        _row: &Row,
        _out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        Ok(())
    }

    /// Its key in `/api/v2/`.
    fn root_key(&self) -> &'static str {
        self.schema().key
    }

    // ---- routes ----

    /// Routes beyond the generic list, detail and sub-list ones.
    fn routes(&self) -> Routes {
        Vec::new()
    }
}

/// A resource with no rules of its own.
pub struct Plain(pub &'static Resource);

impl ResourceApi for Plain {
    fn schema(&self) -> &'static Resource {
        self.0
    }
}

/// Every resource's `ResourceApi`, by key.
pub struct Registry(std::collections::HashMap<&'static str, &'static dyn ResourceApi>);

impl Registry {
    /// `modules`, and `Plain` for every other resource of the schema (the parent tables
    /// among them: `/unified_jobs/` lists one with its default rules).
    pub fn new(modules: &[&'static dyn ResourceApi]) -> Registry {
        let mut map: std::collections::HashMap<&'static str, &'static dyn ResourceApi> =
            modules.iter().map(|m| (m.schema().key, *m)).collect();
        let parents = rawx_model::resources::PARENT_TABLES;
        for res in rawx_model::resources::ALL.iter().chain(parents) {
            map.entry(res.key)
                .or_insert_with(|| Box::leak(Box::new(Plain(res))));
        }
        Registry(map)
    }

    /// The resource's `ResourceApi` (every schema resource has one).
    pub fn get(&self, key: &str) -> &'static dyn ResourceApi {
        self.0
            .get(key)
            .copied()
            .unwrap_or_else(|| panic!("{key} is not a resource of the schema"))
    }

    pub fn all(&self) -> impl Iterator<Item = &'static dyn ResourceApi> + '_ {
        self.0.values().copied()
    }
}
