import { describe, expect, it } from "vitest";
import { AdmissionScheduler, QueueFullError, QueueTimeoutError } from "../../src/scheduler/admission.js";

const settled = async (promise: Promise<unknown>) => {
  let state = "pending";
  promise.then(
    () => (state = "granted"),
    () => (state = "refused"),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
};

describe("admission", () => {
  it("grants free slots at once and counts running requests and used slots", async () => {
    const scheduler = new AdmissionScheduler({ slots: 4, queueLength: 2, queueTimeoutMs: 10_000 });
    const a = await scheduler.acquire(3);
    expect([scheduler.slotsUsed, scheduler.running, scheduler.waiting]).toEqual([3, 1, 0]);
    a.release(2);
    expect([scheduler.slotsUsed, scheduler.running]).toEqual([1, 1]);
    a.release();
    expect([scheduler.slotsUsed, scheduler.running]).toEqual([0, 0]);
    a.release();
    expect(scheduler.slotsUsed).toBe(0);
  });

  it("queues first in, first out: a big request at the head is not overtaken by a small one", async () => {
    const scheduler = new AdmissionScheduler({ slots: 4, queueLength: 4, queueTimeoutMs: 10_000 });
    const first = await scheduler.acquire(3);
    const big = scheduler.acquire(4);
    const small = scheduler.acquire(1);
    expect(await settled(small)).toBe("pending");
    expect(scheduler.waiting).toBe(2);
    first.releaseAll();
    expect(await settled(big)).toBe("granted");
    expect(await settled(small)).toBe("pending");
    (await big).releaseAll();
    expect(await settled(small)).toBe("granted");
  });

  it("refuses with QueueFullError past the queue length and reports saturation", async () => {
    const scheduler = new AdmissionScheduler({ slots: 1, queueLength: 1, queueTimeoutMs: 10_000 });
    const running = await scheduler.acquire(1);
    expect(scheduler.saturated).toBe(false);
    const waiting = scheduler.acquire(1);
    expect(scheduler.saturated).toBe(true);
    await expect(scheduler.acquire(1)).rejects.toBeInstanceOf(QueueFullError);
    running.releaseAll();
    (await waiting).releaseAll();
    expect(scheduler.saturated).toBe(false);
  });

  it("refuses at once when there is no queue and no free slot", async () => {
    const scheduler = new AdmissionScheduler({ slots: 1, queueLength: 0, queueTimeoutMs: 10_000 });
    await scheduler.acquire(1);
    await expect(scheduler.acquire(1)).rejects.toBeInstanceOf(QueueFullError);
  });

  it("ends a wait with QueueTimeoutError and lets the requests behind it in", async () => {
    const scheduler = new AdmissionScheduler({ slots: 2, queueLength: 4, queueTimeoutMs: 30 });
    const running = await scheduler.acquire(1);
    const head = scheduler.acquire(2);
    const behind = scheduler.acquire(1);
    await expect(head).rejects.toBeInstanceOf(QueueTimeoutError);
    expect(await settled(behind)).toBe("granted");
    expect(scheduler.waiting).toBe(0);
    running.releaseAll();
  });

  it("drops a waiting request whose client left, with the signal's reason", async () => {
    const scheduler = new AdmissionScheduler({ slots: 1, queueLength: 4, queueTimeoutMs: 10_000 });
    const running = await scheduler.acquire(1);
    const controller = new AbortController();
    const waiting = scheduler.acquire(1, controller.signal);
    controller.abort(new Error("client gone"));
    await expect(waiting).rejects.toThrow("client gone");
    expect(scheduler.waiting).toBe(0);
    running.releaseAll();
    expect(scheduler.slotsUsed).toBe(0);
  });

  it("refuses everything waiting at shutdown", async () => {
    const scheduler = new AdmissionScheduler({ slots: 1, queueLength: 4, queueTimeoutMs: 10_000 });
    await scheduler.acquire(1);
    const waiting = [scheduler.acquire(1), scheduler.acquire(1)];
    scheduler.refuseWaiting(new Error("shutting down"));
    for (const request of waiting) await expect(request).rejects.toThrow("shutting down");
    expect(scheduler.waiting).toBe(0);
  });

  it("rejects a request for more slots than exist", () => {
    const scheduler = new AdmissionScheduler({ slots: 2, queueLength: 4, queueTimeoutMs: 10_000 });
    expect(() => scheduler.acquire(3)).toThrow(RangeError);
  });
});
