//! The decoder and encoder against byte streams captured from the real ansible-runner 2.4.3
//! (`tests/data/`, copied from shared/samples/runner).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rawx_runner::{
    encode_transmit, host_stats, host_status_counts, read_zip, stdout_txt, Artifacts, Frame,
    PrivateDataDir, ResultDecoder, RunnerError, RunnerEvent, StatusFrame,
};
use serde_json::{json, Map, Value};

fn data(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Everything a user checks after decoding one stream.
#[derive(Debug, Default)]
struct Decoded {
    statuses: Vec<StatusFrame>,
    events: Vec<RunnerEvent>,
    keepalives: usize,
    artifacts: Option<Artifacts>,
    eof: bool,
    errors: Vec<String>,
    /// Lines that were not JSON (kept as output).
    texts: Vec<String>,
}

impl Decoded {
    fn status_names(&self) -> Vec<&str> {
        self.statuses.iter().map(|s| s.status.as_str()).collect()
    }

    fn event_counts(&self) -> BTreeMap<&str, usize> {
        let mut m = BTreeMap::new();
        for e in &self.events {
            *m.entry(e.event.as_str()).or_default() += 1;
        }
        m
    }
}

/// A small deterministic generator, so chunk sizes vary but failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound
    }
}

fn decode_chunked(bytes: &[u8], chunks: impl Fn(usize) -> usize) -> Decoded {
    let mut d = ResultDecoder::new();
    let mut out = Decoded::default();
    let mut i = 0;
    while i < bytes.len() {
        let n = chunks(i).clamp(1, bytes.len() - i);
        for item in d.feed(&bytes[i..i + n]) {
            match item {
                Ok(Frame::Status(s)) => out.statuses.push(s),
                Ok(Frame::Event(e)) => out.events.push(*e),
                Ok(Frame::Keepalive) => out.keepalives += 1,
                Ok(Frame::Artifacts(zip)) => {
                    out.artifacts = Some(Artifacts::from_zip(&zip).unwrap())
                }
                Ok(Frame::Eof) => out.eof = true,
                Ok(Frame::Text(t)) => out.texts.push(t),
                Err(e) => out.errors.push(e.to_string()),
            }
        }
        i += n;
    }
    if let Err(e) = d.finish() {
        out.errors.push(e.to_string());
    }
    out
}

/// Decodes whole, byte by byte and in random chunks, and checks all three agree.
fn decode(name: &str) -> Decoded {
    let bytes = data(name);
    let whole = decode_chunked(&bytes, |_| usize::MAX);
    let single = decode_chunked(&bytes, |_| 1);
    let rng = std::cell::RefCell::new(Lcg(bytes.len() as u64));
    let random = decode_chunked(&bytes, |_| rng.borrow_mut().next(700) + 1);
    for other in [&single, &random] {
        assert_eq!(other.statuses, whole.statuses, "{name}");
        assert_eq!(other.events, whole.events, "{name}");
        assert_eq!(other.keepalives, whole.keepalives, "{name}");
        assert_eq!(other.artifacts, whole.artifacts, "{name}");
        assert_eq!(other.errors, whole.errors, "{name}");
    }
    assert!(whole.errors.is_empty(), "{name}: {:?}", whole.errors);
    assert!(whole.texts.is_empty(), "{name}: {:?}", whole.texts);
    assert!(whole.eof, "{name}: no eof");
    // Counters run 1, 2, 3… in stream order.
    let counters: Vec<u64> = whole.events.iter().map(|e| e.counter).collect();
    assert_eq!(
        counters,
        (1..=counters.len() as u64).collect::<Vec<_>>(),
        "{name}"
    );
    whole
}

fn rc(d: &Decoded) -> Option<i32> {
    d.artifacts.as_ref().and_then(|a| a.rc)
}

