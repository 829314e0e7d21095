"""What the bench helpers share: talking to rawx's API, reading a process from /proc, dying
with the helper's name. Standard library only; the helpers import it from their own directory.
"""

import base64
import datetime as dt
import http.client
import json
import os
import socket
import sys
import time


def die(msg):
    print(f"{os.path.splitext(os.path.basename(sys.argv[0]))[0]}: {msg}", file=sys.stderr)
    sys.exit(1)


def ts(s):
    """rawx's stored times: RFC 3339 UTC with microseconds, e.g. 2026-11-25T23:59:58.500000Z."""
    if not s:
        return None
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Api:
    """One keep-alive connection to rawx on loopback, with one credential."""

    def __init__(self, port, auth, timeout=60):
        self.port = port
        self.auth = auth
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    @classmethod
    def login(cls, port, password, user="admin", description="bench", timeout=60):
        """An Api with a fresh write token of `user` (POST /api/v2/tokens/ with Basic auth)."""
        tok = cls(port, basic(user, password), timeout).call(
            "POST", "/api/v2/tokens/", {"description": description, "scope": "write"},
            expect=(201,))
        api = cls(port, f"Bearer {tok['token']}", timeout)
        api.token = tok["token"]
        return api

    def raw(self, method, path, body=None):
        """(status, body bytes, seconds) of one request; once more on a fresh connection when
        the keep-alive one was closed."""
        headers = {"Authorization": self.auth, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                t0 = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, raw, time.perf_counter() - t0
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def request(self, method, path, body=None):
        """(status, parsed body): JSON when it is, else text."""
        status, raw, _ = self.raw(method, path, body)
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return status, payload

    def call(self, method, path, body=None, expect=(200,)):
        """The parsed body; dies on any other status than `expect`."""
        status, payload = self.request(method, path, body)
        if status not in expect:
            die(f"{method} {path} answered {status}: {str(payload)[:500]}")
        return payload

    def close(self):
        self.conn.close()


def proc_status(pid):
    """VmRSS and VmHWM of pid, KiB ({} when it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except FileNotFoundError:
        pass
    return out


def rss_kib(pid):
    return proc_status(pid).get("VmRSS", 0)


def proc_cpu(pid):
    """utime + stime of pid (all threads), seconds; None when it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
