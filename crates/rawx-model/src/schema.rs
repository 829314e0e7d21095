//! The resource schema: one static description per AWX resource. Everything else (validation,
//! OPTIONS, filters, SQL columns, the API's routes) is derived from it.

use serde_json::{Map, Value};

/// A stored object: column name → value. `id`, `created`, `modified`, `created_by` and
/// `modified_by` are present on every resource besides the schema's own fields.
pub type Row = Map<String, Value>;

/// A text column of a row, `""` when absent or null.
pub fn text<'a>(row: &'a Row, column: &str) -> &'a str {
    row.get(column).and_then(Value::as_str).unwrap_or_default()
}

/// An integer column of a row (ids, foreign keys), `None` when absent or null.
pub fn int(row: &Row, column: &str) -> Option<i64> {
    row.get(column).and_then(Value::as_i64)
}

/// Columns every table has, besides the schema's fields.
pub const BASE_COLUMNS: &[&str] = &["id", "created", "modified", "created_by", "modified_by"];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Text with a maximum length (AWX `CharField`).
    Str {
        max: u32,
    },
    /// Unbounded text (`TextField`).
    Text,
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Float,
    Bool,
    /// One of fixed string values: `(value, label)`.
    Choice(&'static [(&'static str, &'static str)]),
    /// One of fixed integer values (verbosity).
    IntChoice(&'static [(i64, &'static str)]),
    /// Foreign key to the resource with that key (`"organizations"`).
    Fk(&'static str),
    /// Ansible variables: JSON or YAML text holding a mapping (`variables`, `extra_vars`).
    Vars,
    /// A JSON object stored as text (`inputs`, `injectors`).
    Json,
    DateTime,
    /// Stored as a one-way hash, accepted on write only (user passwords).
    Password,
}

