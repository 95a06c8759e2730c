/**
 * Admission control: a fixed number of sequence slots (workers x sequences per worker) and a
 * bounded first-in-first-out queue of requests waiting for them, each for at most a set time.
 * A request takes all the slots it needs at once (one per choice), so its choices start
 * together, and the queue is strict FIFO: a large request at the head is not overtaken by small
 * ones behind it, which would starve it.
 */

/** The queue already holds its maximum number of requests. */
export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
}

/** A request waited its maximum time without getting its slots. */
export class QueueTimeoutError extends Error {
  override readonly name = "QueueTimeoutError";
}

export interface AdmissionLimits {
  readonly slots: number;
  /** Requests that may wait; 0 means a request is refused when its slots are not free at once. */
  readonly queueLength: number;
  readonly queueTimeoutMs: number;
}

interface WaitingRequest {
  readonly slots: number;
  readonly grant: (lease: SlotLease) => void;
  readonly refuse: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
  readonly detach: () => void;
}

/** Slots held by one request; each is given back once, when its sequence ends. */
export class SlotLease {
  private held: number;

  constructor(
    private readonly scheduler: AdmissionScheduler,
    readonly slots: number,
  ) {
    this.held = slots;
  }

  release(count = 1): void {
    const released = Math.min(count, this.held);
    if (released === 0) return;
    this.held -= released;
    this.scheduler.returnSlots(released, this.held === 0);
  }

  releaseAll(): void {
    this.release(this.held);
  }
}

export class AdmissionScheduler {
  private usedSlots = 0;
  private runningRequests = 0;
  private readonly queue: WaitingRequest[] = [];

  constructor(readonly limits: AdmissionLimits) {}

  get slotsUsed(): number {
    return this.usedSlots;
  }

  /** Requests holding slots. */
  get running(): number {
    return this.runningRequests;
  }

  /** Requests in the queue. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Every slot taken and the queue full: the next request would be refused. */
  get saturated(): boolean {
    return this.usedSlots === this.limits.slots && this.queue.length >= this.limits.queueLength;
  }

  /**
   * Resolves with `slots` slots once they are free and every request queued earlier has its own.
   * Rejects at once with QueueFullError, after the wait with QueueTimeoutError, or with the
   * signal's reason when the caller gives up.
   */
  acquire(slots: number, signal?: AbortSignal): Promise<SlotLease> {
    if (!(Number.isInteger(slots) && slots >= 1 && slots <= this.limits.slots)) {
      throw new RangeError(`a request needs 1 to ${this.limits.slots} slots, not ${slots}`);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queue.length === 0 && this.free >= slots) return Promise.resolve(this.grant(slots));
    if (this.queue.length >= this.limits.queueLength) {
      return Promise.reject(
        new QueueFullError(
          `all ${this.limits.slots} sequence slots are busy and ${this.queue.length} requests wait`,
        ),
      );
    }
    return new Promise<SlotLease>((resolve, reject) => {
      const onAbort = () => this.leaveQueue(waiting, signal!.reason);
      const waiting: WaitingRequest = {
        slots,
        grant: resolve,
        refuse: reject,
        timer: setTimeout(
          () =>
            this.leaveQueue(
              waiting,
              new QueueTimeoutError(
                `no sequence slot became free within ${this.limits.queueTimeoutMs / 1000} s`,
              ),
            ),
          this.limits.queueTimeoutMs,
        ),
        detach: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiting);
    });
  }

  /** Refuses every waiting request with `reason` (the server is shutting down). */
  refuseWaiting(reason: unknown): void {
    for (const waiting of this.queue.splice(0)) {
      clearTimeout(waiting.timer);
      waiting.detach();
      waiting.refuse(reason);
    }
  }

  /** Called by SlotLease. */
  returnSlots(count: number, requestDone: boolean): void {
    this.usedSlots -= count;
    if (requestDone) this.runningRequests--;
    this.admitWaiting();
  }

  private get free(): number {
    return this.limits.slots - this.usedSlots;
  }

  private grant(slots: number): SlotLease {
    this.usedSlots += slots;
    this.runningRequests++;
    return new SlotLease(this, slots);
  }

  private admitWaiting(): void {
    while (this.queue.length > 0 && this.free >= this.queue[0].slots) {
      const head = this.queue.shift()!;
      clearTimeout(head.timer);
      head.detach();
      head.grant(this.grant(head.slots));
    }
  }

  private leaveQueue(waiting: WaitingRequest, reason: unknown): void {
    const index = this.queue.indexOf(waiting);
    if (index < 0) return;
    this.queue.splice(index, 1);
    clearTimeout(waiting.timer);
    waiting.detach();
    waiting.refuse(reason);
    // The head may have been what held the others back.
    this.admitWaiting();
  }
}
