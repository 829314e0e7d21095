"""`connect NODE SERVICE [TLSCLIENT]` through receptorctl's library, to a control service;
prints the remote greeting and the remote `status` NodeID, or `ERROR: …` when refused.

usage: mesh_connect.py SOCKET NODE SERVICE [TLSCLIENT]
"""

import json
import sys

from receptorctl.socket_interface import ReceptorControl

sock, node, service = sys.argv[1], sys.argv[2], sys.argv[3]
tls = sys.argv[4] if len(sys.argv) > 4 else ""
rc = ReceptorControl(sock)
try:
    rc.connect_to_service(node, service, tls)
except RuntimeError as e:
    print(str(e))
    sys.exit(0)
print(rc.readstr())
rc.writestr(json.dumps({"command": "status", "requested_fields": ["NodeID"]}) + "\n")
print(json.loads(rc.readstr())["NodeID"])
