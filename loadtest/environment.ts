import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";

/** Where and under what load figures were measured, for the reports. */
export interface Environment {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** 1-minute load average when the run started and when it ended. */
  readonly loadBefore: number;
  loadAfter: number;
  readonly startedAt: string;
}

/** The CPU's name, with its family and model numbers where Linux gives them (the name may be bare). */
function cpuName(): string {
  const name = cpus()[0]?.model.trim() ?? "unknown";
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    return family && model ? `${name} (family ${family}, model ${model})` : name;
  } catch {
    return name;
  }
}

export function environment(): Environment {
  return {
    cpu: cpuName(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadBefore: loadavg()[0],
    loadAfter: Number.NaN,
    startedAt: new Date().toISOString(),
  };
}

export function describeEnvironment(env: Environment): string {
  return (
    `${env.cpu}, ${env.cores} cores, ${env.memoryGiB} GiB, ${env.platform}, Node ${env.node}; ` +
    `1-min load average ${env.loadBefore.toFixed(2)} at the start, ${env.loadAfter.toFixed(2)} at the end ` +
    `(the load generator runs on the same cores as the server)`
  );
}
