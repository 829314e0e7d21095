//! End-to-end: AWX's credential types in real jobs. For every managed type a job template
//! takes, and for custom types with each injector kind, a real `ansible-playbook` run reports
//! what it received (environment variables, the files they point to with their modes, extra
//! vars) into a file the test reads, and the report must equal what AWX 24.6.1's injectors give
//! (`awx/main/models/credential/injectors.py`, `CredentialType.inject_credential`,
//! `RunJob.build_env`) — the expected values below are written out by hand from that code.
//! The report is written by `no_log` tasks, so the secrets must still be absent from the job's
//! output, events, `job_args`/`job_env`, the server's log and the database. Also:
//! `ask_at_runtime` passwords at launch, and a credential missing a required input. The types'
//! own rules are `credential_types.rs`.

use rawx_testkit::lab::*;
use rawx_testkit::plays::*;
use rawx_testkit::sshd::keygen;
use rawx_testkit::{Opts, ADMIN_PW};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

const REPORT: &str = r#"
- name: Report what the credentials injected
  hosts: all
  gather_facts: false
  tasks:
    - name: read the environment
      no_log: true
      set_fact:
        seen_env: "{{ seen_env | default({}) | combine({item: lookup('env', item, default='<unset>')}) }}"
      loop: "{{ watch_env }}"
    - name: stat the files
      no_log: true
      stat:
        path: "{{ lookup('env', item) }}"
        get_checksum: false
      loop: "{{ watch_files }}"
      register: file_stats
    - name: read the files
      no_log: true
      set_fact:
        seen_files: "{{ seen_files | default({}) | combine({item.item: {'mode': item.stat.mode | default('missing'), 'content': lookup('file', item.stat.path, rstrip=False) if item.stat.exists else ''}}) }}"
      loop: "{{ file_stats.results }}"
    - name: read the extra vars
      no_log: true
      set_fact:
        seen_vars: "{{ seen_vars | default({}) | combine({item: lookup('vars', item, default='<unset>')}) }}"
      loop: "{{ watch_vars }}"
    - name: write the report
      no_log: true
      copy:
        dest: "{{ report_path }}"
        content: "{{ {'env': seen_env | default({}), 'files': seen_files | default({}), 'vars': seen_vars | default({})} | to_json }}"
"#;

/// What a job must have received.
#[derive(Default)]
struct Expect {
    /// Variable → value (`None`: must be unset). A variable naming a file is checked in `files`.
    env: BTreeMap<String, Option<String>>,
    /// Variable naming a file → (content, mode).
    files: BTreeMap<String, (String, String)>,
    vars: BTreeMap<String, Value>,
}

impl Expect {
    fn env(&mut self, k: &str, v: &str) -> &mut Self {
        self.env.insert(k.into(), Some(v.into()));
        self
    }
    fn unset(&mut self, k: &str) -> &mut Self {
        self.env.insert(k.into(), None);
        self
    }
    fn file(&mut self, k: &str, content: &str, mode: &str) -> &mut Self {
        self.files.insert(k.into(), (content.into(), mode.into()));
        self
    }
    fn var(&mut self, k: &str, v: Value) -> &mut Self {
        self.vars.insert(k.into(), v);
        self
    }
}

