import { parseArgs } from "node:util";
import { resolveServerConfig } from "../src/server/config.js";
import { describeEnvironment, environment } from "./environment.js";
import {
  byteByByte,
  disconnectMidStream,
  pipelining,
  silentClients,
  slowReaders,
  workerKill,
} from "./faults.js";
import { startInProcess } from "./in-process.js";
import { Workload } from "./workload.js";

/**
 * `npm run loadtest:faults`: the fault scenarios (loadtest/faults.ts) at full scale and with the
 * production timeouts: hundreds of clients disconnecting at once, slow and stalled readers,
 * a request a byte at a time, hundreds of silent connections, hundreds of pipelined requests and
 * a worker killed ten times. Prints what happened and exits 1 if any scenario went wrong.
 */

const { values: args } = parseArgs({
  options: {
    disconnects: { type: "string", default: "500" },
    silent: { type: "string", default: "300" },
    pipelined: { type: "string", default: "500" },
    kills: { type: "string", default: "10" },
  },
});
const env = environment();
const results: Record<string, unknown> = {};
const failures: string[] = [];
const check = (scenario: string, ok: boolean) => {
  if (!ok) failures.push(scenario);
};
const log = (scenario: string, result: unknown) => {
  results[scenario] = result;
  console.log(scenario, JSON.stringify(result));
};

// Wide enough that every disconnecting client is streaming when it leaves.
const clients = Number(args.disconnects);
const wide = await startInProcess({
  workers: 2,
  maxSequences: Math.ceil(clients / 2),
  queueLength: clients,
  logLevel: "warn",
});
try {
  const workload = await Workload.of(wide.url);
  const disconnect = await disconnectMidStream(wide.url, workload, { clients, maxTokens: 512 });
  log("disconnect", disconnect);
  check(
    "disconnect",
    disconnect.streaming === clients &&
      disconnect.cancelledByMetrics === clients &&
      disconnect.idleAfterMs !== null &&
      disconnect.servesAfterwards,
  );
} finally {
  await wide.close();
}

const server = await startInProcess({
  // One worker per core, as `trine serve` runs: the worker kills below need more than one.
  workers: resolveServerConfig({}, {}).workers,
  maxOutputTokens: 1_000_000,
  logLevel: "warn",
});
try {
  const workload = await Workload.of(server.url);
  const slow = await slowReaders(server.url, workload, {
    slowTokens: 500,
    readEveryMs: 20,
    stallLimitMs: 120_000,
    maxTokens: 1_000_000,
  });
  log("slowReaders", slow);
  check(
    "slowReaders",
    slow.slowStreamComplete &&
      slow.stalledDroppedAfterMs !== null &&
      slow.tokensInLast5sBeforeDrop === 0 &&
      slow.tokensAfterDrop === 0,
  );

  const trickle = await byteByByte(server.url, workload, 10);
  log("byteByByte", trickle);
  check("byteByByte", trickle.byteByByteStatus === 200 && trickle.byteByByteTokens === 4);

  const silent = await silentClients(server.url, workload, {
    connections: Number(args.silent),
    waitMs: 60_000,
  });
  log("silentClients", silent);
  check("silentClients", silent.answered408 === silent.connections && silent.normalStatus === 200);

  const pipeline = await pipelining(server.url, workload, Number(args.pipelined));
  log("pipelining", pipeline);
  check("pipelining", pipeline.answeredInOrder === pipeline.sent);

  let survived = 0;
  for (let kill = 0; kill < Number(args.kills); kill++) {
    const result = await workerKill(server.url, workload, () => server.killWorker(0), {
      streams: 24,
      plain: 4,
      maxTokens: 300,
    });
    log(`workerKill ${kill + 1}`, result);
    const ok =
      result.other.length === 0 &&
      result.failedWithWorker > 0 &&
      result.completed > 0 &&
      result.servesAfterwards;
    check(`workerKill ${kill + 1}`, ok);
    if (ok) survived++;
  }
  log("workerKills", { survived, of: Number(args.kills) });
} finally {
  await server.close();
}
env.loadAfter = (await import("node:os")).loadavg()[0];
console.log(JSON.stringify({ environment: describeEnvironment(env), failures }, null, 1));
process.exitCode = failures.length > 0 ? 1 : 0;
