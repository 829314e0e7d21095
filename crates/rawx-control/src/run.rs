//! One job, from `waiting` to its final state: build the private data dir, encode the transmit
//! stream, submit it as a work unit to the node, decode the result stream as it arrives,
//! store events in batches (one transaction each), then close the job with its status, rc,
//! host summaries and `event_processing_finished`. Every path ends in a final state.

use crate::build;
use crate::ingest::{event_row, Writer, BATCH_SIZE};
use crate::job_state::{end, fail, finish_template, set};
use crate::prepare::{mask, mask_env, Built, Context_, PreStart};
use crate::Shared;
use anyhow::anyhow;
use rawx_domain::messages::{publish, EventsSummary};
use rawx_domain::JobStatus;
use rawx_model::filter::Filter;
use rawx_model::resources::{JobKind, JOB_TEMPLATES, PROJECT_UPDATE_KIND};
use rawx_model::schema::text;
use rawx_model::schema::ColumnType;
use rawx_model::Row;
use rawx_runner::{Frame, ResultDecoder, RunnerEvent, RunnerStatus};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Events are handed to the ingester when `BATCH_SIZE` are buffered, or when the oldest has
/// waited this long.
const BATCH_WAIT: Duration = Duration::from_millis(100);
/// How long the output may be quiet before the job's status is read again.
const ENDED_CHECK: Duration = Duration::from_secs(2);

async fn context(shared: &Shared, job_id: i64) -> Context_<'_> {
    Context_ {
        store: &shared.store,
        key: &shared.key,
        projects_dir: &shared.projects_dir,
        // The node the job runs on (`awx_execution_node`), not this controller.
        node_name: shared.node.node_id(),
        task_env: shared.task_env().await,
        url_base: shared.url_base().await,
        job_dir: shared.jobs_dir.join(job_id.to_string()),
        fact_cache_timeout: shared
            .settings()
            .get(rawx_domain::settings::ANSIBLE_FACT_CACHE_TIMEOUT)
            .await,
    }
}

/// What re-attaching to a job needs of its build: the secrets to mask and the host names to
/// link events to. Built again from the store; if that fails (the project is gone, say), the
/// host links still come from the inventory.
pub async fn rebuild(shared: &Shared, kind: &JobKind, job: &Row) -> Built {
    let id = job.get("id").and_then(Value::as_i64).unwrap_or_default();
    match build::build(&context(shared, id).await, kind, job).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(job = id, error = %e, "re-attaching without the job's build; events are linked to hosts only");
            let hosts = match job.get("inventory").and_then(Value::as_i64) {
                Some(inv) => crate::prepare::all_rows(
                    &shared.store,
                    &rawx_model::resources::HOSTS,
                    Filter::eq("inventory", ColumnType::Int, json!(inv)),
                )
                .await
                .unwrap_or_default()
                .into_iter()
                .filter_map(|h| Some((text(&h, "name").to_string(), h.get("id")?.as_i64()?)))
                .collect(),
                None => HashMap::new(),
            };
            Built {
                kwargs: Map::new(),
                dir: rawx_runner::PrivateDataDir::new(),
                secrets: Vec::new(),
                hosts,
                facts: None,
            }
        }
    }
}