/// Runs a template with `creds` attached and checks the report against `want`; returns the job.
fn run_case(lab: &Lab, project: i64, inv: i64, name: &str, creds: &[i64], want: &Expect) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("report.json");
    let mut watch_env: Vec<&String> = want.env.keys().collect();
    watch_env.extend(want.files.keys());
    let jt = lab.jt(
        name,
        project,
        inv,
        "report.yml",
        json!({"extra_vars": json!({
            "watch_env": watch_env, "watch_files": want.files.keys().collect::<Vec<_>>(),
            "watch_vars": want.vars.keys().collect::<Vec<_>>(),
            "report_path": report.display().to_string(),
        }).to_string()}),
    );
    for c in creds {
        lab.attach(jt, *c);
    }
    let id = lab.launch(jt);
    let job = lab.wait(id);
    assert_eq!(
        job["status"],
        "successful",
        "{name}: {}\n{}",
        job["job_explanation"],
        lab.stdout(id)
    );
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for (k, v) in &want.env {
        let got = seen["env"][k]
            .as_str()
            .unwrap_or("<absent from the report>");
        assert_eq!(
            got,
            v.as_deref().unwrap_or("<unset>"),
            "{name}: environment variable {k}"
        );
    }
    let dir = lab.s.data.join("jobs").join(id.to_string()).join("env");
    for (k, (content, mode)) in &want.files {
        let path = seen["env"][k].as_str().unwrap_or_default();
        let file = Path::new(path);
        assert_eq!(file.parent(), Some(dir.as_path()), "{name}: {k}={path}");
        let fname = file.file_name().unwrap().to_string_lossy();
        assert!(
            fname.starts_with("tmp") && fname.len() == 11,
            "{name}: {k} names {fname}, not a mkstemp-like name"
        );
        assert_eq!(
            seen["files"][k]["content"].as_str(),
            Some(content.as_str()),
            "{name}: the content of {k}'s file"
        );
        assert_eq!(
            seen["files"][k]["mode"].as_str(),
            Some(mode.as_str()),
            "{name}: the mode of {k}'s file"
        );
    }
    for (k, v) in &want.vars {
        assert_eq!(&seen["vars"][k], v, "{name}: extra var {k}");
    }
    job
}

