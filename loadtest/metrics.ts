/** One scrape of a server's /metrics, read back as numbers. */
export class MetricsScrape {
  private constructor(
    private readonly samples: readonly { name: string; labels: Record<string, string>; value: number }[],
  ) {}

  static async from(baseUrl: string): Promise<MetricsScrape> {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    return MetricsScrape.parse(text);
  }

  static parse(text: string): MetricsScrape {
    const samples = [];
    for (const line of text.split("\n")) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
      if (!match) continue;
      const labels = Object.fromEntries(
        [...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]),
      );
      samples.push({ name: match[1], labels, value: Number(match[3]) });
    }
    return new MetricsScrape(samples);
  }

  /** The sum of every sample of `name` whose labels include `labels` (0 when there is none). */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number {
    let total = 0;
    for (const sample of this.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
    }
    return total;
  }
}
