//! Work units with real commands (`cat`, `sh`), through the same [`Node`] API the control
//! service uses.

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::node::{Node, SubmitRequest};

/// A scratch dir, removed when the test ends.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("rawx-mesh-unit-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn config(datadir: &Path) -> Config {
    let src = format!(
        "- node:\n    id: n1\n    datadir: {}\n- local-only: null\n\
         - work-command:\n    worktype: cat\n    command: cat\n\
         - work-command:\n    worktype: sh\n    command: sh\n    params: -c\n    allowruntimeparams: true\n",
        datadir.display()
    );
    Config::parse(&src, "test").unwrap()
}

fn options() -> WorkOptions {
    WorkOptions {
        reap_after: None,
        cancel_grace: Duration::from_secs(2),
        unit_runner: None,
    }
}

fn sh(script: &str) -> SubmitRequest {
    // One shell word, so `sh -c` gets the whole script.
    SubmitRequest::new("sh").param("params", &format!("'{script}'"))
}

async fn output(node: &Node, id: &str, offset: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut r = node.results(id, offset).unwrap();
    tokio::time::timeout(Duration::from_secs(20), r.copy_to(&mut out))
        .await
        .expect("results ended")
        .unwrap();
    out
}

#[tokio::test]
async fn cat_returns_the_payload_and_succeeds() {
    let dir = temp_dir();
    let node = Node::start(&config(&dir), options()).unwrap();
    let payload: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let id = node
        .submit(&SubmitRequest::new("cat"), &mut payload.as_slice())
        .await
        .unwrap();
    assert_eq!(id.len(), 8);
    assert_eq!(output(&node, &id, 0).await, payload);
    assert_eq!(output(&node, &id, 1000).await, payload[1000..]);
    let st = node.status(&id).unwrap();
    assert_eq!(
        (st.work_state(), st.detail.as_str()),
        (Some(WorkState::Succeeded), "exit status 0")
    );
    assert_eq!(st.stdout_size, payload.len() as u64);
    assert_eq!(st.extra_data, Value::Null);

    use std::os::unix::fs::PermissionsExt;
    let unit_dir = dir.join("n1").join(&id);
    let mode = std::fs::metadata(&unit_dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "unit dirs hold secrets");
    let mode = std::fs::metadata(unit_dir.join("stdin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let on_disk = UnitStatus::from_file(&std::fs::read(unit_dir.join("status")).unwrap()).unwrap();
    assert_eq!(on_disk, st);

    node.release(&id).await.unwrap();
    assert!(!unit_dir.exists());
    assert!(matches!(node.status(&id), Err(WorkError::UnknownUnit(_))));
    assert!(node.list().is_empty());
}

#[tokio::test]
async fn stderr_lands_in_stdout_and_exit_codes_are_recorded() {
    let dir = temp_dir();
    let node = Node::start(&config(&dir), options()).unwrap();
    let id = node
        .submit(&sh("echo out; echo err >&2; exit 3"), &mut &b""[..])
        .await
        .unwrap();
    assert_eq!(output(&node, &id, 0).await, b"out\nerr\n");
    let st = node.status(&id).unwrap();
    assert_eq!(
        (st.work_state(), st.detail.as_str()),
        (Some(WorkState::Failed), "exit status 3")
    );
}

#[tokio::test]
async fn results_follow_a_running_unit() {
    let dir = temp_dir();
    let node = Node::start(&config(&dir), options()).unwrap();
    let id = node
        .submit(&sh("echo one; sleep 0.4; echo two"), &mut &b""[..])
        .await
        .unwrap();
    let st = node.status(&id).unwrap();
    assert_eq!(st.work_state(), Some(WorkState::Running));
    assert!(st.detail.starts_with("Running: PID "), "{}", st.detail);
    assert!(st.extra_data["Pid"].as_u64().is_some());
    assert_eq!(
        st.extra_data["Params"],
        "-c 'echo one; sleep 0.4; echo two'"
    );
    assert_eq!(output(&node, &id, 0).await, b"one\ntwo\n");
}

#[tokio::test]
async fn submit_refusals() {
    let dir = temp_dir();
    let node = Node::start(&config(&dir), options()).unwrap();
    let err = |r: Result<String, WorkError>| r.unwrap_err().to_string();
    let e = err(node
        .submit(
            &SubmitRequest::new("cat").param("params", "-n"),
            &mut &b""[..],
        )
        .await);
    assert_eq!(e, "extra params provided but not allowed");
    let e = err(node
        .submit(&SubmitRequest::new("nope"), &mut &b""[..])
        .await);
    assert_eq!(e, "unknown work type nope");
    let mut remote = SubmitRequest::new("cat");
    remote.node = Some("elsewhere".into());
    assert!(err(node.submit(&remote, &mut &b""[..]).await).contains("remote work"));
    let mut ttl = SubmitRequest::new("cat");
    ttl.ttl = Some("20s".into());
    assert!(err(node.submit(&ttl, &mut &b""[..]).await).contains("ttl"));
    let e = err(node.submit(&sh("unbalanced ' quote"), &mut &b""[..]).await);
    assert!(e.contains("shell-style"), "{e}");
    let mut local = SubmitRequest::new("cat");
    local.node = Some("LOCALHOST".into());
    let id = node.submit(&local, &mut &b""[..]).await.unwrap();
    // Let it finish before the scratch dir goes.
    output(&node, &id, 0).await;
}

#[tokio::test]
async fn a_broken_payload_fails_the_unit() {
    struct Broken(bool);
    impl AsyncRead for Broken {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if self.0 {
                return std::task::Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "reset",
                )));
            }
            self.0 = true;
            buf.put_slice(b"partial");
            std::task::Poll::Ready(Ok(()))
        }
    }
    let dir = temp_dir();
    let node = Node::start(&config(&dir), options()).unwrap();
    let e = node
        .submit(&SubmitRequest::new("cat"), &mut Broken(false))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("receive the payload"), "{e}");
    let (id, st) = node.list().into_iter().next().unwrap();
    assert_eq!(st.work_state(), Some(WorkState::Failed));
    assert!(
        st.detail.contains("payload not received completely"),
        "{}",
        st.detail
    );
    assert!(
        output(&node, &id, 0).await.is_empty(),
        "a failed unit's results end"
    );
}

