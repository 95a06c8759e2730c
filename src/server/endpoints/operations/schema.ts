import Type from "typebox";
import { Closed, ErrorResponse } from "../shared/schema.js";

/** GET /health, /ready and /metrics, defined once. */

export const healthRoute = {
  summary: "Liveness: 200 while the process runs",
  tags: ["operations"],
  response: { 200: Closed({ status: Type.Literal("ok") }) },
};

export const readyRoute = {
  summary: "Readiness: 503 while loading, draining for shutdown, or saturated",
  tags: ["operations"],
  description:
    "The state store is reported, not required: while it is down only the requests that need it (stored responses) fail, so the replica stays in its Service.",
  response: {
    200: Closed({
      status: Type.Literal("ready"),
      state_store: Closed({
        backend: Type.Unsafe<"memory" | "lmdb" | "redis">({
          type: "string",
          enum: ["memory", "lmdb", "redis"],
        }),
        status: Type.Unsafe<"up" | "down">({
          type: "string",
          enum: ["up", "down"],
          description: "Whether the store answered within 0.5 s.",
        }),
      }),
    }),
    503: ErrorResponse,
  },
};

export const metricsRoute = {
  summary: "Prometheus metrics (docs/METRICS.md)",
  tags: ["operations"],
  response: { 200: Type.String({ description: "The Prometheus text exposition format." }) },
};
