"""Load helper for the closing figures (not a test): N independent peers (the protocol of
mesh_peer.py) linked to one node, each sending its routing update every 10 s as Receptor
does, for SECONDS; measure the node's memory and CPU meanwhile from /proc.

usage: many_peers.py HOST PORT N SECONDS
"""

import asyncio
import sys

from mesh_peer import Peer  # the wire code of the independent peer


async def one(host, port, i, stop):
    reader, writer = await asyncio.open_connection(host, port)
    peer = Peer(reader, writer, name=f"idle{i:03d}")
    task = asyncio.create_task(peer.read_loop())
    while not stop.is_set():
        peer.send_update()
        try:
            await asyncio.wait_for(stop.wait(), 10)
        except asyncio.TimeoutError:
            pass
    task.cancel()
    writer.close()


async def main(host, port, n, seconds):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(one(host, port, i, stop)) for i in range(n)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
