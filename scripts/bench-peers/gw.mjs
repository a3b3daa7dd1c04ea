// graphile-worker driver for the peer-queue benchmark (protocol: README.md).
//   gw.mjs setup | producer | worker <concurrency>
// Env: QB_DATABASE_URL (postgres URL, sslmode=disable), QB_UDP_PORT (worker), NO_LOG_SUCCESS=1
// (set by bench.py, as in graphile-worker's perfTest). bench.py copies this file next to the
// node_modules it imports from (target/bench-peers) and runs it with the Node 22 of that folder.
import { readFileSync } from "node:fs";
import dgram from "node:dgram";
import { createInterface } from "node:readline";
import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";
import pg from "pg";

const URL_ = process.env.QB_DATABASE_URL;
const TASK = "qb";
const wall = () => (performance.timeOrigin + performance.now()) / 1000; // µs-resolution epoch s
const pkgVersion = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
const VERSION = `graphile-worker ${pkgVersion("graphile-worker")} (Node ${process.versions.node}, pg ${pkgVersion("pg")})`;

// Library log lines go to stderr: stdout carries the protocol only.
const logger = new Logger(() => (level, message) => {
  if (level !== "debug") process.stderr.write(`[graphile ${level}] ${message}\n`);
});

function lines() {
  return createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
}
const say = (s) => process.stdout.write(s + "\n");

async function setup() {
  await runMigrations({ connectionString: URL_, logger });
}

async function producer() {
  const utils = await makeWorkerUtils({ connectionString: URL_, logger });
  await utils.migrate(); // no-op on an installed schema; also opens the pool's first connection
  for await (const line of lines()) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === "B") {
      const n = Number(arg);
      const specs = new Array(n);
      for (let i = 0; i < n; i++) specs[i] = { identifier: TASK, payload: { seq: i, t: 0 } };
      const t0 = performance.now();
      await utils.addJobs(specs); // one add_jobs() call
      say(`OK ${((performance.now() - t0) / 1000).toFixed(6)}`);
    } else if (cmd === "E") {
      const seq = Number(arg);
      const t = wall();
      const t0 = performance.now();
      await utils.addJob(TASK, { seq, t });
      say(`OK ${Math.round((performance.now() - t0) * 1000)} ${t.toFixed(6)}`);
    } else if (cmd === "Q") {
      break;
    } else if (cmd) {
      say(`ERR unknown command ${line}`);
    }
  }
  await utils.release();
}

async function worker(concurrency) {
  const udpPort = Number(process.env.QB_UDP_PORT || 0);
  const sock = dgram.createSocket("udp4");
  const pgPool = new pg.Pool({ connectionString: URL_, max: 10 });
  pgPool.on("error", (e) => process.stderr.write(`[pg pool] ${e}\n`));
  pgPool.on("connect", (client) => client.on("error", (e) => process.stderr.write(`[pg client] ${e}\n`)));
  (await pgPool.connect()).release();
  const preset = {
    worker: {
      concurrentJobs: concurrency,
      maxPoolSize: 10,
      pollInterval: 2000,
      // Batching settings of graphile-worker's own perfTest (graphile.config.js).
      localQueue: { size: 500, refetchDelay: { durationMs: 10 } },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  };
  const taskList = {
    [TASK]: async (payload) => {
      if (payload.t > 0) sock.send(`${payload.seq} ${wall().toFixed(6)}`, udpPort, "127.0.0.1");
    },
  };
  say(`VERSION ${VERSION}`);
  say(
    `CONFIG concurrentJobs ${concurrency}, maxPoolSize 10, pollInterval 2000, localQueue {size 500, refetchDelay 10 ms}, ` +
      `complete/failJobBatchDelay 0` + (process.env.NO_LOG_SUCCESS ? ", NO_LOG_SUCCESS" : ""),
  );
  say("READY");
  const input = lines();
  for (;;) {
    const { value, done } = await input.next();
    if (done) process.exit(1);
    if (value.trim() === "GO") break;
  }
  let runner = null;
  let stopRequested = false;
  const stop = () => {
    if (stopRequested) return;
    stopRequested = true;
    if (runner) runner.stop("SIGTERM").catch((e) => process.stderr.write(`stop: ${e}\n`));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  runner = await run({ pgPool, taskList, logger, noHandleSignals: true, preset });
  if (stopRequested) await runner.stop("SIGTERM");
  await runner.promise;
  await pgPool.end();
  sock.close();
  process.exit(0);
}

const [mode, arg] = process.argv.slice(2);
try {
  if (mode === "setup") await setup();
  else if (mode === "producer") await producer();
  else if (mode === "worker") await worker(Number(arg || 8));
  else throw new Error(`usage: gw.mjs setup|producer|worker <concurrency>`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`gw.mjs ${mode}: ${e?.stack || e}\n`);
  process.exit(1);
}
