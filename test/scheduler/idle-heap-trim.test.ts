import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { nativeTrimHeap, nativeUnavailableReason } from "../../src/engine/kernels/native.js";
import { IdleHeapTrim } from "../../src/scheduler/idle-heap-trim.js";

describe("IdleHeapTrim", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("trims once the server has idled for the delay, once per idle spell", () => {
    const trim = vi.fn(() => true);
    const heap = new IdleHeapTrim(trim, 5_000);
    heap.idle();
    vi.advanceTimersByTime(4_999);
    expect(trim).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(trim).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(trim).toHaveBeenCalledTimes(1);
  });

  it("a request before the delay cancels the trim; the next idle spell starts the wait again", () => {
    const trim = vi.fn(() => true);
    const heap = new IdleHeapTrim(trim, 5_000);
    heap.idle();
    vi.advanceTimersByTime(3_000);
    heap.busy();
    vi.advanceTimersByTime(10_000);
    expect(trim).not.toHaveBeenCalled();
    heap.idle();
    vi.advanceTimersByTime(3_000);
    heap.idle();
    vi.advanceTimersByTime(3_000);
    expect(trim).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2_000);
    expect(trim).toHaveBeenCalledTimes(1);
  });
});

describe("nativeTrimHeap", () => {
  it.skipIf(nativeUnavailableReason() !== undefined)("is bound in the addon (false off glibc)", () => {
    const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header
      .glibcVersionRuntime;
    const released = nativeTrimHeap();
    expect(typeof released).toBe("boolean");
    if (!glibc) expect(released).toBe(false);
  });
});
