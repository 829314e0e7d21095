"""CPU of the two nodes of a 1-hop 100 MiB remote result, under `perf stat` (issue 23).

Where the wall-clock figures of `bench/mesh.sh hops` swing 2x with the machine's load, the
CPU each node spends per result moves far less: this runs N results (`N`, default 3)
through one pair of `rawx-receptor` nodes and prints each result's wall time, then each
node's task-clock (ms of CPU, user + system), context switches, and its user/system split
(from /proc, 10 ms ticks) over the whole run (start-up included: a few ms). The unit's own
`head` runs detached from the node, so it is not counted.
usage: python3 bench/mesh_cpu.py DIR_WITH_rawx-receptor OUTPREFIX
"""
import json, os, socket, subprocess, sys, tempfile, time

bindir, out = sys.argv[1], sys.argv[2]
SIZE = 100 << 20
d = tempfile.mkdtemp(prefix="meshcpu-")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()


def conf(n, extra):
    os.makedirs(f"{d}/{n}", exist_ok=True)
    open(f"{d}/{n}/c.conf", "w").write(
        f"- node:\n    id: {n}\n    datadir: {d}/{n}/data\n- control-service:\n    filename: {d}/{n}/ctl.sock\n{extra}")


conf("n1", f"- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {port}\n- work-command:\n    worktype: gen\n    command: head\n    params: -c {SIZE} /dev/zero\n")
conf("n0", f"- tcp-peer:\n    address: 127.0.0.1:{port}\n")
procs = []
for n in ["n1", "n0"]:
    procs.append(subprocess.Popen(
        ["perf", "stat", "-x,", "-e", "task-clock,context-switches", "-o", f"{out}.{n}.stat", "--",
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
walls = []
for _ in range(int(os.environ.get("N", "3"))):
    c, f = session("n0"); c.sendall(b'{"command":"work","subcommand":"submit","node":"n1","worktype":"gen"}\n')
    r = f.readline().decode(); c.shutdown(socket.SHUT_WR); f.readline(); c.close()
    uid = r.split()[5].rstrip(".")
    t = time.time()
    c, f = session("n0"); c.sendall(f"work results {uid}\n".encode()); f.readline()
    got = 0
    while True:
        b = f.read1(1 << 20)
        if not b: break
        got += len(b)
    walls.append(time.time() - t)
    if got != SIZE: sys.exit(f"got {got} bytes of {SIZE}")
    req("n0", f"work release {uid}")
# perf stat writes its counts once its child exits: stop the node (perf's child), not perf.
split = {}
for n, p in zip(["n1", "n0"], procs):
    for kid in open(f"/proc/{p.pid}/task/{p.pid}/children").read().split():
        f = open(f"/proc/{kid}/stat").read().rsplit(")", 1)[1].split()
        split[n] = f"user {int(f[11]) * 10} ms, sys {int(f[12]) * 10} ms"
        os.kill(int(kid), 15)
for p in procs: p.wait(timeout=60)
subprocess.run(["rm", "-rf", d])
print("results:", " ".join(f"{w:.3f} s" for w in walls))
for n in ["n1", "n0"]:
    counts = {}
    for line in open(f"{out}.{n}.stat"):
        parts = line.strip().split(",")
        if len(parts) > 2 and parts[0].replace(".", "").isdigit():
            counts[parts[2]] = float(parts[0])
    print(f"{n}: task-clock {counts.get('task-clock', 0):.0f} ms, "
          f"{counts.get('context-switches', 0):.0f} context switches, {split.get(n, '?')}")
