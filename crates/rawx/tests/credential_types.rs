//! End-to-end: AWX's credential types and their rules — the 21 managed types AWX 24.6.1
//! seeds (kinds, namespaces, read-only), what a job template takes and refuses with AWX's
//! messages, one credential per type and per vault id, at launch too, and AWX's checks of
//! custom types. What each type gives a real job is `credential_injection.rs`.

use rawx_testkit::lab::*;
use rawx_testkit::plays::*;
use rawx_testkit::sshd::keygen;
use rawx_testkit::ADMIN_PW;
use serde_json::{json, Value};

/// The 21 managed types AWX 24.6.1 seeds, with their kinds and namespaces, read-only; those a
/// job template does not take are refused with AWX's message; one credential per type, and
/// per vault id.
#[test]
fn managed_types_and_one_per_type_rules() {
    let lab = Lab::start();
    let types = lab.all("/api/v2/credential_types/?managed=true");
    let mut lookups: Vec<String> = types
        .iter()
        .filter(|t| t["kind"] == "external")
        .map(|t| {
            format!(
                "{} ({})",
                t["name"].as_str().unwrap(),
                t["namespace"].as_str().unwrap()
            )
        })
        .collect();
    lookups.sort();
    assert_eq!(
        lookups,
        [
            "AWS Secrets Manager lookup (aws_secretsmanager_credential)",
            "Centrify Vault Credential Provider Lookup (centrify_vault_kv)",
            "CyberArk Central Credential Provider Lookup (aim)",
            "CyberArk Conjur Secrets Manager Lookup (conjur)",
            "HashiCorp Vault Secret Lookup (hashivault_kv)",
            "HashiCorp Vault Signed SSH (hashivault_ssh)",
            "Microsoft Azure Key Vault (azure_kv)",
            "Thycotic DevOps Secrets Vault (thycotic_dsv)",
            "Thycotic Secret Server (thycotic_tss)",
        ]
    );
    let mut got: Vec<(String, String, String)> = types
        .iter()
        .filter(|t| t["kind"] != "external")
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["kind"].as_str().unwrap().to_string(),
                t["namespace"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String, String)> = [
        ("Machine", "ssh", "ssh"),
        ("Source Control", "scm", "scm"),
        ("Vault", "vault", "vault"),
        ("Network", "net", "net"),
        ("Amazon Web Services", "cloud", "aws"),
        ("OpenStack", "cloud", "openstack"),
        ("VMware vCenter", "cloud", "vmware"),
        ("Red Hat Satellite 6", "cloud", "satellite6"),
        ("Google Compute Engine", "cloud", "gce"),
        ("Microsoft Azure Resource Manager", "cloud", "azure_rm"),
        ("GitHub Personal Access Token", "token", "github_token"),
        ("GitLab Personal Access Token", "token", "gitlab_token"),
        (
            "Bitbucket Data Center HTTP Access Token",
            "token",
            "bitbucket_dc_token",
        ),
        ("Insights", "insights", "insights"),
        ("Red Hat Virtualization", "cloud", "rhv"),
        ("Red Hat Ansible Automation Platform", "cloud", "controller"),
        (
            "OpenShift or Kubernetes API Bearer Token",
            "kubernetes",
            "kubernetes_bearer_token",
        ),
        ("Container Registry", "registry", "registry"),
        (
            "Ansible Galaxy/Automation Hub API Token",
            "galaxy",
            "galaxy_api_token",
        ),
        ("GPG Public Key", "cryptography", "gpg_public_key"),
        ("Terraform backend configuration", "cloud", "terraform"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    want.sort();
    assert_eq!(got, want);
    let by_name = |n: &str| types.iter().find(|t| t["name"] == n).unwrap().clone();
    // A few of AWX's schema details.
    let machine = by_name("Machine");
    let pw = &machine["inputs"]["fields"][1];
    assert_eq!(pw["id"], "password");
    assert_eq!(pw["ask_at_runtime"], true);
    assert_eq!(pw["secret"], true);
    assert_eq!(
        by_name("Network")["inputs"]["dependencies"],
        json!({"authorize_password": ["authorize"]})
    );
    assert_eq!(
        by_name("Container Registry")["inputs"]["fields"][0]["default"],
        "quay.io"
    );
    assert_eq!(
        by_name("Insights")["injectors"]["env"]["INSIGHTS_USER"],
        "{{username}}"
    );
    assert_eq!(by_name("Amazon Web Services")["injectors"], json!({}));
    assert_eq!(
        by_name("Amazon Web Services")["inputs"]["required"],
        json!(["username", "password"])
    );
    let kv = by_name("HashiCorp Vault Secret Lookup");
    assert_eq!(
        kv["inputs"]["required"],
        json!(["url", "secret_path", "api_version", "secret_key"])
    );
    assert_eq!(kv["inputs"]["metadata"][0]["id"], "secret_backend");

    // Read-only, as AWX answers.
    let aws = by_name("Amazon Web Services")["id"].as_i64().unwrap();
    let r = lab.s.admin(
        "PATCH",
        &format!("/api/v2/credential_types/{aws}/"),
        Some(json!({"description": "x"})),
        403,
    );
    assert_eq!(
        r["detail"],
        "Modifications not allowed for managed credential types"
    );
    let r = lab.s.admin(
        "DELETE",
        &format!("/api/v2/credential_types/{aws}/"),
        None,
        403,
    );
    assert_eq!(
        r["detail"],
        "Deletion not allowed for managed credential types"
    );

    let p = lab.project("p", &[("hello.yml", HELLO)]);
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let jt = lab.jt("rules", p, inv, "hello.yml", json!({}));
    let attach = |c: i64, want: u16| {
        lab.s.admin(
            "POST",
            &format!("/api/v2/job_templates/{jt}/credentials/"),
            Some(json!({"id": c})),
            want,
        )
    };
    let aws1 = lab.credential(
        "aws1",
        "Amazon Web Services",
        json!({"username": "a", "password": "b"}),
    );
    let aws2 = lab.credential(
        "aws2",
        "Amazon Web Services",
        json!({"username": "c", "password": "d"}),
    );
    let vmw = lab.credential(
        "vmw",
        "VMware vCenter",
        json!({"host": "h", "username": "u", "password": "p"}),
    );
    attach(aws1, 204);
    attach(vmw, 204);
    let r = attach(aws2, 400);
    assert_eq!(
        r,
        json!({"error": "Cannot assign multiple Amazon Web Services credentials."})
    );
    let v1 = lab.credential(
        "v1",
        "Vault",
        json!({"vault_password": "x1", "vault_id": "prod"}),
    );
    let v2 = lab.credential(
        "v2",
        "Vault",
        json!({"vault_password": "x2", "vault_id": "dev"}),
    );
    let v3 = lab.credential(
        "v3",
        "Vault",
        json!({"vault_password": "x3", "vault_id": "prod"}),
    );
    attach(v1, 204);
    attach(v2, 204);
    let r = attach(v3, 400);
    assert_eq!(
        r,
        json!({"error": "Cannot assign multiple Vault (id=prod) credentials."})
    );
    for (ty, inputs, kind) in [
        (
            "GitHub Personal Access Token",
            json!({"token": "t"}),
            "token",
        ),
        ("Source Control", json!({"username": "u"}), "scm"),
        ("Container Registry", json!({"host": "quay.io"}), "registry"),
        (
            "Insights",
            json!({"username": "u", "password": "p"}),
            "insights",
        ),
        (
            "Ansible Galaxy/Automation Hub API Token",
            json!({"url": "https://galaxy.example"}),
            "galaxy",
        ),
    ] {
        let c = lab.credential(&format!("k-{kind}"), ty, inputs);
        let r = attach(c, 400);
        assert_eq!(
            r,
            json!({"error": format!("Cannot assign a Credential of kind `{kind}`.")})
        );
    }
    // AWX's `kind` of a credential is its type's namespace.
    let shown = lab
        .s
        .admin("GET", &format!("/api/v2/credentials/{aws1}/"), None, 200);
    assert_eq!(shown["kind"], "aws");

    // The same rules for credentials given at launch (AWX's `JobLaunchSerializer`).
    let prompted = lab.jt(
        "prompted",
        p,
        inv,
        "hello.yml",
        json!({"ask_credential_on_launch": true}),
    );
    lab.attach(prompted, aws1);
    let token = lab.credential("tok", "GitHub Personal Access Token", json!({"token": "t"}));
    let launch = |creds: Value| {
        lab.s.http(
            "POST",
            &format!("/api/v2/job_templates/{prompted}/launch/"),
            Some(("admin", ADMIN_PW)),
            Some(&json!({ "credentials": creds })),
        )
    };
    let r = launch(json!([aws1, aws2]));
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"credentials": ["Cannot assign multiple Amazon Web Services credentials."]})
    );
    let r = launch(json!([aws1, token]));
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"credentials": ["Cannot assign a Credential of kind `token`"]})
    );
    let r = launch(json!([vmw]));
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"credentials": ["Removing Amazon Web Services credential at launch time without replacement is not supported. Provided list lacked credential(s): aws1."]})
    );
    let r = launch(json!([aws2, vmw]));
    assert_eq!(r.status, 201, "replacing aws1 by aws2 is allowed: {r:?}");
    assert_eq!(shown["cloud"], true);
}

