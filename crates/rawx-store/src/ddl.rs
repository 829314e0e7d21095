//! The database's shape, derived from the resource schema. Migrating is declarative: every
//! table, column and index the schema implies is created when missing (new fields need no
//! hand-written step); changes a declaration cannot express (renames, data moves) go in
//! `DATA_MIGRATIONS`, numbered, run once each, written for both dialects.

use crate::sql::{quote, Dialect};
use rawx_model::resources::{ALL, PARENT_TABLES, RELATIONS};
use rawx_model::schema::{ColumnType, Default, Field, Kind};
use rawx_model::{Relation, Resource};

/// One numbered data migration: what it does, and its statements for a dialect (run in order,
/// in the migrating transaction, after every table and column of the schema exists).
pub struct DataMigration {
    pub version: i64,
    pub name: &'static str,
    pub statements: fn(Dialect) -> Vec<String>,
}

pub const DATA_MIGRATIONS: &[DataMigration] = &[
    // Instance group membership became stored (AWX's policies): a database from before keeps
    // what it showed — controlplane the control and hybrid nodes, default the execution and
    // hybrid ones (both by AWX's installer policy of 100%), any other group every node that
    // runs jobs (named in its list, as an admin's associations are).
    DataMigration {
        version: 1,
        name: "instance groups: controlplane and default take nodes by a 100% policy",
        statements: |_| vec![IG_INSTALLER_POLICY.into()],
    },
    DataMigration {
        version: 2,
        name: "instance groups: other groups name the nodes they held",
        statements: |d| {
            vec![match d {
                Dialect::Sqlite => "UPDATE instance_groups SET policy_instance_list = (SELECT json_group_array(hostname) FROM \
                 (SELECT hostname FROM instances WHERE node_type IN ('execution', 'hybrid') ORDER BY id)) \
                 WHERE name NOT IN ('controlplane', 'default')",
                Dialect::Postgres => "UPDATE instance_groups SET policy_instance_list = COALESCE((SELECT json_agg(hostname ORDER BY id)::text \
                 FROM instances WHERE node_type IN ('execution', 'hybrid')), '[]') \
                 WHERE name NOT IN ('controlplane', 'default')",
            }
            .into()]
        },
    },
    DataMigration {
        version: 3,
        name: "instance groups: store the membership shown so far",
        statements: |_| vec![IG_MEMBERS.into()],
    },
    // One id space for every kind of job (AWX's `unified_jobs`): jobs keep their ids, each ad
    // hoc command moves to a new id after the highest job id, its events follow, and every
    // job of either kind gets its parent row.
    DataMigration {
        version: 4,
        name: "unified jobs: one id space for jobs and ad hoc commands",
        statements: |d| {
            unify(
                d,
                &rawx_model::resources::UNIFIED_JOBS,
                &rawx_model::resources::JOBS,
                &[(
                    &rawx_model::resources::AD_HOC_COMMANDS,
                    &[("ad_hoc_command_events", "ad_hoc_command")],
                )],
            )
        },
    },
    // The same for templates (AWX's `unified_job_templates`): job templates keep their ids,
    // workflow templates move after them (nothing refers to a workflow template yet).
    DataMigration {
        version: 5,
        name: "unified job templates: one id space for job and workflow templates",
        statements: |d| {
            unify(
                d,
                &rawx_model::resources::UNIFIED_JOB_TEMPLATES,
                &rawx_model::resources::JOB_TEMPLATES,
                &[(&rawx_model::resources::WORKFLOW_JOB_TEMPLATES, &[])],
            )
        },
    },
    // Projects join the templates' id space (AWX's `Project` is a `UnifiedJobTemplate`, so a
    // schedule, a workflow node or `/unified_job_templates/` names one by its id alone).
    DataMigration {
        version: 20,
        name: "unified job templates: projects take ids in the templates' id space",
        statements: |d| {
            let mut out = move_projects();
            out.extend(unify(
                d,
                &rawx_model::resources::UNIFIED_JOB_TEMPLATES,
                &rawx_model::resources::PROJECTS,
                &[],
            ));
            out
        },
    },
    // A schedule names any kind of template (AWX's `Schedule.unified_job_template`): its
    // reference moves from job templates to the templates' parent table, whose ids are
    // every kind's (migrations 5 and 20, and inventory sources from their start).
    DataMigration {
        version: 21,
        name: "schedules: unified_job_template names any kind of template",
        statements: |d| schedules_name_any_template(d),
    },
    // The templates' parent rows name their execution environment (an execution environment's
    // `unified_job_templates/`): inventory sources had one before the column did.
    DataMigration {
        version: 22,
        name: "unified job templates: inventory sources' execution environments",
        statements: |_| {
            vec!["UPDATE unified_job_templates SET execution_environment = \
                  (SELECT s.execution_environment FROM inventory_sources s WHERE s.id = unified_job_templates.id) \
                  WHERE id IN (SELECT id FROM inventory_sources WHERE execution_environment IS NOT NULL)"
                .into()]
        },
    },
];

