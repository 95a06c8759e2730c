import { Piscina, workerData } from "piscina";
import { loadTokenizerFiles } from "../model/tokenizer-files.js";
import type { TokenizerWorkerData, TokenizeTask } from "../scheduler/prompt-tokenizer.js";

/** The tokenizer thread: the model's tokenizer, loaded again here, encoding one text a task. */

const { tokenizer } = loadTokenizerFiles((workerData as TokenizerWorkerData).modelDir);

export default function encode({ text, addSpecialTokens }: TokenizeTask): Int32Array {
  // Moved, not copied, back to the main thread.
  return Piscina.move(Int32Array.from(tokenizer.encode(text, { addSpecialTokens }))) as unknown as Int32Array;
}
