// Control-lane latency under a bulk stream: how long a control frame waits behind data, with the
// socket data budget (the priority lane as shipped) and without it, measured in the same run.
//
//   node --import tsx bench/control-lane.ts [--quick]
//
// Both ends run in this process over real TLS on 127.0.0.1 (one event loop: absolute numbers include
// its scheduling; the comparison between the two settings is the point).

import { pino } from "pino";
import { PROTOCOL_VERSION } from "../src/transport/hello.js";
import { TlsTransport } from "../src/transport/tls-transport.js";
import { machine, median, resultsPath, writeResults } from "./harness.js";

const QUICK = process.argv.includes("--quick");
const RUNS = QUICK ? 1 : 5;
const PINGS = QUICK ? 40 : 200;
const TOKEN = "control-lane-bench-token-0123456789abcdef";
const logger = pino({ level: "silent" });

interface Result {
  p50Ms: number;
  p99Ms: number;
  bulkMBps: number;
}

const SETTINGS = [
  { name: "priority lane, data ≤ 64 KiB ahead in the socket (shipped)", budget: 64 * 1024 },
  { name: "control first in each write only, data unbounded in the socket", budget: Number.MAX_SAFE_INTEGER },
] as const;

async function measure(budget: number): Promise<Result> {
  const hello = (nodeId: string) => ({ protocol: PROTOCOL_VERSION, app: "bench", nodeId, incarnation: 1, address: "", services: {} });
  const make = (nodeId: string) =>
    new TlsTransport({ hello: hello(nodeId), tokens: [TOKEN], host: "127.0.0.1", port: 0, logger, socketDataBudgetBytes: budget });
  const a = make("a");
  const b = make("b");
  try {
    const port = await b.listen();
    let received = 0;
    b.onLink((link) =>
      link.onMessage((lane, payload) => {
        if (lane === "control") link.send("control", payload);
        else received += payload.length;
      }),
    );
    const link = await a.connect(`127.0.0.1:${port}`);
    let answered = 0;
    link.onMessage((lane) => {
      if (lane === "control") answered++;
    });
    let bulk = true;
    const payload = new Uint8Array(4096);
    const started = performance.now();
    const streaming = (async () => {
      for (let sent = 0; bulk; sent++) {
        if (!link.send("data", payload)) await link.whenWritable().catch(() => (bulk = false));
        else if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const rtts: number[] = [];
    for (let i = 0; i < PINGS; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const before = answered;
      const sentAt = performance.now();
      link.send("control", new Uint8Array(8));
      while (answered === before) await new Promise((resolve) => setImmediate(resolve));
      rtts.push(performance.now() - sentAt);
    }
    bulk = false;
    const seconds = (performance.now() - started) / 1000;
    await streaming;
    rtts.sort((x, y) => x - y);
    return { p50Ms: rtts[Math.floor(rtts.length / 2)]!, p99Ms: rtts[Math.floor(rtts.length * 0.99)]!, bulkMBps: received / 1e6 / seconds };
  } finally {
    await a.close();
    await b.close();
  }
}

const results = new Map<string, Result[]>(SETTINGS.map((s) => [s.name, []]));
for (let run = 0; run < RUNS; run++) {
  for (const setting of run % 2 === 0 ? SETTINGS : [...SETTINGS].reverse()) results.get(setting.name)!.push(await measure(setting.budget));
}
const rows = SETTINGS.map((setting) => {
  const runs = results.get(setting.name)!;
  return { name: setting.name, p50Ms: median(runs.map((r) => r.p50Ms)), p99Ms: median(runs.map((r) => r.p99Ms)), bulkMBps: median(runs.map((r) => r.bulkMBps)) };
});
const info = machine();
const lines = [
  "<!-- bench:control:start -->",
  `Measured by \`node --import tsx bench/control-lane.ts\` on ${info.cpu} (${info.cores} cores), Node ${process.version}; ${PINGS} control round trips during a 4 KiB bulk stream, median of ${RUNS} runs.`,
  "",
  "| Setting | control RTT p50 | control RTT p99 | bulk MB/s |",
  "|---|---:|---:|---:|",
  ...rows.map((r) => `| ${r.name} | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ${r.bulkMBps.toFixed(0)} |`),
  "<!-- bench:control:end -->",
];
console.log(lines.join("\n"));
writeResults(resultsPath("control-lane", QUICK), { date: new Date().toISOString(), node: process.version, rows });
