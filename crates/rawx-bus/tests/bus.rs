//! One suite, run against the in-process bus and against a real Redis: what a subscriber may
//! rely on. The Redis cases start their own `redis-server` on a free port (the kit's `Redis`:
//! nothing kept on disk), so they can restart it without touching anyone else's Redis.

use rawx_bus::{Bus, InProcessBus, Received, RedisBus, QUEUE};
use rawx_testkit::{eventually_async, free_port, Redis};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The next message (skipping loss reports), or panics after `limit`.
async fn next_message(sub: &mut rawx_bus::Subscription, limit: Duration) -> rawx_bus::Message {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sub.recv()).await {
            Ok(Received::Message(m)) => return m,
            Ok(Received::Missed(_)) => continue,
            Ok(Received::Closed) => panic!("subscription closed"),
            Err(_) => panic!("no message within {limit:?}"),
        }
    }
}

/// Nothing more arrives within `wait`.
async fn quiet(sub: &mut rawx_bus::Subscription, wait: Duration) {
    if let Ok(r) = tokio::time::timeout(wait, sub.recv()).await {
        panic!("expected nothing, got {r:?}");
    }
}

/// Publishes on `channel` until the subscriber hears it (a Redis subscription takes effect a
/// moment after it is asked for); returns the payload heard.
async fn until_heard(bus: &dyn Bus, sub: &mut rawx_bus::Subscription, channel: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 0;
    loop {
        n += 1;
        bus.publish(channel, json!({"probe": n}));
        if let Ok(Received::Message(m)) =
            tokio::time::timeout(Duration::from_millis(100), sub.recv()).await
        {
            assert_eq!(m.channel, channel);
            // Drain the other probes already on their way.
            while let Ok(Received::Message(_) | Received::Missed(_)) =
                tokio::time::timeout(Duration::from_millis(200), sub.recv()).await
            {}
            return m.payload;
        }
        assert!(Instant::now() < deadline, "{channel} never heard");
    }
}

