//! A job's output, assembled from its stored events (the runner crate's assembly, the same that
//! builds it from a live stream).

use crate::DomainResult;
use rawx_model::filter::Filter;
use rawx_model::resources::JobKind;
use rawx_model::schema::{text as text_of, ColumnType};
use rawx_store::Store;
use serde_json::{json, Value};

/// The job's output with ANSI colours: its stored events' stdout in line order.
pub async fn text(store: &dyn Store, kind: &JobKind, job: i64) -> DomainResult<String> {
    let by_job = Filter::eq(kind.event_parent, ColumnType::Int, json!(job));
    let rows = store
        .project(
            kind.events,
            &by_job,
            &["start_line", "stdout"],
            &[("start_line", false), ("counter", false)],
        )
        .await?;
    Ok(rawx_runner::join_stdout(rows.iter().map(|r| {
        (
            r.get("start_line").and_then(Value::as_u64).unwrap_or(0),
            text_of(r, "stdout"),
        )
    })))
}

/// Output without its ANSI escapes (AWX's `txt` and `html` formats).
pub fn strip_ansi(s: &str) -> String {
    rawx_runner::strip_ansi(s)
}