#[test]
fn worker_out_failed_run_with_unreachable_host() {
    let d = decode("worker.out");
    assert_eq!(d.status_names(), ["starting", "running", "failed"]);
    let starting = &d.statuses[0];
    assert_eq!(starting.runner_ident.as_deref(), Some("rawxdemo"));
    assert_eq!(starting.command.as_ref().unwrap()[0], "ansible-playbook");
    assert!(starting.env.as_ref().unwrap().contains_key("PATH"));
    assert!(starting.cwd.is_some());
    assert_eq!(d.events.len(), 28);
    let a = d.artifacts.as_ref().unwrap();
    assert_eq!((a.rc, a.status.as_deref()), (Some(4), Some("failed")));
    assert!(a.command.as_ref().unwrap()["command"].is_array());

    let counts = d.event_counts();
    assert_eq!(counts["runner_item_on_ok"], 3);
    assert_eq!(counts["runner_on_unreachable"], 1);
    assert_eq!(counts["playbook_on_stats"], 1);

    let failed: Vec<&RunnerEvent> = d
        .events
        .iter()
        .filter(|e| e.event == "runner_on_failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(!failed[0].failed(), "ignore_errors must clear failed");
    let unreachable = d
        .events
        .iter()
        .find(|e| e.event == "runner_on_unreachable")
        .unwrap();
    assert!(unreachable.failed());
    assert_eq!(unreachable.event_display(), "Host Unreachable");

    let stats = d.events.last().unwrap();
    assert_eq!(stats.event, "playbook_on_stats");
    assert!(stats.failed(), "an unreachable host fails the stats event");
    let hosts = host_stats(&stats.event_data);
    assert_eq!(hosts["localhost"].ignored, 1);
    assert!(!hosts["localhost"].failed());
    assert!(hosts.values().any(|h| h.dark == 1 && h.failed()));
    assert_eq!(host_status_counts(&stats.event_data).get("dark"), Some(&1));

    // AWX's text stdout: the artifacts' stdout without \r and blank lines, line for line.
    let txt = stdout_txt(&d.events);
    assert!(txt.contains("PLAY [Local play] ****"));
    assert!(txt.contains("\"msg\": \"Hello world from rawx lab\""));
    let squash = |s: &str| {
        s.replace('\r', "")
            .lines()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(squash(&txt), squash(a.stdout.as_deref().unwrap()));
}

#[test]
fn worker_out_events_match_the_job_event_files() {
    let d = decode("worker.out");
    for (file, counter) in [
        ("event_playbook_on_start.json", 1),
        ("event_runner_on_failed_ignored.json", 17),
        ("event_runner_on_unreachable.json", 27),
        ("event_playbook_on_stats.json", 28),
    ] {
        let Value::Object(m) = serde_json::from_slice(&data(file)).unwrap() else {
            panic!("{file}")
        };
        let expected = RunnerEvent::from_json(m).unwrap();
        assert_eq!(expected.counter, counter, "{file}");
        assert_eq!(d.events[counter as usize - 1], expected, "{file}");
    }
    let start = &d.events[0];
    assert_eq!(
        (start.event_level(), start.event_display().as_str()),
        (0, "Playbook Started")
    );
    assert_eq!(start.playbook(), "site.yml");
    assert!(start.parent_uuid.is_none());
    assert!(start.extra.contains_key("pid"));
}

#[test]
fn worker_out_ok_event_fields() {
    let Value::Object(m) = serde_json::from_slice(&data("event_runner_on_ok.json")).unwrap() else {
        panic!()
    };
    let e = RunnerEvent::from_json(m).unwrap();
    assert_eq!(e.host_name(), "localhost");
    assert_eq!(e.play(), "Local play");
    assert!(!e.task().is_empty());
    assert_eq!(e.role(), "");
    assert_eq!(e.task(), "Run a command");
    assert!(!e.changed(), "this command task sets changed_when: false");
    assert!(!e.failed());
    assert_eq!(
        (e.event_level(), e.event_display().as_str()),
        (3, "Host OK")
    );
}

#[test]
fn awxlike_stream_has_int_ident_job_id_and_no_stdout_file() {
    let d = decode("worker-awxlike.out");
    assert_eq!(d.status_names(), ["starting", "running", "successful"]);
    assert!(d
        .statuses
        .iter()
        .all(|s| s.runner_ident.as_deref() == Some("42")));
    let cmd = d.statuses[0].command.as_ref().unwrap();
    assert!(cmd.windows(2).any(|w| w == ["--limit", "local"]), "{cmd:?}");
    assert!(d
        .events
        .iter()
        .all(|e| e.extra.get("job_id") == Some(&json!(42))));
    let a = d.artifacts.as_ref().unwrap();
    assert_eq!((a.rc, a.stdout.as_deref()), (Some(0), None));
    // Coloured stdout: txt has no escape left, ansi does.
    assert!(d.events.iter().any(|e| e.stdout.contains('\x1b')));
    assert!(!stdout_txt(&d.events).contains('\x1b'));
    assert_eq!(d.event_counts()["playbook_on_no_hosts_matched"], 1);
}

#[test]
fn keepalives_cancel_timeout_syntax_error_and_handlers() {
    let d = decode("worker-keepalive.out");
    assert_eq!(d.status_names(), ["starting", "running", "successful"]);
    assert_eq!((d.keepalives, rc(&d)), (5, Some(0)));

    let d = decode("worker-canceled.out");
    assert_eq!(d.status_names(), ["starting", "running", "canceled"]);
    assert_eq!(rc(&d), Some(254));
    assert!(d.statuses[2].kind().is_final());

    let d = decode("worker-timeout.out");
    assert_eq!(d.status_names(), ["starting", "running", "timeout"]);
    assert_eq!(rc(&d), Some(254));

    let d = decode("worker-syntax-error.out");
    assert_eq!(d.status_names(), ["starting", "running", "failed"]);
    assert_eq!(rc(&d), Some(4));
    assert!(d
        .events
        .iter()
        .all(|e| e.event == "verbose" && e.event_data == json!({})));
    assert!(stdout_txt(&d.events).starts_with("[ERROR]: conflicting action statements"));

    let d = decode("worker-warning-handler.out");
    assert_eq!(d.status_names(), ["starting", "running", "successful"]);
    let counts = d.event_counts();
    assert_eq!((counts["warning"], counts["playbook_on_notify"]), (1, 1));
    let notify = d
        .events
        .iter()
        .find(|e| e.event == "playbook_on_notify")
        .unwrap();
    assert_eq!(notify.event_display(), "Running Handlers");
}

#[test]
fn worker_error_for_bad_input() {
    let d = decode("worker-error-badinput.out");
    assert_eq!(d.status_names(), ["error"]);
    assert_eq!(
        d.statuses[0].job_explanation.as_deref(),
        Some("Failed to JSON parse a line from transmit stream.")
    );
    assert!(d.artifacts.is_none());
}

/// Splits a transmit stream into (kwargs line, zipfile line, base64, tail).
fn split_transmit(bytes: &[u8]) -> (Value, Value, Vec<u8>, Vec<u8>) {
    let nl1 = bytes.iter().position(|&b| b == b'\n').unwrap();
    let rest = &bytes[nl1 + 1..];
    let nl2 = rest.iter().position(|&b| b == b'\n').unwrap();
    let zipline: Value = serde_json::from_slice(&rest[..nl2]).unwrap();
    let n = zipline["zipfile"].as_u64().unwrap() as usize;
    let b64_len = n.div_ceil(3) * 4;
    let body = &rest[nl2 + 1..];
    (
        serde_json::from_slice(&bytes[..nl1]).unwrap(),
        zipline,
        body[..b64_len].to_vec(),
        body[b64_len..].to_vec(),
    )
}

#[test]
fn encoded_transmit_has_the_framing_of_the_real_one() {
    let real = data("transmit-awxlike.bin");
    let (real_kwargs, _, real_b64, real_tail) = split_transmit(&real);
    let real_zip = read_zip(&base64_decode(&real_b64)).unwrap();

    // Re-encode the same kwargs and archive members.
    let Value::Object(kwargs) = real_kwargs["kwargs"].clone() else {
        panic!()
    };
    let mut ours = Vec::new();
    encode_transmit(&kwargs, real_zip.clone(), &mut ours).unwrap();

    // Same kwargs line byte for byte (Python separators), same glued tail.
    let first_line = |b: &[u8]| b[..=b.iter().position(|&c| c == b'\n').unwrap()].to_vec();
    assert_eq!(first_line(&ours), first_line(&real));
    let (_, zipline, b64, tail) = split_transmit(&ours);
    assert_eq!(tail, real_tail);
    assert_eq!(tail, b"{\"eof\": true}\n");
    assert!(b64
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(c)));
    let zip = base64_decode(&b64);
    assert_eq!(zipline, json!({"zipfile": zip.len()}));
    assert_eq!(
        read_zip(&zip).unwrap(),
        real_zip,
        "same members, modes and contents"
    );
    assert!(ours.is_ascii());
}

#[test]
fn private_data_dir_reproduces_the_awxlike_members() {
    let real = data("transmit-awxlike.bin");
    let (_, _, b64, _) = split_transmit(&real);
    let real_zip = read_zip(&base64_decode(&b64)).unwrap();
    let get = |p: &str| {
        real_zip
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("{p}"))
    };
    let obj = |e: &rawx_runner::ZipEntry| -> Map<String, Value> {
        serde_json::from_slice(&e.data).unwrap()
    };

    let ours = PrivateDataDir::new()
        .extravars(obj(get("env/extravars")))
        .settings(obj(get("env/settings")))
        .cmdline(String::from_utf8(get("env/cmdline").data.clone()).unwrap())
        .project_file("site.yml", 0o644, get("project/site.yml").data.clone())
        .entries();
    for path in [
        "env/extravars",
        "env/settings",
        "env/cmdline",
        "project/site.yml",
    ] {
        let mine = ours.iter().find(|e| e.path == path).unwrap();
        assert_eq!(mine.data, get(path).data, "{path}");
    }
    for dir in ["env", "project", "inventory"] {
        assert!(ours.iter().any(|e| e.path == dir && e.is_dir()), "{dir}/");
    }
}

