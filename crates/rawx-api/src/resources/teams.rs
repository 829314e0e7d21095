//! Teams: organization-scoped groups of users (their `users/` are the member role's grants).
//! Roles granted to a team are listed and granted at `/teams/N/roles/` (`roles.rs`), which
//! awxkit's `awx teams grant|revoke` finds through the team's `related.roles`.

use crate::resource::ResourceApi;
use rawx_model::resources::TEAMS;
use rawx_model::schema::{int, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};

pub struct Teams;

#[async_trait::async_trait]
impl ResourceApi for Teams {
    fn schema(&self) -> &'static Resource {
        &TEAMS
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert("roles".into(), json!(format!("/api/v2/teams/{id}/roles/")));
    }
}
