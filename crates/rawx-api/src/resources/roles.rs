//! Roles (`/api/v2/roles/`) and the grant endpoints around them, as AWX 24.6.1's
//! `awx/api/views/__init__.py` (`RoleList`, `RoleUsersList`, `RoleTeamsList`,
//! `TeamRolesList`, `*ObjectRolesList`, `*AccessList`) and `RoleSerializer`. A user is
//! granted a role by `POST /roles/N/users/ {"id": user}` or `/users/N/roles/ {"id": role}`
//! (the generic linked sub-lists over `role_users`); a team by `/roles/N/teams/` or
//! `/teams/N/roles/`, which makes the team's member role a parent of the role. Who may grant
//! is `RoleAccess.can_attach`: the admin of the role's object (`can_attach` below).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{fetch_visible, json_body, page_response};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{write, AppState, Identity};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use rawx_domain::roles;
use rawx_model::filter::{Cond, Filter};
use rawx_model::rbac::{self, Actor};
use rawx_model::resources::{by_key, ROLES, TEAMS, USERS};
use rawx_model::schema::{int, text, ColumnType, Relation, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

pub struct Roles;

/// The resources with roles, for the per-object routes (`object_roles/`, `access_list/`).
const WITH_ROLES: &[(&str, &str, &str)] = &[
    (
        "organizations",
        "/api/v2/organizations/{id}/object_roles/",
        "/api/v2/organizations/{id}/access_list/",
    ),
    (
        "teams",
        "/api/v2/teams/{id}/object_roles/",
        "/api/v2/teams/{id}/access_list/",
    ),
    (
        "projects",
        "/api/v2/projects/{id}/object_roles/",
        "/api/v2/projects/{id}/access_list/",
    ),
    (
        "inventories",
        "/api/v2/inventories/{id}/object_roles/",
        "/api/v2/inventories/{id}/access_list/",
    ),
    (
        "credentials",
        "/api/v2/credentials/{id}/object_roles/",
        "/api/v2/credentials/{id}/access_list/",
    ),
    (
        "job_templates",
        "/api/v2/job_templates/{id}/object_roles/",
        "/api/v2/job_templates/{id}/access_list/",
    ),
    (
        "workflow_job_templates",
        "/api/v2/workflow_job_templates/{id}/object_roles/",
        "/api/v2/workflow_job_templates/{id}/access_list/",
    ),
    (
        "instance_groups",
        "/api/v2/instance_groups/{id}/object_roles/",
        "/api/v2/instance_groups/{id}/access_list/",
    ),
];

fn text_eq(col: &'static str, v: &str) -> Filter {
    Filter::eq(col, ColumnType::Text, json!(v))
}

/// The object a role belongs to: its resource and id (`None` for the system singletons).
fn content_of(role: &Row) -> Option<(&'static Resource, i64)> {
    Some((by_key(text(role, "content_type"))?, int(role, "object_id")?))
}

/// `RoleAccess.can_attach`: the admin of the role's object may grant it; an organization's
/// member and admin roles also need the right to administer the user (so an organization
/// admin cannot take over a user of another organization); the system roles are granted
/// through the user's flags, never here.
pub(crate) async fn may_grant(
    r: &mut Renderer<'_>,
    role: &Row,
    user: Option<&Row>,
) -> ApiResult<bool> {
    if r.actor.read_only_token {
        return Ok(false);
    }
    if r.actor.is_superuser {
        return Ok(true);
    }
    let Some((res, id)) = content_of(role) else {
        return Ok(false);
    };
    let field = text(role, "role_field");
    if res.key == ORGS && matches!(field, "admin_role" | "member_role") {
        let Some(user) = user else {
            return Ok(false);
        };
        if !r.may_admin_user(user, true).await? {
            return Ok(false);
        }
    }
    r.holds(res.key, id, &["admin_role"]).await
}

const ORGS: &str = "organizations";

/// On `roles`: the old model's roles, not the roles of custom definitions (`rd:N`), which only
/// DAB's assignment views show.
fn old_roles() -> Filter {
    Filter::Not(Box::new(Filter::On {
        path: vec![],
        column: "role_field",
        ctype: ColumnType::Text,
        cond: Cond::Op(rawx_model::filter::Op::StartsWith, json!("rd:")),
    }))
}

#[async_trait::async_trait]
impl ResourceApi for Roles {
    fn schema(&self) -> &'static Resource {
        &ROLES
    }

    /// `RoleAccess.filtered_queryset`, approximated: the roles of every object the caller
    /// may read, and the two system roles (which AWX always shows).
    fn read_filter(&self, actor: &Actor) -> Option<Filter> {
        if actor.is_superuser || actor.is_system_auditor {
            return Some(old_roles());
        }
        let mut any = vec![Filter::On {
            path: vec![],
            column: "singleton_name",
            ctype: ColumnType::Text,
            cond: Cond::IsNull(false),
        }];
        for (key, _, _) in WITH_ROLES {
            let res = by_key(key).expect("resource with roles");
            let readable = rbac::read_filter(res, actor).unwrap_or(Filter::All(vec![]));
            any.push(text_eq("content_type", res.key).and(Filter::On {
                path: vec![],
                column: "object_id",
                ctype: ColumnType::Int,
                cond: Cond::InSelect {
                    table: res.key,
                    column: "id",
                    filter: Box::new(readable),
                },
            }));
        }
        Some(Filter::Any(any).and(old_roles()))
    }

    async fn can_change(&self, _r: &mut Renderer<'_>, _row: &Row) -> ApiResult<bool> {
        Ok(false)
    }

    async fn can_delete(&self, _r: &mut Renderer<'_>, _row: &Row) -> ApiResult<bool> {
        Ok(false)
    }

    async fn can_attach(
        &self,
        r: &mut Renderer<'_>,
        owner: &Row,
        _relation: &'static Relation,
        other: Option<&Row>,
    ) -> ApiResult<bool> {
        may_grant(r, owner, other).await
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert("teams".into(), json!(format!("/api/v2/roles/{id}/teams/")));
        if let Some((res, oid)) = content_of(row) {
            related.insert(
                res.type_name.into(),
                json!(format!("/api/v2/{}/{oid}/", res.key)),
            );
        }
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        if let Some((res, oid)) = content_of(row) {
            if let Some(obj) = r.lookup(res.key, oid).await? {
                let name = obj
                    .get(res.name_field.unwrap_or("name"))
                    .cloned()
                    .unwrap_or(Value::Null);
                summary.insert("resource_name".into(), name);
            }
            summary.insert("resource_type".into(), json!(res.type_name));
            summary.insert("resource_type_display_name".into(), json!(res.verbose));
            summary.insert("resource_id".into(), json!(oid));
        }
        Ok(())
    }

    async fn derived(
        &self,
        _r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let field = text(row, "role_field");
        let model = content_of(row).map(|(res, _)| rbac::model_name(res));
        out.insert("name".into(), json!(rbac::role_name(field)));
        out.insert(
            "description".into(),
            json!(rbac::role_description(field, model.as_deref())),
        );
        Ok(())
    }

    fn routes(&self) -> Routes {
        let mut out: Routes = vec![
            (
                "/api/v2/roles/{id}/teams/",
                get(role_teams).post(role_teams_post),
            ),
            (
                "/api/v2/teams/{id}/roles/",
                get(team_roles).post(team_roles_post),
            ),
        ];
        for (_, object_roles, access_list) in WITH_ROLES {
            out.push((object_roles, get(object_roles_list)));
            out.push((access_list, get(access_list_get)));
        }
        out
    }
}

