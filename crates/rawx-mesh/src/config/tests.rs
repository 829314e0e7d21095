use super::*;

const AWX_SAMPLE: &str = include_str!("../../tests/data/receptor.conf.sample");
const EXEC_SAMPLE: &str = include_str!("../../tests/data/execution-node.receptor.conf");

fn parse(src: &str) -> Result<Config, ConfigError> {
    Config::parse(src, "test.conf")
}

fn err(src: &str) -> String {
    parse(src).unwrap_err().to_string()
}

#[test]
fn awx_sample_loads_as_is() {
    let cfg = parse(AWX_SAMPLE).unwrap();
    assert!(cfg.local_only);
    assert_eq!(cfg.log_level.as_deref(), Some("debug"));
    assert_eq!(cfg.node.firewall_rules.len(), 1);
    assert_eq!(cfg.node.firewall_rules[0]["toservice"], "control");
    let cs = &cfg.control_services[0];
    assert_eq!(
        cs.filename.as_deref(),
        Some(Path::new("/var/run/receptor/receptor.sock"))
    );
    assert_eq!(cs.permissions, 0o660, "quoted '0660' is octal, as in Go");
    assert_eq!(cs.service, "control");
    let wc = &cfg.work_commands[0];
    assert_eq!(
        (wc.work_type.as_str(), wc.command.as_str()),
        ("local", "ansible-runner")
    );
    assert_eq!(wc.params.as_deref(), Some("worker"));
    assert!(wc.allow_runtime_params);
    assert_eq!(cfg.work_kubernetes.len(), 2);
    let signing = cfg.work_signing.as_ref().unwrap();
    assert_eq!(
        signing.token_expiration,
        Some(std::time::Duration::from_secs(60))
    );
    assert_eq!(cfg.tls_clients[0].name, "tlsclient");
    assert!(
        !cfg.node.id.is_empty(),
        "the node ID defaults to the hostname"
    );
    assert_eq!(cfg.node.datadir, Path::new("/tmp/receptor"));
    assert_eq!(cfg.referenced_files().len(), 4);
    assert!(cfg
        .not_implemented()
        .iter()
        .any(|s| s.contains("work-kubernetes kubernetes-runtime-auth")));
}

#[test]
fn execution_node_sample_loads() {
    let cfg = parse(EXEC_SAMPLE).unwrap();
    assert_eq!(cfg.node.id, "exec1.example.com");
    assert_eq!(
        cfg.control_services[0].permissions, 0o660,
        "unquoted 0660 is octal too (YAML 1.1)"
    );
    assert_eq!(cfg.control_services[0].tls.as_deref(), Some("tls_server"));
    assert!(cfg.work_commands[0].verify_signature);
    assert!(cfg.tls_servers[0].require_client_cert);
    assert_eq!(cfg.backends[0].kind, "tcp-listener");
    assert_eq!(cfg.backends[0].endpoint, "0.0.0.0:27199");
    assert_eq!(cfg.referenced_files().len(), 7);
}

#[test]
fn bare_values_and_case_insensitive_options() {
    let cfg = parse(
        "- node:\n    ID: n1\n    DataDir: /x\n- local-only\n- log-level: INFO\n- tcp-peer: h:1\n",
    )
    .unwrap();
    assert_eq!(cfg.node.id, "n1");
    assert_eq!(cfg.node.datadir, Path::new("/x"));
    assert!(cfg.local_only);
    assert_eq!(cfg.log_level.as_deref(), Some("info"));
    assert_eq!(cfg.backends[0].endpoint, "h:1");
}

#[test]
fn unknown_option_names_section_key_and_choices() {
    let e = err("- node:\n    id: n1\n- local-only: null\n- control-service:\n    filename: /s\n    permisions: 0600\n");
    assert!(e.contains("line 6"), "{e}");
    assert!(e.contains("section `control-service`"), "{e}");
    assert!(e.contains("unknown option `permisions`"), "{e}");
    assert!(e.contains("permissions"), "{e}");
}