/// Runs a job the task manager moved to `waiting`.
pub async fn run(shared: Shared, kind: &'static JobKind, job_id: i64) {
    // A project update runs git in this process, not a playbook (see `scm.rs`).
    if std::ptr::eq(kind, &PROJECT_UPDATE_KIND) {
        return crate::scm::run(shared, job_id).await;
    }
    let t0 = Instant::now();
    let job = match shared.store.get(kind.resource, job_id).await {
        Ok(j) => j,
        Err(e) => return tracing::error!(job = job_id, error = %e, "job vanished before it ran"),
    };
    // This node's checkout must hold the job's revision (AWX's `sync_and_copy`).
    let job = match crate::node_sync::ensure(&shared, kind, &job).await {
        Ok(false) => job,
        Ok(true) => match shared.store.get(kind.resource, job_id).await {
            Ok(j) => j,
            Err(e) => {
                return tracing::error!(job = job_id, error = %e, "job vanished before it ran")
            }
        },
        Err(why) => return end(&shared, kind, job_id, JobStatus::Failed, &why, "").await,
    };
    let ctx = context(&shared, job_id).await;
    let built = match build::build(&ctx, kind, &job).await {
        Ok(b) => b,
        Err(e) if e.downcast_ref::<PreStart>().is_some() => {
            // AWX's task manager: `failed`, with the check's reason.
            let why = format!("{e} Task failed pre-start check.");
            tracing::warn!(job = job_id, explanation = %why, "job failed its pre-start check");
            return end(&shared, kind, job_id, JobStatus::Failed, &why, "").await;
        }
        Err(e) => {
            return fail(
                &shared,
                kind,
                job_id,
                &format!("The job could not be prepared: {e:#}"),
                "",
            )
            .await
        }
    };
    let mut stream = Vec::new();
    if let Err(e) = rawx_runner::encode_transmit(&built.kwargs, built.dir.entries(), &mut stream) {
        return fail(
            &shared,
            kind,
            job_id,
            &format!("The job's input could not be encoded: {e}"),
            "",
        )
        .await;
    }
    // A managed execution environment may still be building: the job waits, in `waiting`.
    let step = |s: String| set(&shared, kind, job_id, json!({ "job_explanation": s }));
    if let Err(e) = shared.environment.ready(step).await {
        return fail(&shared, kind, job_id, &e.to_string(), "").await;
    }
    // A cancel that came before the unit existed (the task role had no unit to stop): the job
    // ends here, never started.
    if cancel_requested(&shared, kind, job_id).await {
        end(
            &shared,
            kind,
            job_id,
            JobStatus::Canceled,
            "Job canceled by request.",
            "",
        )
        .await;
        return tracing::info!(job = job_id, "canceled before it started");
    }
    // Resolved before the unit is submitted: between submitting and marking the job running
    // nothing should wait on the database.
    let ee = crate::prepare::resolved_environment(&shared, kind, &job).await;
    let worker_dir = shared.jobs_dir.join(job_id.to_string());
    // Appended to the work type's own `worker`: unpack here, wipe before, remove after.
    let params = format!("--private-data-dir={} --delete", worker_dir.display());
    let req = rawx_mesh::SubmitRequest::new(crate::WORK_TYPE).param("params", &params);
    let unit = match shared.node.submit(&req, &stream).await {
        Ok(u) => u,
        Err(e) => {
            return fail(
                &shared,
                kind,
                job_id,
                &format!("The execution node refused the job: {e}"),
                "",
            )
            .await
        }
    };
    drop(stream);
    let now = rawx_model::now_string();
    let r = set(
        &shared,
        kind,
        job_id,
        json!({"status": JobStatus::Running.as_str(), "started": now, "work_unit_id": unit, "execution_node": shared.node.node_id(),
               "controller_node": shared.node_name, "execution_environment": ee}),
    )
    .await;
    if let Err(e) = r {
        tracing::error!(job = job_id, error = %e, "cannot mark job running");
    }
    if let Some(jt) = job.get("job_template").and_then(Value::as_i64) {
        let mut r = Row::new();
        r.insert("status".into(), json!(JobStatus::Running.as_str()));
        let _ = shared.store.update(&JOB_TEMPLATES, jt, &r).await;
    }
    if let Some(src) = job.get("inventory_source").and_then(Value::as_i64) {
        let mut r = Row::new();
        r.insert("status".into(), json!(JobStatus::Running.as_str()));
        let _ = shared
            .store
            .update(&rawx_model::resources::INVENTORY_SOURCES, src, &r)
            .await;
    }
    tracing::info!(job = job_id, unit = %unit, submit_ms = t0.elapsed().as_millis() as u64, "job submitted");
    // A cancel that arrived while the unit was being submitted found no unit to stop; the unit
    // id is stored now, so any later cancel finds it.
    if cancel_requested(&shared, kind, job_id).await {
        if let Err(e) = shared.node.cancel(&unit).await {
            tracing::warn!(job = job_id, unit = %unit, error = %e, "cannot cancel the work unit");
        }
    }
    follow(shared, kind, job_id, unit, built, 0).await;
}

/// Whether a cancel was asked for (`canceled_on` is set).
fn canceled(job: &Row) -> bool {
    !job.get("canceled_on").is_none_or(Value::is_null)
}

