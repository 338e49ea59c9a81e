#!/usr/bin/env node
/**
 * Companion-server benchmarks, against the real server process, Docker and packages:
 *  1. `GET /api/runs/:id` latency (p50/p99) at a steady 100 requests/s while runs execute;
 *     baseline: `GET /api/health` at the same rate in the same run.
 *  2. Log delivery latency: from the moment the experiment prints a line (its own clock, the
 *     host's) to a WebSocket client receiving it (p50/p95).
 *  3. Server RSS with 1,000 finished runs in the records and 50 connected WebSocket clients,
 *     against the same server with empty records and no client.
 *
 *   node bench/api/api.mjs          (after `npm run build:server`; DOCKER_SOCKET etc. from
 *                                    `set -a; . .state/services.env; set +a`)
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  call as httpCall,
  startServer as startBenchServer
} from '../common/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'server', 'package.json'));
const WebSocket = require('ws');
const { Records } = require(join(root, 'server', 'dist', 'store'));
const examples =
  process.env.REPROSERVER_EXAMPLES_DIR ?? join(root, '.state', 'examples');
const TOKEN = 'bench-token';

const startServer = (workspace, stateDir) =>
  startBenchServer(stateDir, {
    REPROSERVER_TOKEN: TOKEN,
    REPROSERVER_WORKSPACE: workspace,
    REPROSERVER_MAX_CONCURRENT_RUNS: '2',
    REPROSERVER_RUNS_PER_MINUTE: '100000'
  });
const call = (url, method, path, body) =>
  httpCall(url, TOKEN, method, path, body);

const pct = (values, p) =>
  [...values].sort((a, b) => a - b)[
    Math.min(values.length - 1, Math.floor((values.length * p) / 100))
  ];
const rssMiB = pid =>
  Number(
    /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]
  ) / 1024;
const sleep = ms => new Promise(r => setTimeout(r, ms));

function workspace() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-api-ws-'));
  mkdirSync(join(dir, 'p'));
  for (const name of ['slow-printer', 'python-options', 'shell-pipeline'])
    copyFileSync(join(examples, `${name}.rpz`), join(dir, 'p', `${name}.rpz`));
  return dir;
}

/** Fires requests at a fixed rate for `seconds`, returning each latency. */
async function steady(url, path, rate, seconds) {
  const latencies = [];
  const pending = [];
  const start = Date.now();
  for (let i = 0; i < rate * seconds; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    pending.push(call(url, 'GET', path).then(r => latencies.push(r.ms)));
  }
  await Promise.all(pending);
  return latencies;
}

const ws = workspace();
const server = await startServer(
  ws,
  mkdtempSync(join(tmpdir(), 'bench-api-state-'))
);
const slow = (
  await call(server.url, 'POST', '/api/packages', {
    path: 'p/slow-printer.rpz'
  })
).body;
const python = (
  await call(server.url, 'POST', '/api/packages', {
    path: 'p/python-options.rpz'
  })
).body;

// 1. Latency while two slow runs execute (and more wait in the queue).
const busy = [];
for (let i = 0; i < 4; i++)
  busy.push(
    (
      await call(server.url, 'POST', '/api/runs', {
        package: slow.sha256,
        edits: { stepEdits: [{ step: 0, args: [{ index: 2, value: '15' }] }] }
      })
    ).body.id
  );
await sleep(3000);
const health = await steady(server.url, '/api/health', 100, 10);
const runLat = await steady(server.url, `/api/runs/${busy[0]}`, 100, 10);

// 2. Log delivery: the experiment prints its clock; the client compares with its own.
const printer =
  'import time\nfor i in range(40):\n    print(time.time_ns(), flush=True)\n    time.sleep(0.05)';