/// Points `schedules.unified_job_template`'s foreign key at `unified_job_templates`. On
/// PostgreSQL the constraint is replaced. SQLite cannot alter a constraint, so the table is
/// rebuilt (AWX's and SQLite's documented way: a new table, the rows copied, the old dropped,
/// the new renamed, its indexes made again); dropping the old table clears the `schedule` of
/// the jobs it launched (`ON DELETE SET NULL`), so those links are kept aside and put back.
fn schedules_name_any_template(d: Dialect) -> Vec<String> {
    use rawx_model::resources::{SCHEDULES, UNIFIED_JOB_TEMPLATES};
    let t = quote(SCHEDULES.key);
    let fk = SCHEDULES
        .field("unified_job_template")
        .expect("schedules name their template");
    match d {
        Dialect::Postgres => vec![
            format!(
                "ALTER TABLE {t} DROP CONSTRAINT IF EXISTS schedules_unified_job_template_fkey"
            ),
            format!(
                "ALTER TABLE {t} ADD CONSTRAINT schedules_unified_job_template_fkey \
                 FOREIGN KEY (\"unified_job_template\") REFERENCES {}(\"id\") ON DELETE {}",
                quote(UNIFIED_JOB_TEMPLATES.key),
                on_delete(fk, UNIFIED_JOB_TEMPLATES.key)
            ),
        ],
        Dialect::Sqlite => {
            let cols: Vec<String> = SCHEDULES.columns().map(|(c, _)| quote(c)).collect();
            let cols = cols.join(", ");
            let mut out = vec![
                "CREATE TABLE rawx_scheduled_jobs AS SELECT \"id\", \"schedule\" FROM \"jobs\" \
                 WHERE \"schedule\" IS NOT NULL"
                    .to_string(),
                table_def(d, &SCHEDULES, "rawx_schedules_new", true),
                format!("INSERT INTO \"rawx_schedules_new\" ({cols}) SELECT {cols} FROM {t}"),
                format!("DROP TABLE {t}"),
                format!("ALTER TABLE \"rawx_schedules_new\" RENAME TO {t}"),
            ];
            out.extend(indexes(&SCHEDULES));
            out.push(
                "UPDATE \"jobs\" SET \"schedule\" = (SELECT s.\"schedule\" FROM rawx_scheduled_jobs s \
                 WHERE s.\"id\" = \"jobs\".\"id\") WHERE \"id\" IN (SELECT \"id\" FROM rawx_scheduled_jobs)"
                    .into(),
            );
            out.push("DROP TABLE rawx_scheduled_jobs".into());
            out
        }
    }
}

