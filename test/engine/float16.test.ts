import { expect, it } from "vitest";
import { halfToFloat } from "../../src/engine/float16.js";

/** The value of a half by its definition (IEEE 754 binary16), in double arithmetic. */
function halfByDefinition(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

it("halfToFloat gives every one of the 65,536 halves its exact value", () => {
  for (let h = 0; h < 0x10000; h++) {
    const expected = halfByDefinition(h);
    const got = halfToFloat(h);
    if (Number.isNaN(expected)) expect(got).toBeNaN();
    else if (!Object.is(got, expected)) expect([h, got]).toEqual([h, expected]);
  }
});
