//! `ping` and `traceroute` over the mesh (receptor's `pkg/netceptor/ping.go`): an empty
//! datagram from an ephemeral service to the target's reserved `ping` service, answered by
//! an empty one; an unreachable notice about our service is the error. Traceroute pings with
//! hops-to-live 0, 1, 2… so that each hop in turn answers "message expired".

use std::time::{Duration, Instant};

use super::core::Mesh;
use super::wire::{MAX_FORWARDING_HOPS, PROBLEM_EXPIRED};

#[derive(Debug, Clone)]
pub struct PingResult {
    pub time: Duration,
    /// The node that answered (or sent the error).
    pub from: String,
    pub result: Result<(), String>,
}

#[derive(Debug, Clone)]
pub struct TracerouteHop {
    pub from: String,
    pub time: Duration,
    pub error: Option<String>,
}

impl Mesh {
    pub async fn ping(&self, target: &str, hops_to_live: u8) -> PingResult {
        let started = Instant::now();
        let me = self.node_id().to_string();
        let fail = |from: String, e: String| PingResult {
            time: started.elapsed(),
            from,
            result: Err(e),
        };
        let mut listener = match self.listen(None) {
            Ok(l) => l,
            Err(e) => return fail(String::new(), e),
        };
        let mut unreach = self.subscribe_unreachable();
        let target = if target.eq_ignore_ascii_case("localhost") {
            me.clone()
        } else {
            target.to_string()
        };
        self.add_name(&target);
        if let Err(e) =
            self.send_message(&listener.service, &target, "ping", Vec::new(), hops_to_live)
        {
            return fail(me, e);
        }
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        let stop = self.stopped();
        loop {
            tokio::select! {
                d = listener.rx.recv() => {
                    return match d {
                        Some(d) => PingResult { time: started.elapsed(), from: d.from_node, result: Ok(()) },
                        None => fail(String::new(), "connection closed".into()),
                    };
                }
                u = unreach.recv() => match u {
                    Ok(u) if u.message.from_node == me && u.message.from_service == listener.service => {
                        return fail(u.received_from, u.message.problem);
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return fail(String::new(), "netceptor shutdown".into()),
                },
                _ = &mut deadline => return fail(String::new(), "timeout".into()),
                _ = stop.cancelled() => return fail(String::new(), "netceptor shutdown".into()),
            }
        }
    }

    pub async fn traceroute(&self, target: &str) -> Vec<TracerouteHop> {
        let mut hops = Vec::new();
        for ttl in 0..=MAX_FORWARDING_HOPS {
            let p = self.ping(target, ttl).await;
            let error = match &p.result {
                Err(e) if e != PROBLEM_EXPIRED => Some(e.clone()),
                _ => None,
            };
            let last = error.is_some() || p.result.is_ok();
            hops.push(TracerouteHop {
                from: p.from,
                time: p.time,
                error,
            });
            if last {
                break;
            }
        }
        hops
    }
}
