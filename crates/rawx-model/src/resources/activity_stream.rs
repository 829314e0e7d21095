//! AWX's `ActivityStream`: one entry per change the API makes (create, update, delete,
//! associate, disassociate), who made it, on which node, and what changed. Written by the API's
//! one write path; read at `/api/v2/activity_stream/` and under each object AWX gives an
//! `activity_stream` sub-list ([`SubList::Activity`]).
//!
//! AWX links an entry to its objects through one many-to-many table per model; an entry names
//! at most two objects (and a role), so rawx keeps their types and ids in columns: an entry
//! outlives its objects, as AWX's does, and a sub-list is one indexed condition.

use crate::filter::Filter;
use crate::schema::{ColumnType, Default as D, Field, Kind, Resource, Scope, Sub, SubList};
use serde_json::json;

const OPERATIONS: &[(&str, &str)] = &[
    ("create", "Entity Created"),
    ("update", "Entity Updated"),
    ("delete", "Entity Deleted"),
    ("associate", "Entity Associated with another Entity"),
    (
        "disassociate",
        "Entity was Disassociated with another Entity",
    ),
];

const fn ro(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field::new(name, label, kind).read_only()
}

const fn internal(name: &'static str, kind: Kind) -> Field {
    Field::new(name, "", kind).internal().nullable()
}

const INT: Kind = Kind::Int {
    min: None,
    max: None,
};

pub static ACTIVITY_STREAM: Resource = Resource {
    key: "activity_stream",
    type_name: "activity_stream",
    verbose: "Activity Stream",
    fields: &[
        ro("timestamp", "Timestamp", Kind::DateTime),
        ro("operation", "Operation", Kind::Choice(OPERATIONS))
            .help("The action taken with respect to the given object(s)."),
        ro("changes", "Changes", Kind::Json)
            .help("A summary of the new and changed values when an object is created, updated, or deleted")
            .default(D::EmptyObject),
        ro("object1", "Object1", Kind::Text).help(
            "For create, update, and delete events this is the object type that was affected. \
             For associate and disassociate events this is the object type associated or \
             disassociated with object2.",
        ),
        ro("object2", "Object2", Kind::Text).help(
            "Unpopulated for create, update, and delete events. For associate and disassociate \
             events this is the object type that object1 is being associated with.",
        )
        .default(D::Str("")),
        ro("action_node", "Action node", Kind::Str { max: 512 })
            .help("The cluster node the activity took place on.")
            .default(D::Str("")),
        // Who (a user's id, kept after the user is deleted, with `deleted_actor`).
        internal("actor", INT),
        internal("deleted_actor", Kind::Json),
        internal("object_relationship_type", Kind::Text),
        internal("object1_id", INT),
        internal("object2_id", INT),
        // The role of a grant (`object2` is then the role's object).
        internal("role_id", INT),
    ],
    name_field: None,
    unique: &[],
    scope: Scope::Global,
    subs: &[],
    order: "id",
    search_fields: &["changes"],
    named_url_parents: &[],
    read_only_api: true,
};

/// The `activity_stream` sub-list, on the objects AWX 24.6.1 serves it for.
pub const ACTIVITY_SUB: Sub = Sub {
    name: "activity_stream",
    list: SubList::Activity,
};

/// The entries naming object `id` of `res` (as either of their two objects).
pub fn activity_of(res: &Resource, id: i64) -> Filter {
    let named = |k: &'static str, kid: &'static str| {
        Filter::eq(k, ColumnType::Text, json!(res.type_name)).and(Filter::eq(
            kid,
            ColumnType::Int,
            json!(id),
        ))
    };
    Filter::Any(vec![
        named("object1", "object1_id"),
        named("object2", "object2_id"),
    ])
}