/// The contract both implementations keep.
async fn suite(bus: Arc<dyn Bus>) {
    // Only joined channels arrive, in publish order, payloads intact.
    let mut sub = bus.subscribe(&["a"]);
    until_heard(&*bus, &mut sub, "a").await;
    bus.publish("b", json!("not joined"));
    for i in 0..100 {
        bus.publish("a", json!({"i": i, "text": "ünïcode ✓"}));
    }
    for i in 0..100 {
        let m = next_message(&mut sub, Duration::from_secs(5)).await;
        assert_eq!(m.channel, "a");
        assert_eq!(m.payload, json!({"i": i, "text": "ünïcode ✓"}));
    }
    quiet(&mut sub, Duration::from_millis(300)).await;

    // Joining later adds a channel; leaving removes it.
    sub.join("b");
    until_heard(&*bus, &mut sub, "b").await;
    sub.leave("a");
    // A leave takes effect in order with later publishes on a Redis connection, so probe it
    // the way a user would: what comes after a marker on the still-joined channel.
    tokio::time::sleep(Duration::from_millis(200)).await;
    bus.publish("a", json!("left"));
    bus.publish("b", json!("marker"));
    let m = next_message(&mut sub, Duration::from_secs(5)).await;
    assert_eq!(
        (m.channel.as_str(), &m.payload),
        ("b", &json!("marker")),
        "a left channel was still delivered"
    );

    // Two subscribers of one channel both hear it; each only once.
    let mut other = bus.subscribe(&["b"]);
    until_heard(&*bus, &mut other, "b").await;
    while let Ok(Received::Message(_) | Received::Missed(_)) =
        tokio::time::timeout(Duration::from_millis(200), sub.recv()).await
    {}
    bus.publish("b", json!("both"));
    assert_eq!(
        next_message(&mut sub, Duration::from_secs(5)).await.payload,
        json!("both")
    );
    assert_eq!(
        next_message(&mut other, Duration::from_secs(5))
            .await
            .payload,
        json!("both")
    );
    quiet(&mut sub, Duration::from_millis(200)).await;
    quiet(&mut other, Duration::from_millis(200)).await;
    drop(other);

    // A subscriber that does not read never slows the publisher; it is told what it lost.
    let started = Instant::now();
    let total = QUEUE + 20_000;
    for i in 0..total {
        bus.publish("b", json!(i));
        if i % 2_000 == 0 {
            // Let the Redis publisher drain its own queue: the loss must be the subscriber's.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let publishing = started.elapsed();
    assert!(
        publishing < Duration::from_secs(5),
        "publishing {total} messages took {publishing:?}"
    );
    // Let everything reach the subscriber before it starts reading (Redis delivers a moment
    // after `publish` returns), so its queue is really full.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut got, mut missed) = (0u64, 0u64);
    while Instant::now() < deadline && got + missed < total as u64 {
        match tokio::time::timeout(Duration::from_secs(2), sub.recv()).await {
            Ok(Received::Message(_)) => got += 1,
            Ok(Received::Missed(n)) => missed += n,
            Ok(Received::Closed) => panic!("closed"),
            Err(_) => break,
        }
    }
    assert!(missed > 0, "a full queue lost nothing? got {got}");
    assert!(got >= QUEUE as u64 - 1, "only {got} of {total} queued");

    // The subscription still works after losing messages.
    assert!(until_heard(&*bus, &mut sub, "b").await["probe"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_bus_keeps_the_contract() {
    suite(InProcessBus::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bus_keeps_the_contract() {
    let redis = Redis::start();
    let bus = RedisBus::connect(&redis.url(), "suite").await.unwrap();
    suite(bus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bus_connects_loudly_to_nothing() {
    let port = free_port();
    let err = RedisBus::connect(&format!("redis://:hunter2@127.0.0.1:{port}/"), "x")
        .await
        .err()
        .expect("connecting to a closed port must fail");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
}

/// Two nodes on one Redis: what one publishes reaches the other's subscribers, and a node is
/// sent only the channels its subscribers joined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_nodes_receive_only_what_they_subscribed() {
    let redis = Redis::start();
    let a = RedisBus::connect(&redis.url(), "nodes").await.unwrap();
    let b = RedisBus::connect(&redis.url(), "nodes").await.unwrap();
    let elsewhere = RedisBus::connect(&redis.url(), "another-install")
        .await
        .unwrap();
    assert_eq!(redis.subscribers("rawx:nodes:job_events-1"), 0);

    let mut on_b = b.subscribe(&["job_events-1"]);
    let mut stranger = elsewhere.subscribe(&["job_events-1"]);
    until_heard(&*a, &mut on_b, "job_events-1").await;
    a.publish("job_events-1", json!({"counter": 1}));
    assert_eq!(
        next_message(&mut on_b, Duration::from_secs(5))
            .await
            .payload,
        json!({"counter": 1})
    );
    // Another installation on the same Redis hears none of it.
    quiet(&mut stranger, Duration::from_millis(300)).await;
    assert_eq!(redis.subscribers("rawx:nodes:job_events-1"), 1);
    assert_eq!(redis.subscribers("rawx:nodes:job_events-2"), 0);

    on_b.join("job_events-2");
    until_heard(&*a, &mut on_b, "job_events-2").await;
    assert_eq!(redis.subscribers("rawx:nodes:job_events-2"), 1);
    on_b.leave("job_events-2");
    drop(stranger);
    // Until leave UNSUBSCRIBEs.
    eventually_async(Duration::from_secs(5), || async {
        redis.subscribers("rawx:nodes:job_events-2") == 0
    })
    .await;
    drop(on_b);
    // Until the dropped subscription's Redis subscription goes.
    eventually_async(Duration::from_secs(5), || async {
        redis.subscribers("rawx:nodes:job_events-1") == 0
    })
    .await;
}

/// Redis restarts under a running bus: publishing never blocks meanwhile, the subscription is
/// told of the gap, and messages flow again without anyone re-subscribing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_is_survived() {
    let mut redis = Redis::start();
    let port = redis.port;
    let bus = RedisBus::connect(&redis.url(), "restart").await.unwrap();
    let mut sub = bus.subscribe(&["jobs-status_changed", "job_events-7"]);
    until_heard(&*bus, &mut sub, "job_events-7").await;

    redis.stop();
    let started = Instant::now();
    for i in 0..1000 {
        bus.publish("job_events-7", json!({"while_down": i}));
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "publish blocked while Redis was down"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _redis = Redis::start_on(port);

    // The gap is reported, then both channels work again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout(Duration::from_secs(1), sub.recv()).await {
            Ok(Received::Missed(n)) => {
                assert!(n >= 1);
                break;
            }
            Ok(Received::Message(m)) => panic!("a message published while Redis was down: {m:?}"),
            Ok(Received::Closed) => panic!("closed"),
            Err(_) => assert!(
                Instant::now() < deadline,
                "no loss reported after the restart"
            ),
        }
    }
    until_heard(&*bus, &mut sub, "job_events-7").await;
    until_heard(&*bus, &mut sub, "jobs-status_changed").await;
}