/// AWX's messages for custom types it refuses, and custom types' rules.
#[test]
fn custom_types_are_checked_like_awx() {
    let lab = Lab::start();
    let post = |body: Value| {
        lab.s.http(
            "POST",
            "/api/v2/credential_types/",
            Some(("admin", ADMIN_PW)),
            Some(&body),
        )
    };
    let ok_inputs = json!({"fields": [{"id": "a", "label": "A"}]});
    for (inputs, injectors, want) in [
        (
            json!({"fields": [{"id": "9x", "label": "A"}]}),
            json!({}),
            json!({"inputs": ["9x is an invalid variable name"]}),
        ),
        (
            json!({"fields": [{"id": "tower", "label": "A"}]}),
            json!({}),
            json!({"inputs": ["\"tower\" is a reserved field name"]}),
        ),
        (
            json!({"fields": [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}),
            json!({}),
            json!({"inputs": ["field IDs must be unique (a)"]}),
        ),
        (
            json!({"fields": [{"id": "a", "label": "A", "ask_at_runtime": true}]}),
            json!({}),
            json!({"inputs": ["'ask_at_runtime' is not supported for custom credentials."]}),
        ),
        (
            json!({"fields": [], "dependencies": {"a": ["b"]}}),
            json!({}),
            json!({"inputs": ["'dependencies' is not supported for custom credentials."]}),
        ),
        (
            ok_inputs.clone(),
            json!({"env": {"X": "{{ nope }}"}}),
            json!({"injectors": ["X uses an undefined field ('nope' is undefined)"]}),
        ),
        (
            ok_inputs.clone(),
            json!({"env": {"ANSIBLE_CONFIG": "{{ a }}"}}),
            json!({"injectors": ["Environment variable ANSIBLE_CONFIG may affect Ansible configuration so its use is not allowed in credentials."]}),
        ),
        (
            ok_inputs.clone(),
            json!({"env": {"JOB_ID": "{{ a }}"}}),
            json!({"injectors": ["Environment variable JOB_ID is not allowed to be used in credentials."]}),
        ),
        (
            ok_inputs.clone(),
            json!({"file": {"template": "x", "template.y": "y"}}),
            json!({"injectors": ["Must use multi-file syntax when injecting multiple files"]}),
        ),
        (
            ok_inputs.clone(),
            json!({"env": {"F": "{{ tower.filename }}"}}),
            json!({"injectors": ["F uses an undefined field (Must define unnamed file injector in order to reference `tower.filename`.)"]}),
        ),
    ] {
        let r =
            post(json!({"name": "bad", "kind": "cloud", "inputs": inputs, "injectors": injectors}));
        assert_eq!(r.status, 400, "{inputs} {injectors}: {r:?}");
        assert_eq!(r.json(), want, "{inputs} {injectors}");
    }
    let r = post(json!({"name": "k", "kind": "ssh", "inputs": ok_inputs}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"kind": ["Must be 'cloud' or 'net', not ssh"]})
    );
    // A type in use keeps its inputs and stays.
    let t = lab.s.admin(
        "POST",
        "/api/v2/credential_types/",
        Some(json!({"name": "Mine", "kind": "cloud", "inputs": ok_inputs, "injectors": {"env": {"MINE": "{{ a }}"}}})),
        201,
    );
    let tid = t["id"].as_i64().unwrap();
    assert_eq!(t["inputs"]["fields"][0]["type"], "string", "{t}");
    lab.credential_typed("mine", tid, json!({"a": "1"}));
    let r = lab.s.admin(
        "PATCH",
        &format!("/api/v2/credential_types/{tid}/"),
        Some(json!({"inputs": {"fields": [{"id": "b", "label": "B"}]}})),
        403,
    );
    assert_eq!(
        r["detail"],
        "Modifications to inputs are not allowed for credential types that are in use"
    );
    let r = lab.s.admin(
        "DELETE",
        &format!("/api/v2/credential_types/{tid}/"),
        None,
        403,
    );
    assert_eq!(
        r["detail"],
        "Credential types that are in use cannot be deleted"
    );
    // `$encrypted$` cannot be a new secret.
    let aws = lab.credential_type("Amazon Web Services");
    let r = lab.s.http(
        "POST",
        "/api/v2/credentials/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({"name": "e", "organization": lab.org["id"], "credential_type": aws, "inputs": {"username": "u", "password": "$encrypted$"}})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"inputs": ["$encrypted$ is a reserved keyword, and cannot be used for password."]})
    );
    // A passphrase for a key that has none (AWX refuses it too).
    let dir = tempfile::tempdir().unwrap();
    let plain_key = keygen(dir.path(), "plain", "", &["-t", "ed25519"]);
    let machine = lab.credential_type("Machine");
    let r = lab.s.http(
        "POST",
        "/api/v2/credentials/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({"name": "m", "organization": lab.org["id"], "credential_type": machine, "inputs": {"username": "u", "ssh_key_data": plain_key, "ssh_key_unlock": "nope"}})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"inputs": {"ssh_key_unlock": ["should not be set when SSH key is not encrypted."]}})
    );
    // The Network type's `dependencies`.
    let net = lab.credential_type("Network");
    let r = lab.s.http(
        "POST",
        "/api/v2/credentials/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({"name": "n", "organization": lab.org["id"], "credential_type": net, "inputs": {"username": "u", "authorize_password": "x"}})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"inputs": {"authorize_password": ["cannot be set unless \"Authorize\" is set"]}})
    );
}