async fn cancel_requested(shared: &Shared, kind: &JobKind, job: i64) -> bool {
    shared
        .store
        .get(kind.resource, job)
        .await
        .is_ok_and(|j| canceled(&j))
}

/// Follows a unit's results from the start, storing events after `skip_through` (those are
/// already stored: a controller that restarts re-attaches this way), then closes the job.
pub async fn follow(
    shared: Shared,
    kind: &'static JobKind,
    job_id: i64,
    unit: String,
    built: Built,
    skip_through: i64,
) {
    let outcome = ingest(&shared, kind, job_id, &unit, &built, skip_through).await;
    let Outcome {
        status: runner_status,
        explanation,
        traceback,
        rc,
        stats,
        mut final_counter,
        broken,
        ended_elsewhere,
        fact_cache,
        artifacts,
        last_line,
    } = match outcome {
        Ok(o) => o,
        Err(e) => {
            let detail = shared
                .node
                .status(&unit)
                .await
                .map(|s| s.detail)
                .unwrap_or_default();
            fail(
                &shared,
                kind,
                job_id,
                &format!("The job's results were lost: {e:#}"),
                &detail,
            )
            .await;
            let _ = shared.node.release(&unit).await;
            return;
        }
    };
    if ended_elsewhere {
        // Its unit is stopped and deleted wherever it is; for a remote unit whose node cannot
        // be reached, the control node does that once the node is back.
        tracing::info!(job = job_id, unit = %unit, "the job was ended elsewhere; releasing its unit");
        if let Err(e) = shared.node.release(&unit).await {
            tracing::warn!(job = job_id, unit = %unit, error = %e, "cannot release the work unit");
        }
        return;
    }
    let job = shared
        .store
        .get(kind.resource, job_id)
        .await
        .unwrap_or_default();
    let cancel_requested = canceled(&job);
    let (status, explanation) = match runner_status.as_deref() {
        _ if cancel_requested => (
            JobStatus::Canceled,
            explanation.unwrap_or_else(|| "Job canceled by request.".into()),
        ),
        // The runner's own statuses (`status_handler`'s), mapped to the job's.
        Some("successful") => (JobStatus::Successful, explanation.unwrap_or_default()),
        Some("failed") => (JobStatus::Failed, explanation.unwrap_or_default()),
        Some("timeout") => (
            JobStatus::Failed,
            "Job terminated due to timeout".to_string(),
        ),
        Some("canceled") => (JobStatus::Canceled, explanation.unwrap_or_default()),
        Some(other) => (
            JobStatus::Error,
            explanation.unwrap_or_else(|| format!("The runner ended with status {other}.")),
        ),
        None => {
            let detail = shared
                .node
                .status(&unit)
                .await
                .map(|s| s.detail)
                .unwrap_or_default();
            let why = match broken {
                Some(b) => format!(
                    "The result stream from the execution node broke off: {b}. The {final_counter} events received before it are kept."
                ),
                None => "The job ended without a final status from ansible-runner.".into(),
            };
            (JobStatus::Error, format!("{why} (work unit: {detail})"))
        }
    };
    // AWX's `post_run_hook`: the facts are stored before the job closes, when the artifacts
    // came back.
    if let (Some(cache), Some(returned)) = (&built.facts, &fact_cache) {
        match crate::facts::finish(&shared.store, cache, returned).await {
            Ok((updated, cleared, unchanged)) => {
                tracing::info!(
                    job = job_id,
                    updated,
                    cleared,
                    unchanged,
                    "host facts stored"
                )
            }
            Err(e) => tracing::warn!(job = job_id, error = %e, "cannot store host facts"),
        }
    }
    // An inventory update's import, once `ansible-inventory` succeeded (AWX's
    // `post_run_hook`): its log lines follow the command's output as events.
    let (status, explanation, traceback) = if status == JobStatus::Successful
        && std::ptr::eq(kind, &rawx_model::resources::INVENTORY_UPDATE_KIND)
    {
        let imported = crate::inventory_run::import(
            &shared,
            kind,
            &job,
            artifacts.as_ref(),
            &mut final_counter,
            last_line,
        )
        .await;
        match imported {
            Ok(()) => (status, explanation, traceback),
            Err((why, tb)) => (JobStatus::Error, why, Some(tb)),
        }
    } else {
        (status, explanation, traceback)
    };
    let finished = rawx_model::now_string();
    let started = text(&job, "started").to_string();
    let elapsed = rawx_model::elapsed_secs(&started, &finished);
    let mut counts = Map::new();
    if let Some(s) = &stats {
        for (k, v) in rawx_runner::host_status_counts(s) {
            counts.insert(k, json!(v));
        }
    }
    let mut closing = json!({
        "status": status.as_str(), "failed": status != JobStatus::Successful, "finished": finished, "elapsed": elapsed, "start_args": "",
        "job_explanation": explanation, "result_traceback": traceback.unwrap_or_default(), "rc": rc,
        "host_status_counts": Value::Object(counts).to_string(), "final_counter": final_counter,
        "event_processing_finished": true,
    });
    // What the play gave with `set_stats` (the stats event's `artifact_data`, AWX's
    // callback receiver): the job's `artifacts`, which a workflow passes to later nodes.
    if let Some(Value::Object(data)) = stats.as_ref().and_then(|s| s.get("artifact_data")) {
        if !data.is_empty() && kind.resource.field("artifacts").is_some() {
            closing["artifacts"] = json!(Value::Object(data.clone()).to_string());
        }
    }
    let r = set(&shared, kind, job_id, closing).await;
    if let Err(e) = r {
        tracing::error!(job = job_id, error = %e, "cannot close job");
    }
    finish_template(
        &shared,
        kind,
        job_id,
        status,
        status != JobStatus::Successful,
    )
    .await;
    publish(
        &*shared.bus,
        &EventsSummary {
            kind,
            job: job_id,
            final_counter,
        },
    );
    tracing::info!(
        job = job_id,
        %status,
        rc,
        events = final_counter,
        "job finished"
    );
    // The job is closed; let the worker finish removing its directory before the unit goes
    // (releasing a unit that is still running would cancel it).
    for _ in 0..600 {
        match shared.node.status(&unit).await {
            Ok(st) if st.state <= 1 => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => break,
        }
    }
    if let Err(e) = shared.node.release(&unit).await {
        tracing::warn!(job = job_id, unit = %unit, error = %e, "cannot release the work unit");
    }
}

