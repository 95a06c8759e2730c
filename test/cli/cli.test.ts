import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GOLDEN_DIR, readGolden, relativeL2 } from "../engine/golden-helpers.js";
import { makeRandomTestModel } from "../helpers/random-model.js";
import { runCli } from "./run-cli.js";

const scratch = mkdtempSync(join(tmpdir(), "trine-cli-"));
const randomModel = makeRandomTestModel();
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(randomModel, { recursive: true, force: true });
});
const golden = join(GOLDEN_DIR, "dev-tiny-fp32");
const packed = join(scratch, "tiny-packed");

describe("trine convert, inspect and logits", () => {
  it("convert writes a packed model that inspect describes like the checkpoint", () => {
    const converted = runCli(["convert", golden, packed]);
    expect(converted.status, converted.stderr).toBe(0);
    const report = JSON.parse(converted.stdout);
    expect(report.packed_bytes).toBeGreaterThan(0);
    const fromHf = JSON.parse(runCli(["inspect", golden, "--json"]).stdout);
    const fromPacked = JSON.parse(runCli(["inspect", packed, "--json"]).stdout);
    expect(fromHf.format).toBe("hf");
    expect(fromPacked.format).toBe("packed");
    expect(fromPacked.parameters).toEqual(fromHf.parameters);
    expect(fromPacked.zero_share).toEqual(fromHf.zero_share);
    expect(fromHf.parameters.ternary).toBe(2 * (4 * 64 * 64 + 3 * 256 * 64) + 512 * 64);
    expect(fromHf.zero_share.overall).toBeGreaterThan(0.1);
    expect(fromHf.zero_share.overall).toBeLessThan(0.6);
  });

  it("logits prints one row of V logits per position, matching the golden file, for both formats", () => {
    const { ids, rows } = readGolden("dev-tiny-fp32").cases[1];
    for (const dir of [golden, packed]) {
      const result = runCli(["logits", "--model", dir, "--ids", ids.join(",")]);
      expect(result.status, result.stderr).toBe(0);
      const logits: number[][] = JSON.parse(result.stdout);
      expect(logits).toHaveLength(ids.length);
      expect(logits[0]).toHaveLength(512);
      expect(relativeL2(logits[0], rows["0"])).toBeLessThan(1e-4);
    }
  });

  it("refuses bad input with a clear message and a non-zero status", () => {
    const missing = runCli(["inspect", join(scratch, "nowhere")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/config.json: missing/);
    const badIds = runCli(["logits", "--model", golden, "--ids", "1,x"]);
    expect(badIds.status).toBe(2);
    expect(badIds.stderr).toMatch(/--ids must be comma-separated/);
    const outOfRange = runCli(["logits", "--model", golden, "--ids", "1,512"]);
    expect(outOfRange.status).toBe(2);
    expect(outOfRange.stderr).toMatch(/token id 512 is outside the vocabulary/);
  });
});

describe("trine generate and eval", () => {
  it("generate with a seed reproduces the same text in separate runs", () => {
    const args = [
      "generate",
      "--model",
      randomModel,
      "--prompt",
      "Once upon a time",
      "--max-tokens",
      "12",
      "--seed",
      "42",
      "--json",
    ];
    const first = runCli(args);
    expect(first.status, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout);
    const b = JSON.parse(runCli(args).stdout);
    expect(b).toEqual(a);
    expect(a.tokens).toHaveLength(12);
    expect(a.finish_reason).toBe("length");
    const other = JSON.parse(runCli([...args.slice(0, -3), "--seed", "43", "--json"]).stdout);
    expect(other.tokens).not.toEqual(a.tokens);
  });

  it("generate streams the same text it reports in JSON", () => {
    const base = [
      "generate",
      "--model",
      randomModel,
      "--prompt",
      "Hello",
      "--max-tokens",
      "10",
      "--temperature",
      "0",
    ];
    const streamed = runCli(base);
    const json = JSON.parse(runCli([...base, "--json"]).stdout);
    expect(streamed.stdout).toBe(`${json.text}\n`);
  });

  it("generate names a bad sampling flag", () => {
    const result = runCli(["generate", "--model", randomModel, "--prompt", "x", "--temperature", "5"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--temperature/);
  });

  it("generate checks --stop-token-id and --max-tokens as the server checks its fields", () => {
    const outside = runCli(["generate", "--model", randomModel, "--prompt", "x", "--stop-token-id", "99999"]);
    expect(outside.status).toBe(2);
    expect(outside.stderr).toMatch(/--stop-token-id: 99999 is not a token id between 0 and \d+/);
    const none = runCli(["generate", "--model", randomModel, "--prompt", "x", "--max-tokens", "0"]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/--max-tokens: must be a positive integer/);
  });

  it("eval reports perplexity, mean NLL and bits per character consistently", () => {
    const text = join(scratch, "text.txt");
    writeFileSync(
      text,
      "Alice was beginning to get very tired of sitting by her sister on the bank. ".repeat(8),
    );
    const result = runCli(["eval", "--model", randomModel, "--text", text, "--window", "32", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(Object.keys(report).sort()).toEqual([
      "bits_per_char",
      "characters",
      "mean_nll",
      "perplexity",
      "tokens",
    ]);
    expect(report.characters).toBe(8 * 76);
    expect(report.perplexity).toBeCloseTo(Math.exp(report.mean_nll), 6);
    expect(report.bits_per_char).toBeCloseTo(
      (report.mean_nll * report.tokens) / Math.LN2 / report.characters,
      6,
    );
    // A random model over 1000 tokens is near-uniform: perplexity within a small factor of 1000.
    expect(report.perplexity).toBeGreaterThan(200);
    expect(report.perplexity).toBeLessThan(5000);
  });
});
