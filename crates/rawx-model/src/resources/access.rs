//! Who: users, teams, tokens and sessions; and the secrets they use: credentials and their types.

use super::{fk, DESCRIPTION, NAME};
use crate::schema::{Default as D, Field, Kind, Resource, Scope, Sub, SubList};

pub static USERS: Resource = Resource {
    key: "users",
    type_name: "user",
    verbose: "User",
    fields: &[
        Field::new("username", "Username", Kind::Str { max: 150 })
            .help("Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.")
            .required(),
        Field::new("first_name", "First name", Kind::Str { max: 150 }).default(D::Str("")),
        Field::new("last_name", "Last name", Kind::Str { max: 150 }).default(D::Str("")),
        Field::new("email", "Email address", Kind::Str { max: 254 }).default(D::Str("")),
        Field::new("is_superuser", "Superuser status", Kind::Bool)
            .help(
                "Designates that this user has all permissions without explicitly assigning them.",
            )
            .default(D::Bool(false)),
        Field::new("is_system_auditor", "Is system auditor", Kind::Bool).default(D::Bool(false)),
        Field::new("password", "Password", Kind::Password)
            .help("Field used to change the password.")
            .write_only()
            .default(D::Str("")),
        Field::new("ldap_dn", "Ldap dn", Kind::Str { max: 1024 })
            .read_only()
            .default(D::Str("")),
        Field::new("last_login", "Last login", Kind::DateTime)
            .read_only()
            .nullable(),
        Field::new(
            "external_account",
            "External account",
            Kind::Str { max: 32 },
        )
        .help("Set if the account is managed by an external service")
        .read_only()
        .nullable(),
    ],
    name_field: Some("username"),
    unique: &[&["username"]],
    scope: Scope::User,
    subs: &[
        super::ACTIVITY_SUB,
        Sub {
            name: "organizations",
            list: SubList::Role {
                content_type: "organizations",
                role_field: "member_role",
                on_object: false,
            },
        },
        Sub {
            name: "admin_of_organizations",
            list: SubList::Role {
                content_type: "organizations",
                role_field: "admin_role",
                on_object: false,
            },
        },
        Sub {
            name: "teams",
            list: SubList::Role {
                content_type: "teams",
                role_field: "member_role",
                on_object: false,
            },
        },
        Sub {
            name: "roles",
            list: SubList::Linked {
                relation: &super::ROLE_USERS,
                from_left: false,
            },
        },
        Sub {
            name: "personal_tokens",
            list: SubList::Children {
                resource: "tokens",
                fk: "user",
            },
        },
        Sub {
            name: "tokens",
            list: SubList::Children {
                resource: "tokens",
                fk: "user",
            },
        },
        Sub {
            name: "credentials",
            list: SubList::Children {
                resource: "credentials",
                fk: "user",
            },
        },
    ],
    order: "username",
    search_fields: &["username", "first_name", "last_name", "email"],
    named_url_parents: &[],
    read_only_api: false,
};

pub static TEAMS: Resource = Resource {
    key: "teams",
    type_name: "team",
    verbose: "Team",
    fields: &[
        NAME,
        DESCRIPTION,
        fk("organization", "Organization", "organizations").required(),
    ],
    name_field: Some("name"),
    unique: &[&["name", "organization"]],
    scope: Scope::Via(&["organization"]),
    subs: &[
        super::ACTIVITY_SUB,
        Sub {
            name: "users",
            list: SubList::Role {
                content_type: "teams",
                role_field: "member_role",
                on_object: true,
            },
        },
    ],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["organization"],
    read_only_api: false,
};

pub static TOKENS: Resource = Resource {
    key: "tokens",
    type_name: "o_auth2_access_token",
    verbose: "Access Token",
    fields: &[
        DESCRIPTION,
        fk("user", "User", "users")
            .help("The user representing the token owner")
            .read_only(),
        Field::new("token", "Token", Kind::Str { max: 255 }).read_only(),
        Field::new("refresh_token", "Refresh token", Kind::Str { max: 255 })
            .read_only()
            .nullable(),
        Field::new("application", "Application", Kind::Int { min: None, max: None }).nullable(),
        Field::new("expires", "Expires", Kind::DateTime).read_only(),
        Field::new("scope", "Scope", Kind::Choice(&[("read", "read"), ("write", "write")]))
            .help("Allowed scopes, further restricts user's permissions. Must be a simple space-separated string with allowed scopes ['read', 'write'].")
            .default(D::Str("write")),
        Field::new("token_hash", "", Kind::Str { max: 64 }).internal(),
    ],
    name_field: None,
    unique: &[&["token_hash"]],
    scope: Scope::Owner("user"),
    subs: &[super::ACTIVITY_SUB],
    order: "id",
    search_fields: &["description"],
    named_url_parents: &[],
    read_only_api: false,
};

/// Browser and CLI login sessions (`awx_sessionid`); never served.
pub static SESSIONS: Resource = Resource {
    key: "sessions",
    type_name: "session",
    verbose: "Session",
    fields: &[
        Field::new("key_hash", "", Kind::Str { max: 64 }).internal(),
        fk("user", "", "users").internal(),
        Field::new("expires", "", Kind::DateTime).internal(),
    ],
    name_field: None,
    unique: &[&["key_hash"]],
    scope: Scope::Internal,
    subs: &[],
    order: "id",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: false,
};