fn base64_decode(b: &[u8]) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(b).unwrap()
}

#[test]
fn garbage_never_panics_and_errors_name_the_place() {
    let mut d = ResultDecoder::new();
    let items = d.feed(b"{\"status\": \"running\", \"runner_ident\": \"x\"}\nnot json at all\n{\"status\": \"runn\n{\"ok\": 1} [\n{\"event\": \"runner_on_ok\"}\n{\"eof\": true}\n");
    let errs: Vec<String> = items
        .iter()
        .filter_map(|i| i.as_ref().err().map(RunnerError::to_string))
        .collect();
    // A line that is not JSON at all is output the worker printed (kept as text); a broken
    // object is a broken frame.
    let texts: Vec<&str> = items
        .iter()
        .filter_map(|i| match i {
            Ok(Frame::Text(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["not json at all"]);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs[0].contains("line 3, byte 59") && errs[0].contains("invalid JSON"),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].contains("line 4") && errs[1].contains("invalid JSON"),
        "{}",
        errs[1]
    );
    assert!(
        errs[2].contains("line 5") && errs[2].contains("counter"),
        "{}",
        errs[2]
    );
    assert!(matches!(items.last(), Some(Ok(Frame::Eof))));

    // Random bytes, random splices of real streams, random chunking: never a panic.
    let real = data("worker.out");
    let mut rng = Lcg(7);
    for round in 0..300 {
        let mut input: Vec<u8> = Vec::new();
        for _ in 0..rng.next(6) + 1 {
            if rng.next(2) == 0 {
                let a = rng.next(real.len());
                let b = (a + rng.next(4000)).min(real.len());
                input.extend_from_slice(&real[a..b]);
            } else {
                let n = rng.next(300);
                let pool = b"{}[]\":,\n \\0123456789abcdefeofzipfilestatusNaN+/=\xff\xc3";
                input.extend((0..n).map(|_| pool[rng.next(pool.len())]));
            }
        }
        let mut d = ResultDecoder::new().with_limits(1 + rng.next(5000), rng.next(100_000));
        let mut i = 0;
        while i < input.len() {
            let n = (rng.next(64) + 1).min(input.len() - i);
            for item in d.feed(&input[i..i + n]) {
                if let Err(e) = item {
                    let _ = e.to_string();
                }
            }
            i += n;
        }
        let _ = d
            .finish()
            .map_err(|e| assert!(e.to_string().contains("truncated"), "round {round}: {e}"));
    }
}

#[test]
fn truncated_real_stream_says_so() {
    let real = data("worker.out");
    // (Only the final newline missing is still complete: that last line is the eof frame.)
    for cut in [10, real.len() / 2, real.len() - 20, real.len() - 2] {
        let mut d = ResultDecoder::new();
        let _ = d.feed(&real[..cut]);
        let err = d.finish().unwrap_err().to_string();
        assert!(
            err.contains("truncated") && err.contains("no eof"),
            "cut {cut}: {err}"
        );
    }
}
