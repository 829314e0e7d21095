#!/usr/bin/env python3
"""Helpers for bench/websocket.sh: the websocket's two figures. Run with the test venv's Python
(it has `websockets`).

Subcommands:
  stream   one websocket client follows a job whose stand-in runner replays N events: every
           event must arrive, in order; events/s as the client sees them, and how long after
           an event is stored (first seen through the API, polled every 25 ms) the client has it;
           first the same job unwatched, for the ingest's own speed on this machine now
  slow     a client subscribed to a job's events that reads nothing until the job is over:
           the job's time, the close code once it reads (4000), and the resume through
           `counter__gt`
  idle     open N websocket clients subscribed to `jobs` (a minimal client on raw asyncio
           streams, so the client side stays small), read the server's RSS before and after,
           then time one status change reaching all of them
"""

import argparse
import asyncio
import base64
import http.client
import json
import os
import re
import statistics
import sys
import threading
import time

from benchlib import Api, die, proc_cpu, rss_kib

COUNTER = re.compile(rb'"counter":(\d+)')


def api(port, token, method, path, body=None, expect=(200,)):
    """One request on a fresh connection, as a browser's poll would make it."""
    c = Api(port, f"Bearer {token}")
    try:
        return c.call(method, path, body, expect)
    finally:
        c.close()



# ---------------------------------------------------------------- stream

def job_elapsed(port, token, job):
    """Waits for the job to be final with its events stored; its `elapsed` (started -> finished)."""
    while True:
        j = api(port, token, "GET", f"/api/v2/jobs/{job}/")
        if j["status"] in ("successful", "failed", "error", "canceled") and j.get("event_processing_finished"):
            return j["status"], j["elapsed"]
        time.sleep(0.05)