/// The resource and id of `/api/v2/<res>/<id>/…`.
async fn parent_of(
    state: &AppState,
    actor: &Actor,
    uri: &OriginalUri,
    raw: &str,
) -> ApiResult<(&'static Resource, Row)> {
    let key = uri.path().split('/').nth(3).unwrap_or_default();
    let res = by_key(key).ok_or(ApiError::NotFound)?;
    let row = fetch_visible(state, actor, res, raw).await?;
    Ok((res, row))
}

fn id_in(ids: Vec<i64>) -> Filter {
    Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::In(ids.into_iter().map(Value::from).collect()),
    }
}

/// `/X/N/object_roles/`: the object's roles.
async fn object_roles_list(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let (res, row) = parent_of(&state, &ident.actor, &uri, &raw).await?;
    let f = text_eq("content_type", res.key)
        .and(Filter::eq("object_id", ColumnType::Int, row["id"].clone()))
        .and(old_roles());
    page_response(&state, &ident.actor, &ROLES, f, &uri, &q).await
}

/// `/X/N/access_list/`: the users holding any role of the object (directly, through a team
/// or an ancestor such as the organization's admin role), the superusers and the system
/// auditors, as AWX 24 lists them (`ResourceAccessList` with DAB RBAC on); each with how
/// (`summary_fields.direct_access` / `indirect_access`, [`access_of`]).
async fn access_list_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let (res, row) = parent_of(&state, &ident.actor, &uri, &raw).await?;
    let oid = int(&row, "id").unwrap_or_default();
    let store = &*state.store;
    let own = roles::object_roles(store, res.key, oid).await?;
    let own_ids: Vec<i64> = own.values().copied().collect();
    // Every role whose holders hold one of the object's roles (AWX's `RoleEvaluation` rows
    // on the object): the roles that give some permission on it.
    let ancestors = store
        .project(
            &rawx_model::resources::ROLE_ANCESTORS,
            &Filter::On {
                path: vec![],
                column: "descendent",
                ctype: ColumnType::Int,
                cond: Cond::In(own_ids.iter().map(|i| json!(i)).collect()),
            },
            &["descendent", "ancestor"],
            &[("ancestor", false)],
        )
        .await?;
    let permissive: std::collections::BTreeSet<i64> = ancestors
        .iter()
        .filter_map(|r| int(r, "ancestor"))
        .collect();
    let holders = Filter::Any(vec![
        Filter::eq("is_superuser", ColumnType::Bool, json!(true)),
        Filter::eq("is_system_auditor", ColumnType::Bool, json!(true)),
        Filter::On {
            path: vec![],
            column: "id",
            ctype: ColumnType::Int,
            cond: Cond::InSelect {
                table: "role_users",
                column: "user_id",
                filter: Box::new(Filter::On {
                    path: vec![],
                    column: "role_id",
                    ctype: ColumnType::Int,
                    cond: Cond::In(permissive.iter().map(|i| json!(i)).collect()),
                }),
            },
        },
    ]);
    let Json(mut page) = page_response(&state, &ident.actor, &USERS, holders, &uri, &q).await?;
    let mut r = Renderer::new(&state, &ident.actor);
    let on = Listed { res, id: oid };
    if let Some(results) = page["results"].as_array_mut() {
        for user in results {
            let (direct, indirect) = access_of(&mut r, on, &permissive, user).await?;
            if let Some(s) = user["summary_fields"].as_object_mut() {
                s.remove("user_capabilities");
                s.insert("direct_access".into(), Value::Array(direct));
                s.insert("indirect_access".into(), Value::Array(indirect));
            }
        }
    }
    Ok(Json(page))
}

