//! Named URLs (`Lab++Default`, `admin`, `key++Machine+ssh++Ops`) resolved to ids, from the
//! schema's `name_field` and `named_url_parents`; `view.rs` writes them the other way.

use crate::error::ApiResult;
use crate::AppState;
use rawx_model::filter::{Cond, Filter};
use rawx_model::resources::by_key;
use rawx_model::schema::{int, ColumnType, Kind, Resource};
use serde_json::json;

/// A named URL (`Lab++Default`, `admin`, `key++Machine+ssh++Ops`) to the object's id.
pub async fn resolve_named(
    state: &AppState,
    res: &'static Resource,
    raw: &str,
) -> ApiResult<Option<i64>> {
    let Some(name_field) = res.name_field else {
        return Ok(None);
    };
    let mut parts = raw.splitn(2, "++");
    let mut name = parts.next().unwrap_or_default().to_string();
    let mut rest = parts.next();
    let mut filter = Filter::All(vec![]);
    let fk_parents: Vec<&str> = res
        .named_url_parents
        .iter()
        .copied()
        .filter(|p| matches!(res.field(p).map(|f| f.kind), Some(Kind::Fk(_))))
        .collect();
    for p in res
        .named_url_parents
        .iter()
        .filter(|p| !fk_parents.contains(p))
    {
        // A plain column joins the name with one `+`.
        let Some((n, v)) = name.rsplit_once('+') else {
            return Ok(None);
        };
        filter = filter.and(Filter::eq(
            p,
            ColumnType::Text,
            json!(v.replace("[+]", "+")),
        ));
        name = n.to_string();
    }
    for (i, p) in fk_parents.iter().enumerate() {
        let Some(Kind::Fk(target)) = res.field(p).map(|f| f.kind) else {
            continue;
        };
        let segment = if i + 1 == fk_parents.len() {
            rest.take().unwrap_or_default().to_string()
        } else {
            let mut it = rest.unwrap_or_default().splitn(2, "++");
            let seg = it.next().unwrap_or_default().to_string();
            rest = it.next();
            seg
        };
        if segment.is_empty() {
            filter = filter.and(Filter::On {
                path: vec![],
                column: p,
                ctype: ColumnType::Int,
                cond: Cond::IsNull(true),
            });
            continue;
        }
        let tres = by_key(target).expect("fk target");
        let Some(pid) = Box::pin(resolve_named(state, tres, &segment)).await? else {
            return Ok(None);
        };
        filter = filter.and(Filter::eq(p, ColumnType::Int, json!(pid)));
    }
    if rest.is_some_and(|r| !r.is_empty()) {
        return Ok(None);
    }
    filter = filter.and(Filter::eq(
        name_field,
        ColumnType::Text,
        json!(name.replace("[+]", "+")),
    ));
    Ok(state
        .store
        .find(res, &filter)
        .await?
        .and_then(|r| int(&r, "id")))
}