def cmd_stream(a):
    from websockets.asyncio.client import connect

    # The same job with nobody watching: how fast the ingest is on this machine right now.
    cpu0 = proc_cpu(a.pid)
    base = api(a.port, a.token, "POST", f"/api/v2/job_templates/{a.jt}/launch/", {}, (201,))["job"]
    base_status, base_elapsed = job_elapsed(a.port, a.token, base)
    base_cpu = proc_cpu(a.pid) - cpu0

    stored = []       # (time, highest stored counter) from the poller
    stop = threading.Event()

    def poll(job):
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
        path = f"/api/v2/jobs/{job}/job_events/?order_by=-counter&page_size=1"
        last = 0
        while not stop.is_set():
            conn.request("GET", path, headers={"Authorization": f"Bearer {a.token}"})
            resp = conn.getresponse()
            body = json.loads(resp.read())
            t = time.monotonic()
            if body.get("results"):
                c = body["results"][0]["counter"]
                if c > last:
                    stored.append((t, c))
                    last = c
                    if c >= a.events:
                        return
            time.sleep(a.poll_ms / 1000)

    async def run():
        headers = {"Authorization": f"Bearer {a.token}", "Cookie": "csrftoken=wsbench"}
        uri = f"ws://127.0.0.1:{a.port}/websocket/"
        async with connect(uri, additional_headers=headers, max_size=None, compression=None,
                           proxy=None) as ws:
            hello = json.loads(await ws.recv())
            if not hello.get("accept"):
                die(f"not accepted: {hello}")
            await ws.send(json.dumps({"xrftoken": "wsbench",
                                      "groups": {"jobs": ["status_changed", "summary"]}}))
            await ws.recv()
            t_launch = time.monotonic()
            launched = await asyncio.to_thread(
                api, a.port, a.token, "POST", f"/api/v2/job_templates/{a.jt}/launch/", {},
                (201,))
            job = launched["job"]
            await ws.send(json.dumps({"xrftoken": "wsbench", "groups": {
                "jobs": ["status_changed", "summary"], "job_events": [job]}}))
            poller = threading.Thread(target=poll, args=(job,), daemon=True)
            if a.poll_ms > 0:
                poller.start()
            recv_at = {}
            order_ok, last_counter, dups = True, 0, 0
            final_counter, status, closed = None, None, None
            deadline = time.monotonic() + a.timeout
            while time.monotonic() < deadline:
                try:
                    msg = await asyncio.wait_for(ws.recv(decode=False), deadline - time.monotonic())
                except Exception as e:  # closed (slow consumer) or timeout
                    closed = getattr(getattr(e, "rcvd", None), "code", None) or type(e).__name__
                    break
                t = time.monotonic()
                if b'"group_name":"job_events"' in msg:
                    c = int(COUNTER.search(msg).group(1))
                    if c in recv_at:
                        dups += 1
                    recv_at.setdefault(c, t)
                    if c < last_counter:
                        order_ok = False
                    last_counter = c
                    continue
                m = json.loads(msg)
                if m.get("unified_job_id") != job:
                    continue
                if "final_counter" in m:
                    final_counter = m["final_counter"]
                elif m.get("status"):
                    status = m["status"]
                if final_counter is not None and len(recv_at) >= final_counter:
                    break
            stop.set()
            if poller.is_alive():
                poller.join(timeout=5)
            return job, t_launch, recv_at, order_ok, dups, final_counter, status, closed

    cpu0 = proc_cpu(a.pid)
    job, t_launch, recv_at, order_ok, dups, final_counter, status, closed = asyncio.run(run())
    n = len(recv_at)
    times = sorted(recv_at.values())
    lags = [recv_at[c] - t for t, c in stored if c in recv_at]
    _, elapsed = job_elapsed(a.port, a.token, job)
    watched_cpu = proc_cpu(a.pid) - cpu0
    out = {
        "unwatched_job_elapsed_s": base_elapsed, "unwatched_status": base_status,
        "watched_job_elapsed_s": elapsed,
        # rawx's own CPU for each job: if watching cost rawx little, a longer watched job is
        # the client and the poll competing for the machine's cores
        "unwatched_rawx_cpu_s": round(base_cpu, 2), "watched_rawx_cpu_s": round(watched_cpu, 2),
        "job": job, "status": status, "closed": closed,
        "events_expected": a.events, "final_counter": final_counter, "events_received": n,
        "missing": (final_counter or a.events) - n, "duplicates": dups, "in_order": order_ok,
    }
    if n > 1:
        last = max(recv_at)
        out.update({
            "first_event_after_launch_s": round(times[0] - t_launch, 3),
            "client_events_per_s": round(n / max(times[-1] - times[0], 1e-9)),
            "launch_to_last_event_s": round(times[-1] - t_launch, 3),
            "launch_to_last_event_events_per_s": round(n / (times[-1] - t_launch)),
            # how long after the API first showed an event stored the client had it (negative:
            # the websocket was faster than the poll)
            "lag_ms_last_event": round((recv_at[last] - next((t for t, c in stored if c >= last), recv_at[last])) * 1000, 1),
            "lag_ms_p50": round(statistics.median(lags) * 1000, 1) if lags else None,
            "lag_ms_max": round(max(lags) * 1000, 1) if lags else None,
            "stored_samples": len(stored),
        })
    print(json.dumps(out))


# ---------------------------------------------------------------- slow

def cmd_slow(a):
    """A client subscribed to the job's events that reads nothing until the job is over: the
    job must take no longer than unwatched, the client must be closed with 4000 once it reads,
    and `counter__gt` must give it exactly the rest."""
    from websockets.asyncio.client import connect

    async def run():
        headers = {"Authorization": f"Bearer {a.token}", "Cookie": "csrftoken=wsbench"}
        async with connect(f"ws://127.0.0.1:{a.port}/websocket/", additional_headers=headers,
                           max_size=None, compression=None, proxy=None) as ws:
            await ws.recv()
            launched = await asyncio.to_thread(
                api, a.port, a.token, "POST", f"/api/v2/job_templates/{a.jt}/launch/", {}, (201,))
            job = launched["job"]
            await ws.send(json.dumps({"xrftoken": "wsbench", "groups": {"job_events": [job]}}))
            # Read nothing while the job runs.
            status, elapsed = await asyncio.to_thread(job_elapsed, a.port, a.token, job)
            last, received, code = 0, 0, None
            while True:
                try:
                    msg = await asyncio.wait_for(ws.recv(decode=False), 30)
                except asyncio.TimeoutError:
                    code = "no close within 30 s"
                    break
                except Exception as e:
                    code = getattr(getattr(e, "rcvd", None), "code", None) or type(e).__name__
                    break
                m = COUNTER.search(msg)
                if m and b'"group_name":"job_events"' in msg:
                    received += 1
                    last = int(m.group(1))
            rest = api(a.port, a.token, "GET",
                       f"/api/v2/jobs/{job}/job_events/?counter__gt={last}&page_size=1")["count"]
            return {"job": job, "status": status, "slow_job_elapsed_s": elapsed,
                    "close_code": code, "events_received_before_close": received,
                    "last_counter": last, "resume_counter_gt_count": rest,
                    "resume_complete": last + rest == a.events}

    print(json.dumps(asyncio.run(run())))