/// Every value a secret field of `inputs` was given (long enough to find).
fn secrets_of(inputs: &[Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in inputs {
        for (k, v) in i.as_object().unwrap() {
            if let Some(s) = v.as_str() {
                if k.contains("pass")
                    || k.contains("secret")
                    || k.contains("token")
                    || k == "configuration"
                    || k == "gce_credentials"
                    || k == "ssl_ca_cert"
                    || k == "api_key"
                {
                    out.push((k.clone(), s.to_string()));
                }
                if k == "ssh_key_data" {
                    for line in s.lines().filter(|l| !l.starts_with("-----")) {
                        if line.len() >= 40 {
                            out.push(("private key body".into(), line.to_string()));
                        }
                    }
                }
            }
        }
    }
    out
}

fn scan(lab: &Lab, ids: &[i64], secrets: &[(String, String)]) {
    for id in ids {
        for format in ["txt", "json"] {
            let r = lab.s.http(
                "GET",
                &format!("/api/v2/jobs/{id}/stdout/?format={format}"),
                Some(("admin", ADMIN_PW)),
                None,
            );
            assert_clean(
                &format!("job {id}'s stdout ({format})"),
                r.body.as_bytes(),
                secrets,
            );
        }
        let events = Value::Array(lab.events(*id)).to_string();
        assert_clean(&format!("job {id}'s events"), events.as_bytes(), secrets);
        let job = lab.job(*id);
        assert_clean(
            &format!("job {id} (job_args, job_env, …)"),
            job.to_string().as_bytes(),
            secrets,
        );
    }
}

/// Every managed type a job template takes, and custom types with every injector kind, give a
/// real job what AWX gives it; several credentials of different kinds on one template.
#[test]
fn each_type_injects_what_awx_injects() {
    let lab = Lab::start_with(Opts {
        env: vec![("RAWX_LOG".into(), "debug".into())],
        ..Opts::default()
    });
    let keys = tempfile::tempdir().unwrap();
    let net_key = keygen(keys.path(), "net", "", &["-t", "ed25519"]);
    let gce_key = keygen(
        keys.path(),
        "gce",
        "",
        &["-t", "rsa", "-b", "2048", "-m", "PEM"],
    );
    let p = lab.project("report", &[("report.yml", REPORT)]);
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);

    // Two custom types: several named files, env and nested extra vars; one unnamed file.
    let custom_many = lab.s.admin(
        "POST",
        "/api/v2/credential_types/",
        Some(json!({
            "name": "Vendor API", "kind": "cloud",
            "inputs": {"fields": [
                {"id": "api_host", "label": "Host"},
                {"id": "api_key", "label": "Key", "secret": true},
                {"id": "insecure", "label": "Insecure", "type": "boolean"},
                {"id": "unused", "label": "Unused", "type": "boolean"}
            ], "required": ["api_host"]},
            "injectors": {
                "file": {"template.conf": "[vendor]\nhost={{ api_host }}\nkey={{ api_key }}\n", "template.flags": "{% if insecure %}insecure{% else %}secure{% endif %}"},
                "env": {"VENDOR_CONF": "{{ tower.filename.conf }}", "VENDOR_FLAGS": "{{ tower.filename.flags }}", "VENDOR_KEY": "{{ api_key }}", "VENDOR_INSECURE": "{{ insecure }}", "VENDOR_UNUSED": "{{ unused }}", "VENDOR_BOTH": "{{ api_host }}-{{ api_key }}"},
                "extra_vars": {"vendor_host": "{{ api_host }}", "vendor_{{insecure}}": "literal {{ api_key }}", "vendor_nested": {"list": ["{{ api_key }}", "two"]}}
            }
        })),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let custom_one = lab.s.admin(
        "POST",
        "/api/v2/credential_types/",
        Some(json!({
            // `cloud`: a custom `net` type also sets ANSIBLE_NET_* (AWX's `network_credentials`
            // are every `net` kind), which would overwrite the Network credential's here.
            "name": "Single File", "kind": "cloud",
            "inputs": {"fields": [{"id": "token", "label": "Token", "secret": true}]},
            "injectors": {"file": {"template": "token: {{ token }}"}, "env": {"SINGLE_FILE": "{{ tower.filename }}"}}
        })),
        201,
    )["id"]
        .as_i64()
        .unwrap();

    // Case A: every type, with its optional inputs.
    let a_inputs: Vec<(&str, Option<i64>, Value)> = vec![
        (
            "Machine",
            None,
            json!({"username": "alice", "become_method": "sudo"}),
        ),
        (
            "Network",
            None,
            json!({"username": "netop", "password": "net-pw-Qx81", "ssh_key_data": net_key, "authorize": true, "authorize_password": "enable-pw-Zp42"}),
        ),
        (
            "Amazon Web Services",
            None,
            json!({"username": "AKIAEXAMPLE", "password": "aws-secret-Hq72", "security_token": "aws-sts-Wm55"}),
        ),
        (
            "OpenStack",
            None,
            json!({"username": "osuser", "password": "os-pw-Jd83kq", "host": "https://keystone.example:5000/v3", "project": "proj", "project_domain_name": "pdom", "domain": "dom", "region": "RegionOne", "verify_ssl": false}),
        ),
        (
            "VMware vCenter",
            None,
            json!({"host": "vc.example", "username": "vcuser", "password": "vc-pw-Tr63"}),
        ),
        (
            "Red Hat Satellite 6",
            None,
            json!({"host": "https://sat.example", "username": "satuser", "password": "sat-pw-Lm28"}),
        ),
        (
            "Google Compute Engine",
            None,
            json!({"username": "svc@proj.iam.gserviceaccount.com", "project": "proj-123", "ssh_key_data": gce_key}),
        ),
        (
            "Microsoft Azure Resource Manager",
            None,
            json!({"subscription": "sub-1", "client": "client-1", "tenant": "tenant-1", "secret": "az-secret-Pk19", "cloud_environment": "AzureUSGovernment"}),
        ),
        (
            "Red Hat Virtualization",
            None,
            json!({"host": "https://rhv.example/ovirt-engine/api", "username": "admin@internal", "password": "rhv-pw-Bn47", "ca_file": "/etc/pki/ovirt.pem"}),
        ),
        (
            "Red Hat Ansible Automation Platform",
            None,
            json!({"host": "https://aap.example", "username": "aapuser", "password": "aap-pw-Gs36", "oauth_token": "aap-token-Vd90", "verify_ssl": true}),
        ),
        (
            "OpenShift or Kubernetes API Bearer Token",
            None,
            json!({"host": "https://k8s.example:6443", "bearer_token": "k8s-token-Xc21", "verify_ssl": true, "ssl_ca_cert": "-----BEGIN CERTIFICATE-----\nk8s-ca-Rf64\n-----END CERTIFICATE-----"}),
        ),
        (
            "Terraform backend configuration",
            None,
            json!({"configuration": "bucket = \"tf-state-Yh17\"", "gce_credentials": "{\"type\": \"service_account\", \"tf-gce-Ku83\": 1}"}),
        ),
        (
            "Vendor API",
            Some(custom_many),
            json!({"api_host": "api.vendor.example", "api_key": "vendor-key-Ee52", "insecure": true}),
        ),
        (
            "Single File",
            Some(custom_one),
            json!({"token": "single-token-Nn37"}),
        ),
    ];
    let mut creds = Vec::new();
    for (i, (ty, custom, inputs)) in a_inputs.iter().enumerate() {
        let tid = custom.unwrap_or_else(|| lab.credential_type(ty));
        creds.push(lab.credential_typed(&format!("a{i}"), tid, inputs.clone()));
    }
    let vault_pw = "vault-pw-Ce48";
    let vault = lab.credential("a-vault", "Vault", json!({"vault_password": vault_pw}));
    creds.push(vault);

    let mut a = Expect::default();
    a.env("ANSIBLE_NET_USERNAME", "netop")
        .env("ANSIBLE_NET_PASSWORD", "net-pw-Qx81")
        .env("ANSIBLE_NET_AUTHORIZE", "1")
        .env("ANSIBLE_NET_AUTH_PASS", "enable-pw-Zp42")
        .file("ANSIBLE_NET_SSH_KEYFILE", &net_key, "0600")
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "aws-secret-Hq72")
        .env("AWS_SECURITY_TOKEN", "aws-sts-Wm55")
        .env("AWS_SESSION_TOKEN", "aws-sts-Wm55")
        .file(
            "OS_CLIENT_CONFIG_FILE",
            // PyYAML's safe_dump(default_flow_style=False): sorted keys.
            "clouds:\n  devstack:\n    auth:\n      auth_url: https://keystone.example:5000/v3\n      \
             domain_name: dom\n      password: os-pw-Jd83kq\n      project_domain_name: pdom\n      \
             project_name: proj\n      username: osuser\n    region_name: RegionOne\n    verify: false\n",
            "0600",
        )
        .env("VMWARE_USER", "vcuser")
        .env("VMWARE_PASSWORD", "vc-pw-Tr63")
        .env("VMWARE_HOST", "vc.example")
        .env("VMWARE_VALIDATE_CERTS", "False")
        .env("GCE_EMAIL", "svc@proj.iam.gserviceaccount.com")
        .env("GCE_PROJECT", "proj-123")
        .env("GCP_AUTH_KIND", "serviceaccount")
        .env("GCP_PROJECT", "proj-123")
        .env("GCP_ENV_TYPE", "tower")
        .file(
            "GCE_CREDENTIALS_FILE_PATH",
            // json.dump(indent=2) of AWX's dict, in its order.
            &format!(
                "{{\n  \"type\": \"service_account\",\n  \"private_key\": {},\n  \"client_email\": \"svc@proj.iam.gserviceaccount.com\",\n  \"project_id\": \"proj-123\",\n  \"token_uri\": \"https://oauth2.googleapis.com/token\"\n}}",
                Value::String(gce_key.clone())
            ),
            "0600",
        )
        .env("AZURE_SUBSCRIPTION_ID", "sub-1")
        .env("AZURE_CLIENT_ID", "client-1")
        .env("AZURE_TENANT", "tenant-1")
        .env("AZURE_SECRET", "az-secret-Pk19")
        .env("AZURE_CLOUD_ENVIRONMENT", "AzureUSGovernment")
        .unset("AZURE_AD_USER")
        .file(
            "OVIRT_INI_PATH",
            "[ovirt]\novirt_url=https://rhv.example/ovirt-engine/api\novirt_username=admin@internal\n\
             ovirt_password=rhv-pw-Bn47\novirt_ca_file=/etc/pki/ovirt.pem",
            "0600",
        )
        .env("OVIRT_URL", "https://rhv.example/ovirt-engine/api")
        .env("OVIRT_USERNAME", "admin@internal")
        .env("OVIRT_PASSWORD", "rhv-pw-Bn47")
        .env("TOWER_HOST", "https://aap.example")
        .env("TOWER_USERNAME", "aapuser")
        .env("TOWER_PASSWORD", "aap-pw-Gs36")
        .env("TOWER_VERIFY_SSL", "True")
        .env("TOWER_OAUTH_TOKEN", "aap-token-Vd90")
        .env("CONTROLLER_HOST", "https://aap.example")
        .env("CONTROLLER_USERNAME", "aapuser")
        .env("CONTROLLER_PASSWORD", "aap-pw-Gs36")
        .env("CONTROLLER_VERIFY_SSL", "True")
        .env("CONTROLLER_OAUTH_TOKEN", "aap-token-Vd90")
        .env("K8S_AUTH_HOST", "https://k8s.example:6443")
        .env("K8S_AUTH_API_KEY", "k8s-token-Xc21")
        .env("K8S_AUTH_VERIFY_SSL", "True")
        .file(
            "K8S_AUTH_SSL_CA_CERT",
            "-----BEGIN CERTIFICATE-----\nk8s-ca-Rf64\n-----END CERTIFICATE-----",
            "0600",
        )
        .file("TF_BACKEND_CONFIG_FILE", "bucket = \"tf-state-Yh17\"", "0600")
        .file(
            "GOOGLE_BACKEND_CREDENTIALS",
            "{\"type\": \"service_account\", \"tf-gce-Ku83\": 1}",
            "0600",
        )
        .file(
            "VENDOR_CONF",
            // Jinja2 drops one trailing newline of a template.
            "[vendor]\nhost=api.vendor.example\nkey=vendor-key-Ee52",
            "0600",
        )
        .file("VENDOR_FLAGS", "insecure", "0600")
        .env("VENDOR_KEY", "vendor-key-Ee52")
        .env("VENDOR_INSECURE", "True")
        .env("VENDOR_UNUSED", "False")
        .env("VENDOR_BOTH", "api.vendor.example-vendor-key-Ee52")
        .var("vendor_host", json!("api.vendor.example"))
        .var("vendor_True", json!("literal vendor-key-Ee52"))
        .var("vendor_nested", json!({"list": ["vendor-key-Ee52", "two"]}))
        .file("SINGLE_FILE", "token: single-token-Nn37", "0600");
    let job_a = run_case(&lab, p, inv, "every-type", &creds, &a);
    let args = job_args(&job_a).join(" ");
    assert!(
        args.contains("-u alice"),
        "the machine credential's user: {args}"
    );
    assert!(
        args.contains("--ask-vault-pass"),
        "the vault credential: {args}"
    );

    // Case B: the other branches of AWX's injectors (no STS token, user/password Azure, no
    // CA file, a Kubernetes credential that does not verify, defaults of booleans).
    let b_inputs: Vec<(&str, Option<i64>, Value)> = vec![
        (
            "Network",
            None,
            json!({"username": "netop2", "password": "net2-pw-Ab12", "authorize": false}),
        ),
        (
            "Amazon Web Services",
            None,
            json!({"username": "AKIAOTHER", "password": "aws2-secret-Cd34"}),
        ),
        (
            "OpenStack",
            None,
            json!({"username": "u2", "password": "os2-pw-Ef56", "host": "https://ks2.example/v3", "project": "p2"}),
        ),
        (
            "Microsoft Azure Resource Manager",
            None,
            json!({"subscription": "sub-2", "username": "az-user", "password": "az-pw-Gh78"}),
        ),
        (
            "Red Hat Virtualization",
            None,
            json!({"host": "https://rhv2.example", "username": "u2", "password": "rhv2-pw-Ij90"}),
        ),
        (
            "Red Hat Ansible Automation Platform",
            None,
            json!({"host": "https://aap2.example", "username": "u2", "password": "aap2-pw-Kl12"}),
        ),
        (
            "OpenShift or Kubernetes API Bearer Token",
            None,
            json!({"host": "https://k8s2.example", "bearer_token": "k8s2-token-Mn34", "verify_ssl": false, "ssl_ca_cert": "unused-ca-Op56"}),
        ),
        (
            "Terraform backend configuration",
            None,
            json!({"configuration": "path = \"state-Qr78\""}),
        ),
        ("Vendor API", Some(custom_many), json!({"api_host": "h2"})),
    ];
    let mut creds_b = Vec::new();
    for (i, (ty, custom, inputs)) in b_inputs.iter().enumerate() {
        let tid = custom.unwrap_or_else(|| lab.credential_type(ty));
        creds_b.push(lab.credential_typed(&format!("b{i}"), tid, inputs.clone()));
    }
    let mut b = Expect::default();
    b.env("ANSIBLE_NET_USERNAME", "netop2")
        .env("ANSIBLE_NET_PASSWORD", "net2-pw-Ab12")
        .env("ANSIBLE_NET_AUTHORIZE", "0")
        .unset("ANSIBLE_NET_AUTH_PASS")
        .unset("ANSIBLE_NET_SSH_KEYFILE")
        .env("AWS_ACCESS_KEY_ID", "AKIAOTHER")
        .unset("AWS_SECURITY_TOKEN")
        .unset("AWS_SESSION_TOKEN")
        .file(
            "OS_CLIENT_CONFIG_FILE",
            "clouds:\n  devstack:\n    auth:\n      auth_url: https://ks2.example/v3\n      \
             password: os2-pw-Ef56\n      project_name: p2\n      username: u2\n    verify: true\n",
            "0600",
        )
        .env("AZURE_SUBSCRIPTION_ID", "sub-2")
        .env("AZURE_AD_USER", "az-user")
        .env("AZURE_PASSWORD", "az-pw-Gh78")
        .unset("AZURE_CLIENT_ID")
        .unset("AZURE_CLOUD_ENVIRONMENT")
        .file(
            "OVIRT_INI_PATH",
            "[ovirt]\novirt_url=https://rhv2.example\novirt_username=u2\novirt_password=rhv2-pw-Ij90\n",
            "0600",
        )
        .env("TOWER_VERIFY_SSL", "False")
        .env("TOWER_OAUTH_TOKEN", "")
        .env("K8S_AUTH_VERIFY_SSL", "False")
        .unset("K8S_AUTH_SSL_CA_CERT")
        .file("TF_BACKEND_CONFIG_FILE", "path = \"state-Qr78\"", "0600")
        .unset("GOOGLE_BACKEND_CREDENTIALS")
        .file("VENDOR_CONF", "[vendor]\nhost=h2\nkey=", "0600")
        .file("VENDOR_FLAGS", "secure", "0600")
        .env("VENDOR_INSECURE", "False")
        .env("VENDOR_KEY", "")
        .env("VENDOR_BOTH", "h2-")
        .var("vendor_nested", json!({"list": ["", "two"]}));
    let job_b = run_case(&lab, p, inv, "other-branches", &creds_b, &b);

    // Secrets: nowhere a user or the data dir shows them.
    let all: Vec<Value> = a_inputs
        .iter()
        .chain(b_inputs.iter())
        .map(|(_, _, i)| i.clone())
        .chain([json!({"vault_password": vault_pw})])
        .collect();
    let secrets = secrets_of(&all);
    assert!(secrets.len() > 25, "{secrets:?}");
    for c in creds.iter().chain(creds_b.iter()) {
        let shown = lab
            .s
            .admin("GET", &format!("/api/v2/credentials/{c}/"), None, 200);
        assert_clean(
            &format!("credential {c}"),
            shown.to_string().as_bytes(),
            &secrets,
        );
    }
    let ids = [job_a["id"].as_i64().unwrap(), job_b["id"].as_i64().unwrap()];
    scan(&lab, &ids, &secrets);
    let job_env = job_a["job_env"].to_string();
    assert!(
        job_env.contains("AKIAEXAMPLE") && job_env.contains("VMWARE_HOST"),
        "job_env lacks the injected variables: {job_env}"
    );
    let (dir, logs) = lab.s.stop_with_logs();
    assert_clean("rawx's log", logs.as_bytes(), &secrets);
    let mut db = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("rawx.db") {
            db.extend(std::fs::read(e.path()).unwrap());
        }
    }
    assert!(
        contains(&db, "AKIAEXAMPLE"),
        "the database scan found no credential"
    );
    assert_clean("the SQLite database", &db, &secrets);
}

