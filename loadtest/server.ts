import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { sleep } from "./stats.js";

/**
 * A Trine server in its own process, as users run it, so that what the load generator costs is
 * not charged to the server and the server's own memory and event loop can be measured (by
 * probe.mjs, over an IPC channel). From source (`node --import tsx src/cli/entry.ts`) when this file
 * runs as TypeScript (vitest, tsx), else the built CLI (`node bin/trine.js`).
 */

const fromSource = import.meta.url.endsWith(".ts");
/** The repository root: this file is loadtest/server.ts or dist/loadtest/server.js. */
export const REPO_ROOT = fileURLToPath(new URL(fromSource ? ".." : "../..", import.meta.url));

/** What probe.mjs sends once a second (TRINE_PROBE_INTERVAL_MS). */
export interface ProbeSample {
  readonly type: "probe";
  /** Date.now() of the sample. */
  readonly at: number;
  /** process.memoryUsage(), bytes. */
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** heapUsed just after the latest full (mark-compact) collection, and how many there have been. */
  readonly heapAfterMajorGc: number | null;
  readonly majorGcs: number;
  /** How late the event loop ran a timer over the last interval, milliseconds. */
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  /** The same since the server started, or since resetProbe(). */
  readonly lagP99MsTotal: number;
  readonly lagMaxMsTotal: number;
  /** CPU time so far: the main thread's alone (null off Linux), and the whole process's. */
  readonly mainThreadCpuMs: number | null;
  readonly processCpuMs: number;
}

/** How long a server may take to load its model and answer /ready. */
const START_TIMEOUT_MS = 90_000;
/** How long stop() waits after SIGTERM before SIGKILL: the default grace period and then some. */
const EXIT_TIMEOUT_MS = 45_000;

export interface ServerProcessOptions {
  /** `trine serve` flags, e.g. { "--max-sequences": 16 }; --host and --port are chosen here. */
  readonly flags?: Readonly<Record<string, string | number>>;
  /** Keep the server's JSON log lines (else they go to /dev/null, as cheaply as a real log). */
  readonly captureLogs?: boolean;
  /** Load probe.mjs into the server and collect its samples (default true). */
  readonly probe?: boolean;
  /** Another checkout to run the server of (from source, with its own node_modules), for before/after runs. */
  readonly root?: string;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class ServerProcess {
  readonly samples: ProbeSample[] = [];
  readonly logs: Record<string, unknown>[] = [];
  private stderr = "";
  private exitStatus: ExitStatus | undefined;
  private readonly exited: Promise<ExitStatus>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      }),
    );
    child.on("message", (message: ProbeSample) => {
      if (message?.type === "probe") this.samples.push(message);
    });
    let partial = "";
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line));
        } catch {
          this.logs.push({ msg: line });
        }
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      this.stderr = (this.stderr + text).slice(-20_000);
    });
  }

  static async start(options: ServerProcessOptions = {}): Promise<ServerProcess> {
    const port = await freePort();
    const flags = { "--log-level": "info", ...options.flags, "--host": "127.0.0.1", "--port": port };
    const probe = options.probe !== false;
    const probeModule = pathToFileURL(join(REPO_ROOT, "loadtest", "probe.mjs")).href;
    const args = [
      ...(fromSource ? ["--import", "tsx"] : []),
      ...(probe ? ["--import", probeModule] : []),
      fromSource ? "src/cli/entry.ts" : "bin/trine.js",
      "serve",
      ...Object.entries(flags).flatMap(([flag, value]) => [flag, String(value)]),
    ];
    const child = spawn(process.execPath, args, {
      cwd: options.root ?? REPO_ROOT,
      stdio: ["ignore", options.captureLogs ? "pipe" : "ignore", "pipe", ...(probe ? ["ipc" as const] : [])],
    });
    const server = new ServerProcess(child, `http://127.0.0.1:${port}`);
    try {
      await server.waitUntilReady();
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    return server;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Null while it runs. */
  get exit(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** Starts the probe's whole-run event-loop figures afresh (after a warm-up). */
  resetProbe(): void {
    this.child.send?.({ type: "probe-reset" });
  }

  /** The last of what the server wrote to stderr (crash reports). */
  get errorOutput(): string {
    return this.stderr;
  }

  /** SIGTERM (the server drains for its grace period), then SIGKILL if it lingers. */
  async stop(): Promise<ExitStatus> {
    if (this.exitStatus) return this.exitStatus;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), EXIT_TIMEOUT_MS);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private async waitUntilReady(): Promise<void> {
    const until = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < until) {
      if (this.exitStatus) {
        throw new Error(
          `the server exited (${JSON.stringify(this.exitStatus)}) before it was ready:\n${this.stderr}`,
        );
      }
      try {
        if ((await fetch(`${this.url}/ready`)).status === 200) return;
      } catch {}
      await sleep(100);
    }
    throw new Error(`the server was not ready within ${START_TIMEOUT_MS / 1000} s:\n${this.stderr}`);
  }
}

/** A port nothing listens on now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
