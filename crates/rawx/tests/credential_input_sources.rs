//! End-to-end: `/api/v2/credential_input_sources/` with AWX's checks and access rules,
//! `/credentials/N/test/` and `/credential_types/N/test/` against the fake vaults
//! (`rawx_testkit::vaults`), the real `awx` CLI and the collection's `credential_input_source`
//! module. What a lookup gives a running job is `credential_lookups.rs`.

use rawx_testkit::collection;
use rawx_testkit::plays::assert_clean;
use rawx_testkit::vaults::*;
use rawx_testkit::ADMIN_PW;
use serde_json::{json, Value};

/// `/api/v2/credential_input_sources/` as AWX's serializer, model and access class have
/// it; the test endpoints; the real `awx` CLI.
#[test]
fn input_sources_api_access_tests_and_the_cli() {
    let v = vendors();
    let lab = lab_with(&v);
    let kv = lab.credential_type("HashiCorp Vault Secret Lookup");
    let source = lab.credential_typed(
        "vault",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    let other_source = lab.credential_typed(
        "vault-2",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN}),
    );
    let machine_type = lab.credential_type("Machine");
    let target = lab.credential_typed("machine", machine_type, json!({"username": "ops"}));
    let meta = json!({"secret_backend": "kv1", "secret_path": "db", "secret_key": "password"});
    let post = |body: Value, want: u16| {
        lab.s.admin(
            "POST",
            "/api/v2/credential_input_sources/",
            Some(body),
            want,
        )
    };

    // AWX's checks, with its messages.
    let e = post(
        json!({"target_credential": source, "source_credential": other_source, "input_field_name": "token", "metadata": meta}),
        400,
    );
    assert_eq!(
        e["target_credential"],
        json!(["Target must be a non-external credential"]),
        "{e}"
    );
    let e = post(
        json!({"target_credential": target, "source_credential": target, "input_field_name": "password", "metadata": {}}),
        400,
    );
    assert_eq!(
        e["source_credential"],
        json!(["Source must be an external credential"]),
        "{e}"
    );
    let e = post(
        json!({"target_credential": target, "source_credential": source, "input_field_name": "pasword", "metadata": meta}),
        400,
    );
    assert_eq!(
        e["input_field_name"],
        json!(["Input field must be defined on target credential (options are become_method, become_password, become_username, password, ssh_key_data, ssh_key_unlock, ssh_public_key_data, username)."]),
        "{e}"
    );
    let e = post(
        json!({"target_credential": target, "source_credential": source, "input_field_name": "password", "metadata": {"secret_path": "db", "secret_key": "password", "colour": "red"}}),
        400,
    );
    assert_eq!(
        e["metadata"],
        json!(["Additional properties are not allowed ('colour' was unexpected)"]),
        "{e}"
    );
    let e = post(
        json!({"target_credential": target, "source_credential": source, "input_field_name": "password", "metadata": {"secret_path": 7}}),
        400,
    );
    assert_eq!(
        e["metadata"],
        json!({"secret_path": ["7 is not of type 'string'"], "secret_key": ["required for HashiCorp Vault Secret Lookup"]}),
        "{e}"
    );
    let e = post(
        json!({"source_credential": source, "input_field_name": "password"}),
        400,
    );
    assert_eq!(
        e["target_credential"],
        json!(["This field is required."]),
        "{e}"
    );
    let made = post(
        json!({"target_credential": target, "source_credential": source, "input_field_name": "password", "metadata": meta, "description": "from Vault"}),
        201,
    );
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["metadata"], meta);
    assert_eq!(
        made["url"],
        json!(format!("/api/v2/credential_input_sources/{id}/"))
    );
    assert_eq!(
        made["related"]["target_credential"],
        json!(format!("/api/v2/credentials/{target}/"))
    );
    assert_eq!(
        made["summary_fields"]["source_credential"]["name"], "vault",
        "{made}"
    );
    assert_eq!(
        made["summary_fields"]["user_capabilities"],
        json!({"delete": true}),
        "{made}"
    );
    assert!(made.get("name").is_none(), "{made}");
    let dup = post(
        json!({"target_credential": target, "source_credential": other_source, "input_field_name": "password", "metadata": meta}),
        400,
    );
    assert_eq!(
        dup,
        json!({"__all__": ["Credential Input Source with this Target credential and Input field name already exists."]})
    );
    let cred = lab
        .s
        .admin("GET", &format!("/api/v2/credentials/{target}/"), None, 200);
    assert_eq!(
        cred["related"]["input_sources"],
        json!(format!("/api/v2/credentials/{target}/input_sources/"))
    );
    let patched = lab.s.admin("PATCH", &format!("/api/v2/credential_input_sources/{id}/"), Some(json!({"metadata": {"secret_backend": "kv1", "secret_path": "db", "secret_key": "other"}})), 200);
    assert_eq!(patched["metadata"]["secret_key"], "other");
    let opts = lab
        .s
        .admin("OPTIONS", "/api/v2/credential_input_sources/", None, 200);
    for f in [
        "input_field_name",
        "target_credential",
        "source_credential",
        "metadata",
    ] {
        assert!(
            opts["actions"]["POST"][f].is_object(),
            "OPTIONS lacks {f}: {opts}"
        );
    }

    // Access (`CredentialInputSourceAccess`): read with the target; create as its admin who
    // may use the source; delete as the target's admin.
    lab.s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "eve", "password": "eve-pw-123456"})),
        201,
    );
    let eve = ("eve", "eve-pw-123456");
    let role = |cred: i64, name: &str| -> i64 {
        let roles = lab.s.admin(
            "GET",
            &format!("/api/v2/credentials/{cred}/object_roles/"),
            None,
            200,
        );
        roles["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let grant = |cred: i64, name: &str| {
        let users = lab.s.admin("GET", "/api/v2/users/?username=eve", None, 200);
        let uid = users["results"][0]["id"].as_i64().unwrap();
        lab.s.admin(
            "POST",
            &format!("/api/v2/users/{uid}/roles/"),
            Some(json!({"id": role(cred, name)})),
            204,
        );
    };
    let as_eve =
        |method: &str, path: &str, body: Option<&Value>| lab.s.http(method, path, Some(eve), body);
    assert_eq!(
        as_eve(
            "GET",
            &format!("/api/v2/credential_input_sources/{id}/"),
            None
        )
        .status,
        403
    );
    assert_eq!(
        as_eve("GET", "/api/v2/credential_input_sources/", None).json()["count"],
        0
    );
    grant(target, "Read");
    assert_eq!(
        as_eve("GET", "/api/v2/credential_input_sources/", None).json()["count"],
        1
    );
    let caps = as_eve(
        "GET",
        &format!("/api/v2/credential_input_sources/{id}/"),
        None,
    )
    .json();
    assert_eq!(
        caps["summary_fields"]["user_capabilities"],
        json!({"delete": false})
    );
    let second = json!({"target_credential": target, "source_credential": source, "input_field_name": "become_password", "metadata": meta});
    grant(target, "Admin");
    grant(source, "Read");
    assert_eq!(
        as_eve("POST", "/api/v2/credential_input_sources/", Some(&second)).status,
        403,
        "admin of the target without use of the source"
    );
    grant(source, "Use");
    assert_eq!(
        as_eve("POST", "/api/v2/credential_input_sources/", Some(&second)).status,
        201
    );
    assert_eq!(
        as_eve(
            "DELETE",
            &format!("/api/v2/credential_input_sources/{id}/"),
            None
        )
        .status,
        204
    );

    // The tests: 202 when the lookup finds the secret, AWX's 400 otherwise.
    let r = lab.s.http("POST", &format!("/api/v2/credential_types/{kv}/test/"), Some(("admin", ADMIN_PW)), Some(&json!({"inputs": {"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}, "metadata": meta})));
    assert_eq!(r.status, 202, "{r:?}");
    assert_clean("a test's answer", r.body.as_bytes(), &all_secrets());
    let r = lab.s.http("POST", &format!("/api/v2/credential_types/{kv}/test/"), Some(("admin", ADMIN_PW)), Some(&json!({"inputs": {"url": v.vault.url, "token": "hvs.wrong-Zz00", "api_version": "v1"}, "metadata": meta})));
    assert_eq!((r.status, r.json()), (400, json!({"inputs": "HTTP 403"})));
    let r = lab.s.http(
        "POST",
        &format!("/api/v2/credentials/{source}/test/"),
        Some(("admin", ADMIN_PW)),
        Some(&json!({"inputs": {"token": "$encrypted$"}, "metadata": meta})),
    );
    assert_eq!(r.status, 202, "the stored token is used: {r:?}");
    let r = lab.s.http("POST", &format!("/api/v2/credentials/{source}/test/"), Some(("admin", ADMIN_PW)), Some(&json!({"metadata": {"secret_backend": "kv1", "secret_path": "gone", "secret_key": "password"}})));
    assert_eq!((r.status, r.json()), (400, json!({"inputs": "HTTP 404"})));
    let r = as_eve(
        "POST",
        &format!("/api/v2/credentials/{other_source}/test/"),
        Some(&json!({"metadata": meta})),
    );
    assert_eq!(r.status, 403, "testing needs the credential's use role");
    let r = as_eve(
        "POST",
        &format!("/api/v2/credentials/{source}/test/"),
        Some(&json!({"metadata": meta})),
    );
    assert_eq!(r.status, 202, "{r:?}");

    // Deleting the lookup credential takes its input sources with it.
    lab.s.admin(
        "DELETE",
        &format!("/api/v2/credentials/{source}/"),
        None,
        204,
    );
    let left = lab.s.admin(
        "GET",
        &format!("/api/v2/credentials/{target}/input_sources/"),
        None,
        200,
    );
    assert_eq!(left["count"], 0, "{left}");

    // The real `awx` CLI.
    let out = lab.s.awx_json(&[
        "credential_input_sources",
        "create",
        "--target_credential",
        &target.to_string(),
        "--source_credential",
        &other_source.to_string(),
        "--input_field_name",
        "password",
        "--metadata",
        &meta.to_string(),
    ]);
    assert_eq!(out["input_field_name"], "password", "{out}");
    assert_eq!(out["metadata"], meta);
    let listed = lab.s.awx_json(&[
        "credential_input_sources",
        "list",
        "--target_credential",
        &target.to_string(),
    ]);
    assert_eq!(listed["count"], 1, "{listed}");
    lab.s
        .awx_ok(&["credential_input_sources", "delete", &out["id"].to_string()]);
    let listed = lab.s.awx_json(&["credential_input_sources", "list"]);
    assert_eq!(listed["count"], 0, "eve's went with its source: {listed}");
}

/// The collection's `credential_input_source` module (awx.awx 24.6.1): create, a second run
/// that changes nothing, an update, `state: absent` twice.
#[test]
fn the_collection_module_manages_input_sources() {
    let v = vendors();
    let lab = lab_with(&v);
    let kv = lab.credential_type("HashiCorp Vault Secret Lookup");
    lab.credential_typed(
        "Vault",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    lab.credential_typed(
        "Machine",
        lab.credential_type("Machine"),
        json!({"username": "ops"}),
    );
    let dir = tempfile::tempdir().unwrap();
    let play = |key: &str, state: &str| -> Value {
        let task = format!(
            "    - awx.awx.credential_input_source:\n        \
             input_field_name: password\n        target_credential: Machine\n        source_credential: Vault\n        \
             metadata: {{secret_backend: kv1, secret_path: db, secret_key: {key}}}\n        description: the machine's password\n        state: {state}\n"
        );
        let (out, tasks) = collection::play(&lab.s, dir.path(), &task, &[]);
        collection::ok(&out, &tasks);
        tasks[0].result.clone()
    };
    let first = play("password", "present");
    assert_eq!(first["changed"], true, "{first}");
    let listed = lab
        .s
        .admin("GET", "/api/v2/credential_input_sources/", None, 200);
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["metadata"]["secret_key"], "password");
    assert_eq!(
        listed["results"][0]["description"],
        "the machine's password"
    );
    assert_eq!(play("password", "present")["changed"], false);
    assert_eq!(play("other", "present")["changed"], true);
    let listed = lab
        .s
        .admin("GET", "/api/v2/credential_input_sources/", None, 200);
    assert_eq!(listed["results"][0]["metadata"]["secret_key"], "other");
    assert_eq!(play("other", "absent")["changed"], true);
    assert_eq!(play("other", "absent")["changed"], false);
    let listed = lab
        .s
        .admin("GET", "/api/v2/credential_input_sources/", None, 200);
    assert_eq!(listed["count"], 0);
}
