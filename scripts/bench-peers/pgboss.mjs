// pg-boss driver for the peer-queue benchmark (protocol: README.md).
//   pgboss.mjs setup | producer | worker <concurrency>
// Env: QB_DATABASE_URL (postgres URL, sslmode=disable), QB_UDP_PORT (worker).
// bench.py copies this file next to the node_modules it imports from (target/bench-peers).
import { readFileSync } from "node:fs";
import dgram from "node:dgram";
import { createInterface } from "node:readline";
import { PgBoss } from "pg-boss";

const URL_ = process.env.QB_DATABASE_URL;
const QUEUE = "qb";
const wall = () => (performance.timeOrigin + performance.now()) / 1000; // µs-resolution epoch s
const pkgVersion = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
const VERSION = `pg-boss ${pkgVersion("pg-boss")} (Node ${process.versions.node}, pg ${pkgVersion("pg")})`;

function lines() {
  return createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
}
const say = (s) => process.stdout.write(s + "\n");
const logTo = (boss) => {
  boss.on("error", (e) => process.stderr.write(`[pg-boss error] ${e?.stack || e}\n`));
  boss.on("warning", (w) => process.stderr.write(`[pg-boss warning] ${JSON.stringify(w)}\n`));
  return boss;
};

async function setup() {
  const boss = logTo(new PgBoss({ connectionString: URL_, max: 2 }));
  await boss.start(); // creates the schema (migrate/createSchema default to true)
  // notify: true makes job creation NOTIFY the queue's workers (opt-in, with useListenNotify).
  await boss.createQueue(QUEUE, { notify: true });
  await boss.stop({ graceful: false, close: true });
}

async function producer() {
  // A send-only instance: no maintenance/supervision or cron in the producer process.
  const boss = logTo(
    new PgBoss({ connectionString: URL_, max: 10, supervise: false, schedule: false, migrate: false }),
  );
  await boss.start();
  for await (const line of lines()) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === "B") {
      const n = Number(arg);
      const jobs = new Array(n);
      for (let i = 0; i < n; i++) jobs[i] = { data: { seq: i, t: 0 } };
      const t0 = performance.now();
      await boss.insert(QUEUE, jobs); // one statement
      say(`OK ${((performance.now() - t0) / 1000).toFixed(6)}`);
    } else if (cmd === "E") {
      const seq = Number(arg);
      const t = wall();
      const t0 = performance.now();
      await boss.send(QUEUE, { seq, t });
      say(`OK ${Math.round((performance.now() - t0) * 1000)} ${t.toFixed(6)}`);
    } else if (cmd === "Q") {
      break;
    } else if (cmd) {
      say(`ERR unknown command ${line}`);
    }
  }
  await boss.stop({ graceful: false, close: true });
}

async function worker(concurrency) {
  const udpPort = Number(process.env.QB_UDP_PORT || 0);
  const sock = dgram.createSocket("udp4");
  const boss = logTo(new PgBoss({ connectionString: URL_, max: 10, useListenNotify: true }));
  await boss.start();
  const workOptions = {
    batchSize: concurrency,
    localConcurrency: 1,
    burstWhenBatchFull: true,
    pollingIntervalSeconds: 2,
  };
  say(`VERSION ${VERSION}`);
  say(
    `CONFIG batchSize ${concurrency}, localConcurrency 1, burstWhenBatchFull, pollingIntervalSeconds 2, ` +
      `useListenNotify + queue notify, pool 10`,
  );
  say("READY");
  const input = lines();
  for (;;) {
    const { value, done } = await input.next();
    if (done) process.exit(1);
    if (value.trim() === "GO") break;
  }
  let stopping = null;
  let resolveStopped;
  const stopped = new Promise((resolve) => (resolveStopped = resolve));
  const stop = () => {
    stopping ??= boss
      .stop({ graceful: true, close: true, timeout: 30000 })
      .catch((e) => process.stderr.write(`stop: ${e?.stack || e}\n`))
      .then(resolveStopped);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // batchSize n: the handler receives up to n jobs, completed together when it resolves.
  await boss.work(QUEUE, workOptions, async (jobs) => {
    for (const job of jobs) {
      const d = job.data;
      if (d.t > 0) sock.send(`${d.seq} ${wall().toFixed(6)}`, udpPort, "127.0.0.1");
    }
  });
  await stopped;
  sock.close();
  process.exit(0);
}

const [mode, arg] = process.argv.slice(2);
try {
  if (mode === "setup") await setup();
  else if (mode === "producer") await producer();
  else if (mode === "worker") await worker(Number(arg || 8));
  else throw new Error(`usage: pgboss.mjs setup|producer|worker <concurrency>`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`pgboss.mjs ${mode}: ${e?.stack || e}\n`);
  process.exit(1);
}
