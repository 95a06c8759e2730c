// Loaded into the server process under test (`node --import ./loadtest/probe.mjs bin/trine.js
// serve`) when it is started with an IPC channel: once an interval it sends its memory and how
// late its main thread's event loop ran a timer to the parent, which the soak and the load
// reports use. It changes nothing in the server, which never knows it is there. Plain JavaScript
// so that it loads the same way before the built server and before the TypeScript sources.
// The samples are ProbeSample objects (loadtest/server.ts).
import { readFileSync } from "node:fs";
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";

const PROBE_INTERVAL_MS = Number(process.env.TRINE_PROBE_INTERVAL_MS ?? 1000);
/** The delay monitor's timer period, milliseconds: finer costs the server more. */
const LAG_RESOLUTION_MS = 10;

/**
 * CPU time of the main thread alone (user + system, milliseconds), which is what each request costs
 * the server outside the workers; Linux only (/proc), else null.
 */
function mainThreadCpuMs() {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1].split(" ");
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

if (process.send) {
  const recent = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  const total = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  recent.enable();
  total.enable();
  // The heap right after each full collection is what is still alive: a leak shows there, not in
  // the sawtooth of heapUsed between collections.
  let heapAfterMajorGc = null;
  let majorGcs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      majorGcs++;
      heapAfterMajorGc = process.memoryUsage().heapUsed;
    }
  }).observe({ entryTypes: ["gc"] });
  // The monitor records whole timer periods: the delay is what exceeds its resolution.
  const ms = (nanoseconds) => Math.max(0, nanoseconds / 1e6 - LAG_RESOLUTION_MS);
  setInterval(() => {
    const memory = process.memoryUsage();
    process.send?.({
      type: "probe",
      at: Date.now(),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      lagP50Ms: ms(recent.percentile(50)),
      lagP99Ms: ms(recent.percentile(99)),
      lagMaxMs: ms(recent.max),
      lagP99MsTotal: ms(total.percentile(99)),
      lagMaxMsTotal: ms(total.max),
      heapAfterMajorGc,
      majorGcs,
      mainThreadCpuMs: mainThreadCpuMs(),
      processCpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    });
    recent.reset();
  }, PROBE_INTERVAL_MS).unref();
  // The parent restarts the whole-run figures after its warm-up.
  process.on("message", (message) => {
    if (message?.type === "probe-reset") total.reset();
  });
  // The channel (which the listener above refs) must not keep the server alive once it has shut down.
  process.channel?.unref();
}
