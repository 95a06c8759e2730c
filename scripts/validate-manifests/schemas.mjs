// Validation of Kubernetes objects against the API's schemas, as kubeconform -strict does, with
// what installs from npm: the kubernetes-models packages, whose validators are generated from the
// Kubernetes OpenAPI document and from the KEDA and Prometheus Operator CRDs.
//   1. Types, required fields, formats and enums: each object's generated ajv validator.
//   2. Unknown fields (a misspelt or misplaced key, which the API server would drop or reject):
//      the same packages' TypeScript interfaces, which TypeScript's excess-property check applies
//      to every nested object literal. The validators alone accept unknown keys.
import ts from "typescript";

/** The module of an object's model class, by API group. */
function modelModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "keda.sh") return `@kubernetes-models/keda/keda.sh/${version}/${kind}`;
  if (group === "monitoring.coreos.com") {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  }
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

function describe(object) {
  return `${object.kind}/${object.metadata?.name}`;
}

/** Schema errors of one object (none: an empty list). */
export async function schemaErrors(object) {
  if (typeof object?.apiVersion !== "string" || typeof object?.kind !== "string") {
    return ["an object without apiVersion and kind"];
  }
  let model;
  try {
    model = (await import(modelModule(object.apiVersion, object.kind)))[object.kind];
  } catch {}
  if (!model) return [`${describe(object)}: no schema for ${object.apiVersion} ${object.kind}`];
  try {
    new model(structuredClone(object)).validate();
    return [];
  } catch (error) {
    return error.message
      .split(/, (?=data)/)
      .map((message) => `${describe(object)}: ${message.replace(/^data/, "")}`);
  }
}

/**
 * Unknown-field errors of many objects ({ source, object } pairs), from one TypeScript program:
 * each object becomes a constant typed with its model's interface.
 */
export function unknownFieldErrors(entries, repoRoot) {
  const fileName = `${repoRoot}deploy/.manifest-types-check.ts`;
  let text = entries
    .map(
      ({ object }, index) =>
        `import type { I${object.kind} as T${index} } from "${modelModule(object.apiVersion, object.kind)}";\n`,
    )
    .join("");
  const starts = [];
  entries.forEach(({ object }, index) => {
    starts.push(text.length);
    text += `export const o${index}: T${index} = ${JSON.stringify(object, null, 2)};\n`;
  });

  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (
    (fileExists) => (name) =>
      name === fileName || fileExists(name)
  )(host.fileExists.bind(host));
  host.readFile = (name) => (name === fileName ? text : readFile(name));
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, text, languageVersion, true)
      : getSourceFile(name, languageVersion, ...rest);
  const program = ts.createProgram([fileName], options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program);

  return diagnostics.map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
    if (diagnostic.file?.fileName !== fileName || diagnostic.start === undefined) return message;
    const index = starts.findLastIndex((start) => start <= diagnostic.start);
    if (index < 0) return message;
    const lineStart = text.lastIndexOf("\n", diagnostic.start) + 1;
    const line = text.slice(lineStart, text.indexOf("\n", diagnostic.start)).trim();
    const { source, object } = entries[index];
    return `${source}: ${describe(object)}: ${message} (at ${line})`;
  });
}
