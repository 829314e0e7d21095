"""An independent mesh peer, written from the protocol notes (receptor-protocol.md §5), not
from rawx's code: it joins a node over TCP, exchanges routing updates, pings a node behind it,
and opens that node's control service over QUIC (aioquic) carried in the mesh's datagrams.

usage: mesh_peer.py HOST PORT TARGET
       mesh_peer.py HOST PORT silent   (joins, then sends nothing and waits to be dropped)
Prints one JSON object with what it saw.
"""

import asyncio
import json
import random
import ssl
import string
import struct
import sys
import time

import highwayhash
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, StreamDataReceived

ME = "pypeer"
ZERO_KEY = bytes(32)


def node_hash(name):
    # HighwayHash-64 with a zero key; the library returns it little-endian.
    return int.from_bytes(highwayhash.highwayhash_64(ZERO_KEY, name.encode()), "little")


def rand8():
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(8))


def go_json(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Peer:
    def __init__(self, reader, writer, name=ME):
        self.reader, self.writer, self.name = reader, writer, name
        self.epoch = (int(time.time()) << 24) + random.randrange(1 << 24)
        self.seq = 0
        self.last_sent = time.monotonic()
        self.remote = None
        self.connections = {}
        self.names = {node_hash(name): name}
        self.known = {}
        self.listed_by_remote = asyncio.Event()
        self.inbox = {}  # our service -> asyncio.Queue of (from_node, from_service, data)

    def send(self, message):
        self.writer.write(struct.pack("<H", len(message)) + message)
        # When our last message left: the node cannot have heard from us later than this.
        self.last_sent = time.monotonic()

    def send_update(self):
        self.seq += 1
        update = {
            "NodeID": self.name,
            "UpdateID": rand8(),
            "UpdateEpoch": self.epoch,
            "UpdateSequence": self.seq,
            "Connections": self.connections,
            "ForwardingNode": self.name,
            "SuspectedDuplicate": 0,
        }
        self.send(b"\x01" + go_json(update))

    def send_data(self, from_service, to_node, to_service, payload, hops=30):
        header = bytes([0, hops, 0, 0])
        header += struct.pack(">QQ", node_hash(self.name), node_hash(to_node))
        header += from_service.encode().ljust(8, b"\0") + to_service.encode().ljust(8, b"\0")
        self.send(header + payload)

    def listen(self, service):
        self.inbox[service] = asyncio.Queue()
        return self.inbox[service]

    async def read_loop(self):
        while True:
            size = struct.unpack("<H", await self.reader.readexactly(2))[0]
            msg = await self.reader.readexactly(size)
            kind = msg[0]
            if kind == 1:
                update = json.loads(msg[1:])
                for name in [update["NodeID"], *update["Connections"].keys()]:
                    self.names[node_hash(name)] = name
                self.known[update["NodeID"]] = update["Connections"]
                if self.remote is None:
                    # The first update names the peer; from now on we list it, at cost 1.
                    self.remote = update["ForwardingNode"]
                    self.connections = {self.remote: 1.0}
                    self.send_update()
                elif update["NodeID"] == self.remote and self.name in update["Connections"]:
                    self.listed_by_remote.set()
            elif kind == 0:
                frm = self.names.get(struct.unpack(">Q", msg[4:12])[0], "?")
                from_service = msg[20:28].rstrip(b"\0").decode()
                to_service = msg[28:36].rstrip(b"\0").decode()
                queue = self.inbox.get(to_service)
                if queue is not None:
                    queue.put_nowait((frm, from_service, msg[36:]))
            elif kind == 3:
                raise RuntimeError("rejected by the peer")

    async def keepalive(self):
        while True:
            self.send_update()
            await asyncio.sleep(2)


async def quic_control(peer, target, out):
    """The dialer's side of a service stream: QUIC packets as datagrams from an ephemeral
    service to (target, control), ALPN netceptor, the 0x00 preamble, then the protocol."""
    service = "pyquic01"
    inbox = peer.listen(service)
    config = QuicConfiguration(is_client=True, alpn_protocols=["netceptor"])
    config.verify_mode = ssl.CERT_NONE
    conn = QuicConnection(configuration=config)
    addr = ("::1", 1)
    conn.connect(addr, now=time.time())
    received = b""
    stream = None
    sent_status = False
    deadline = time.time() + 20
    while time.time() < deadline:
        for data, _ in conn.datagrams_to_send(now=time.time()):
            peer.send_data(service, target, "control", data)
        timer = conn.get_timer()
        wait = 0.05 if timer is None else max(0.0, min(0.05, timer - time.time()))
        try:
            _, _, data = await asyncio.wait_for(inbox.get(), wait)
            conn.receive_datagram(data, addr, now=time.time())
        except asyncio.TimeoutError:
            if timer is not None and time.time() >= timer:
                conn.handle_timer(now=time.time())
        while (event := conn.next_event()) is not None:
            if isinstance(event, HandshakeCompleted):
                out["alpn"] = event.alpn_protocol
                cert = conn.tls._peer_certificate
                out["server_cn"] = cert.subject.rfc4514_string() if cert is not None else None
                stream = conn.get_next_available_stream_id()
                conn.send_stream_data(stream, b"\x00")
            elif isinstance(event, StreamDataReceived):
                received += event.data
            elif isinstance(event, ConnectionTerminated):
                out["terminated"] = event.reason_phrase
                return
        lines = received.split(b"\n")
        if len(lines) >= 2 and not sent_status:
            out["greeting"] = lines[0].decode()
            conn.send_stream_data(stream, b'{"command":"status","requested_fields":["NodeID"]}\n')
            sent_status = True
        elif sent_status and len(lines) >= 3:
            out["remote_status"] = json.loads(lines[1])
            conn.send_stream_data(stream, b"", end_stream=True)
            conn.close()
            for data, _ in conn.datagrams_to_send(now=time.time()):
                peer.send_data(service, target, "control", data)
            return
    out["quic_error"] = "timed out"


async def silent(host, port):
    """Joins, then goes quiet: the node must drop the link on Receptor's idle timeout."""
    reader, writer = await asyncio.open_connection(host, port)
    peer = Peer(reader, writer)
    peer.send_update()
    reading = asyncio.create_task(peer.read_loop())
    while not peer.listed_by_remote.is_set():
        peer.send_update()
        await asyncio.sleep(0.5)
    # Measured from the last message sent, not from when the loop noticed it was listed (up
    # to half a second later): the node drops the link more than 21 s after it last heard
    # from us, and it heard that message no earlier than it was sent.
    try:
        await asyncio.wait_for(reading, 60)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    print(json.dumps({"dropped_after": time.monotonic() - peer.last_sent}))


async def main(host, port, target):
    reader, writer = await asyncio.open_connection(host, port)
    peer = Peer(reader, writer)
    out = {}
    tasks = [asyncio.create_task(peer.read_loop()), asyncio.create_task(peer.keepalive())]
    await asyncio.wait_for(peer.listed_by_remote.wait(), 15)
    out["remote"] = peer.remote
    # Wait until the target's own update reached us, so its name is known.
    deadline = time.time() + 15
    while target not in peer.known and time.time() < deadline:
        await asyncio.sleep(0.1)
    out["known_nodes"] = sorted(peer.known)

    inbox = peer.listen("pyping01")
    started = time.time()
    peer.send_data("pyping01", target, "ping", b"")
    frm, from_service, data = await asyncio.wait_for(inbox.get(), 10)
    out["ping"] = {"from": frm, "service": from_service, "data": data.decode(), "ms": (time.time() - started) * 1000}

    # A service nobody runs: the target answers with an unreachable notice.
    unreach = peer.listen("unreach")
    peer.send_data("pyping02", target, "nosuch", b"x")
    _, _, data = await asyncio.wait_for(unreach.get(), 10)
    out["unreachable"] = json.loads(data)

    await quic_control(peer, target, out)
    for t in tasks:
        t.cancel()
    writer.close()
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[3] == "silent":
        asyncio.run(silent(sys.argv[1], int(sys.argv[2])))
    else:
        asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
