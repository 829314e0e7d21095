"""The control service of a node two hops away, through receptorctl's library as AWX uses it:
`connect NODE control` on the local socket, then Receptor's control protocol end to end.

usage: mesh_control.py SOCKET NODE SIZE
Prints one JSON object: the remote greeting, `work list`, a `cat` unit submitted with SIZE
bytes of payload (half-closed), its status and whether its results came back intact, and the
seconds that round trip took.
"""

import hashlib
import json
import socket
import sys
import time

from receptorctl.socket_interface import ReceptorControl

sock, node, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
payload = (b"0123456789abcdef" * (size // 16 + 1))[:size]
out = {}


def remote():
    rc = ReceptorControl(sock)
    rc.connect_to_service(node, "control", "")
    return rc


rc = remote()
out["greeting"] = rc.readstr().strip()
rc.writestr("work list\n")
out["list"] = json.loads(rc.readstr())
rc.writestr(json.dumps({"command": "status", "requested_fields": ["NodeID"]}) + "\n")
out["status"] = json.loads(rc.readstr())
rc.close()

started = time.monotonic()
rc = remote()
rc.readstr()
rc.writestr(json.dumps({"command": "work", "subcommand": "submit", "node": "localhost", "worktype": "cat"}) + "\n")
created = rc.readstr()
out["created"] = created.strip()
rc._socket.sendall(payload)
rc._socket.shutdown(socket.SHUT_WR)
reply = json.loads(rc.readstr())
rc.close()
unit = reply["unitid"]
out["unit"] = unit

rc = remote()
rc.readstr()
rc.writestr(f"work results {unit}\n")
line = rc.readstr()
assert line.startswith("Streaming results"), line
h = hashlib.sha256()
n = 0
while True:
    # Through the library's buffered reader: it may hold data read along with the line.
    data = rc._sockfile.read1(65536)
    if not data:
        break
    h.update(data)
    n += len(data)
rc.close()
out["results_intact"] = n == size and h.hexdigest() == hashlib.sha256(payload).hexdigest()
out["results_bytes"] = n
out["seconds"] = time.monotonic() - started

rc = remote()
rc.readstr()
rc.writestr(f"work status {unit}\n")
out["unit_status"] = json.loads(rc.readstr())
rc.writestr(f"work release {unit}\n")
out["released"] = json.loads(rc.readstr())
rc.close()
print(json.dumps(out))
