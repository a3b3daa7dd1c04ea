"""pgqueuer driver for the peer-queue benchmark (protocol: README.md).

    pgq.py setup | producer | worker <concurrency>

Env: QB_DATABASE_URL (postgres URL, sslmode=disable), QB_UDP_PORT (worker).
asyncpg + uvloop, as pgqueuer's own CLI and benchmark run it; one asyncpg connection per process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from importlib.metadata import version

import asyncpg
import uvloop
from pgqueuer import AsyncpgDriver, Queries, QueueManager
from pgqueuer.models import Job

URL = os.environ["QB_DATABASE_URL"]
ENTRYPOINT = "qb"
# pgqueuer requires max_concurrent_tasks >= 2 * batch_size: batch 4 for concurrency 8.


def say(s: str) -> None:
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def setup() -> None:
    conn = await asyncpg.connect(URL)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


async def producer() -> None:
    conn = await asyncpg.connect(URL)
    queries = Queries(AsyncpgDriver(conn))
    while True:
        line = await read_line()
        if not line:
            break
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "B":
            n = int(parts[1])
            entrypoints = [ENTRYPOINT] * n
            payloads = [json.dumps({"seq": i, "t": 0}).encode() for i in range(n)]
            priorities = [0] * n
            t0 = time.perf_counter()
            await queries.enqueue(entrypoints, payloads, priorities)  # one statement
            say(f"OK {time.perf_counter() - t0:.6f}")
        elif parts[0] == "E":
            seq = int(parts[1])
            t = time.time()
            t0 = time.perf_counter()
            await queries.enqueue(ENTRYPOINT, json.dumps({"seq": seq, "t": t}).encode())
            say(f"OK {round((time.perf_counter() - t0) * 1e6)} {t:.6f}")
        elif parts[0] == "Q":
            break
        else:
            say(f"ERR unknown command {line.strip()}")
    await conn.close()


async def worker(concurrency: int) -> None:
    batch_size = max(1, min(4, concurrency // 2))
    udp_port = int(os.environ.get("QB_UDP_PORT", "0"))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    conn = await asyncpg.connect(URL)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint(ENTRYPOINT)
    async def handle(job: Job) -> None:
        start = time.time()
        d = json.loads(job.payload) if job.payload else {}
        if d.get("t", 0) > 0:
            udp.sendto(f"{d['seq']} {start:.6f}".encode(), ("127.0.0.1", udp_port))

    say(
        f"VERSION pgqueuer {version('pgqueuer')} (asyncpg {version('asyncpg')}, "
        f"Python {sys.version.split()[0]})"
    )
    say(
        f"CONFIG batch_size {batch_size}, max_concurrent_tasks {concurrency}, async entrypoint, "
        "one asyncpg connection, uvloop"
    )
    say("READY")
    while True:
        line = await read_line()
        if not line:
            sys.exit(1)
        if line.strip() == "GO":
            break
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, qm.shutdown.set)
    await qm.run(batch_size=batch_size, max_concurrent_tasks=concurrency)
    await conn.close()
    udp.close()


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "setup":
        coro = setup()
    elif mode == "producer":
        coro = producer()
    elif mode == "worker":
        coro = worker(int(sys.argv[2]) if len(sys.argv) > 2 else 8)
    else:
        sys.exit("usage: pgq.py setup|producer|worker <concurrency>")
    uvloop.run(coro)
    # The stdin reader thread may still block on readline(); do not wait for it.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
