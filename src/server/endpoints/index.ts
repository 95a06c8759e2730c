import type { FastifyInstance } from "fastify";
import { chatCompletionsEndpoint } from "./chat-completions/route.js";
import { completionsEndpoint } from "./completions/route.js";
import { modelDetailsEndpoint } from "./model-details/route.js";
import { modelsEndpoint } from "./models/route.js";
import { operationsEndpoint } from "./operations/route.js";
import { responsesEndpoint } from "./responses/route.js";
import { tokenizeEndpoint } from "./tokenize/route.js";
import { tokenizerInfoEndpoint } from "./tokenizer-info/route.js";

/** Every endpoint, each a module of its own: src/server/endpoints/<name>/{schema,spec,route}.ts. */
export const ENDPOINTS: readonly ((app: FastifyInstance) => Promise<void>)[] = [
  operationsEndpoint,
  modelsEndpoint,
  modelDetailsEndpoint,
  completionsEndpoint,
  chatCompletionsEndpoint,
  responsesEndpoint,
  tokenizeEndpoint,
  tokenizerInfoEndpoint,
];
