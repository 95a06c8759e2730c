/**
 * Re-records test/recorded/recorded-outputs.json (only when an answer is meant to change):
 *   npx tsx test/recorded/record.ts
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { replayRecordedRequests } from "./replay.js";

const outputs = await replayRecordedRequests();
writeFileSync(join(import.meta.dirname, "recorded-outputs.json"), `${JSON.stringify(outputs, null, 1)}\n`);
console.log(`recorded ${outputs.length} answers`);
process.exit(0);