/// The object whose access list is rendered.
#[derive(Clone, Copy)]
struct Listed {
    res: &'static Resource,
    id: i64,
}

/// How `user` holds rights on the object, as AWX's `ResourceAccessListElementSerializer`
/// tells it: each role granted to the user that gives a permission on the object is `direct`
/// when it is a role of the object itself, `indirect` when it is a role of another object
/// (an organization's admin role); a team the user is a member (or admin) of contributes,
/// to `direct`, each role granted to the team that gives a permission on the object, with
/// the team's name. `descendant_roles` names, as old roles of the object's kind, the
/// permissions the role gives on it ([`dab::access_list_roles`]); a superuser gets AWX's
/// "System Administrator" entry with every role of the object's kind, a system auditor the
/// "System Auditor" one with `read_role`.
async fn access_of(
    r: &mut Renderer<'_>,
    on: Listed,
    permissive: &std::collections::BTreeSet<i64>,
    user: &Value,
) -> ApiResult<(Vec<Value>, Vec<Value>)> {
    let store = &*r.state.store;
    let uid = user["id"].as_i64().unwrap_or_default();
    let urow = r.lookup("users", uid).await?;
    let mut direct = Vec::new();
    let mut indirect = Vec::new();
    let mut teams = Vec::new();
    for rid in store
        .linked(&rawx_model::resources::ROLE_USERS, false, uid)
        .await?
    {
        if !permissive.contains(&rid) {
            continue;
        }
        let role = store.get(&ROLES, rid).await?;
        let field = text(&role, "role_field");
        // A custom definition's own role has no old name: AWX's serializer only knows the
        // old roles (its "… Compat" and managed twins).
        if !roles::is_old_field(field) {
            continue;
        }
        match content_of(&role) {
            Some((res, id)) if res.key == on.res.key && id == on.id => {
                direct.push(role_entry(r, on, &role, urow.as_deref()).await?);
            }
            Some((res, id)) if res.key == "teams" => {
                if !teams.contains(&id) {
                    teams.push(id);
                }
            }
            _ => indirect.push(role_entry(r, on, &role, urow.as_deref()).await?),
        }
    }
    for team in teams {
        direct.extend(team_entries(r, on, permissive, team).await?);
    }
    let is = |k: &str| user[k].as_bool().unwrap_or(false);
    if is("is_superuser") {
        let all: Vec<&str> = rbac::role_defs(on.res.key)
            .iter()
            .map(|d| d.field)
            .collect();
        indirect.push(json!({
            "role": {"id": null, "name": "System Administrator",
                "description": "Can manage all aspects of the system",
                "user_capabilities": {"unattach": false}},
            "descendant_roles": all,
        }));
    } else if is("is_system_auditor") {
        indirect.push(json!({
            "role": {"id": null, "name": "System Auditor",
                "description": "Can view all aspects of the system",
                "user_capabilities": {"unattach": false}},
            "descendant_roles": ["read_role"],
        }));
    }
    Ok((direct, indirect))
}