/// Moves every project to a new id above every template's (and project's) id, with every
/// reference to it: each column declared as a reference to projects, the `unified_job_template`
/// of its updates (in their table and in `unified_jobs`), and its roles and grants (by
/// `content_type`). A project is copied to its new id under a provisional name (its name is
/// unique within its organization), the references repointed, the old row deleted, then its
/// name given back: the references' foreign keys cannot follow an `UPDATE` of the id.
fn move_projects() -> Vec<String> {
    use rawx_model::resources::{PROJECTS, UNIFIED_JOB_TEMPLATES};
    let q = quote;
    let p = q(PROJECTS.key);
    let mut out = vec![
        "CREATE TABLE rawx_id_moves (old_id BIGINT PRIMARY KEY, new_id BIGINT NOT NULL, name TEXT NOT NULL)".into(),
        format!(
            "INSERT INTO rawx_id_moves (old_id, new_id, name) SELECT \"id\", \"id\" + \
             (SELECT COALESCE(MAX(m), 0) FROM (SELECT MAX(\"id\") AS m FROM {p} UNION ALL \
             SELECT MAX(\"id\") FROM {u}) AS highest), \"name\" FROM {p}",
            u = q(UNIFIED_JOB_TEMPLATES.key)
        ),
    ];
    let cols: Vec<&str> = PROJECTS
        .columns()
        .map(|(c, _)| c)
        .filter(|c| *c != "id" && *c != "name")
        .collect();
    let quoted: Vec<String> = cols.iter().map(|c| q(c)).collect();
    out.push(format!(
        "INSERT INTO {p} (\"id\", \"name\", {c}) SELECT m.new_id, \
         'rawx-moving-' || CAST(m.new_id AS TEXT), {a} FROM {p} AS k \
         JOIN rawx_id_moves AS m ON k.\"id\" = m.old_id",
        c = quoted.join(", "),
        a = quoted
            .iter()
            .map(|c| format!("k.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let repoint = |table: &str, column: &str, when: &str| {
        let (t, c) = (q(table), q(column));
        format!(
            "UPDATE {t} SET {c} = (SELECT new_id FROM rawx_id_moves WHERE old_id = {t}.{c}) \
             WHERE {c} IN (SELECT old_id FROM rawx_id_moves){when}"
        )
    };
    for res in ALL {
        for f in res.fields {
            if matches!(f.kind, Kind::Fk(target) if target == PROJECTS.key) {
                out.push(repoint(res.key, f.name, ""));
            }
        }
    }
    // An update's template is its project; in `unified_jobs` only the project updates' rows
    // (a job's template id may equal an old project id).
    out.push(repoint("project_updates", "unified_job_template", ""));
    out.push(repoint(
        "unified_jobs",
        "unified_job_template",
        " AND \"polymorphic_type\" = 'project_update'",
    ));
    for table in ["roles", "role_user_assignments", "role_team_assignments"] {
        out.push(repoint(
            table,
            "object_id",
            " AND \"content_type\" = 'projects'",
        ));
    }
    out.push(format!(
        "DELETE FROM {p} WHERE \"id\" IN (SELECT old_id FROM rawx_id_moves)"
    ));
    out.push(format!(
        "UPDATE {p} SET \"name\" = (SELECT name FROM rawx_id_moves WHERE new_id = {p}.\"id\")"
    ));
    out.push("DROP TABLE rawx_id_moves".into());
    out
}

const IG_INSTALLER_POLICY: &str = "UPDATE instance_groups SET policy_instance_percentage = 100 \
     WHERE name IN ('controlplane', 'default') AND policy_instance_percentage = 0";
const IG_MEMBERS: &str = "INSERT INTO instance_group_instances (instancegroup_id, instance_id) \
     SELECT g.id, i.id FROM instance_groups g, instances i \
     WHERE (g.name = 'controlplane' AND i.node_type IN ('control', 'hybrid')) \
     OR (g.name <> 'controlplane' AND i.node_type IN ('execution', 'hybrid')) \
     ON CONFLICT DO NOTHING";

/// Puts tables that had ids of their own under one `parent` table: `first` keeps its ids;
/// each of `moved` gets new ids above every id either had (so no new id meets an old one while
/// rows move), with the rows of `(table, column)` that refer to it following; then every row
/// of every kind gets its parent row, and the parent's sequence continues after the highest.
/// A kind something refers to is moved by copying each row to its new id, repointing the
/// references and deleting the old row, because the references' foreign keys cannot follow an
/// `UPDATE` of the id (they are not `ON UPDATE CASCADE`, nor deferrable on PostgreSQL); such a
/// kind must have no unique set of its own (the copy would meet it).
fn unify(
    d: Dialect,
    parent: &'static Resource,
    first: &'static Resource,
    moved: &[(&'static Resource, &[(&str, &str)])],
) -> Vec<String> {
    let mut out = Vec::new();
    let q = quote;
    for (kind, refs) in moved {
        let t = q(kind.key);
        out.push(
            "CREATE TABLE rawx_id_moves (old_id BIGINT PRIMARY KEY, new_id BIGINT NOT NULL)".into(),
        );
        // Above every id the kind, the kinds before it and the parent table have.
        let mut highest = vec![format!("SELECT MAX(\"id\") AS m FROM {}", q(first.key))];
        highest.push(format!("SELECT MAX(\"id\") FROM {t}"));
        highest.push(format!("SELECT MAX(\"id\") FROM {}", q(parent.key)));
        out.push(format!(
            "INSERT INTO rawx_id_moves (old_id, new_id) SELECT \"id\", \"id\" + \
             (SELECT COALESCE(MAX(m), 0) FROM ({}) AS highest) FROM {t}",
            highest.join(" UNION ALL ")
        ));
        if refs.is_empty() {
            // Nothing refers to it: the ids change in place (a copy would meet the kind's own
            // unique sets, `name` + `organization`, before the old row went).
            out.push(format!(
                "UPDATE {t} SET \"id\" = (SELECT new_id FROM rawx_id_moves WHERE old_id = {t}.\"id\")"
            ));
            out.push("DROP TABLE rawx_id_moves".into());
            continue;
        }
        let cols: Vec<String> = kind
            .columns()
            .map(|(c, _)| c)
            .filter(|c| *c != "id")
            .map(quote)
            .collect();
        out.push(format!(
            "INSERT INTO {t} (\"id\", {c}) SELECT m.new_id, {a} FROM {t} AS k \
             JOIN rawx_id_moves AS m ON k.\"id\" = m.old_id",
            c = cols.join(", "),
            a = cols
                .iter()
                .map(|c| format!("k.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for (table, column) in *refs {
            let (table, column) = (q(table), q(column));
            out.push(format!(
                "UPDATE {table} SET {column} = (SELECT new_id FROM rawx_id_moves WHERE old_id = {table}.{column}) \
                 WHERE {column} IN (SELECT old_id FROM rawx_id_moves)"
            ));
        }
        out.push(format!(
            "DELETE FROM {t} WHERE \"id\" IN (SELECT old_id FROM rawx_id_moves)"
        ));
        out.push("DROP TABLE rawx_id_moves".into());
    }
    for kind in std::iter::once(first).chain(moved.iter().map(|(k, _)| *k)) {
        let cols: Vec<&str> = rawx_model::resources::inherited_columns(parent, kind).collect();
        let names: Vec<String> = cols.iter().map(|c| quote(c)).collect();
        out.push(format!(
            "INSERT INTO {p} ({n}, {ty}) SELECT {n}, '{kt}' FROM {t} \
             WHERE \"id\" NOT IN (SELECT \"id\" FROM {p})",
            p = q(parent.key),
            n = names.join(", "),
            ty = q(rawx_model::resources::TYPE_COLUMN),
            kt = kind.type_name,
            t = q(kind.key),
        ));
    }
    if d == Dialect::Postgres {
        // Rows were inserted with their ids: the identity continues after the highest.
        out.push(format!(
            "SELECT setval(pg_get_serial_sequence('{p}', 'id'), (SELECT COALESCE(MAX(\"id\"), 0) + 1 FROM {qp}), false)",
            p = parent.key,
            qp = q(parent.key)
        ));
    }
    out
}

/// Keeps a parent table ([`rawx_model::resources::PARENTS`]) free of rows whose child is gone,
/// however it went (a delete, or a cascade: an inventory takes its ad hoc commands with it).
pub fn parent_triggers(d: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    if d == Dialect::Postgres {
        out.push(
            "CREATE OR REPLACE FUNCTION rawx_delete_parent_row() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN EXECUTE format('DELETE FROM %I WHERE id = $1', TG_ARGV[0]) USING OLD.id; RETURN OLD; END $$"
                .into(),
        );
    }
    for (child, parent) in rawx_model::resources::PARENTS {
        let name = quote(&format!("rawx_{}_parent_delete", child.key));
        match d {
            Dialect::Sqlite => out.push(format!(
                "CREATE TRIGGER IF NOT EXISTS {name} AFTER DELETE ON {c} \
                 BEGIN DELETE FROM {p} WHERE \"id\" = OLD.\"id\"; END",
                c = quote(child.key),
                p = quote(parent.key)
            )),
            Dialect::Postgres => {
                out.push(format!(
                    "DROP TRIGGER IF EXISTS {name} ON {}",
                    quote(child.key)
                ));
                out.push(format!(
                    "CREATE TRIGGER {name} AFTER DELETE ON {c} FOR EACH ROW \
                     EXECUTE FUNCTION rawx_delete_parent_row('{p}')",
                    c = quote(child.key),
                    p = parent.key
                ));
            }
        }
    }
    out
}

fn sql_type(d: Dialect, t: ColumnType) -> &'static str {
    match (d, t) {
        (Dialect::Sqlite, ColumnType::Int) => "INTEGER",
        (Dialect::Postgres, ColumnType::Int) => "BIGINT",
        (Dialect::Sqlite, ColumnType::Float) => "REAL",
        (Dialect::Postgres, ColumnType::Float) => "DOUBLE PRECISION",
        (_, ColumnType::Bool) => "BOOLEAN",
        (_, ColumnType::Text) => "TEXT",
    }
}

fn default_literal(d: Dialect, f: &Field) -> Option<String> {
    match f.default {
        Default::Null => None,
        Default::Str(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        Default::Int(i) => Some(i.to_string()),
        Default::Bool(b) => Some(match d {
            Dialect::Sqlite => (b as i32).to_string(),
            Dialect::Postgres => b.to_string(),
        }),
        Default::EmptyObject => Some("'{}'".into()),
    }
}

/// What happens to a row when the row its foreign key points at is deleted: a credential
/// type in use may not go; an optional reference is cleared; a required one takes the row
/// with it (hosts go with their inventory).
fn on_delete(f: &Field, target: &str) -> &'static str {
    if target == "credential_types" {
        "RESTRICT"
    } else if f.nullable {
        "SET NULL"
    } else {
        "CASCADE"
    }
}

pub fn column_def(d: Dialect, f: &Field) -> String {
    let mut s = format!("{} {}", quote(f.name), sql_type(d, f.kind.column()));
    if let Some(lit) = default_literal(d, f) {
        s.push_str(&format!(" DEFAULT {lit}"));
    }
    if let Kind::Fk(target) = f.kind {
        s.push_str(&format!(
            " REFERENCES {}(\"id\") ON DELETE {}",
            quote(target),
            on_delete(f, target)
        ));
    }
    s
}

pub fn create_table(d: Dialect, res: &Resource) -> String {
    table_def(d, res, res.key, false)
}

/// `res`'s table under `name`; with `all`, also the columns that name a table created after
/// it (`deferred`: added by `ALTER TABLE` when the tables are first made).
fn table_def(d: Dialect, res: &Resource, name: &str, all: bool) -> String {
    let id = match d {
        Dialect::Sqlite => "\"id\" INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "\"id\" BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    };
    let int = sql_type(d, ColumnType::Int);
    let mut cols = vec![
        id.to_string(),
        "\"created\" TEXT NOT NULL".into(),
        "\"modified\" TEXT NOT NULL".into(),
        format!("\"created_by\" {int}"),
        format!("\"modified_by\" {int}"),
    ];
    cols.extend(
        res.fields
            .iter()
            .filter(|f| all || !deferred(res, f))
            .map(|f| column_def(d, f)),
    );
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {}\n)",
        quote(name),
        cols.join(",\n  ")
    )
}

pub fn indexes(res: &Resource) -> Vec<String> {
    let mut out = Vec::new();
    for set in res.unique {
        let cols: Vec<String> = set.iter().map(|c| quote(c)).collect();
        out.push(format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})",
            quote(&unique_index_name(res.key, set)),
            quote(res.key),
            cols.join(", ")
        ));
    }
    for f in res.fields.iter().filter(|f| matches!(f.kind, Kind::Fk(_))) {
        out.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
            quote(&format!("ix_{}__{}", res.key, f.name)),
            quote(res.key),
            quote(f.name)
        ));
    }
    out
}

pub fn unique_index_name(table: &str, cols: &[&str]) -> String {
    format!("uq_{}__{}", table, cols.join("__"))
}

/// The columns a unique index of ours covers, from its name (how PostgreSQL reports it).
pub fn columns_of_index(name: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix("uq_")?;
    let mut parts = rest.split("__");
    parts.next()?;
    Some(parts.map(str::to_string).collect())
}

pub fn create_link_table(d: Dialect, rel: &Relation) -> Vec<String> {
    let int = sql_type(d, ColumnType::Int);
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n  {l} {int} NOT NULL REFERENCES {lt}(\"id\") ON DELETE CASCADE,\n  {r} {int} NOT NULL REFERENCES {rt}(\"id\") ON DELETE CASCADE,\n  PRIMARY KEY ({l}, {r})\n)",
            t = quote(rel.table),
            l = quote(rel.left.1),
            lt = quote(rel.left.0),
            r = quote(rel.right.1),
            rt = quote(rel.right.0),
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
            quote(&format!("ix_{}__{}", rel.table, rel.right.1)),
            quote(rel.table),
            quote(rel.right.1)
        ),
    ]
}

