import type { SlotLease } from "./admission.js";

/**
 * A request's slots come back once its worker has let go of a sequence AND the answer has been
 * delivered: the consumer's loop has ended (for a stream, every event written to the socket) or
 * the client has gone. So a client that reads slowly holds back admission instead of letting
 * finished output pile up in memory, one request after another, while its slot serves others.
 */
export class DeliveredSlots {
  /** Slots of sequences whose workers are done, held until the answer is delivered. */
  private held = 0;
  private delivered = false;

  constructor(private readonly lease: SlotLease) {}

  /** A worker let go of one of the request's sequences. */
  sequenceReleased(): void {
    if (this.delivered) this.lease.release();
    else this.held++;
  }

  /** The answer has been delivered, or never will be (the client left). */
  markDelivered(): void {
    if (this.delivered) return;
    this.delivered = true;
    this.lease.release(this.held);
    this.held = 0;
  }
}
