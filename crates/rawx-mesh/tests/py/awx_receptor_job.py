"""What AWX's AWXReceptorJob does, with receptorctl used as a library (as AWX uses it).

Usage: awx_receptor_job.py SOCKET PRIVATE_DATA_DIR WORKDIR
Prints one JSON line of findings; the Rust test asserts on it.
"""
import json
import socket
import sys
import threading
import time

import ansible_runner
import yaml
from receptorctl.socket_interface import ReceptorControl

sock_path, pdd, workdir = sys.argv[1:4]
found = {}

# A job: the transmit stream is written from a thread into a socketpair, as AWX does.
sockin, sockout = socket.socketpair()


def transmit():
    with sockin.makefile("wb") as f:
        ansible_runner.run(streamer="transmit", _output=f, private_data_dir=pdd, playbook="test.yml")
    sockin.close()


t = threading.Thread(target=transmit)
t.start()
result = ReceptorControl(sock_path).submit_work(
    worktype="local",
    payload=sockout.makefile("rb"),
    params={"params": f"--private-data-dir={workdir}/job --delete"},
    signwork=True,
)
sockout.close()
t.join()
found["submit"] = result["result"]
unit = result["unitid"]
resultsock, resultfile = ReceptorControl(sock_path).get_work_results(
    unit, return_socket=True, return_sockfile=True
)
events = []
res = ansible_runner.interface.run(
    streamer="process",
    quiet=True,
    _input=resultfile,
    private_data_dir=f"{workdir}/processed",
    event_handler=lambda e: events.append(e.get("event")) or True,
)
found["job"] = res.status
found["events"] = events.count("runner_on_ok")
# The processor stops at the stream's EOF marker, so the worker may still be exiting.
deadline = time.time() + 20
while time.time() < deadline:
    status = ReceptorControl(sock_path).simple_command(f"work status {unit}")
    if status["State"] != 1:
        break
    time.sleep(0.1)
found["job_state"] = status["StateName"]
# AWX's cancel-then-release on one socket.
rc = ReceptorControl(sock_path)
rc.simple_command(f"work cancel {unit}")
found["release"] = rc.simple_command(f"work release {unit}") == {"released": unit}

# The health check: empty payload, poll status, parse the YAML stdout, release.
rc = ReceptorControl(sock_path)
unit = rc.submit_work(worktype="local", payload="", params={"params": "--worker-info"})["unitid"]
deadline = time.time() + 20
while time.time() < deadline:
    status = ReceptorControl(sock_path).simple_command(f"work status {unit}")
    if status["State"] in (2, 3):
        break
    time.sleep(0.5)
stdout = ReceptorControl(sock_path).get_work_results(unit, return_sockfile=True).read()
info = yaml.safe_load(stdout)
found["worker_info"] = sorted(k for k in info if k in ("cpu_count", "mem_in_bytes", "runner_version"))
found["health_release"] = ReceptorControl(sock_path).simple_command(f"work release {unit}") == {"released": unit}

# A failed unit without events: AWX fetches the last bytes through startpos.
unit = ReceptorControl(sock_path).submit_work(
    worktype="sh", payload="", params={"params": "'yes line | head -c 5000; exit 3'"}
)["unitid"]
deadline = time.time() + 20
while time.time() < deadline:
    status = ReceptorControl(sock_path).simple_command(f"work status {unit}")
    if status["State"] in (2, 3):
        break
    time.sleep(0.2)
found["bad_state"] = status["StateName"]
size = status["StdoutSize"]
tail = ReceptorControl(sock_path).get_work_results(unit, startpos=max(0, size - 1000), return_sockfile=True).read()
found["bad_tail_len"] = [len(tail), min(size, 1000)]
ReceptorControl(sock_path).simple_command(f"work release {unit}")
print(json.dumps(found))