/// The permissions a role gives (an old role's, `get_role_codenames`).
fn role_permissions(role: &Row) -> std::collections::BTreeSet<String> {
    match content_of(role) {
        Some((res, _)) => rawx_model::dab::old_role_permissions(
            res.key,
            rbac::role_defs(res.key)
                .iter()
                .map(|d| d.field)
                .find(|f| *f == text(role, "role_field"))
                .unwrap_or_default(),
        ),
        None => Default::default(),
    }
}

/// `role` with its object, as AWX's `format_role_perm`/`format_team_role_perm` show it.
async fn role_fields(r: &mut Renderer<'_>, role: &Row) -> ApiResult<Map<String, Value>> {
    let field = text(role, "role_field");
    let mut out = Map::new();
    out.insert("id".into(), role["id"].clone());
    out.insert("name".into(), json!(rbac::role_name(field)));
    if let Some((res, id)) = content_of(role) {
        out.insert(
            "description".into(),
            json!(rbac::role_description(field, Some(&rbac::model_name(res)))),
        );
        let name = r
            .lookup(res.key, id)
            .await?
            .and_then(|o| o.get(res.name_field.unwrap_or("name")).cloned())
            .unwrap_or(Value::Null);
        out.insert("resource_name".into(), name);
        out.insert("resource_type".into(), json!(res.type_name));
        out.insert(
            "related".into(),
            json!({res.type_name: format!("/api/v2/{}/{id}/", res.key)}),
        );
    }
    Ok(out)
}

/// `format_role_perm`: a role the user holds.
async fn role_entry(
    r: &mut Renderer<'_>,
    on: Listed,
    role: &Row,
    user: Option<&Row>,
) -> ApiResult<Value> {
    let mut fields = role_fields(r, role).await?;
    fields.insert(
        "user_capabilities".into(),
        json!({"unattach": may_grant(r, role, user).await?}),
    );
    let below = rawx_model::dab::access_list_roles(on.res.key, &role_permissions(role));
    Ok(json!({"role": fields, "descendant_roles": below}))
}

/// `format_team_role_perm`: each role granted to `team` that gives a permission on the
/// object, with the team; `descendant_roles` are those of all the team's grants on it.
async fn team_entries(
    r: &mut Renderer<'_>,
    on: Listed,
    permissive: &std::collections::BTreeSet<i64>,
    team: i64,
) -> ApiResult<Vec<Value>> {
    let store = &*r.state.store;
    let mut granted = Vec::new();
    for rid in roles::team_grants(store, team).await? {
        if permissive.contains(&rid) {
            granted.push(store.get(&ROLES, rid).await?);
        }
    }
    let mut perms = std::collections::BTreeSet::new();
    for role in &granted {
        perms.extend(role_permissions(role));
    }
    let below = rawx_model::dab::access_list_roles(on.res.key, &perms);
    let t = r.lookup("teams", team).await?;
    let team_name = t.as_ref().and_then(|t| t.get("name").cloned());
    let org_name = match t.as_ref().and_then(|t| int(t, "organization")) {
        Some(org) => r
            .lookup("organizations", org)
            .await?
            .and_then(|o| o.get("name").cloned()),
        None => None,
    };
    let mut out = Vec::new();
    for role in granted {
        let mut fields = role_fields(r, &role).await?;
        fields.insert("team_id".into(), json!(team));
        fields.insert("team_name".into(), team_name.clone().unwrap_or(Value::Null));
        fields.insert(
            "team_organization_name".into(),
            org_name.clone().unwrap_or(Value::Null),
        );
        fields.insert(
            "user_capabilities".into(),
            json!({"unattach": may_grant(r, &role, None).await?}),
        );
        out.push(json!({"role": fields, "descendant_roles": below}));
    }
    Ok(out)
}