impl Kind {
    /// The `type` AWX's OPTIONS metadata gives this field.
    pub fn meta_type(&self) -> &'static str {
        match self {
            Kind::Str { .. } | Kind::Text | Kind::Password => "string",
            Kind::Int { .. } => "integer",
            Kind::Float => "float",
            Kind::Bool => "boolean",
            Kind::Choice(_) | Kind::IntChoice(_) => "choice",
            Kind::Fk(_) => "id",
            Kind::Vars | Kind::Json => "json",
            Kind::DateTime => "datetime",
        }
    }

    /// The storage class of the column.
    pub fn column(&self) -> ColumnType {
        match self {
            Kind::Int { .. } | Kind::IntChoice(_) | Kind::Fk(_) => ColumnType::Int,
            Kind::Float => ColumnType::Float,
            Kind::Bool => ColumnType::Bool,
            _ => ColumnType::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Int,
    Float,
    Bool,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// No default: absent means null (or "required" when the field is).
    Null,
    Str(&'static str),
    Int(i64),
    Bool(bool),
    /// An empty JSON object, stored as `{}`.
    EmptyObject,
}

impl Default {
    pub fn value(&self) -> Value {
        match self {
            Default::Null => Value::Null,
            Default::Str(s) => Value::String((*s).into()),
            Default::Int(i) => Value::from(*i),
            Default::Bool(b) => Value::Bool(*b),
            Default::EmptyObject => Value::Object(Map::new()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Set by rawx, never by the client; shown on GET.
    pub read_only: bool,
    /// Accepted on write, never shown (passwords).
    pub write_only: bool,
    /// Not part of the API at all (hashes, owner columns): stored only.
    pub internal: bool,
    /// May be null.
    pub nullable: bool,
    pub default: Default,
    /// Shown on the detail view only: AWX leaves these out of lists (job_args, job_env…).
    pub detail_only: bool,
    /// An internal field a client may still filter by (a model field AWX's filters accept
    /// though its serializer does not show it).
    pub filterable: bool,
}

impl Field {
    pub const fn new(name: &'static str, label: &'static str, kind: Kind) -> Field {
        Field {
            name,
            label,
            help: "",
            kind,
            required: false,
            read_only: false,
            write_only: false,
            internal: false,
            nullable: false,
            default: Default::Null,
            detail_only: false,
            filterable: false,
        }
    }
    pub const fn filterable(mut self) -> Field {
        self.filterable = true;
        self
    }
    pub const fn detail_only(mut self) -> Field {
        self.detail_only = true;
        self
    }
    pub const fn help(mut self, help: &'static str) -> Field {
        self.help = help;
        self
    }
    pub const fn required(mut self) -> Field {
        self.required = true;
        self
    }
    pub const fn read_only(mut self) -> Field {
        self.read_only = true;
        self
    }
    pub const fn write_only(mut self) -> Field {
        self.write_only = true;
        self
    }
    pub const fn internal(mut self) -> Field {
        self.internal = true;
        self.read_only = true;
        self
    }
    pub const fn nullable(mut self) -> Field {
        self.nullable = true;
        self
    }
    pub const fn default(mut self, d: Default) -> Field {
        self.default = d;
        self
    }

    /// Visible in API output.
    pub fn shown(&self) -> bool {
        !self.internal && !self.write_only
    }
    /// Accepted from the client.
    pub fn writable(&self) -> bool {
        !self.internal && !self.read_only
    }
}

/// A many-to-many link table between two resources (`group_hosts(group_id, host_id)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relation {
    pub table: &'static str,
    /// Resource key and column of the left side.
    pub left: (&'static str, &'static str),
    pub right: (&'static str, &'static str),
}

/// What a related sub-list under `/<resource>/<id>/<name>/` is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SubList {
    /// Objects of `resource` whose `fk` column is this id; POST creates one there.
    Children {
        resource: &'static str,
        fk: &'static str,
    },
    /// Objects linked through a relation; POST `{"id": N}` associates, with
    /// `"disassociate": true` unlinks. `from_left` says which side this resource is.
    Linked {
        relation: &'static Relation,
        from_left: bool,
    },
    /// Direct holders of a role, stored as grants (`role_users`): on the object
    /// (`on_object`), the users holding its `role_field` (an organization's `users` are its
    /// member role's); on a user, the `content_type` objects whose `role_field` it holds
    /// (`/users/N/organizations/`). POST `{"id": N}` grants, with `"disassociate": true`
    /// revokes, as AWX's `member_role.members` sub-lists do.
    Role {
        content_type: &'static str,
        role_field: &'static str,
        on_object: bool,
    },
    /// The activity stream entries naming this object (`activity_stream`): read only.
    Activity,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sub {
    pub name: &'static str,
    pub list: SubList,
}

/// How an object belongs to an organization, for permission checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope {
    /// Anyone signed in may read; only superusers write (credential types, settings).
    Global,
    /// The object is an organization.
    Organization,
    /// Through this chain of foreign keys ending at an organization (`["inventory", "organization"]`).
    Via(&'static [&'static str]),
    /// The object is a user.
    User,
    /// Visible to its `user` column's user only (tokens, sessions).
    Owner(&'static str),
    /// Not served by the API at all.
    Internal,
}

#[derive(Debug)]
pub struct Resource {
    /// Key in `/api/v2/` and table name (`"job_templates"`).
    pub key: &'static str,
    /// AWX `type` (`"job_template"`).
    pub type_name: &'static str,
    /// Human name (`"Job Template"`).
    pub verbose: &'static str,
    pub fields: &'static [Field],
    /// The field a name lookup (`?name=`) and named URLs use.
    pub name_field: Option<&'static str>,
    /// Sets of fields that must be unique together (`[["name", "organization"]]`).
    pub unique: &'static [&'static [&'static str]],
    pub scope: Scope,
    pub subs: &'static [Sub],
    /// Default order of lists.
    pub order: &'static str,
    /// Text fields that `?search=` looks in.
    pub search_fields: &'static [&'static str],
    /// Named URL: fields joined with `++` after the name (`["organization"]` for
    /// `Lab++Default`).
    pub named_url_parents: &'static [&'static str],
    /// Made by rawx only (jobs, events): the API lists, shows and deletes them, never takes
    /// them in a POST, PUT or PATCH.
    pub read_only_api: bool,
}

impl Resource {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
    /// Every stored column: the base ones, then the schema's (in schema order).
    pub fn columns(&self) -> impl Iterator<Item = (&'static str, ColumnType)> + '_ {
        let base = [
            ("id", ColumnType::Int),
            ("created", ColumnType::Text),
            ("modified", ColumnType::Text),
            ("created_by", ColumnType::Int),
            ("modified_by", ColumnType::Int),
        ];
        base.into_iter()
            .chain(self.fields.iter().map(|f| (f.name, f.kind.column())))
    }
    pub fn column_type(&self, name: &str) -> Option<ColumnType> {
        self.columns().find(|(c, _)| *c == name).map(|(_, t)| t)
    }
    pub fn sub(&self, name: &str) -> Option<&'static Sub> {
        self.subs.iter().find(|s| s.name == name)
    }
    /// Served under `/api/v2/`.
    pub fn is_public(&self) -> bool {
        self.scope != Scope::Internal
    }
}