/// Resources in an order where every foreign key's target comes first (PostgreSQL checks
/// `REFERENCES` at creation). A cycle (an organization's default execution environment, an
/// execution environment's organization) is broken at a nullable foreign key: that column is
/// left out of `CREATE TABLE` ([`deferred`]) and added once every table exists.
pub fn creation_order() -> Vec<&'static Resource> {
    let all: Vec<&'static Resource> = ALL.iter().chain(PARENT_TABLES).copied().collect();
    let mut done: Vec<&'static Resource> = Vec::new();
    let ready = |res: &Resource, done: &[&Resource], nullable_ok: bool| {
        res.fields.iter().all(|f| match f.kind {
            Kind::Fk(t) => {
                t == res.key || (nullable_ok && f.nullable) || done.iter().any(|d| d.key == t)
            }
            _ => true,
        })
    };
    while done.len() < all.len() {
        let before = done.len();
        for res in all.iter().copied() {
            if !done.iter().any(|d| d.key == res.key) && ready(res, &done, false) {
                done.push(res);
            }
        }
        if done.len() == before {
            let next = all
                .iter()
                .copied()
                .find(|res| !done.iter().any(|d| d.key == res.key) && ready(res, &done, true))
                .expect("foreign keys of the schema form a cycle of required keys");
            done.push(next);
        }
    }
    done
}

