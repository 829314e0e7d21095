"""Instruction counts of the two nodes of a 1-hop 100 MiB remote result, under callgrind.

Repeatable where the wall-clock figures of `bench/mesh.sh hops` are not (a shared, loaded
machine): user-space instructions only, so kernel copies (TCP, files, sockets) are not in it.
usage: python3 bench/mesh_callgrind.py DIR_WITH_rawx-receptor OUTPREFIX   (NOVG=1: no valgrind,
just each node's minor faults and CPU for the transfer)
"""
import json, os, socket, subprocess, sys, tempfile, time
bindir, out = sys.argv[1], sys.argv[2]
SIZE = 100 << 20
d = tempfile.mkdtemp(prefix="meshcg-")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
def conf(n, extra):
    os.makedirs(f"{d}/{n}", exist_ok=True)
    open(f"{d}/{n}/c.conf", "w").write(
        f"- node:\n    id: {n}\n    datadir: {d}/{n}/data\n- control-service:\n    filename: {d}/{n}/ctl.sock\n{extra}")
conf("n1", f"- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {port}\n- work-command:\n    worktype: gen\n    command: head\n    params: -c {SIZE} /dev/zero\n")
conf("n0", f"- tcp-peer:\n    address: 127.0.0.1:{port}\n")
procs = []
for n in ["n1", "n0"]:
    vg = [] if os.environ.get("NOVG") else ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.{n}.%p"]
    procs.append(subprocess.Popen(vg + [
        f"{bindir}/rawx-receptor", "--config", f"{d}/{n}/c.conf"],
        stdout=subprocess.DEVNULL, stderr=open(f"{d}/{n}/log", "w")))
def session(n):
    c = socket.socket(socket.AF_UNIX); c.connect(f"{d}/{n}/ctl.sock"); f = c.makefile("rb")
    f.readline(); return c, f
def req(n, line):
    c, f = session(n); c.sendall(line.encode() + b"\n"); r = f.readline(); c.close(); return r.decode()
t0 = time.time()
while True:
    try:
        st = json.loads(req("n0", '{"command":"status"}'))
        if "n1" in (st.get("RoutingTable") or {}): break
    except Exception: pass
    if time.time() - t0 > 120: sys.exit("no route")
    time.sleep(0.2)
time.sleep(1)
c, f = session("n0"); c.sendall(b'{"command":"work","subcommand":"submit","node":"n1","worktype":"gen"}\n')
r = f.readline().decode(); c.shutdown(socket.SHUT_WR); f.readline(); c.close()
uid = r.split()[5].rstrip(".")
def stat(p):
    f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[7]), int(f[11]) + int(f[12])  # minflt, utime+stime ticks
before = [stat(p) for p in procs]
t = time.time()
c, f = session("n0"); c.sendall(f"work results {uid}\n".encode()); f.readline()
got = 0
while True:
    b = f.read1(1 << 20)
    if not b: break
    got += len(b)
el = time.time() - t
after = [stat(p) for p in procs]
for n, b, a in zip(["n1", "n0"], before, after):
    print(f"{n}: {a[0]-b[0]} minor faults, {(a[1]-b[1])*10} ms CPU")
req("n0", f"work release {uid}")
print(f"got {got} bytes in {el:.2f} s")
for p in procs: p.terminate()
for p in procs: p.wait(timeout=60)
subprocess.run(["rm", "-rf", d])
if not os.environ.get("NOVG"):
    import glob
    for n in ["n0", "n1"]:
        for f in glob.glob(f"{out}.{n}.*"):
            tot = subprocess.run(["callgrind_annotate", f], capture_output=True, text=True).stdout
            line = next((l for l in tot.splitlines() if "PROGRAM TOTALS" in l), "?")
            print(f"{n} ({f}): {line.split()[0]} instructions")
