//! End-to-end: who may do what, as the `awx` CLI and a browser see it: a normal user sees an
//! organization once a member, a changed password is refused at once, and the form login with
//! CSRF that the CLI and the UI use.

use rawx_testkit::{names, rawx, Server, ADMIN_PW};
use serde_json::{json, Value};

/// A normal user sees an organization once a member, and may create in it once an admin.
#[test]
fn a_user_sees_an_organization_once_a_member() {
    let s = Server::start();
    // Created through the API: `awx users create` is broken (see users_create_via_cli).
    let bob = s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "bob", "password": "bobpw"})),
        201,
    );
    s.awx_ok(&["organizations", "create", "--name", "Ops"]);
    s.awx_ok(&[
        "inventory",
        "create",
        "--name",
        "Lab",
        "--organization",
        "Ops",
    ]);
    let org_id =
        s.admin("GET", "/api/v2/organizations/?name=Ops", None, 200)["results"][0]["id"].clone();

    let bob_ok = |args: &[&str]| -> Value {
        let out = s.awx_as("bob", "bobpw", args);
        assert_eq!(out.code, 0, "bob: awx {args:?}:\n{out}");
        out.json()
    };
    let list = bob_ok(&["organizations", "list"]);
    assert_eq!(
        list["count"], 0,
        "bob sees organizations he is not in: {list}"
    );
    let invs = bob_ok(&["inventory", "list"]);
    assert_eq!(invs["count"], 0, "{invs}");
    // AWX's OPTIONS shows only the methods the user may use, so the CLI has no `create` for
    // bob at all; the API itself answers 403.
    let denied = s.awx_as(
        "bob",
        "bobpw",
        &["organizations", "create", "--name", "Bobs"],
    );
    assert_ne!(denied.code, 0, "{denied}");
    assert!(
        denied.all().contains("invalid choice: 'create'")
            || denied.all().contains("You do not have permission"),
        "{denied}"
    );
    let r = s.http(
        "POST",
        "/api/v2/organizations/",
        Some(("bob", "bobpw")),
        Some(&json!({"name": "Bobs"})),
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        r.json()["detail"],
        "You do not have permission to perform this action."
    );

    s.admin(
        "POST",
        &format!("/api/v2/organizations/{org_id}/users/"),
        Some(json!({"id": bob["id"]})),
        204,
    );
    let list = bob_ok(&["organizations", "list"]);
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(names(&list), ["Ops"]);
    // AWX's member role reads the organization, not its inventories: bob reads Lab once
    // granted its read role.
    let invs = bob_ok(&["inventory", "list"]);
    assert_eq!(invs["count"], 0, "{invs}");
    let out = s.awx(&[
        "users",
        "grant",
        "--inventory",
        "Lab",
        "--role",
        "read",
        "bob",
    ]);
    assert_eq!(out.code, 0, "{out}");
    let invs = bob_ok(&["inventory", "list"]);
    assert_eq!(names(&invs), ["Lab"], "{invs}");
    let modify = s.awx_as(
        "bob",
        "bobpw",
        &["inventory", "modify", "Lab", "--description", "mine"],
    );
    assert_ne!(modify.code, 0, "a member modified the inventory:\n{modify}");
    // Either the CLI offers no `modify` (OPTIONS on the detail shows no PUT for bob) or the
    // PATCH is refused; both are what AWX does, depending on the object the CLI probes.
    assert!(
        modify.all().contains("permission") || modify.all().contains("invalid choice: 'modify'"),
        "{modify}"
    );
    let lab_id = invs["results"][0]["id"].clone();
    let r = s.http(
        "PATCH",
        &format!("/api/v2/inventories/{lab_id}/"),
        Some(("bob", "bobpw")),
        Some(&json!({"description": "mine"})),
    );
    assert_eq!(r.status, 403, "a member patched the inventory: {r:?}");
    let create = s.awx_as(
        "bob",
        "bobpw",
        &[
            "inventory",
            "create",
            "--name",
            "Bobs",
            "--organization",
            "Ops",
        ],
    );
    assert_ne!(create.code, 0, "a member created an inventory:\n{create}");

    s.admin(
        "POST",
        &format!("/api/v2/organizations/{org_id}/admins/"),
        Some(json!({"id": bob["id"]})),
        204,
    );
    let created = bob_ok(&[
        "inventory",
        "create",
        "--name",
        "Bobs",
        "--organization",
        "Ops",
    ]);
    assert_eq!(created["name"], "Bobs");
    assert_eq!(created["organization"], org_id);
    let modified = bob_ok(&["inventory", "modify", "Lab", "--description", "mine"]);
    assert_eq!(modified["description"], "mine");
}

