//! `/api/v2/jobs/N/stdout/`: a job's output in AWX's formats (txt, ansi, json, html and the
//! two downloads), assembled from its stored events.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::fetch_visible;
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use rawx_model::resources::JobKind;
use rawx_model::schema::int;
use serde_json::json;
use std::sync::Arc;

const STDOUT_LIMIT: usize = 1_048_576;

/// `…/stdout/` of a job of `kind`.
pub async fn stdout(
    kind: &'static JobKind,
    State(state): State<Arc<AppState>>,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let job = fetch_visible(&state, &ident.actor, kind.resource, &raw).await?;
    let id = int(&job, "id").unwrap_or_default();
    let params: Vec<(String, String)> = q
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let format = param("format").unwrap_or_else(|| "txt".into());
    let ansi = rawx_domain::stdout::text(&*state.store, kind, id).await?;
    let too_big = ansi.len() > STDOUT_LIMIT && !format.ends_with("_download");
    if too_big {
        let msg = format!(
            "Standard Output too large to display ({} bytes), only download supported for sizes over {} bytes.",
            ansi.len(),
            STDOUT_LIMIT
        );
        return Ok(match format.as_str() {
            "json" => {
                Json(json!({"range": {"start": 0, "end": 0, "absolute_end": 0}, "content": msg}))
                    .into_response()
            }
            _ => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], msg).into_response(),
        });
    }
    let plain = |s: &str| {
        (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            s.to_string(),
        )
            .into_response()
    };
    Ok(match format.as_str() {
        "ansi" => plain(&ansi),
        "txt" => plain(&rawx_domain::stdout::strip_ansi(&ansi)),
        "txt_download" | "ansi_download" => {
            let (body, name) = if format == "txt_download" {
                (rawx_domain::stdout::strip_ansi(&ansi), format!("job_{id}.txt"))
            } else {
                (ansi, format!("job_{id}.ansi.txt"))
            };
            (
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                ],
                body,
            )
                .into_response()
        }
        "json" => {
            let lines: Vec<&str> = ansi.lines().collect();
            let absolute_end = lines.len();
            let start = param("start_line").and_then(|s| s.parse().ok()).unwrap_or(0).min(absolute_end);
            let end = param("end_line").and_then(|s| s.parse().ok()).unwrap_or(absolute_end).clamp(start, absolute_end);
            let mut content = lines[start..end].join("\n");
            if end > start {
                content.push('\n');
            }
            if param("content_encoding").as_deref() == Some("base64") {
                use base64::Engine;
                content = base64::engine::general_purpose::STANDARD.encode(content);
            }
            Json(json!({"range": {"start": start, "end": end, "absolute_end": absolute_end}, "content": content}))
                .into_response()
        }
        "html" => {
            let esc = rawx_domain::stdout::strip_ansi(&ansi).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            Html(format!(
                "<!doctype html><html><head><title>Job {id} output</title></head><body><pre>{esc}</pre></body></html>"
            ))
            .into_response()
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "Unsupported format {other:?}: use txt, ansi, json, html, txt_download or ansi_download."
            )))
        }
    })
}