/// Whether `f` of `res` names a table created after `res` (see [`creation_order`]).
pub fn deferred(res: &Resource, f: &Field) -> bool {
    let Kind::Fk(target) = f.kind else {
        return false;
    };
    let order = creation_order();
    let pos = |k: &str| order.iter().position(|r| r.key == k);
    pos(target) > pos(res.key)
}

pub fn relations() -> &'static [&'static Relation] {
    RELATIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_is_created_after_what_it_references() {
        let order: Vec<&str> = creation_order().iter().map(|r| r.key).collect();
        let pos = |k: &str| order.iter().position(|o| *o == k).unwrap();
        assert!(pos("organizations") < pos("inventories"));
        assert!(pos("credentials") < pos("projects"));
        assert!(pos("projects") < pos("job_templates"));
        assert_eq!(order.len(), ALL.len() + PARENT_TABLES.len());
        // The one cycle: broken at the organization's nullable default environment.
        let org = order.iter().position(|k| *k == "organizations").unwrap();
        let ee = pos("execution_environments");
        assert!(org < ee);
        let f = rawx_model::resources::ORGANIZATIONS
            .field("default_environment")
            .unwrap();
        assert!(deferred(&rawx_model::resources::ORGANIZATIONS, f));
        assert!(
            !create_table(Dialect::Sqlite, &rawx_model::resources::ORGANIZATIONS)
                .contains("default_environment")
        );
    }

    #[test]
    fn index_names_give_back_their_columns() {
        let n = unique_index_name("hosts", &["name", "inventory"]);
        assert_eq!(columns_of_index(&n).unwrap(), vec!["name", "inventory"]);
    }
}
