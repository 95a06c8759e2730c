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
  response: { 200: Closed({ status: Type.Literal("ready") }), 503: ErrorResponse },
};

export const metricsRoute = {
  summary: "Prometheus metrics (docs/METRICS.md)",
  tags: ["operations"],
  response: { 200: Type.String({ description: "The Prometheus text exposition format." }) },
};
