import { fileURLToPath } from "node:url";

/** The model shipped in the repository, served when no model directory is given. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../../../models/storyteller", import.meta.url));
