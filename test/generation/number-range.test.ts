import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { boundedNumberEbnf, type NumberBounds } from "../../src/generation/constraints/number-range.js";

/** The EBNF subset number-range.ts writes (literals, classes, sequences, *, +, |) as a JS regex. */
function asRegex(ebnf: string): RegExp {
  const source = ebnf
    .replace(/"((?:[^"\\]|\\.)*)"/g, (_, text: string) => text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&"))
    .replace(/\s+/g, "");
  return new RegExp(`^${source}$`);
}

const within = (value: number, b: NumberBounds) =>
  (b.minimum === undefined || value >= b.minimum) &&
  (b.maximum === undefined || value <= b.maximum) &&
  (b.exclusiveMinimum === undefined || value > b.exclusiveMinimum) &&
  (b.exclusiveMaximum === undefined || value < b.exclusiveMaximum);

const bound = fc.option(
  fc.oneof(fc.integer({ min: -2500, max: 2500 }), fc.double({ min: -2500, max: 2500, noNaN: true })),
  { nil: undefined },
);
const bounds = fc
  .record({ minimum: bound, maximum: bound, exclusiveMinimum: bound, exclusiveMaximum: bound })
  .map((b) => Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)) as NumberBounds);

describe("bounded numbers as EBNF", () => {
  it("matches exactly the integers within the bounds", () => {
    fc.assert(
      fc.property(bounds, fc.array(fc.integer({ min: -3000, max: 3000 }), { maxLength: 60 }), (b, values) => {
        const ebnf = boundedNumberEbnf(b, true);
        const regex = ebnf === null ? null : asRegex(ebnf);
        for (const value of [
          ...values,
          ...Object.values(b).flatMap((v) => [
            Math.floor(v),
            Math.ceil(v),
            Math.floor(v) + 1,
            Math.ceil(v) - 1,
          ]),
        ])
          expect(regex?.test(String(value)) ?? false, `${value} ${JSON.stringify(b)}`).toBe(
            Number.isInteger(value) && within(value, b),
          );
      }),
      { numRuns: 400 },
    );
  });

  it("a decimal it matches is within the bounds, and every integer within them is matched", () => {
    const decimal = fc
      .tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 }), fc.stringMatching(/^[0-9]{1,4}$/))
      .map(([negative, whole, digits]) => `${negative ? "-" : ""}${whole}.${digits}`);
    fc.assert(
      fc.property(
        bounds,
        fc.array(decimal, { maxLength: 60 }),
        fc.array(fc.integer({ min: -3000, max: 3000 })),
        (b, decimals, integers) => {
          const ebnf = boundedNumberEbnf(b, false);
          const regex = ebnf === null ? null : asRegex(ebnf);
          for (const text of decimals)
            if (regex?.test(text)) expect(within(Number(text), b), `${text} ${JSON.stringify(b)}`).toBe(true);
          for (const value of integers)
            if (within(value, b)) expect(regex?.test(String(value)), `${value}`).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("with one side open, reaches any number of digits", () => {
    const regex = asRegex(boundedNumberEbnf({ minimum: 120 }, true) as string);
    expect(["120", "999", "1000", "123456789012"].every((text) => regex.test(text))).toBe(true);
    expect(["119", "-5", "0", "0120"].some((text) => regex.test(text))).toBe(false);
  });
});
