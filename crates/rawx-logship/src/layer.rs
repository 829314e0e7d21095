//! The `tracing` side: a layer that turns each wanted record into a document and queues it,
//! never blocking the code that logged. What is wanted (on/off, loggers, level) is read from
//! atomics on every call, so a settings change applies at once without rebuilding the
//! subscriber, and the job-event logger costs nothing while shipping is off.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::{LogConfig, LOGGERS};
use crate::document::{JobEvent, Queued, Record};

/// The most the queue holds in memory, whatever `LOG_AGGREGATOR_ACTION_QUEUE_SIZE` allows: a
/// job event's row weighs about 2 KB, so AWX's 131,072 records could otherwise take hundreds
/// of megabytes while the aggregator is slow. Past either bound, new records are dropped.
pub(crate) const QUEUE_BYTES: usize = 64 << 20;

#[derive(Default)]
struct Queue {
    /// Each record with its [`Queued::weight`].
    items: VecDeque<(usize, Queued)>,
    bytes: usize,
}

/// What the layer and the shipping component share.
pub(crate) struct Inner {
    enabled: AtomicBool,
    /// Bit i set: `LOGGERS[i]` is shipped.
    loggers: AtomicU8,
    /// The least severe level shipped, as tracing's ordering (ERROR=1 … TRACE=5).
    level: AtomicU8,
    queue_cap: AtomicUsize,
    config: RwLock<Arc<LogConfig>>,
    queue: Mutex<Queue>,
    /// Records are being dropped for want of room: warned once until the queue drains.
    full: AtomicBool,
    pub(crate) notify: Notify,
}

fn level_rank(l: &tracing::Level) -> u8 {
    match *l {
        tracing::Level::ERROR => 1,
        tracing::Level::WARN => 2,
        tracing::Level::INFO => 3,
        tracing::Level::DEBUG => 4,
        tracing::Level::TRACE => 5,
    }
}

/// Which AWX logger a record belongs to: `awx.analytics.<name>` by name, rawx's own crates as
/// `awx`. Anything else (the shipper itself, its HTTP and TLS libraries) is never shipped, so
/// a failing aggregator cannot feed its own errors back into the queue.
fn logger_of(target: &str) -> Option<usize> {
    let own = target == "awx"
        || target.starts_with("awx.")
        || (target.starts_with("rawx") && !target.starts_with("rawx_logship"));
    let name = match target.strip_prefix("awx.analytics.") {
        Some(rest) => rest,
        None if own => "awx",
        None => return None,
    };
    LOGGERS.iter().position(|l| *l == name)
}

impl Inner {
    pub(crate) fn new() -> Self {
        Self {
            enabled: AtomicBool::new(false),
            loggers: AtomicU8::new(0),
            level: AtomicU8::new(3),
            queue_cap: AtomicUsize::new(LogConfig::default().queue_size),
            config: RwLock::new(Arc::new(LogConfig::default())),
            queue: Mutex::new(Queue::default()),
            full: AtomicBool::new(false),
            notify: Notify::new(),
        }
    }

    pub(crate) fn configure(&self, cfg: LogConfig) {
        let mask = cfg
            .loggers
            .iter()
            .filter_map(|l| LOGGERS.iter().position(|k| k == l))
            .fold(0u8, |m, i| m | (1 << i));
        self.loggers.store(mask, Ordering::Relaxed);
        self.level.store(level_rank(&cfg.level), Ordering::Relaxed);
        self.queue_cap
            .store(cfg.queue_size.max(1), Ordering::Relaxed);
        self.enabled.store(cfg.enabled, Ordering::Relaxed);
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(cfg);
        self.notify.notify_one();
    }

    pub(crate) fn config(&self) -> Arc<LogConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn wants(&self, meta: &Metadata<'_>) -> bool {
        if !self.enabled.load(Ordering::Relaxed) {
            return false;
        }
        // As AWX documents it: the level threshold does not apply to awx.analytics loggers.
        if !meta.target().starts_with("awx.analytics.")
            && level_rank(meta.level()) > self.level.load(Ordering::Relaxed)
        {
            return false;
        }
        logger_of(meta.target())
            .is_some_and(|i| self.loggers.load(Ordering::Relaxed) & (1 << i) != 0)
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues records in order, as AWX's handler hands them to rsyslog: never waiting. A
    /// record that finds the queue full (by count or by [`QUEUE_BYTES`]) is dropped and
    /// counted in `rawx_logship_dropped_total{reason="queue_full"}`, as AWX drops what its
    /// full socket to rsyslog refuses; the first drop of each episode is logged.
    fn enqueue(&self, recs: impl IntoIterator<Item = Queued>) {
        let cap = self.queue_cap.load(Ordering::Relaxed);
        let mut dropped = 0u64;
        let mut q = self.queue();
        let was_empty = q.items.is_empty();
        for rec in recs {
            let weight = rec.weight();
            if q.items.len() >= cap || q.bytes + weight > QUEUE_BYTES {
                dropped += 1;
                continue;
            }
            q.bytes += weight;
            q.items.push_back((weight, rec));
        }
        let (len, bytes) = (q.items.len(), q.bytes);
        drop(q);
        if dropped > 0 {
            metrics::counter!("rawx_logship_dropped_total", "reason" => "queue_full")
                .increment(dropped);
            if !self.full.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    queued = len,
                    queued_bytes = bytes,
                    "the log shipping queue is full; dropping new records until it drains"
                );
            }
        }
        // The shipper drains until the queue is empty before it waits, so only the first
        // record after that needs to wake it: not one wake-up per event at ingest rates.
        if was_empty && len > 0 {
            self.notify.notify_one();
        }
    }

    /// True when stored job events are to be shipped.
    pub(crate) fn wants_job_events(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
            && LOGGERS
                .iter()
                .position(|l| *l == "job_events")
                .is_some_and(|i| self.loggers.load(Ordering::Relaxed) & (1 << i) != 0)
    }

    /// Queues stored job events as they are, under one lock.
    pub(crate) fn push_rows(
        &self,
        rows: Vec<serde_json::Map<String, Value>>,
        ids: &[i64],
        secrets: &Arc<[String]>,
    ) {
        let time = std::time::SystemTime::now();
        self.enqueue(rows.into_iter().enumerate().map(|(i, row)| {
            Queued::Event(JobEvent {
                time,
                id: ids.get(i).copied(),
                row,
                secrets: secrets.clone(),
            })
        }));
    }

    /// Moves up to `max` queued records, oldest first, into `out`.
    pub(crate) fn take(&self, max: usize, out: &mut Vec<Queued>) {
        let mut q = self.queue();
        let n = q.items.len().min(max);
        let mut freed = 0;
        out.extend(q.items.drain(..n).map(|(w, rec)| {
            freed += w;
            rec
        }));
        q.bytes -= freed;
        if q.items.is_empty() {
            self.full.store(false, Ordering::Relaxed);
        }
    }

    pub(crate) fn queued(&self) -> usize {
        self.queue().items.len()
    }

    pub(crate) fn clear(&self) {
        let mut q = self.queue();
        q.items.clear();
        q.bytes = 0;
    }
}