#[test]
fn wrong_type_names_what_was_expected() {
    let e =
        err("- node:\n    id: n1\n- local-only: null\n- control-service:\n    permissions: rw\n");
    assert!(
        e.contains("option `permissions`: expected an integer"),
        "{e}"
    );
    assert!(e.contains("got `rw`"), "{e}");
    let e = err("- node:\n    id: n1\n- local-only: null\n- work-command:\n    worktype: w\n    command: c\n    allowruntimeparams: maybe\n");
    assert!(
        e.contains("section `work-command`") && e.contains("expected a boolean"),
        "{e}"
    );
    let e = err("- node:\n    id: [a, b]\n- local-only: null\n");
    assert!(
        e.contains("option `id`: expected a string, got a list"),
        "{e}"
    );
}

#[test]
fn unknown_section_and_shapes() {
    let e = err("- nod:\n    id: n1\n");
    assert!(e.contains("unknown section `nod`"), "{e}");
    let e = err("node:\n  id: n1\n");
    assert!(e.contains("expected a list"), "{e}");
    let e = err("- node: {id: n1}\n  local-only: null\n");
    assert!(e.contains("exactly one section"), "{e}");
}

#[test]
fn malformed_yaml_is_a_clear_error() {
    let e = err("- node:\n    id: n1\n  - bad: [\n");
    assert!(e.contains("malformed YAML"), "{e}");
}

#[test]
fn semantic_checks() {
    assert!(err("- node:\n    id: localhost\n- local-only: null\n").contains("not allowed"));
    assert!(err("- node:\n    id: ../etc\n- local-only: null\n").contains("no slashes"));
    assert!(err("- node:\n    id: ..\n- local-only: null\n").contains("no slashes"));
    assert!(err("- node:\n    id: n1\n").contains("nothing to do"));
    assert!(
        err("- node:\n    id: n1\n- local-only: null\n- work-command:\n    worktype: a\n")
            .contains("option `command` is required")
    );
    let dup = "- node:\n    id: n1\n- local-only: null\n- work-command:\n    worktype: a\n    command: c\n- work-command:\n    worktype: a\n    command: c\n";
    assert!(err(dup).contains("defined twice"));
    let verify = "- node:\n    id: n1\n- local-only: null\n- work-command:\n    worktype: a\n    command: c\n    verifysignature: true\n";
    assert!(err(verify).contains("work-verification"));
    let tls = "- node:\n    id: n1\n- local-only: null\n- control-service:\n    tcplisten: 1234\n    tcptls: nope\n";
    assert!(err(tls).contains("tls-server `nope`"));
    assert!(
        err("- node:\n    id: n1\n- node:\n    id: n2\n- local-only: null\n")
            .contains("appears twice")
    );
}

#[test]
fn missing_files_are_each_named() {
    let cfg = parse(AWX_SAMPLE).unwrap();
    let e = cfg.check_files().unwrap_err().to_string();
    for path in [
        "/etc/receptor/signing/work-private-key.pem",
        "/etc/receptor/tls/receptor.crt",
        "/etc/receptor/tls/receptor.key",
        "/etc/receptor/tls/ca/receptor-ca.crt",
    ] {
        assert!(e.contains(path), "{path} not named in: {e}");
    }
    assert!(e.contains("tls-client tlsclient key"), "{e}");
}

/// Garbage never panics the loader: every input is a config or an error.
#[test]
fn arbitrary_input_is_an_error_not_a_panic() {
    let mut x: u64 = 0x2545f4914f6cdd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Mutations of real configs reach deeper than random bytes alone.
    let seeds = [AWX_SAMPLE, EXEC_SAMPLE];
    let alphabet = b"- :\n\t'\"[]{}#&*!|>%@`0x7,.?~\\";
    for round in 0..3000 {
        let mut bytes = seeds[round % 2].as_bytes().to_vec();
        for _ in 0..(next() % 8 + 1) {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, (next() % 256) as u8),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
    }
}
