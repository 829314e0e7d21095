use super::*;
use rawx_supervisor::ShutdownHandle;
use std::sync::Mutex;

#[test]
fn pins_are_the_ones_the_tests_run_with() {
    let req = include_str!("../../../scripts/requirements-test.txt");
    for pin in PINS {
        assert!(
            req.lines().any(|l| l.trim() == *pin),
            "{pin} is not in scripts/requirements-test.txt: keep the two in step"
        );
    }
}

#[test]
fn the_key_follows_what_decides_the_contents() {
    let a = Options::default();
    let mut b = Options::default();
    b.pins[0] = "ansible-core==2.18.0".into();
    let c = Options {
        python: "/usr/bin/python3.12".into(),
        ..Options::default()
    };
    let d = Options {
        pip_args: vec!["--no-index".into()],
        ..Options::default()
    };
    assert_eq!(a.key().len(), 12);
    assert_ne!(a.key(), b.key());
    assert_ne!(a.key(), c.key());
    assert_eq!(
        a.key(),
        d.key(),
        "where wheels come from does not change the build"
    );
}

/// Runs a builder for `env` until `ready` answers; returns the answer and the steps seen.
async fn wait_ready(env: &Environment) -> (Result<(), EeError>, Vec<String>) {
    let stop = ShutdownHandle::new();
    let builder = Builder::new(env.clone());
    let shutdown = stop.subscribe();
    let task = tokio::spawn(async move { builder.run(shutdown).await });
    let seen = Mutex::new(Vec::new());
    let r = env
        .ready(|step| {
            seen.lock().unwrap().push(step);
            async {}
        })
        .await;
    stop.trigger();
    task.await.unwrap().unwrap();
    (r, seen.into_inner().unwrap())
}

#[tokio::test]
async fn a_missing_python_fails_the_wait_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        python: "/nonexistent/python3".into(),
        ..Options::default()
    };
    let env = Environment::managed(dir.path(), opts);
    assert_eq!(env.state(), State::Absent);
    assert!(env.runner_command().starts_with(
        dir.path()
            .join("ee")
            .join(Options::default().key())
            .parent()
            .unwrap()
    ));
    let (r, seen) = wait_ready(&env).await;
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("/nonexistent/python3"), "{msg}");
    assert!(msg.contains("RAWX_EE_PYTHON"), "{msg}");
    assert!(msg.contains("RAWX_ANSIBLE_RUNNER"), "{msg}");
    // Steps are a watch: a fast failure may skip straight past them, but the job waited.
    assert!(
        seen.iter()
            .any(|s| s.starts_with("Waiting for the execution environment")),
        "{seen:?}"
    );
    assert!(matches!(env.state(), State::Failed(_)));
}

/// pip with no index and an empty wheel directory cannot install anything: the build fails
/// after the virtualenv step, the message names the offline knobs, and the next attempt keeps
/// the virtualenv (it resumes at pip).
#[tokio::test]
async fn a_failing_pip_names_the_index_knobs_and_the_retry_resumes_at_pip() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = tempfile::tempdir().unwrap();
    let opts = Options {
        pip_args: vec![
            "--no-index".into(),
            "--find-links".into(),
            wheels.path().display().to_string(),
        ],
        ..Options::default()
    };
    let env = Environment::managed(dir.path(), opts.clone());
    let (r, seen) = wait_ready(&env).await;
    let msg = r.unwrap_err().to_string();
    for want in [
        "pip could not install",
        "PIP_FIND_LINKS",
        "PIP_INDEX_URL",
        "RAWX_EE_PIP_ARGS",
    ] {
        assert!(msg.contains(want), "{want} missing from: {msg}");
    }
    assert!(
        seen.iter().any(|s| s.contains("installing ansible-core")),
        "{seen:?}"
    );
    let venv = dir.path().join("ee").join(opts.key());
    let python = std::fs::metadata(venv.join("bin/python"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(
        !venv.join(build_marker()).exists(),
        "a failed build has no marker"
    );

    let (r, _) = wait_ready(&env).await;
    assert!(r.is_err());
    let again = std::fs::metadata(venv.join("bin/python"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(python, again, "the retry kept the virtualenv");
}

fn build_marker() -> &'static str {
    "rawx-ee.json"
}

#[tokio::test]
async fn an_external_runner_is_ready_at_once() {
    let env = Environment::external("/opt/ansible/bin/ansible-runner".into());
    assert!(!env.is_managed());
    assert_eq!(env.image(), "/opt/ansible/bin/ansible-runner");
    let mut called = false;
    env.ready(|_| {
        called = true;
        async {}
    })
    .await
    .unwrap();
    assert!(!called);
}