/// What the result stream said: the runner's final status and explanation, traceback, rc,
/// the stats event's data, the highest event counter stored, and how the stream broke if it did.
struct Outcome {
    status: Option<String>,
    explanation: Option<String>,
    traceback: Option<String>,
    rc: Option<i64>,
    stats: Option<Value>,
    final_counter: i64,
    broken: Option<String>,
    /// The job was ended by someone else while its output was quiet.
    ended_elsewhere: bool,
    /// The `fact_cache/` files of the artifacts (host name → content), for a job keeping one.
    fact_cache: Option<HashMap<String, Vec<u8>>>,
    /// The artifacts the runner sent back (an inventory update's `output.json` is there).
    artifacts: Option<rawx_runner::Artifacts>,
    /// The last stdout line number of the stored events.
    last_line: u64,
}

async fn ingest(
    shared: &Shared,
    kind: &'static JobKind,
    job_id: i64,
    unit: &str,
    built: &Built,
    skip_through: i64,
) -> anyhow::Result<Outcome> {
    let mut reader = shared
        .node
        .results(unit, 0)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let mut decoder = ResultDecoder::new();
    let mut writer = Writer::start(shared, kind, job_id, built.hosts.clone(), &built.secrets);
    let mut batch: Vec<Row> = Vec::new();
    let mut oldest: Option<Instant> = None;
    let mut out = Outcome {
        status: None,
        explanation: None,
        traceback: None,
        rc: None,
        stats: None,
        final_counter: skip_through,
        broken: None,
        ended_elsewhere: false,
        fact_cache: None,
        artifacts: None,
        last_line: 0,
    };
    // Lines that are not JSON become `verbose` events numbered in sequence with the runner's
    // own: every later counter moves up by one per such line. Replaying the same durable
    // stream gives the same numbers, so a re-attach skips exactly what is stored.
    let mut stray = 0u64;
    let mut last_counter = 0u64;
    let mut last_line = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    // While the output is quiet, whether someone else ended the job (the reaper, when its
    // execution node was lost): then nothing more of it is stored.
    let mut quiet = tokio::time::interval(ENDED_CHECK);
    quiet.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    quiet.reset();
    'read: loop {
        let wait = oldest
            .map(|t| BATCH_WAIT.saturating_sub(t.elapsed()))
            .unwrap_or(Duration::from_secs(3600));
        let n = tokio::select! {
            n = reader.read(&mut buf) => n.map_err(|e| anyhow!("reading the unit's output: {e}"))?,
            _ = tokio::time::sleep(wait) => {
                writer.send(&mut batch).await?;
                oldest = None;
                continue;
            }
            _ = quiet.tick() => {
                let status = shared.store.get(kind.resource, job_id).await.ok()
                    .map(|j| text(&j, "status").to_string());
                if status.is_some_and(|s| rawx_model::resources::FINAL_STATES.contains(&s.as_str())) {
                    writer.send(&mut batch).await?;
                    writer.finish().await?;
                    out.ended_elsewhere = true;
                    return Ok(out);
                }
                continue;
            }
        };
        quiet.reset();
        if n == 0 {
            break;
        }
        for frame in decoder.feed(&buf[..n]) {
            let event = match frame {
                Ok(Frame::Event(mut ev)) => {
                    ev.counter += stray;
                    ev
                }
                Ok(Frame::Text(line)) => {
                    stray += 1;
                    Box::new(RunnerEvent::verbose(last_counter + 1, last_line, line))
                }
                Ok(Frame::Status(s)) => {
                    match s.kind() {
                        RunnerStatus::Starting => {
                            // AWX stores the argv as a JSON list, secrets masked.
                            let argv: Vec<Value> = s
                                .command
                                .iter()
                                .flatten()
                                .map(|a| json!(mask(a, &built.secrets)))
                                .collect();
                            let args = Value::Array(argv).to_string();
                            let env = s
                                .env
                                .as_ref()
                                .map(|e| mask_env(e, &built.secrets))
                                .unwrap_or_default();
                            set(
                                shared,
                                kind,
                                job_id,
                                json!({"job_args": args, "job_cwd": s.cwd.clone().unwrap_or_default(),
                                       "job_env": Value::Object(env).to_string()}),
                            )
                            .await?;
                        }
                        k if k.is_final() => {
                            out.status = Some(s.status.clone());
                            out.explanation = s.job_explanation.clone();
                            out.traceback = s.result_traceback.clone();
                        }
                        _ => {}
                    }
                    continue;
                }
                Ok(Frame::Artifacts(zip)) => {
                    match rawx_runner::Artifacts::from_zip(&zip) {
                        Ok(a) => {
                            out.rc = a.rc.map(i64::from);
                            if built.facts.is_some() {
                                out.fact_cache = Some(
                                    a.fact_cache()
                                        .map(|(h, b)| (h.to_string(), b.to_vec()))
                                        .collect(),
                                );
                            }
                            out.artifacts = Some(a);
                        }
                        Err(e) => tracing::warn!(job = job_id, error = %e, "unreadable artifacts"),
                    }
                    continue;
                }
                // The runner's last word: the job is over once its final status is in, even though
                // the worker process still has its directory to delete and Python to shut down.
                Ok(Frame::Eof) if out.status.is_some() => break 'read,
                Ok(Frame::Eof) | Ok(Frame::Keepalive) => continue,
                Err(e) => {
                    tracing::warn!(job = job_id, error = %e, "malformed line in the result stream; skipped");
                    continue;
                }
            };
            last_counter = event.counter;
            last_line = last_line.max(event.end_line);
            if (event.counter as i64) <= skip_through {
                continue;
            }
            out.final_counter = out.final_counter.max(event.counter as i64);
            if event.event == "playbook_on_stats" {
                out.stats = Some(event.event_data.clone());
            }
            batch.push(event_row(kind, job_id, &event, &built.hosts));
            oldest.get_or_insert_with(Instant::now);
            if batch.len() >= BATCH_SIZE {
                writer.send(&mut batch).await?;
                oldest = None;
            }
        }
    }
    writer.send(&mut batch).await?;
    writer.finish().await?;
    out.last_line = last_line;
    if let Err(e) = decoder.finish() {
        if out.status.is_none() {
            tracing::warn!(job = job_id, error = %e, "result stream ended early");
            out.broken = Some(e.to_string());
        }
    }
    Ok(out)
}