/// The `tracing` layer: add it to the process's subscriber (it filters itself).
pub struct ShipLayer {
    pub(crate) inner: Arc<Inner>,
}

/// The per-layer filter: asked on every record (never cached), so settings apply at once.
pub struct Wants(pub(crate) Arc<Inner>);

impl<S> Filter<S> for Wants {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        self.0.wants(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        if logger_of(meta.target()).is_some() {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::never()
        }
    }
}

/// The `component` field of a span (the supervisor's), kept so records inside it name it.
struct ComponentName(String);

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(&'static str, Value)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields
                .push((field.name(), Value::String(value.into())));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.push((field.name(), value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.push((field.name(), value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.push((field.name(), value.into()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.push((field.name(), value.into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

struct ComponentVisitor(Option<String>);

impl Visit for ComponentVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "component" {
            self.0 = Some(value.into());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "component" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S> Layer<S> for ShipLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut v = ComponentVisitor(None);
        attrs.record(&mut v);
        if let (Some(name), Some(span)) = (v.0, ctx.span(id)) {
            span.extensions_mut().insert(ComponentName(name));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut f = Fields::default();
        event.record(&mut f);
        let component = ctx.event_scope(event).and_then(|scope| {
            scope.from_root().find_map(|span| {
                span.extensions()
                    .get::<ComponentName>()
                    .map(|c| c.0.clone())
            })
        });
        // Only capture here: rendering the document is the shipper's work, off this thread.
        self.inner.enqueue([Queued::Log(Record {
            time: std::time::SystemTime::now(),
            level: *meta.level(),
            target: meta.target(),
            message: f.message,
            fields: f.fields,
            component,
        })]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(bytes: usize) -> serde_json::Map<String, Value> {
        let mut r = serde_json::Map::new();
        r.insert("event".into(), Value::from("runner_on_ok"));
        r.insert("event_data".into(), Value::from("x".repeat(bytes)));
        r
    }

    #[test]
    fn a_full_queue_drops_the_newest_records_and_takes_them_again_once_drained() {
        let inner = Inner::new();
        inner.configure(LogConfig {
            enabled: true,
            queue_size: 3,
            ..LogConfig::default()
        });
        // By count: AWX's LOG_AGGREGATOR_ACTION_QUEUE_SIZE.
        inner.push_rows(
            (0..5).map(|_| row(10)).collect(),
            &[1, 2, 3, 4, 5],
            &Arc::from(Vec::new()),
        );
        assert_eq!(inner.queued(), 3);
        let mut out = Vec::new();
        inner.take(10, &mut out);
        let ids: Vec<_> = out
            .iter()
            .map(|q| match q {
                Queued::Event(e) => e.id,
                Queued::Log(_) => None,
            })
            .collect();
        assert_eq!(
            ids,
            [Some(1), Some(2), Some(3)],
            "the oldest are kept, in order"
        );
        assert!(
            !inner.full.load(Ordering::Relaxed),
            "drained: the next drop warns again"
        );

        // By memory, whatever the count allows.
        inner.configure(LogConfig {
            enabled: true,
            ..LogConfig::default()
        });
        let big = QUEUE_BYTES / 2 + 1;
        inner.push_rows(
            vec![row(big), row(big), row(10)],
            &[6, 7, 8],
            &Arc::from(Vec::new()),
        );
        assert_eq!(
            inner.queued(),
            2,
            "the second large row did not fit; the small one did"
        );
        {
            let q = inner.queue();
            let weights: usize = q.items.iter().map(|(_, rec)| rec.weight()).sum();
            assert_eq!(q.bytes, weights);
        }
        inner.clear();
        assert_eq!(inner.queued(), 0);
        assert_eq!(inner.queue().bytes, 0);
    }

    #[test]
    fn loggers_by_target() {
        assert_eq!(logger_of("awx.analytics.job_events"), Some(2));
        assert_eq!(logger_of("rawx_control::run"), Some(0));
        assert_eq!(logger_of("awx"), Some(0));
        assert_eq!(logger_of("rawx_logship::shipper"), None);
        assert_eq!(logger_of("hyper::client"), None);
        assert_eq!(logger_of("awx.analytics.unknown"), None);
    }
}