#[test]
fn a_changed_password_is_refused_at_once() {
    let s = Server::start();
    let data = s.data.to_str().unwrap().to_string();
    // Warm the server's view of the current password, as any client would.
    assert!(s.login_token("admin", ADMIN_PW).is_some());
    let out = rawx(&[
        "manage",
        "--data-dir",
        &data,
        "update-password",
        "--username",
        "admin",
        "--password",
        "new",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        s.login_token("admin", ADMIN_PW),
        None,
        "the password replaced by `rawx manage update-password` still works"
    );

    let bob = json!({"username": "bob", "password": "bobpw"});
    let bob = s.http("POST", "/api/v2/users/", Some(("admin", "new")), Some(&bob));
    assert_eq!(bob.status, 201, "{bob:?}");
    let me = s.http("GET", "/api/v2/me/", Some(("bob", "bobpw")), None);
    assert_eq!(me.status, 200, "{me:?}");
    let path = format!("/api/v2/users/{}/", bob.json()["id"]);
    let change = json!({"password": "bobpw2"});
    let r = s.http("PATCH", &path, Some(("admin", "new")), Some(&change));
    assert_eq!(r.status, 200, "{r:?}");
    let me = s.http("GET", "/api/v2/me/", Some(("bob", "bobpw")), None);
    assert_eq!(
        me.status, 401,
        "bob's old password still works after PATCH {path}: {me:?}"
    );
}

fn cookie(jar: &std::path::Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(jar).ok()?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        // curl writes HttpOnly cookies as "#HttpOnly_host…"; plain comments start with "# ".
        .map(|l| l.strip_prefix("#HttpOnly_").unwrap_or(l))
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 7 && f[5] == name).then(|| f[6].to_string())
        })
        .next_back()
}

/// Section 1/7: the form login the CLI does, and CSRF on unsafe session requests.
#[test]
fn form_login_and_csrf_work_as_the_cli_expects() {
    let s = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let jar = tmp.path().join("cookies.txt");
    let jar_s = jar.to_str().unwrap();
    let url = |p: &str| format!("{}{p}", s.url);
    let with_jar = |extra: &[&str]| -> rawx_testkit::Resp {
        let mut args = vec!["-b", jar_s, "-c", jar_s];
        args.extend_from_slice(extra);
        rawx_testkit::curl(&args)
    };

    let root = with_jar(&[&url("/api/")]);
    assert_eq!(root.status, 200, "{root:?}");
    assert!(
        root.headers_all("set-cookie")
            .iter()
            .any(|c| c.starts_with("csrftoken=")),
        "GET /api/ sets no csrftoken: {root:?}"
    );
    assert_eq!(root.json()["current_version"], "/api/v2/");
    let csrf = cookie(&jar, "csrftoken").expect("csrftoken in the jar");

    let form = "username=admin&password=pw&next=%2Fapi%2F";
    let login_url = url("/api/login/");
    let no_csrf = with_jar(&["-X", "POST", "--data", form, &login_url]);
    assert_eq!(
        no_csrf.status, 403,
        "login without X-CSRFToken: {no_csrf:?}"
    );
    assert!(
        cookie(&jar, "awx_sessionid").is_none(),
        "session despite 403"
    );

    let csrf_h = format!("X-CSRFToken: {csrf}");
    let referer = format!("Referer: {}", url("/api/login/"));
    let login = with_jar(&[
        "-X", "POST", "-H", &csrf_h, "-H", &referer, "--data", form, &login_url,
    ]);
    assert_eq!(login.status, 302, "{login:?}");
    assert_eq!(login.header("location"), Some("/api/"), "{login:?}");
    let session = login
        .headers_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("awx_sessionid="))
        .unwrap_or_else(|| panic!("no awx_sessionid cookie: {login:?}"));
    assert!(
        session
            .split(';')
            .any(|a| a.trim().eq_ignore_ascii_case("httponly")),
        "awx_sessionid is not HttpOnly: {session}"
    );
    assert!(cookie(&jar, "awx_sessionid").is_some());

    // The session works for reads…
    let me = with_jar(&[&url("/api/v2/me/")]);
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.json()["results"][0]["username"], "admin");

    // …but an unsafe request needs the CSRF header, with the token the login rotated to.
    let orgs = url("/api/v2/organizations/");
    let body = r#"{"name": "ViaSession"}"#;
    let json_h = "Content-Type: application/json";
    let no_header = with_jar(&["-X", "POST", "-H", json_h, "--data", body, &orgs]);
    assert_eq!(no_header.status, 403, "{no_header:?}");
    assert!(no_header.body.contains("CSRF"), "{no_header:?}");
    let csrf = cookie(&jar, "csrftoken").unwrap();
    let csrf_h = format!("X-CSRFToken: {csrf}");
    let referer = format!("Referer: {}", url("/api/"));
    let created = with_jar(&[
        "-X", "POST", "-H", json_h, "-H", &csrf_h, "-H", &referer, "--data", body, &orgs,
    ]);
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json()["name"], "ViaSession");

    // Logging out ends the session.
    let _ = with_jar(&["-H", &csrf_h, &url("/api/logout/")]);
    let after = with_jar(&[&url("/api/v2/me/")]);
    assert_eq!(
        after.status, 401,
        "session still valid after logout: {after:?}"
    );
}
