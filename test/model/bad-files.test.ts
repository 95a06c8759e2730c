import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ModelConfigError, ModelFileError } from "../../src/engine/errors.js";
import { convertModel } from "../../src/model/convert.js";
import { loadModelWeights } from "../../src/model/model-dir.js";
import { PACKED_FILE } from "../../src/model/packed-model.js";
import { GOLDEN_DIR } from "../engine/golden-helpers.js";

const source = join(GOLDEN_DIR, "dev-tiny-fp32");
const scratch = mkdtempSync(join(tmpdir(), "trine-bad-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;

/** A copy of the tiny golden checkpoint in a fresh directory, for one kind of damage. */
function copyModel(): string {
  const dir = join(scratch, `m${counter++}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(source, f), join(dir, f));
  return dir;
}

/** A safetensors header as these tests edit it (`__metadata__` aside). */
type Header = Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;

function splitSafetensors(path: string): {
  header: Header;
  data: Buffer;
} {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString()), data: bytes.subarray(8 + n) };
}

function writeSafetensors(path: string, header: Record<string, unknown>, data: Buffer): void {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([length, json, data]));
}

function editHeader(dir: string, edit: (header: Header) => void): void {
  const path = join(dir, "model.safetensors");
  const { header, data } = splitSafetensors(path);
  edit(header);
  writeSafetensors(path, header, data);
}

function loadError(dir: string): Error {
  try {
    loadModelWeights(dir);
  } catch (error) {
    return error as Error;
  }
  throw new Error("the damaged model loaded without an error");
}

function expectFileError(dir: string, file: string, problem: RegExp): void {
  const error = loadError(dir);
  expect(error).toBeInstanceOf(ModelFileError);
  expect(error.message).toContain(join(dir, file));
  expect(error.message).toMatch(problem);
}

describe("a damaged model directory is refused with an error naming the file and the problem", () => {
  it("truncated safetensors", () => {
    const dir = copyModel();
    const path = join(dir, "model.safetensors");
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 1000));
    expectFileError(dir, "model.safetensors", /run past the end of the data/);
  });

  it("a file shorter than the header length field", () => {
    const dir = copyModel();
    writeFileSync(join(dir, "model.safetensors"), Buffer.from([1, 2, 3]));
    expectFileError(dir, "model.safetensors", /truncated/);
  });

  it("header length past the end of the file", () => {
    const dir = copyModel();
    const path = join(dir, "model.safetensors");
    const bytes = readFileSync(path);
    bytes.writeBigUInt64LE(BigInt(bytes.length * 2), 0);
    writeFileSync(path, bytes);
    expectFileError(dir, "model.safetensors", /header length \d+ runs past the end/);
  });

  it("a header that is not JSON", () => {
    const dir = copyModel();
    const path = join(dir, "model.safetensors");
    const bytes = readFileSync(path);
    bytes[8] = "!".charCodeAt(0);
    writeFileSync(path, bytes);
    expectFileError(dir, "model.safetensors", /not valid JSON/);
  });

  it("overlapping offsets", () => {
    const dir = copyModel();
    editHeader(dir, (h) => {
      const names = Object.keys(h).filter(
        (k) => k !== "__metadata__" && h[k].dtype === "F32" && h[k].shape.length === 1,
      );
      const [a, b] = names;
      const size = h[b].data_offsets[1] - h[b].data_offsets[0];
      h[b].data_offsets = [h[a].data_offsets[0] + 4, h[a].data_offsets[0] + 4 + size];
    });
    expectFileError(dir, "model.safetensors", /overlap/);
  });

  it("out-of-range offsets", () => {
    const dir = copyModel();
    editHeader(dir, (h) => {
      h["model.norm.weight"].data_offsets = [10_000_000, 10_000_256];
    });
    expectFileError(dir, "model.safetensors", /"model.norm.weight".*run past the end/);
  });

  it("an unknown dtype", () => {
    const dir = copyModel();
    editHeader(dir, (h) => {
      h["model.norm.weight"].dtype = "F8_E9M9";
    });
    expectFileError(dir, "model.safetensors", /"model.norm.weight": unknown dtype "F8_E9M9"/);
  });

  it("a byte size that does not match shape and dtype", () => {
    const dir = copyModel();
    editHeader(dir, (h) => {
      h["model.norm.weight"].shape = [65];
    });
    expectFileError(dir, "model.safetensors", /"model.norm.weight": 256 bytes stored but shape \[65\]/);
  });

  it("a missing tensor", () => {
    const dir = copyModel();
    editHeader(dir, (h) => {
      delete h["model.layers.1.attn.g_norm.weight"];
    });
    expectFileError(dir, "model.safetensors", /missing tensor "model.layers.1.attn.g_norm.weight"/);
  });

  it("a tensor of the wrong shape", () => {
    const dir = copyModel();
    editHeader(dir, (h) => {
      h["model.layers.0.attn.i_proj.weight"].shape = [32, 128];
    });
    expectFileError(
      dir,
      "model.safetensors",
      /"model.layers.0.attn.i_proj.weight" has shape \[32,128\], expected \[64,64\]/,
    );
  });

  it("a missing weights file", () => {
    const dir = copyModel();
    rmSync(join(dir, "model.safetensors"));
    expectFileError(dir, "model.safetensors", /missing/);
  });

  it("a config without a required field", () => {
    const dir = copyModel();
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    delete config.hidden_size;
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    const error = loadError(dir);
    expect(error).toBeInstanceOf(ModelConfigError);
    expect(error.message).toMatch(/config.json: field "hidden_size": must be a positive integer/);
  });

  it("a config the engine cannot run names the field", () => {
    const dir = copyModel();
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    config.use_short_conv = true;
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    expect(loadError(dir).message).toMatch(/field "use_short_conv": true is not supported/);
  });

  it("a config.json that is not JSON", () => {
    const dir = copyModel();
    writeFileSync(join(dir, "config.json"), "{ hidden_size: 64");
    expectFileError(dir, "config.json", /not valid JSON/);
  });

  it("a truncated packed model", () => {
    const dir = join(scratch, "packed-truncated");
    convertModel(source, dir);
    const path = join(dir, PACKED_FILE);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 64));
    expectFileError(dir, PACKED_FILE, /run past the end of the data/);
  });

  it("a packed model missing a tensor", () => {
    const dir = join(scratch, "packed-missing");
    convertModel(source, dir);
    const path = join(dir, PACKED_FILE);
    const { header, data } = splitSafetensors(path);
    delete header["lm_head.weight_scale"];
    writeSafetensors(path, header, data);
    expectFileError(dir, PACKED_FILE, /missing tensor "lm_head.weight_scale"/);
  });

  it("a sharded checkpoint whose index names a missing shard", () => {
    const dir = copyModel();
    writeFileSync(
      join(dir, "model.safetensors.index.json"),
      JSON.stringify({ weight_map: { "model.norm.weight": "model-00002-of-00002.safetensors" } }),
    );
    expectFileError(dir, "model-00002-of-00002.safetensors", /missing shard/);
  });
});
