import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { parseModelConfig } from "../../../engine/config.js";
import {
  DEFAULT_FREQUENCY_PENALTY,
  DEFAULT_MIN_P,
  DEFAULT_PRESENCE_PENALTY,
  DEFAULT_REPETITION_PENALTY,
  DEFAULT_TEMPERATURE,
  DEFAULT_TOP_K,
  DEFAULT_TOP_P,
} from "../../../engine/sampling/index.js";
import { modelNotFound } from "../../errors.js";
import { type ModelDetails, modelDetailsRoute } from "./schema.js";

/** The first paragraph of a Markdown model card after its title, as plain text (no markup). */
export function cardSummary(markdown: string): string | null {
  const paragraph = markdown
    .replace(/\r\n/g, "\n")
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .find((block) => block !== "" && !/^(#|\||```|<|!\[)/.test(block));
  if (paragraph === undefined) return null;
  // Links keep their text, code its content, emphasis its words; underscores inside names stay.
  return paragraph
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`([^`]*)`/g, "$1")
    .replace(/(\*\*|\*|\b__|\b_)(\S(?:.*?\S)?)\1(?!\w)/g, "$2")
    .replace(/\s+/g, " ");
}

function readSummary(modelDir: string): string | null {
  for (const name of ["MODEL_CARD.md", "README.md"]) {
    const path = join(modelDir, name);
    if (existsSync(path)) return cardSummary(readFileSync(path, "utf8"));
  }
  return null;
}

/** GET /v1/models/{id}/details: the defaults the playground pre-fills, and its model card summary. */
export async function modelDetailsEndpoint(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scheduler, config } = app.trine;
  // The directory's files are read once, on first use: the model is loaded (and valid) by then.
  let fromDirectory: Pick<ModelDetails, "architecture" | "summary"> | undefined;

  app.get("/v1/models/:id/details", { schema: modelDetailsRoute }, async (request) => {
    if (request.params.id !== config.modelName) throw modelNotFound(request.params.id);
    const { defaults } = scheduler.model();
    if (fromDirectory === undefined) {
      const json = JSON.parse(readFileSync(join(config.modelDir, "config.json"), "utf8"));
      const model = parseModelConfig(json);
      fromDirectory = {
        architecture: {
          model_type: String(json.model_type),
          layers: model.numLayers,
          hidden_size: model.hiddenSize,
          intermediate_size: model.intermediateSize,
          vocab_size: model.vocabSize,
        },
        summary: readSummary(config.modelDir),
      };
    }
    return {
      id: config.modelName,
      object: "model.details" as const,
      generation_defaults: {
        temperature: defaults.temperature ?? DEFAULT_TEMPERATURE,
        top_p: defaults.top_p ?? DEFAULT_TOP_P,
        top_k: defaults.top_k ?? DEFAULT_TOP_K,
        min_p: defaults.min_p ?? DEFAULT_MIN_P,
        repetition_penalty: defaults.repetition_penalty ?? DEFAULT_REPETITION_PENALTY,
        presence_penalty: defaults.presence_penalty ?? DEFAULT_PRESENCE_PENALTY,
        frequency_penalty: defaults.frequency_penalty ?? DEFAULT_FREQUENCY_PENALTY,
        max_tokens: config.maxOutputTokens,
      },
      ...fromDirectory,
    };
  });
}