#[tokio::test]
async fn cancel_stops_the_whole_process_group_and_ends_results() {
    let dir = temp_dir();
    let node = Node::start(&config(&dir), options()).unwrap();
    let marker = format!("rawx-cancel-marker-{}", std::process::id());
    // A background child (which ignores SIGINT) and a foreground one, both tagged.
    let script =
        format!("sh -c \"sleep 300; :\" {marker} & sh -c \"sleep 301; :\" {marker}; echo done");
    let id = node.submit(&sh(&script), &mut &b""[..]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reader = node.results(&id, 0).unwrap();
    let follower = tokio::spawn(async move {
        let mut reader = reader;
        let mut out = Vec::new();
        reader.copy_to(&mut out).await.map(|_| out)
    });
    node.cancel(&id).await.unwrap();
    let st = node.status(&id).unwrap();
    assert_eq!(
        (st.work_state(), st.detail.as_str()),
        (Some(WorkState::Canceled), "Canceled")
    );
    let pid = std::fs::read_to_string(dir.join("n1").join(&id).join("runner")).map(|_| ());
    assert!(pid.is_ok());
    assert!(
        !process::group_alive(st_pid(&node, &id)),
        "a process of the unit survived"
    );
    tokio::time::timeout(Duration::from_secs(5), follower)
        .await
        .expect("a results reader of a canceled unit ends")
        .unwrap()
        .unwrap();
    // Cancel of a finished unit keeps its state; release then deletes it.
    node.cancel(&id).await.unwrap();
    node.release(&id).await.unwrap();
}

fn st_pid(node: &Node, id: &str) -> u32 {
    let unit = node_unit(node, id);
    let runner = *unit.runner.lock().unwrap();
    runner.unwrap().0
}

fn node_unit(node: &Node, id: &str) -> Arc<Unit> {
    node.work_manager().get(id).unwrap()
}

#[tokio::test]
async fn a_new_node_adopts_running_and_pending_units() {
    let dir = temp_dir();
    let cfg = config(&dir);
    let id = {
        let node = Node::start(&cfg, options()).unwrap();
        let id = node
            .submit(&sh("echo before; sleep 0.6; echo after"), &mut &b""[..])
            .await
            .unwrap();
        let abandoned = node.create_unit(&SubmitRequest::new("cat")).unwrap();
        let abandoned_id = abandoned.id().to_string();
        drop(abandoned);
        let st = node.status(&abandoned_id).unwrap();
        assert_eq!(st.work_state(), Some(WorkState::Failed));
        assert!(st.detail.contains("abandoned"), "{}", st.detail);
        // A crash between create and start: no destructor runs.
        std::mem::forget(node.create_unit(&SubmitRequest::new("cat")).unwrap());
        id
    };
    // The first node is gone; its unit runs on.
    let node = Node::start(&cfg, options()).unwrap();
    assert_eq!(
        node.status(&id).unwrap().work_state(),
        Some(WorkState::Running)
    );
    assert_eq!(output(&node, &id, 0).await, b"before\nafter\n");
    assert_eq!(node.status(&id).unwrap().detail, "exit status 0");
    let units = node.list();
    let pending: Vec<_> = units
        .values()
        .filter(|s| s.detail == "Pending at restart")
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].work_state(), Some(WorkState::Failed));
}

#[tokio::test]
async fn unreleased_units_are_reaped() {
    let dir = temp_dir();
    let opts = WorkOptions {
        reap_after: Some(Duration::from_millis(200)),
        ..options()
    };
    let node = Node::start(&config(&dir), opts).unwrap();
    let id = node
        .submit(&SubmitRequest::new("cat"), &mut &b"x"[..])
        .await
        .unwrap();
    output(&node, &id, 0).await;
    node.work_manager().tick(true).await;
    assert!(node.status(&id).is_ok(), "too young to reap");
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.work_manager().tick(true).await;
    assert!(node.status(&id).is_err(), "unit was not reaped");
    assert!(!dir.join("n1").join(&id).exists());
}

/// The controller spawns these on its runtime, so they must be Send.
#[tokio::test]
async fn node_futures_are_send() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let dir = temp_dir();
    let node = Node::start(&config(&dir), options()).unwrap();
    send_sync(&node);
    let n = node.clone();
    let id = tokio::spawn(async move {
        let mut payload: &[u8] = b"spawned";
        n.submit(&SubmitRequest::new("cat"), &mut payload).await
    })
    .await
    .unwrap()
    .unwrap();
    let n = node.clone();
    let i = id.clone();
    let out = tokio::spawn(async move {
        let mut r = n.results(&i, 0).unwrap();
        let mut out = Vec::new();
        r.copy_to(&mut out).await.map(|_| out)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out, b"spawned");
    let n = node.clone();
    tokio::spawn(async move { n.release(&id).await })
        .await
        .unwrap()
        .unwrap();
}
