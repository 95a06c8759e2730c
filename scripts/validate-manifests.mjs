// Validates everything under deploy/ without a cluster (npm run validate:deploy; CI runs it):
//   - renders the Kustomize base and every overlay with kubectl kustomize, and validates each
//     rendered object against the Kubernetes, KEDA and Prometheus Operator schemas, unknown
//     fields included (validate-manifests/schemas.mjs);
//   - checks the promises of docs/DEPLOY.md on each rendering: probes, security context, CPU
//     requests = limits, workers from the CPU limit, grace period >= preStop + drain, and the
//     references between objects (validate-manifests/policy.mjs);
//   - checks the alert rules, their unit tests and every PromQL query in deploy/ (dashboard,
//     KEDA, prometheus-adapter) with promtool, and that each queried metric is one the server
//     defines in src/server/metrics.ts;
//   - checks that the Prometheus Operator rules equal deploy/prometheus/alerts.yaml, and that the
//     files deploy/compose.yaml mounts exist.
// Prints one line per check and "N passed, M failed"; exits 1 on any failure.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { policyErrors } from "./validate-manifests/policy.mjs";
import { schemaErrors, unknownFieldErrors } from "./validate-manifests/schemas.mjs";
import { findKubectl, findPromtool, run } from "./validate-manifests/tools.mjs";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const at = (path) => join(repoRoot, path);
const KUBERNETES = "deploy/kubernetes";
const ALERTS = "deploy/prometheus/alerts.yaml";
const DASHBOARD = "deploy/grafana/dashboards/trine.json";
const SERVER_METRICS = "src/server/metrics.ts";

let passed = 0;
let failed = 0;

function report(name, errors) {
  if (errors.length === 0) {
    passed++;
    console.log(`ok   ${name}`);
    return;
  }
  failed++;
  console.log(`FAIL ${name}`);
  for (const error of errors) console.log(`       ${String(error).replaceAll("\n", "\n       ")}`);
}

/** The objects of a multi-document YAML text; duplicate keys and syntax errors throw. */
function parseObjects(text, source) {
  return parseAllDocuments(text).flatMap((document) => {
    if (document.errors.length > 0) throw new Error(`${source}: ${document.errors[0].message}`);
    const object = document.toJS();
    return object === null ? [] : [object];
  });
}

function readYaml(path) {
  const [object] = parseObjects(readFileSync(at(path), "utf8"), path);
  return object;
}

// ---------------------------------------------------------------------------------- Kubernetes
const kubectl = findKubectl();
const kustomizations = [
  "base",
  ...readdirSync(at(`${KUBERNETES}/overlays`)).map((name) => `overlays/${name}`),
];
const renderings = [];
for (const dir of kustomizations) {
  const result = run(kubectl, ["kustomize", at(`${KUBERNETES}/${dir}`)]);
  if (result.status !== 0) {
    report(`render ${dir}`, [result.stderr.trim()]);
    continue;
  }
  try {
    renderings.push({ dir, objects: parseObjects(result.stdout, dir) });
  } catch (error) {
    report(`render ${dir}`, [error.message]);
  }
}

const fieldErrors = unknownFieldErrors(
  renderings.flatMap(({ dir, objects }) => objects.map((object) => ({ source: dir, object }))),
  repoRoot,
);
for (const { dir, objects } of renderings) {
  const kinds = objects.map((object) => object.kind).join(", ");
  const schemaProblems = (await Promise.all(objects.map(schemaErrors))).flat();
  const ownFieldErrors = fieldErrors.filter((error) => error.startsWith(`${dir}: `));
  report(`${dir}: ${objects.length} objects match their schemas, no unknown fields (${kinds})`, [
    ...schemaProblems,
    ...ownFieldErrors,
  ]);
  report(`${dir}: probes, security, resources, graceful shutdown and references`, policyErrors(objects));
}
const unattributed = fieldErrors.filter(
  (error) => !renderings.some(({ dir }) => error.startsWith(`${dir}: `)),
);
if (unattributed.length > 0) report("schema types of the rendered kinds", unattributed);

// Every component is part of some overlay, so that each is rendered and checked above.
const components = readdirSync(at(`${KUBERNETES}/components`));
const used = new Set(
  kustomizations.flatMap((dir) =>
    (readYaml(`${KUBERNETES}/${dir}/kustomization.yaml`).components ?? []).map((path) =>
      resolve(at(`${KUBERNETES}/${dir}`), path),
    ),
  ),
);
report(
  `every component (${components.join(", ")}) is rendered by an overlay`,
  components
    .filter((name) => !used.has(at(`${KUBERNETES}/components/${name}`)))
    .map((name) => `components/${name} is used by no overlay`),
);

// --------------------------------------------------------------------------- Prometheus rules
const operatorRule = readYaml(`${KUBERNETES}/components/monitoring/prometheusrule.yaml`);
report(
  "the PrometheusRule carries exactly the groups of deploy/prometheus/alerts.yaml",
  isDeepStrictEqual(operatorRule.spec.groups, readYaml(ALERTS).groups)
    ? []
    : [
        "components/monitoring/prometheusrule.yaml differs from deploy/prometheus/alerts.yaml: copy the groups over",
      ],
);

