import { nativeTrimHeap } from "../engine/kernels/native.js";

/** How long the server must have had no request before it gives its free C heap back. */
export const IDLE_HEAP_TRIM_MS = 5_000;

/**
 * Gives the C heaps' free pages back to the system once the server has idled: glibc keeps what
 * each thread freed (tokenizing, the workers' batches, the model load) for its next allocation,
 * 5-10 MB resident across the threads after a burst, which an idle replica should not hold
 * (docs/PERFORMANCE.md, "Worker memory"). One trim per idle spell; any request cancels a pending
 * one. The timer never keeps the process alive.
 */
export class IdleHeapTrim {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly trim: () => boolean = nativeTrimHeap,
    private readonly afterMs = IDLE_HEAP_TRIM_MS,
  ) {}

  /** A request started: no trim while it runs. */
  busy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The last request ended (or the model loaded): trim unless another starts within afterMs. */
  idle(): void {
    this.busy();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.trim();
    }, this.afterMs);
    this.timer.unref();
  }
}