/// `/roles/N/teams/`: the teams the role is granted to.
async fn role_teams(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let role = fetch_visible(&state, &ident.actor, &ROLES, &raw).await?;
    let teams = roles::teams_granted(&*state.store, int(&role, "id").unwrap_or_default()).await?;
    page_response(&state, &ident.actor, &TEAMS, id_in(teams), &uri, &q).await
}

/// `/teams/N/roles/`: the roles granted to the team.
async fn team_roles(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let team = fetch_visible(&state, &ident.actor, &TEAMS, &raw).await?;
    let granted = roles::team_grants(&*state.store, int(&team, "id").unwrap_or_default()).await?;
    page_response(&state, &ident.actor, &ROLES, id_in(granted), &uri, &q).await
}

async fn role_teams_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body = json_body(&headers, &body)?;
    let role = fetch_visible(&state, &ident.actor, &ROLES, &raw).await?;
    let team_id = body_id(&body)?;
    let team = fetch_visible(&state, &ident.actor, &TEAMS, &team_id.to_string())
        .await
        .map_err(|_| ApiError::Msg(format!("Team with id {team_id} does not exist.")))?;
    grant_to_team(&state, &ident, &role, &team, &body).await
}

async fn team_roles_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body = json_body(&headers, &body)?;
    let team = fetch_visible(&state, &ident.actor, &TEAMS, &raw).await?;
    let role_id = body_id(&body)?;
    // AWX's `get_object_or_400`.
    let role = match state.store.get(&ROLES, role_id).await {
        Ok(r) => r,
        Err(rawx_store::DbError::NotFound) => {
            return Err(ApiError::Msg(format!(
                "Role with id {role_id} does not exist."
            )))
        }
        Err(e) => return Err(e.into()),
    };
    grant_to_team(&state, &ident, &role, &team, &body).await
}

fn body_id(body: &Value) -> ApiResult<i64> {
    body.get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::Msg("\"id\" is required to disassociate".into()))
}

/// `TeamRolesList.post`'s rules, then `TeamAccess.can_attach` (the admin of the role's
/// object, who must also see the team).
async fn grant_to_team(
    state: &AppState,
    ident: &Identity,
    role: &Row,
    team: &Row,
    body: &Value,
) -> ApiResult<Response> {
    let bad = |m: &str| Err(ApiError::Status(StatusCode::BAD_REQUEST, json!({"msg": m})));
    let content = content_of(role);
    let field = text(role, "role_field");
    if content.is_some_and(|(res, _)| res.key == ORGS)
        && matches!(field, "member_role" | "admin_role")
    {
        return bad(
            "You cannot assign an Organization participation role as a child role for a Team.",
        );
    }
    let Some((res, oid)) = content else {
        return bad("You cannot grant system-level permissions to a team.");
    };
    if res.key == "credentials" {
        let cred = state.store.get(res, oid).await?;
        if int(&cred, "organization").is_none()
            || int(&cred, "organization") != int(team, "organization")
        {
            return bad("You cannot grant credential access to a team when the Organization field isn't set, or belongs to a different organization");
        }
    }
    let disassociate = body
        .get("disassociate")
        .is_some_and(|v| v.as_bool() != Some(false));
    let mut r = Renderer::new(state, &ident.actor);
    if !may_grant(&mut r, role, None).await? {
        return Err(ApiError::forbidden());
    }
    let (rid, tid) = (
        int(role, "id").unwrap_or_default(),
        int(team, "id").unwrap_or_default(),
    );
    if res.key == "teams" && oid == tid {
        return bad("A team cannot be granted its own role.");
    }
    write::grant_team(state, ident, rid, tid, !disassociate).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