const promtool = findPromtool();
function promtoolCheck(name, args) {
  const result = run(promtool, args, { cwd: repoRoot });
  report(name, result.status === 0 ? [] : [`${result.stdout}${result.stderr}`.trim()]);
}
promtoolCheck("promtool: the alert rules parse", ["check", "rules", ALERTS]);
promtoolCheck("promtool: the alert rules pass their unit tests", [
  "test",
  "rules",
  "deploy/prometheus/alerts.test.yaml",
]);
promtoolCheck("promtool: the compose Prometheus configuration", [
  "check",
  "config",
  "deploy/prometheus/prometheus.yml",
]);

// Every other query, made concrete (Grafana variables and adapter templates filled in) and checked
// as recording rules.
const dashboard = JSON.parse(readFileSync(at(DASHBOARD), "utf8"));
const grafanaVariables = {
  __rate_interval: "5m",
  __interval: "1m",
  __range: "1h",
  job: ".*",
  model: ".*",
  instance: ".*",
};
const queries = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({
    source: `${DASHBOARD} panel "${panel.title}" ${target.refId}`,
    expr: target.expr.replace(/\$(\w+)/g, (whole, name) => grafanaVariables[name] ?? whole),
  })),
);
const scaledObject = readYaml(`${KUBERNETES}/components/keda/scaledobject.yaml`);
for (const trigger of scaledObject.spec.triggers.filter((candidate) => candidate.type === "prometheus")) {
  queries.push({ source: "components/keda/scaledobject.yaml", expr: trigger.metadata.query });
}
const adapterRules = readYaml(`${KUBERNETES}/components/prometheus-adapter/adapter-rules.yaml`);
for (const rule of adapterRules.rules.custom) {
  queries.push({
    source: "components/prometheus-adapter/adapter-rules.yaml",
    expr: rule.metricsQuery
      .replaceAll("<<.Series>>", "trine_requests_waiting")
      .replaceAll("<<.LabelMatchers>>", 'namespace="trine"')
      .replaceAll("<<.GroupBy>>", "pod"),
  });
}
const scratch = mkdtempSync(join(tmpdir(), "trine-queries-"));
try {
  const rulesFile = join(scratch, "queries.yaml");
  const rules = queries.map(({ expr }, index) => ({ record: `query:${index}`, expr }));
  writeFileSync(rulesFile, JSON.stringify({ groups: [{ name: "queries", rules }] }));
  const result = run(promtool, ["check", "rules", rulesFile]);
  const output = `${result.stdout}${result.stderr}`;
  const failing = [...output.matchAll(/query:(\d+)/g)].map((match) => queries[Number(match[1])]);
  report(
    `promtool: all ${queries.length} queries of the dashboard, KEDA and prometheus-adapter parse`,
    result.status === 0
      ? []
      : failing.length > 0
        ? failing.map((query) => `${query.source}: ${query.expr}`)
        : [output.trim()],
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// Each metric queried anywhere in deploy/ is one the server defines.
const defined = new Set(readFileSync(at(SERVER_METRICS), "utf8").match(/(?<=")trine_[a-z0-9_]+(?=")/g) ?? []);
const queriedText = [
  ...queries.map((query) => query.expr),
  ...readYaml(ALERTS).groups.flatMap((group) => group.rules.map((rule) => rule.expr)),
  ...dashboard.templating.list.map((variable) => variable.definition ?? ""),
].join("\n");
const queried = new Set(
  [...queriedText.matchAll(/\btrine_[a-z0-9_]+/g)].map((match) =>
    match[0].replace(/_(bucket|sum|count)$/, ""),
  ),
);
report(
  `the ${queried.size} metrics queried in deploy/ are defined in ${SERVER_METRICS}`,
  defined.size === 0
    ? [`found no metric names in ${SERVER_METRICS}`]
    : [...queried].filter((name) => !defined.has(name)).map((name) => `${name} is not defined by the server`),
);

// ------------------------------------------------------------------------- Grafana and compose
const ids = dashboard.panels.map((panel) => panel.id);
report(`the dashboard: ${dashboard.panels.length} panels on a variable Prometheus data source`, [
  ...(new Set(ids).size === ids.length ? [] : ["panel ids repeat"]),
  ...dashboard.panels
    .filter((panel) => panel.type !== "row" && panel.datasource?.uid !== "${datasource}")
    .map((panel) => `panel "${panel.title}" does not use the $datasource variable`),
]);

const compose = readYaml("deploy/compose.yaml");
const composeDir = at("deploy");
const mounts = Object.entries(compose.services).flatMap(([service, definition]) => [
  ...(definition.volumes ?? [])
    .map((volume) => volume.split(":")[0])
    .filter((source) => source.startsWith("."))
    .map((source) => ({ service, path: resolve(composeDir, source) })),
  ...(definition.build
    ? [{ service, path: resolve(composeDir, definition.build.context, "Dockerfile") }]
    : []),
]);
const provisioned = readYaml("deploy/grafana/provisioning/dashboards/trine.yaml").providers[0].options.path;
report("deploy/compose.yaml: every mounted file and the build context exist", [
  ...mounts
    .filter(({ path }) => !existsSync(path))
    .map(({ service, path }) => `${service}: ${path} does not exist`),
  ...(compose.services.grafana.volumes.some((volume) => volume.endsWith(`:${provisioned}:ro`))
    ? []
    : [`grafana: nothing is mounted at the provisioned dashboard path ${provisioned}`]),
  ...(existsSync(join(dirname(at(DASHBOARD)), "trine.json")) ? [] : ["the dashboard is missing"]),
]);

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
