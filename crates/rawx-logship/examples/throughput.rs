//! Log shipping throughput over TCP (bench/logship.sh runs it in release mode): N records
//! logged through `tracing` as fast as one thread can, shipped by the real layer and
//! component to a TCP receiver on loopback that counts lines. Prints one JSON object.
//!
//! `throughput [N] [service|job_events]`: the record kind is a service line (a message and
//! two fields, through `tracing`) or a job event (a stored event row of ~1 KB handed over as
//! the ingester does, reshaped as AWX ships it).

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
        let t0 = Instant::now();
        let row = event.as_object().cloned().unwrap_or_default();
        if kind == "job_events" {
            // As the ingester hands over a stored batch (200 events); the clone here is the
            // example's own cost, the ingester moves its rows.
            let mut i = 0;
            while i < n {
                let k = 200.min(n - i);
                let rows = vec![row.clone(); k];
                let ids: Vec<i64> = (i as i64..(i + k) as i64).collect();
                rawx_logship::ship_job_events(rows, &ids);
                i += k;
            }
        } else {
            for i in 0..n {
                tracing::info!(target: "rawx_bench", job = 1, i, "job finished with some words in it");
            }
        }
        let logged = t0.elapsed();
        let deadline = Instant::now() + Duration::from_secs(120);
        while lines.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let total = t0.elapsed();
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