const run = (
  await call(server.url, 'POST', '/api/runs', {
    package: python.sha256,
    edits: { stepEdits: [{ step: 0, argv: ['python3', '-S', '-c', printer] }] }
  })
).body;
const delays = await new Promise(resolvePromise => {
  const out = [];
  const socket = new WebSocket(
    `${server.url.replace('http', 'ws')}api/runs/${run.id}/events`,
    { headers: { 'x-reproserver-token': TOKEN } }
  );
  socket.on('message', data => {
    const { event } = JSON.parse(data.toString());
    if (event.type === 'log')
      for (const line of event.text.split('\n').filter(Boolean))
        out.push((Date.now() * 1e6 - Number(line)) / 1e6);
  });
  socket.on('close', () => resolvePromise(out));
});

// 3. Memory: empty server vs 1,000 finished runs in the records and 50 followers.
for (const id of busy) await call(server.url, 'POST', `/api/runs/${id}/cancel`);
server.child.kill('SIGTERM');
const emptyState = mkdtempSync(join(tmpdir(), 'bench-api-state-'));
const empty = await startServer(ws, emptyState);
await call(empty.url, 'GET', '/api/health');
await sleep(1000);
const rssEmpty = rssMiB(empty.child.pid);
empty.child.kill('SIGTERM');
await sleep(500);

const fullState = mkdtempSync(join(tmpdir(), 'bench-api-state-'));
{
  // The package must be registered first (runs refer to it); then 1,000 finished runs go
  // straight into the records: running them would take minutes and measure nothing more.
  const setup = await startServer(ws, fullState);
  await call(setup.url, 'POST', '/api/packages', {
    path: 'p/slow-printer.rpz'
  });
  setup.child.kill('SIGTERM');
  await sleep(500);
  const records = Records.open(join(fullState, 'records.sqlite'));
  const limits = {
    memoryMiB: 2048,
    cpus: 1,
    pids: 512,
    timeoutSeconds: 60,
    outputBytes: 1e9,
    logBytes: 1e6
  };
  for (let i = 0; i < 1000; i++) {
    const r = records.createRun({
      packageSha256: slow.sha256,
      edits: {
        stepEdits: [{ step: 0, args: [{ index: 2, value: String(i) }] }]
      },
      limits
    });
    records.updateStatus(r.id, 'running');
    records.updateStatus(r.id, 'succeeded');
  }
  records.close();
}
const full = await startServer(ws, fullState);
const long = (
  await call(full.url, 'POST', '/api/runs', {
    package: slow.sha256,
    edits: { stepEdits: [{ step: 0, args: [{ index: 2, value: '20' }] }] }
  })
).body;
const sockets = Array.from(
  { length: 50 },
  () =>
    new WebSocket(
      `${full.url.replace('http', 'ws')}api/runs/${long.id}/events`,
      { headers: { 'x-reproserver-token': TOKEN } }
    )
);
await sleep(4000);
const list = await call(full.url, 'GET', '/api/runs');
const rssFull = rssMiB(full.child.pid);
const open = sockets.filter(s => s.readyState === WebSocket.OPEN).length;
sockets.forEach(s => s.close());
await call(full.url, 'POST', `/api/runs/${long.id}/cancel`);
full.child.kill('SIGTERM');

const f = v => v.toFixed(1).padStart(7);
console.log(
  'companion server under load (100 requests/s for 10 s while 2 runs execute):'
);
console.log(
  `  GET /api/health    p50 ${f(pct(health, 50))} ms   p99 ${f(pct(health, 99))} ms   (baseline)`
);
console.log(
  `  GET /api/runs/:id  p50 ${f(pct(runLat, 50))} ms   p99 ${f(pct(runLat, 99))} ms   p99 ratio ${(pct(runLat, 99) / pct(health, 99)).toFixed(2)}×`
);
console.log(
  `log delivery, line printed → WebSocket client (${delays.length} lines): p50 ${f(pct(delays, 50))} ms   p95 ${f(pct(delays, 95))} ms`
);
console.log(
  `server RSS: empty ${rssEmpty.toFixed(0)} MiB; with 1,000 finished runs in the records (listed: ${list.body.runs.length} per page) and ${open} WebSocket clients ${rssFull.toFixed(0)} MiB (${(rssFull / rssEmpty).toFixed(2)}×)`
);
process.exit(0);
