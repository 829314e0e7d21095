//! rawx's domain model: what each AWX resource is made of (its schema), how client input is
//! validated against it, how AWX's query-string filters become a filter tree, who may see and
//! change what, and how secrets are sealed.
//!
//! Architecture invariant: this crate does no I/O (no network, no database, no files) and knows
//! nothing of HTTP or SQL. The schema here is the single source for request validation, OPTIONS
//! metadata, filtering and the store's columns, so the four can never disagree.

pub mod capacity;
pub mod dab;
pub mod filter;
pub mod rbac;
pub mod resources;
pub mod schema;
pub mod secret;
pub mod smart;
pub mod validate;

pub use schema::{Field, Kind, Relation, Resource, Row};

/// Timestamps as AWX renders them: UTC, microseconds, `Z`. Stored as this same text so that
/// text order is time order on every backend.
pub fn now_string() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The time `secs` seconds from now, in the stored format.
pub fn time_after(secs: i64) -> String {
    format_time(time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
}
