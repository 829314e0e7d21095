//! End-to-end: one id space for every kind of job (AWX's `unified_jobs`). A database of the
//! previous release — jobs and ad hoc commands with ids of their own that collide, with events
//! — is migrated by `rawx serve` on SQLite and on PostgreSQL; afterwards every id is unique
//! across kinds, `/api/v2/unified_jobs/` lists both kinds each in its own shape, each one's
//! events and stdout read as before, and new launches of both kinds take distinct ids. The
//! same for templates (`unified_job_templates`: job and workflow templates).

use rawx_testkit::lab::*;
use rawx_testkit::plays::whoami;
use rawx_testkit::{sh, sqlite, DataDir, Opts, PgDb, Server};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

/// Turns a database made by this release back into the previous release's shape: no parent
/// table, no triggers keeping it, migrations 4, 5, 20 and 21 not applied (schedules naming job
/// templates), and the project numbered
/// apart from the templates (it takes the job template's id, as the previous release's
/// own sequence gave it), with its template, grants and roles pointing at that id. (The
/// previous release's tables are this one's otherwise: the change added only these.) Then
/// writes old rows through SQL, as the previous release stored them: jobs 1–3 and ad hoc
/// commands 1–2, each with events.
fn previous_release_rows(pg: bool, inv: i64, org: i64, project: i64, jt: i64) -> String {
    // Foreign keys stand aside while the project takes its old id (sqlite3's shell does not
    // enforce them).
    let mut sql = if pg {
        "SET session_replication_role = replica; ".to_string()
    } else {
        String::new()
    };
    sql.push_str(&format!(
        "UPDATE projects SET id = {jt} WHERE id = {project}; \
         UPDATE job_templates SET project = {jt} WHERE project = {project}; "
    ));
    for t in ["roles", "role_user_assignments", "role_team_assignments"] {
        sql.push_str(&format!(
            "UPDATE {t} SET object_id = {jt} WHERE content_type = 'projects' AND object_id = {project}; "
        ));
    }
    let project = jt;
    // Kinds added since (project and inventory updates, inventory sources) keep their tables,
    // without the triggers that would hold the parent table.
    for child in [
        "jobs",
        "ad_hoc_commands",
        "project_updates",
        "inventory_updates",
        "workflow_jobs",
        "workflow_approvals",
        "job_templates",
        "workflow_job_templates",
        "projects",
        "inventory_sources",
        "workflow_approval_templates",
    ] {
        let on = if pg {
            format!(" ON {child}")
        } else {
            String::new()
        };
        sql.push_str(&format!("DROP TRIGGER rawx_{child}_parent_delete{on}; "));
    }
    if pg {
        sql.push_str("DROP FUNCTION rawx_delete_parent_row; ");
    }
    // Schedules named job templates (migration 21 points them at the parent table).
    if pg {
        sql.push_str(
            "ALTER TABLE schedules DROP CONSTRAINT schedules_unified_job_template_fkey; \
             ALTER TABLE schedules ADD CONSTRAINT schedules_unified_job_template_fkey \
             FOREIGN KEY (unified_job_template) REFERENCES job_templates(id) ON DELETE CASCADE; ",
        );
    } else {
        sql.push_str(
            "PRAGMA writable_schema = ON; \
             UPDATE sqlite_master SET sql = replace(sql, 'REFERENCES \"unified_job_templates\"', \
             'REFERENCES \"job_templates\"') WHERE type = 'table' AND name = 'schedules'; \
             PRAGMA writable_schema = OFF; ",
        );
    }
    // A workflow node's `job` names a unified job now; the previous release had no such key
    // (PostgreSQL drops it with the table).
    let cascade = if pg { " CASCADE" } else { "" };
    sql.push_str(&format!(
        "DROP TABLE unified_jobs{cascade}; DROP TABLE unified_job_templates; \
         DELETE FROM rawx_migrations WHERE version IN (4, 5, 20, 21, 22); "
    ));
    // A workflow template with the job template's id, as the previous release numbered them.
    sql.push_str(&format!(
        "INSERT INTO workflow_job_templates (id, created, modified, name, organization) \
         VALUES ({jt}, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 'Flow', {org}); "
    ));
    let t = |s: u32| format!("'2026-01-01T00:00:{s:02}.000000Z'");
    for n in 1..=3 {
        sql.push_str(&format!(
            "INSERT INTO jobs (id, created, modified, name, status, started, finished, elapsed, \
             failed, inventory, organization, project, playbook, job_template, \
             unified_job_template, work_unit_id) VALUES ({n}, {c}, {c}, 'old job {n}', \
             'successful', {c}, {f}, 1.5, false, {inv}, {org}, {project}, 'hello.yml', {jt}, \
             {jt}, 'unit-job-{n}'); \
             INSERT INTO job_host_summaries (created, modified, job, host_name, ok) \
             VALUES ({c}, {c}, {n}, 'localhost', {n}); ",
            c = t(n),
            f = t(n + 1),
        ));
        for counter in 1..=2 {
            sql.push_str(&format!(
                "INSERT INTO job_events (created, modified, job, event, counter, stdout, \
                 start_line, end_line) VALUES ({c}, {c}, {n}, 'verbose', {counter}, \
                 'old-job-{n}-line-{counter}', {s}, {counter}); ",
                c = t(n),
                s = counter - 1,
            ));
        }
    }
    for n in 1..=2 {
        sql.push_str(&format!(
            "INSERT INTO ad_hoc_commands (id, created, modified, name, status, started, \
             finished, elapsed, failed, inventory, organization, module_name, module_args, \
             work_unit_id) VALUES ({n}, {c}, {c}, 'old adhoc {n}', 'failed', {c}, {c}, 0.5, \
             true, {inv}, {org}, 'shell', 'echo {n}', 'unit-adhoc-{n}'); ",
            c = t(10 + n),
        ));
        for counter in 1..=3 {
            sql.push_str(&format!(
                "INSERT INTO ad_hoc_command_events (created, modified, ad_hoc_command, event, \
                 counter, stdout, start_line, end_line) VALUES ({c}, {c}, {n}, 'verbose', \
                 {counter}, 'old-adhoc-{n}-line-{counter}', {s}, {counter}); ",
                c = t(10 + n),
                s = counter - 1,
            ));
        }
    }
    sql
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

fn migrates_the_previous_release(pg: Option<&PgDb>) {
    let opts = Opts {
        database_url: pg.map(|d| d.url.clone()),
        env: runner_env(),
        ..Opts::default()
    };
    let lab = Lab::start_with(opts.clone());
    let inv = lab.inventory("Here", &[("localhost", local_vars())]);
    let project = lab.project("demo", &[]);
    let jt = lab.jt("Hello", project, inv, "hello.yml", json!({}));
    let org = id(&lab.org);
    // A grant on the project, to follow it to its new id.
    let dev = id(&lab.s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "dev", "password": "Dev-pass-1234"})),
        201,
    ));
    let p = lab
        .s
        .admin("GET", &format!("/api/v2/projects/{project}/"), None, 200);
    let use_role = &p["summary_fields"]["object_roles"]["use_role"]["id"];
    lab.s.admin(
        "POST",
        &format!("/api/v2/users/{dev}/roles/"),
        Some(json!({"id": use_role})),
        204,
    );
    let Lab { s, org: org_row } = lab;
    let dir: DataDir = s.stop();

    let sql = previous_release_rows(pg.is_some(), inv, org, project, jt);
    match pg {
        Some(db) => {
            sh(Command::new("psql")
                .arg(&db.url)
                .args(["-v", "ON_ERROR_STOP=1", "-qc", &sql]));
        }
        None => {
            sqlite(dir.path(), &sql);
        }
    }

    // The new release migrates it at start.
    let lab = Lab {
        s: Server::start_in(dir, opts),
        org: org_row,
    };
    let s = &lab.s;
    let all = all_pages(s, "/api/v2/unified_jobs/?page_size=2");
    let ids: Vec<i64> = all.iter().map(id).collect();
    assert_eq!(all.len(), 5, "{all:?}");
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        5,
        "ids unique across kinds: {ids:?}"
    );
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "AWX orders unified jobs by id");
    let of = |ty: &str| -> Vec<&Value> { all.iter().filter(|j| j["type"] == ty).collect() };
    let jobs: Vec<i64> = of("job").iter().map(|j| id(j)).collect();
    assert_eq!(jobs, [1, 2, 3], "jobs keep their ids");
    let adhoc = of("ad_hoc_command");
    assert_eq!(adhoc.len(), 2);
    for (n, a) in adhoc.iter().enumerate() {
        let n = n + 1;
        // Each renders as its kind, moved after the highest job id.
        assert!(id(a) > 3, "{a}");
        assert_eq!(a["name"], format!("old adhoc {n}"), "{a}");
        assert_eq!(a["module_name"], "shell", "{a}");
        assert_eq!(a["status"], "failed");
        assert_eq!(a["work_unit_id"], format!("unit-adhoc-{n}"));
        assert_eq!(
            a["url"],
            format!("/api/v2/ad_hoc_commands/{}/", id(a)),
            "{a}"
        );
        let out = lab.stdout_on("ad_hoc_commands", id(a));
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [1, 2, 3].map(|c| format!("old-adhoc-{n}-line-{c}")),
            "{out}"
        );
        let events = s.admin(
            "GET",
            &format!("/api/v2/ad_hoc_commands/{}/events/", id(a)),
            None,
            200,
        );
        assert_eq!(events["count"], 3, "{events}");
        assert_eq!(events["results"][0]["ad_hoc_command"], id(a));
    }
    for n in 1..=3 {
        let job = lab.job(n);
        assert_eq!(job["name"], format!("old job {n}"));
        assert_eq!(job["playbook"], "hello.yml");
        assert_eq!(
            lab.stdout(n).lines().collect::<Vec<_>>(),
            [1, 2].map(|c| format!("old-job-{n}-line-{c}"))
        );
        let sums = s.admin(
            "GET",
            &format!("/api/v2/jobs/{n}/job_host_summaries/"),
            None,
            200,
        );
        assert_eq!(sums["results"][0]["ok"], n, "{sums}");
    }
    // The old ad hoc ids now belong to jobs: nothing answers there as an ad hoc command.
    s.admin("GET", "/api/v2/ad_hoc_commands/1/", None, 404);

    // The parent table filters and orders as AWX's list does.
    let failed = s.admin(
        "GET",
        "/api/v2/unified_jobs/?status=failed&order_by=-id",
        None,
        200,
    );
    let failed_ids: Vec<i64> = failed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    let mut want: Vec<i64> = adhoc.iter().map(|a| id(a)).collect();
    want.reverse();
    assert_eq!(failed_ids, want, "{failed}");
    let named = s.admin("GET", "/api/v2/unified_jobs/?search=old%20job", None, 200);
    assert_eq!(named["count"], 3, "{named}");

    // Templates: the job template keeps its id, the workflow template moved after it.
    let templates = all_pages(s, "/api/v2/unified_job_templates/?order_by=id");
    let kinds: Vec<(i64, &str, &str)> = templates
        .iter()
        .map(|t| {
            (
                id(t),
                t["type"].as_str().unwrap(),
                t["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds.len(), 3, "{templates:?}");
    assert_eq!(kinds[0], (jt, "job_template", "Hello"));
    assert!(kinds[1].0 > jt && kinds[1].1 == "workflow_job_template" && kinds[1].2 == "Flow");
    // The project (whose old id was the job template's) moved after every template, and
    // everything that named it follows: its template, the old jobs, its grants.
    let moved = kinds[2].0;
    assert!(
        moved > kinds[1].0 && kinds[2].1 == "project" && kinds[2].2 == "demo",
        "{kinds:?}"
    );
    let project = s.admin("GET", &format!("/api/v2/projects/{moved}/"), None, 200);
    assert_eq!(project["local_path"], "demo", "{project}");
    assert_eq!(project["organization"], org, "{project}");
    let template = s.admin("GET", &format!("/api/v2/job_templates/{jt}/"), None, 200);
    assert_eq!(template["project"], moved, "{template}");
    assert_eq!(
        template["summary_fields"]["project"]["name"], "demo",
        "{template}"
    );
    s.admin("GET", &format!("/api/v2/projects/{jt}/"), None, 404);
    for n in 1..=3 {
        assert_eq!(lab.job(n)["project"], moved);
    }
    let roles = lab.all(&format!("/api/v2/users/{dev}/roles/"));
    assert!(
        roles.iter().any(|r| r["name"] == "Use"
            && r["summary_fields"]["resource_type"] == "project"
            && r["summary_fields"]["resource_id"] == moved),
        "the grant follows the project: {roles:?}"
    );
    let seen = s.http(
        "GET",
        &format!("/api/v2/projects/{moved}/"),
        Some(("dev", "Dev-pass-1234")),
        None,
    );
    assert_eq!(seen.status, 200, "dev still sees the project");
    let newer = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": "newer", "organization": org, "scm_type": "", "local_path": "demo"})),
        201,
    );
    assert!(id(&newer) > moved, "{newer}");
    let flow = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{}/", kinds[1].0),
        None,
        200,
    );
    assert_eq!(flow["organization"], org, "{flow}");
    let made = s.admin(
        "POST",
        "/api/v2/workflow_job_templates/",
        Some(json!({"name": "Flow 2", "organization": org})),
        201,
    );
    assert!(id(&made) > kinds[1].0, "{made}");

    // New launches of both kinds take ids from the one sequence, above every old one.
    let highest = *ids.iter().max().unwrap();
    let job = lab.launch(jt);
    let cred = lab.credential("Local", "Machine", json!({"username": whoami()}));
    let cmd = s.admin(
        "POST",
        "/api/v2/ad_hoc_commands/",
        Some(json!({"inventory": inv, "credential": cred, "module_name": "ping"})),
        201,
    );
    let cmd = id(&cmd);
    assert!(
        job > highest && cmd > highest && job != cmd,
        "{job} {cmd} {highest}"
    );
    assert_eq!(lab.wait(job)["status"], "successful");
    let done = lab.wait_on("ad_hoc_commands", cmd, Duration::from_secs(120));
    assert_eq!(done["status"], "successful", "{done}");
    let all = all_pages(s, "/api/v2/unified_jobs/?page_size=200");
    let kinds: Vec<(i64, String)> = all
        .iter()
        .map(|j| (id(j), j["type"].as_str().unwrap().to_string()))
        .collect();
    assert!(kinds.contains(&(job, "job".into())), "{kinds:?}");
    assert!(kinds.contains(&(cmd, "ad_hoc_command".into())), "{kinds:?}");
    assert_eq!(all[all.len() - 1]["status"], "successful");

    // Deleting a kind's row takes its parent row with it (the trigger), however it goes.
    s.admin(
        "DELETE",
        &format!("/api/v2/ad_hoc_commands/{cmd}/"),
        None,
        204,
    );
    let after = s.admin("GET", "/api/v2/unified_jobs/", None, 200);
    assert_eq!(after["count"], 6, "{after}");
}

#[test]
fn sqlite_database_of_the_previous_release_migrates() {
    migrates_the_previous_release(None);
}

#[test]
fn postgres_database_of_the_previous_release_migrates() {
    let Some(db) = PgDb::create("unified") else {
        return;
    };
    migrates_the_previous_release(Some(&db));
}
