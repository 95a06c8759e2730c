import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { type RecordedAnswer, replayRecordedRequests } from "./replay.js";

const recorded: RecordedAnswer[] = JSON.parse(
  readFileSync(join(import.meta.dirname, "recorded-outputs.json"), "utf8"),
);

test("every endpoint answers byte for byte as recorded (greedy, seeded, streams, refusals)", async () => {
  const answers = await replayRecordedRequests();
  expect(answers.map((answer) => answer.name)).toEqual(recorded.map((answer) => answer.name));
  for (const [i, answer] of answers.entries()) expect(answer, answer.name).toEqual(recorded[i]);
});
