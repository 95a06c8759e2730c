/** A one-line progress bar on stderr, shown only when stderr is a terminal. */
export function progressBar(label: string, unit: string) {
  const enabled = process.stderr.isTTY === true;
  const started = performance.now();
  return {
    update(done: number, total: number): void {
      if (!enabled) return;
      const width = 30;
      const filled = Math.round((done / total) * width);
      const rate = done / ((performance.now() - started) / 1000);
      process.stderr.write(
        `\r${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} ${unit} (${rate.toFixed(0)}/s)`,
      );
    },
    done(): void {
      if (enabled) process.stderr.write("\n");
    },
  };
}