/// Passwords a credential asks for at launch: listed by the launch GET, refused when missing
/// with AWX's 400, used by the job when given, and kept out of everything the job shows.
#[test]
fn ask_at_runtime_passwords_are_prompted_at_launch() {
    let lab = Lab::start();
    let scratch = tempfile::tempdir().unwrap();
    let vault_pw = "asked-vault-Ws73";
    let ssh_pw = "asked-ssh-Qe19";
    let vars = vault_vars(
        scratch.path(),
        "prod_secret",
        "decrypted-asked-31",
        vault_pw,
        Some("prod"),
    );
    let p = lab.project(
        "ask",
        &[
            ("prod_vars.yml", &vars),
            (
                "vault_prod.yml",
                &vault_play("prod_vars.yml", "prod_secret"),
            ),
        ],
    );
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let machine = lab.credential(
        "m",
        "Machine",
        json!({"username": whoami(), "password": "ASK"}),
    );
    let vault = lab.credential(
        "v",
        "Vault",
        json!({"vault_password": "ASK", "vault_id": "prod"}),
    );
    let shown = lab
        .s
        .admin("GET", &format!("/api/v2/credentials/{vault}/"), None, 200);
    assert_eq!(shown["inputs"]["vault_password"], "ASK", "{shown}");
    let jt = lab.jt("ask", p, inv, "vault_prod.yml", json!({}));
    lab.attach(jt, machine);
    lab.attach(jt, vault);
    let get = lab.s.admin(
        "GET",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        None,
        200,
    );
    assert_eq!(
        get["passwords_needed_to_start"],
        json!(["ssh_password", "vault_password.prod"])
    );
    assert_eq!(get["can_start_without_user_input"], false);
    let d = &get["defaults"]["credentials"];
    assert_eq!(d[1]["vault_id"], "prod", "{d}");
    assert_eq!(
        d[1]["passwords_needed"],
        json!(["vault_password.prod"]),
        "{d}"
    );

    let r = lab.s.http(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        Some(("admin", ADMIN_PW)),
        Some(&json!({"credential_passwords": {"ssh_password": ssh_pw}})),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"passwords_needed_to_start": ["vault_password.prod"]})
    );

    let launched = lab.launch_with(
        jt,
        json!({"credential_passwords": {"ssh_password": ssh_pw, "vault_password.prod": vault_pw}}),
    );
    let id = launched["job"].as_i64().unwrap();
    let job = lab.wait_status(id, "successful");
    assert!(
        lab.stdout(id).contains("plain=decrypted-asked-31"),
        "{}",
        lab.stdout(id)
    );
    assert_eq!(
        job["passwords_needed_to_start"],
        json!(["ssh_password", "vault_password.prod"])
    );
    let relaunch = lab
        .s
        .admin("GET", &format!("/api/v2/jobs/{id}/relaunch/"), None, 200);
    assert_eq!(
        relaunch["passwords_needed_to_start"],
        json!(["ssh_password", "vault_password.prod"])
    );
    let args = job_args(&job).join(" ");
    assert!(
        args.contains("--ask-pass") && args.contains("--vault-id prod@prompt"),
        "{args}"
    );
    // A relaunch asks again.
    let r = lab.s.http(
        "POST",
        &format!("/api/v2/jobs/{id}/relaunch/"),
        Some(("admin", ADMIN_PW)),
        Some(&json!({"credential_passwords": {"ssh_password": ssh_pw}})),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"credential_passwords": ["Missing passwords needed to start: vault_password.prod"]})
    );
    let again = lab.s.admin(
        "POST",
        &format!("/api/v2/jobs/{id}/relaunch/"),
        Some(json!({"credential_passwords": {"ssh_password": ssh_pw, "vault_password.prod": vault_pw}})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    lab.wait_status(again, "successful");
    assert!(lab.stdout(again).contains("plain=decrypted-asked-31"));
    let secrets = [
        ("asked ssh password".to_string(), ssh_pw.to_string()),
        ("asked vault password".to_string(), vault_pw.to_string()),
    ];
    scan(&lab, &[id, again], &secrets);
    let (dir, logs) = lab.s.stop_with_logs();
    assert_clean("rawx's log", logs.as_bytes(), &secrets);
    let mut db = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("rawx.db") {
            db.extend(std::fs::read(e.path()).unwrap());
        }
    }
    assert_clean("the SQLite database", &db, &secrets);
}

/// A credential lacking an input its type requires stops the job before it runs, with AWX's
/// explanation.
#[test]
fn a_credential_missing_a_required_input_fails_the_job_before_it_starts() {
    let lab = Lab::start();
    let p = lab.project("p", &[("report.yml", REPORT)]);
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let aws = lab.credential(
        "half-aws",
        "Amazon Web Services",
        json!({"username": "AKIA"}),
    );
    let jt = lab.jt("req", p, inv, "report.yml", json!({}));
    lab.attach(jt, aws);
    let id = lab.launch(jt);
    let job = lab.wait_status(id, "failed");
    assert_eq!(
        job["job_explanation"],
        "Job cannot start because Credential half-aws does not provide one or more required fields (password). Task failed pre-start check."
    );
}
