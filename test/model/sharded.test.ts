import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { loadModelWeights } from "../../src/model/model-dir.js";
import { GOLDEN_DIR } from "../engine/golden-helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "trine-shards-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Splits a single-file checkpoint into two shards with an index, as transformers writes them. */
function shard(sourceDir: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(sourceDir, "config.json"), join(dir, "config.json"));
  const bytes = readFileSync(join(sourceDir, "model.safetensors"));
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
  const data = bytes.subarray(8 + n);
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  const halves = [names.slice(0, names.length / 2), names.slice(names.length / 2)];
  const weightMap: Record<string, string> = {};
  halves.forEach((part, k) => {
    const file = `model-0000${k + 1}-of-00002.safetensors`;
    const shardHeader: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    let offset = 0;
    for (const name of part) {
      const [b, e] = header[name].data_offsets;
      shardHeader[name] = { ...header[name], data_offsets: [offset, offset + e - b] };
      chunks.push(data.subarray(b, e));
      offset += e - b;
      weightMap[name] = file;
    }
    const json = Buffer.from(JSON.stringify(shardHeader));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(join(dir, file), Buffer.concat([length, json, ...chunks]));
  });
  writeFileSync(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
}

it("loads a sharded checkpoint into the same model as the single file", () => {
  const dir = join(scratch, "sharded");
  shard(join(GOLDEN_DIR, "dev-small-fp16"), dir);
  const single = loadModelWeights(join(GOLDEN_DIR, "dev-small-fp16"));
  const sharded = loadModelWeights(dir);
  expect(new Uint8Array(sharded.views.buffer)).toEqual(new Uint8Array(single.views.buffer));
});
