//! Log shipping throughput over TCP (bench/logship.sh runs it in release mode): N records
//! logged through `tracing` as fast as one thread can, shipped by the real layer and
//! component to a TCP receiver on loopback that counts lines. Prints one JSON object.
//!
//! `throughput [N] [service|job_events]`: the record kind is a service line (a message and
//! two fields, through `tracing`) or a job event (a stored event row of ~1 KB handed over as
//! the ingester does, reshaped as AWX ships it). For job events the time counts only the
//! hand-over and the shipping, in rounds of 10,000 rows built beforehand.

use std::io::Read as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rawx_logship::{LogConfig, Protocol, Shipper};
use rawx_supervisor::{Component as _, ShutdownHandle};
use tracing_subscriber::prelude::*;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(200_000), |a| a.parse())?;
    let kind = args.next().unwrap_or_else(|| "service".into());

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let lines = Arc::new(AtomicUsize::new(0));
    let counted = lines.clone();
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(k) = conn.read(&mut buf) {
            if k == 0 {
                return;
            }
            let nl = buf[..k].iter().filter(|b| **b == b'\n').count();
            counted.fetch_add(nl, Ordering::Relaxed);
        }
    });

    let shipper = Shipper::new();
    tracing_subscriber::registry().with(shipper.layer()).init();
    let buffer = std::env::temp_dir().join(format!("rawx-logship-bench-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        shipper.configure(LogConfig {
            enabled: true,
            host: "127.0.0.1".into(),
            port: Some(port),
            kind: "logstash".into(),
            protocol: Protocol::Tcp,
            loggers: vec!["awx".into(), "job_events".into()],
            queue_size: n + 1,
            disk_path: buffer.clone(),
            node: "bench".into(),
            install_uuid: "00000000-0000-0000-0000-000000000000".into(),
            ..LogConfig::default()
        });
        let stop = ShutdownHandle::new();
        let component = shipper.component();
        let shutdown = stop.subscribe();
        let task = tokio::spawn(async move { component.run(shutdown).await });

        let event = serde_json::json!({
            "job": 1, "event": "runner_on_ok", "counter": 0, "host_name": "localhost",
            "uuid": "9a8c6d1e-6c59-4c7b-8d1c-2a8c8e6f7b10", "parent_uuid": "5f0c", "changed": false,
            "failed": false, "playbook": "play.yml", "play": "bench", "task": "step",
            "role": "", "start_line": 10, "end_line": 12, "verbosity": 0,
            "created": "2024-01-01T00:00:00.000000Z", "modified": "2024-01-01T00:00:00.000000Z",
            "stdout": "ok: [localhost] => {\n    \"msg\": \"bench step\"\n}",
            "event_data": serde_json::json!({"task": "step", "task_action": "debug",
                "task_args": "msg=bench step", "res": {"msg": "bench step", "changed": false},
                "resolved_action": "ansible.builtin.debug", "host": "localhost",
                "remote_addr": "localhost", "duration": 0.01}).to_string(),
        });
        let row = event.as_object().cloned().unwrap_or_default();
        let arrived = &lines;
        let wait_for = |want: usize| async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while arrived.load(Ordering::Relaxed) < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        let (logged, total) = if kind == "job_events" {
            // As the ingester hands over stored batches (200 events), in rounds of CHUNK
            // events built beforehand: the clones are the example's cost, not the shipper's
            // (the ingester moves its rows), and a round stays inside the queue's memory bound.
            const CHUNK: usize = 10_000;
            let no_secrets: std::sync::Arc<[String]> = std::sync::Arc::from(Vec::new());
            let (mut logged, mut total) = (Duration::ZERO, Duration::ZERO);
            let mut i = 0;
            while i < n {
                let m = CHUNK.min(n - i);
                let batches: Vec<(Vec<_>, Vec<i64>)> = (i..i + m)
                    .step_by(200)
                    .map(|b| {
                        let k = 200.min(i + m - b);
                        (vec![row.clone(); k], (b as i64..(b + k) as i64).collect())
                    })
                    .collect();
                let t0 = Instant::now();
                for (rows, ids) in batches {
                    rawx_logship::ship_job_events(rows, &ids, &no_secrets);
                }
                logged += t0.elapsed();
                i += m;
                wait_for(i).await;
                total += t0.elapsed();
            }
            (logged, total)
        } else {
            let t0 = Instant::now();
            for i in 0..n {
                tracing::info!(target: "rawx_bench", job = 1, i, "job finished with some words in it");
            }
            let logged = t0.elapsed();
            wait_for(n).await;
            (logged, t0.elapsed())
        };
        stop.trigger();
        let _ = task.await;
        let got = lines.load(Ordering::Relaxed);
        anyhow::ensure!(got >= n, "only {got} of {n} lines arrived");
        Ok::<_, anyhow::Error>(serde_json::json!({
            "kind": kind,
            "lines": n,
            "log_call_ns_per_line": logged.as_nanos() as f64 / n as f64,
            "seconds": total.as_secs_f64(),
            "lines_per_s": n as f64 / total.as_secs_f64(),
        }))
    });
    let _ = std::fs::remove_dir_all(&buffer);
    println!("{}", result?);
    Ok(())
}