pub const CREDENTIAL_KINDS: &[(&str, &str)] = &[
    ("ssh", "Machine"),
    ("vault", "Vault"),
    ("net", "Network"),
    ("scm", "Source Control"),
    ("cloud", "Cloud"),
    ("registry", "Container Registry"),
    ("token", "Personal Access Token"),
    ("insights", "Insights"),
    ("external", "External"),
    ("kubernetes", "Kubernetes"),
    ("galaxy", "Galaxy/Automation Hub"),
    ("cryptography", "Cryptography"),
];

pub static CREDENTIAL_TYPES: Resource = Resource {
    key: "credential_types",
    type_name: "credential_type",
    verbose: "Credential Type",
    fields: &[
        NAME,
        DESCRIPTION,
        Field::new("kind", "Kind", Kind::Choice(CREDENTIAL_KINDS))
            .help("The credential type's kind: only 'cloud' and 'net' may be created through the API.")
            .required(),
        Field::new("namespace", "Namespace", Kind::Str { max: 1024 })
            .read_only()
            .nullable(),
        Field::new("managed", "Managed", Kind::Bool)
            .read_only()
            .default(D::Bool(false)),
        Field::new("inputs", "Inputs", Kind::Json)
            .help("Enter inputs using either JSON or YAML syntax. Refer to the documentation for example syntax.")
            .default(D::EmptyObject),
        Field::new("injectors", "Injectors", Kind::Json)
            .help("Enter injectors using either JSON or YAML syntax. Refer to the documentation for example syntax.")
            .default(D::EmptyObject),
    ],
    name_field: Some("name"),
    unique: &[&["name", "kind"]],
    scope: Scope::Global,
    subs: &[
        super::ACTIVITY_SUB,Sub {
        name: "credentials",
        list: SubList::Children { resource: "credentials", fk: "credential_type" },
    }],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["kind"],
    read_only_api: false,
};

pub static CREDENTIALS: Resource = Resource {
    key: "credentials",
    type_name: "credential",
    verbose: "Credential",
    fields: &[
        NAME,
        DESCRIPTION,
        fk("organization", "Organization", "organizations")
            .help("Inherit permissions from organization roles. If provided on creation, do not give either user or team.")
            .nullable(),
        fk("credential_type", "Credential Type", "credential_types")
            .help("Specify the type of credential you want to create. Refer to the documentation for details on each type.")
            .required(),
        Field::new("managed", "Managed", Kind::Bool)
            .read_only()
            .default(D::Bool(false)),
        Field::new("inputs", "Inputs", Kind::Json)
            .help("Enter inputs using either JSON or YAML syntax. Refer to the documentation for example syntax.")
            .default(D::EmptyObject),
        Field::new("kind", "Kind", Kind::Str { max: 32 })
            .read_only()
            .default(D::Str("")),
        Field::new("cloud", "Cloud", Kind::Bool)
            .read_only()
            .default(D::Bool(false)),
        Field::new("kubernetes", "Kubernetes", Kind::Bool)
            .read_only()
            .default(D::Bool(false)),
        // A credential without an organization belongs to the user who created it (AWX's
        // `user` on create, write-only there).
        fk("user", "User", "users")
            .help("Write-only field used to add user to owner role. If provided, do not give either team or organization. Only valid for creation.")
            .write_only()
            .nullable(),
    ],
    name_field: Some("name"),
    unique: &[&["name", "organization", "credential_type"]],
    scope: Scope::Via(&["organization"]),
    subs: &[
        super::ACTIVITY_SUB,Sub {
        name: "input_sources",
        list: SubList::Children {
            resource: "credential_input_sources",
            fk: "target_credential",
        },
    }],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["credential_type", "organization"],
    read_only_api: false,
};

/// A field of one credential filled at launch by a lookup credential (AWX's
/// `CredentialInputSource`): `metadata` says what to look up (a path, a key), checked against
/// the lookup type's `inputs.metadata`. Readable with the target credential; written by its
/// admins who may use the source (`rbac::add_needs`); goes with either credential.
pub static CREDENTIAL_INPUT_SOURCES: Resource = Resource {
    key: "credential_input_sources",
    type_name: "credential_input_source",
    verbose: "Credential Input Source",
    fields: &[
        DESCRIPTION,
        Field::new(
            "input_field_name",
            "Input field name",
            Kind::Str { max: 1024 },
        )
        .required(),
        Field::new("metadata", "Metadata", Kind::Json).default(D::EmptyObject),
        fk("target_credential", "Target credential", "credentials").required(),
        fk("source_credential", "Source credential", "credentials").required(),
    ],
    name_field: None,
    unique: &[&["target_credential", "input_field_name"]],
    scope: Scope::Via(&["target_credential"]),
    subs: &[],
    order: "target_credential",
    search_fields: &["description"],
    named_url_parents: &[],
    read_only_api: false,
};
