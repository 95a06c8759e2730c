import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * The state store's metrics (docs/METRICS.md), on the server's registry: operations by outcome,
 * their latency, what the store holds, and how continued conversations started (from a stored
 * state, or rebuilt and why).
 */

export type StoreOperation = "read" | "write" | "delete";
export type StoreOutcome = "ok" | "missing" | "error";
/**
 * Why a continued conversation did not start from its stored state: none was stored, it was of
 * another model, kernel or template, its checksum failed, the instructions differ from the stored
 * chain's, or its token ids are not a prefix of the re-rendered conversation.
 */
export type RebuildReason = "no_state" | "foreign" | "corrupt" | "instructions" | "prefix";
/**
 * A chat request's look for the state after the conversation's last reply (reply-state-store.ts):
 * found and used, none stored, stored but unusable (corrupt, or its ids not a prefix of the
 * prompt), the store failing, or not asked because it failed a moment ago.
 */
export type ReplyStateLookup = "hit" | "miss" | "rejected" | "error" | "skipped";

const LATENCY_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class StoreMetrics {
  private readonly operations: Counter<"model" | "operation" | "outcome">;
  private readonly latency: Histogram<"model" | "operation">;
  private readonly written: Counter<"model">;
  private readonly continued: Counter<"model" | "start" | "reason">;
  private readonly replyStates: Counter<"model" | "result">;

  constructor(
    registry: Registry,
    private readonly model: string,
    usage: () => { records: number; bytes: number } | undefined,
    /** Whether the store answers now (opened and pinged at scrape time). */
    up: () => Promise<boolean>,
  ) {
    const registers = [registry];
    this.operations = new Counter({
      name: "trine_state_store_operations_total",
      help: "State store reads, writes and deletes, by outcome (ok, missing, error).",
      labelNames: ["model", "operation", "outcome"],
      registers,
    });
    this.latency = new Histogram({
      name: "trine_state_store_operation_seconds",
      help: "Time of one state store operation, including encoding.",
      labelNames: ["model", "operation"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.written = new Counter({
      name: "trine_state_store_written_bytes_total",
      help: "Bytes written to the state store (stored responses and chat reply states).",
      labelNames: ["model"],
      registers,
    });
    this.continued = new Counter({
      name: "trine_conversation_starts_total",
      help: "Continued conversations (previous_response_id) by start: from the stored state, or rebuilt (re-prefilled) and why.",
      labelNames: ["model", "start", "reason"],
      registers,
    });
    this.replyStates = new Counter({
      name: "trine_chat_reply_state_lookups_total",
      help: "Chat requests' lookups of the stored state after their conversation's last reply, by result (hit, miss, rejected, error, skipped).",
      labelNames: ["model", "result"],
      registers,
    });
    // /ready does not depend on the store (requests that do not need it keep working while it is
    // down, so the pod must stay in its Service); this gauge is where its state is reported.
    new Gauge({
      name: "trine_state_store_up",
      help: "1 when the state store answers, 0 when it cannot be reached (the requests that need it get 503).",
      labelNames: ["model"],
      registers,
      async collect() {
        this.set({ model }, (await up()) ? 1 : 0);
      },
    });
    new Gauge({
      name: "trine_state_store_records",
      help: "Records in the state store (memory and embedded stores; Redis reports its own).",
      labelNames: ["model"],
      registers,
      collect() {
        const held = usage();
        if (held) this.set({ model }, held.records);
      },
    });
    new Gauge({
      name: "trine_state_store_bytes",
      help: "Bytes of records in the state store (memory and embedded stores).",
      labelNames: ["model"],
      registers,
      collect() {
        const held = usage();
        if (held) this.set({ model }, held.bytes);
      },
    });
  }

  operation(operation: StoreOperation, outcome: StoreOutcome, seconds: number, bytes = 0): void {
    this.operations.inc({ model: this.model, operation, outcome });
    this.latency.observe({ model: this.model, operation }, seconds);
    if (operation === "write" && outcome === "ok") this.written.inc({ model: this.model }, bytes);
  }

  stateUsed(): void {
    this.continued.inc({ model: this.model, start: "stored_state", reason: "" });
  }

  replyStateLookup(result: ReplyStateLookup): void {
    this.replyStates.inc({ model: this.model, result });
  }

  stateRebuilt(reason: RebuildReason): void {
    this.continued.inc({ model: this.model, start: "rebuilt", reason });
  }
}
