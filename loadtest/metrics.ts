/**
 * The Prometheus text exposition read back: for servers in another process (the load runs) and
 * for the tests of /metrics itself. A server in this process is read from its registry instead
 * (loadtest/in-process.ts).
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;

/** One scrape of /metrics. */
export class MetricsScrape {
  private constructor(
    readonly samples: readonly Sample[],
    /** Each metric's `# TYPE`, by name. */
    readonly types: Readonly<Record<string, string>>,
  ) {}

  static async from(baseUrl: string): Promise<MetricsScrape> {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    return MetricsScrape.parse(text);
  }

  /** Throws at a line that is not a comment, a blank or a sample. */
  static parse(text: string): MetricsScrape {
    const samples: Sample[] = [];
    const types: Record<string, string> = {};
    for (const line of text.split("\n")) {
      if (line.startsWith("#")) {
        const type = TYPE.exec(line);
        if (type) types[type[1]] = type[2];
        continue;
      }
      if (line === "") continue;
      const match = SAMPLE.exec(line);
      const labels = match && parseLabels(match[2] ?? "");
      const value = match ? parseValue(match[3]) : Number.NaN;
      if (!match || !labels || (Number.isNaN(value) && match[3] !== "NaN"))
        throw new Error(`not a Prometheus sample: ${line}`);
      samples.push({ name: match[1], labels, value });
    }
    return new MetricsScrape(samples, types);
  }

  /** The samples of `name` whose labels include `labels`. */
  series(name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
    return this.samples.filter(
      (sample) =>
        sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    );
  }

  /** The sum of every sample of `name` whose labels include `labels` (0 when there is none). */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.series(name, labels).reduce((total, sample) => total + sample.value, 0);
  }
}

function parseLabels(text: string): Record<string, string> | null {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (!match) return null;
    labels[match[1]] = match[2].replace(/\\(.)/g, (_, escaped) => (escaped === "n" ? "\n" : escaped));
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}
