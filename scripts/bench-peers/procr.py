"""procrastinate driver for the peer-queue benchmark (protocol: README.md).

    procr.py setup | producer | worker <concurrency>

Env: QB_DATABASE_URL (postgres URL, sslmode=disable), QB_UDP_PORT (worker).
An async task; run_worker_async(concurrency=N, listen_notify=True); psycopg pool max 10.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from importlib.metadata import version

import procrastinate

URL = os.environ["QB_DATABASE_URL"]
POOL_MAX = 10

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=URL, max_size=POOL_MAX)
)
_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_udp_addr = ("127.0.0.1", int(os.environ.get("QB_UDP_PORT", "0")))


@app.task(name="qb")
async def qb(seq: int, t: float) -> None:
    start = time.time()
    if t > 0:
        _udp.sendto(f"{seq} {start:.6f}".encode(), _udp_addr)


def say(s: str) -> None:
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def setup() -> None:
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


async def producer() -> None:
    async with app.open_async():
        while True:
            line = await read_line()
            if not line:
                break
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "B":
                n = int(parts[1])
                args = [{"seq": i, "t": 0} for i in range(n)]
                t0 = time.perf_counter()
                await qb.batch_defer_async(*args)  # one statement
                say(f"OK {time.perf_counter() - t0:.6f}")
            elif parts[0] == "E":
                seq = int(parts[1])
                t = time.time()
                t0 = time.perf_counter()
                await qb.defer_async(seq=seq, t=t)
                say(f"OK {round((time.perf_counter() - t0) * 1e6)} {t:.6f}")
            elif parts[0] == "Q":
                break
            else:
                say(f"ERR unknown command {line.strip()}")


async def worker(concurrency: int) -> None:
    async with app.open_async():
        say(
            f"VERSION procrastinate {version('procrastinate')} (psycopg {version('psycopg')}, "
            f"Python {sys.version.split()[0]})"
        )
        say(
            f"CONFIG async task, run_worker_async concurrency {concurrency}, listen_notify "
            f"(+ 5 s poll, default), psycopg pool max {POOL_MAX}"
        )
        say("READY")
        while True:
            line = await read_line()
            if not line:
                sys.exit(1)
            if line.strip() == "GO":
                break
        # procrastinate installs its own SIGTERM/SIGINT handlers: a graceful stop.
        await app.run_worker_async(
            concurrency=concurrency, listen_notify=True, name=f"qb-{os.getpid()}"
        )


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "setup":
        coro = setup()
    elif mode == "producer":
        coro = producer()
    elif mode == "worker":
        coro = worker(int(sys.argv[2]) if len(sys.argv) > 2 else 8)
    else:
        sys.exit("usage: procr.py setup|producer|worker <concurrency>")
    asyncio.run(coro)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