# ---------------------------------------------------------------- idle

class Conn:
    """A minimal websocket client: handshake, one subscription, then it waits."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.reader = self.writer = None

    async def frame(self):
        head = await self.reader.readexactly(2)
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        return head[0] & 0x0F, await self.reader.readexactly(n)

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
        self.writer.write(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((
            f"GET /websocket/ HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {self.token}\r\nCookie: csrftoken=idle\r\n\r\n").encode())
        status = await self.reader.readuntil(b"\r\n\r\n")
        if not status.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(status[:200])
        _, hello = await self.frame()
        assert json.loads(hello)["accept"], hello
        self.send(json.dumps({"xrftoken": "idle", "groups": {"jobs": ["status_changed"]}}))
        await self.writer.drain()
        await self.frame()

    async def next_status(self):
        while True:
            op, payload = await self.frame()
            if op == 1 and b'"status"' in payload:
                return time.monotonic()


def cmd_idle(a):
    async def run():
        before = rss_kib(a.pid)
        conns = [Conn(a.port, a.token) for _ in range(a.clients)]
        t0 = time.monotonic()
        sem = asyncio.Semaphore(a.concurrency)

        async def open_one(c):
            async with sem:
                await c.open()

        results = await asyncio.gather(*(open_one(c) for c in conns), return_exceptions=True)
        failed = [r for r in results if isinstance(r, Exception)]
        opened_s = time.monotonic() - t0
        await asyncio.sleep(a.settle)
        after = rss_kib(a.pid)
        live = [c for c, r in zip(conns, results) if not isinstance(r, Exception)]
        # One status change for all of them.
        waits = [asyncio.create_task(c.next_status()) for c in live]
        t_launch = time.monotonic()
        await asyncio.to_thread(api, a.port, a.token, "POST",
                                f"/api/v2/job_templates/{a.jt}/launch/", {}, (201,))
        got = await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), 60)
        arrived = sorted(t for t in got if isinstance(t, float))
        peak = rss_kib(a.pid)
        for c in live:
            c.writer.close()
        return {
            "clients": a.clients, "connected": len(live), "failed": len(failed),
            "first_failure": repr(failed[0])[:300] if failed else None,
            "connect_s": round(opened_s, 2),
            "rss_before_mib": round(before / 1024, 1), "rss_with_clients_mib": round(after / 1024, 1),
            "rss_per_client_kib": round((after - before) / max(len(live), 1), 1),
            "status_reached": len(arrived),
            "status_fanout_ms_p50": round((arrived[len(arrived) // 2] - t_launch) * 1000, 1) if arrived else None,
            "status_fanout_ms_all": round((arrived[-1] - t_launch) * 1000, 1) if arrived else None,
            "rss_after_fanout_mib": round(peak / 1024, 1),
        }

    print(json.dumps(asyncio.run(run())))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stream")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--jt", type=int, required=True)
    s.add_argument("--events", type=int, required=True)
    s.add_argument("--timeout", type=float, default=300)
    s.add_argument("--poll-ms", type=int, default=25,
                   help="how often the stored events are polled for the lag (0: not at all)")
    s.add_argument("--pid", type=int, required=True)
    s = sub.add_parser("slow")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--jt", type=int, required=True)
    s.add_argument("--events", type=int, required=True)
    s = sub.add_parser("idle")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--jt", type=int, required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--clients", type=int, default=10000)
    s.add_argument("--concurrency", type=int, default=200)
    s.add_argument("--settle", type=float, default=2.0)
    a = p.parse_args()
    {"stream": cmd_stream, "slow": cmd_slow, "idle": cmd_idle}[a.cmd](a)


if __name__ == "__main__":
    main()
