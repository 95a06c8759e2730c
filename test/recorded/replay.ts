import { mkdtempSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startInProcess } from "../../loadtest/in-process.js";
import { makeRandomTestModel } from "../helpers/random-model.js";
import { normalise, RECORDED_REQUESTS } from "./requests.js";

export interface RecordedAnswer {
  readonly name: string;
  readonly status: number;
  readonly contentType: string | null;
  readonly body: string;
}

/** The seeded random test model, served as "recorded", answering every recorded request in turn. */
export async function replayRecordedRequests(): Promise<RecordedAnswer[]> {
  const dir = join(mkdtempSync(join(tmpdir(), "trine-recorded-")), "recorded");
  renameSync(makeRandomTestModel({ hiddenSize: 64, numLayers: 2 }), dir);
  const server = await startInProcess({ modelDir: dir, maxOutputTokens: 64 });
  const answers: RecordedAnswer[] = [];
  try {
    for (const request of RECORDED_REQUESTS) {
      const response = await fetch(`${server.url}${request.path}`, {
        method: request.method,
        headers: request.body === undefined ? {} : { "content-type": "application/json" },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
      });
      answers.push({
        name: request.name,
        status: response.status,
        contentType: response.headers.get("content-type"),
        body: normalise(await response.text()),
      });
    }
  } finally {
    await server.close();
  }
  return answers;
}
