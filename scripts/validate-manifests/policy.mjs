// What the API schemas cannot check: the properties docs/DEPLOY.md promises of every rendered
// overlay, and the references between its objects. Each function returns a list of errors.

const SERVER_CONTAINER = "trine";
/** Secrets that an operator creates outside the manifests (docs/DEPLOY.md, "Production"). */
const EXTERNAL_SECRETS = new Set(["trine-api-keys", "trine-redis"]);

function named(object) {
  return `${object.kind}/${object.metadata?.name}`;
}

function matches(selector = {}, labels = {}) {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function seconds(value, what, errors) {
  const number = Number(value);
  if (value === undefined || !Number.isFinite(number))
    errors.push(`${what} is not set to a number of seconds`);
  return number;
}

/** The container's effective TRINE_* settings: envFrom ConfigMaps, then env literals. */
function settings(container, configMaps) {
  const values = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(values, configMaps.get(source.configMapRef.name)?.data ?? {});
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) values[variable.name] = variable.value;
  }
  return values;
}

function checkSecurity(podSpec, container, where, errors) {
  const pod = podSpec.securityContext ?? {};
  const own = container.securityContext ?? {};
  if (!(own.runAsNonRoot ?? pod.runAsNonRoot)) errors.push(`${where}: runAsNonRoot is not set`);
  if (own.readOnlyRootFilesystem !== true) errors.push(`${where}: the root filesystem is not read-only`);
  if (own.allowPrivilegeEscalation !== false) errors.push(`${where}: allowPrivilegeEscalation is not false`);
  if (!own.capabilities?.drop?.includes("ALL")) errors.push(`${where}: capabilities do not drop ALL`);
  if ((own.seccompProfile ?? pod.seccompProfile)?.type !== "RuntimeDefault") {
    errors.push(`${where}: the seccomp profile is not RuntimeDefault`);
  }
  const { requests = {}, limits = {} } = container.resources ?? {};
  if (limits.cpu === undefined || String(requests.cpu) !== String(limits.cpu)) {
    errors.push(`${where}: CPU requests (${requests.cpu}) do not equal limits (${limits.cpu})`);
  }
  if (limits.memory === undefined) errors.push(`${where}: no memory limit`);
}

function checkServer(deployment, configMaps, errors) {
  const podSpec = deployment.spec.template.spec;
  const where = `${named(deployment)} container ${SERVER_CONTAINER}`;
  const server = podSpec.containers.find((container) => container.name === SERVER_CONTAINER);
  if (!server) return errors.push(`${named(deployment)}: no container named ${SERVER_CONTAINER}`);

  const probePath = (probe) => probe?.httpGet?.path;
  if (probePath(server.startupProbe) !== "/ready")
    errors.push(`${where}: the startup probe is not GET /ready`);
  if (probePath(server.readinessProbe) !== "/ready")
    errors.push(`${where}: the readiness probe is not GET /ready`);
  if (probePath(server.livenessProbe) !== "/health")
    errors.push(`${where}: the liveness probe is not GET /health`);

  const workers = server.env?.find((variable) => variable.name === "TRINE_WORKERS")?.valueFrom
    ?.resourceFieldRef;
  if (
    workers?.resource !== "limits.cpu" ||
    (workers.containerName ?? SERVER_CONTAINER) !== SERVER_CONTAINER
  ) {
    errors.push(`${where}: TRINE_WORKERS does not come from the container's limits.cpu`);
  }

  // Scale-in and rollouts must let the longest stream finish: the pod's grace period covers the
  // preStop sleep and the server's drain, and the drain lasts as long as a request may run.
  const values = settings(server, configMaps);
  const drain = seconds(values.TRINE_GRACE_PERIOD_S, `${where}: TRINE_GRACE_PERIOD_S`, errors);
  const deadline = seconds(values.TRINE_REQUEST_TIMEOUT_S, `${where}: TRINE_REQUEST_TIMEOUT_S`, errors);
  const sleep =
    server.lifecycle?.preStop?.exec?.command?.[0] === "sleep"
      ? Number(server.lifecycle.preStop.exec.command[1])
      : server.lifecycle?.preStop?.sleep?.seconds;
  if (!(sleep > 0)) errors.push(`${where}: no preStop sleep`);
  const grace = podSpec.terminationGracePeriodSeconds ?? 30;
  if (drain < deadline) {
    errors.push(
      `${where}: TRINE_GRACE_PERIOD_S (${drain}) is shorter than TRINE_REQUEST_TIMEOUT_S (${deadline}), the longest stream`,
    );
  }
  if (grace <= sleep + drain) {
    errors.push(
      `${named(deployment)}: terminationGracePeriodSeconds (${grace}) does not exceed preStop (${sleep}) + TRINE_GRACE_PERIOD_S (${drain})`,
    );
  }

  const modelMount = server.volumeMounts?.find((mount) => mount.mountPath === "/models");
  if (modelMount && !values.TRINE_MODEL?.startsWith("/models/")) {
    errors.push(
      `${where}: a volume is mounted at /models but TRINE_MODEL (${values.TRINE_MODEL}) is not a directory on it`,
    );
  }
}

/** Errors of one rendered overlay (its objects, parsed). */
export function policyErrors(objects) {
  const errors = [];
  const byKind = (kind) => objects.filter((object) => object.kind === kind);
  const configMaps = new Map(byKind("ConfigMap").map((object) => [object.metadata.name, object]));
  const secrets = new Set(byKind("Secret").map((object) => object.metadata.name));
  const deployments = byKind("Deployment");
  const services = byKind("Service");
  if (deployments.length !== 1) errors.push(`expected one Deployment, found ${deployments.length}`);

  for (const deployment of deployments) {
    const podSpec = deployment.spec.template.spec;
    const podLabels = deployment.spec.template.metadata?.labels ?? {};
    if (!matches(deployment.spec.selector.matchLabels, podLabels)) {
      errors.push(`${named(deployment)}: the selector does not match the pod labels`);
    }
    for (const container of [...(podSpec.initContainers ?? []), ...podSpec.containers]) {
      checkSecurity(podSpec, container, `${named(deployment)} container ${container.name}`, errors);
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef && !configMaps.has(source.configMapRef.name)) {
          errors.push(`${named(deployment)}: ConfigMap ${source.configMapRef.name} is not in the overlay`);
        }
      }
      for (const variable of container.env ?? []) {
        const secret = variable.valueFrom?.secretKeyRef?.name;
        if (secret && !secrets.has(secret) && !EXTERNAL_SECRETS.has(secret)) {
          errors.push(
            `${named(deployment)}: Secret ${secret} is neither in the overlay nor created by the operator`,
          );
        }
      }
    }
    checkServer(deployment, configMaps, errors);

    // A Service selects the server's pods, or those of a StatefulSet beside it (the redis component's).
    const workloads = [deployment, ...byKind("StatefulSet")];
    for (const service of services) {
      const selected = workloads.find((workload) =>
        matches(service.spec.selector, workload.spec.template.metadata?.labels ?? {}),
      );
      if (!selected) errors.push(`${named(service)}: the selector matches no pod`);
      const ports = new Set(
        (selected ?? deployment).spec.template.spec.containers.flatMap((container) =>
          (container.ports ?? []).map((port) => port.name),
        ),
      );
      for (const port of service.spec.ports) {
        if (typeof port.targetPort === "string" && !ports.has(port.targetPort)) {
          errors.push(`${named(service)}: targetPort ${port.targetPort} is not a container port`);
        }
      }
    }
    for (const budget of byKind("PodDisruptionBudget")) {
      if (!matches(budget.spec.selector.matchLabels, podLabels))
        errors.push(`${named(budget)}: the selector matches no pod`);
    }

    const autoscalers = [...byKind("HorizontalPodAutoscaler"), ...byKind("ScaledObject")];
    if (autoscalers.length !== 1) {
      errors.push(
        `expected one autoscaler (HorizontalPodAutoscaler or ScaledObject), found ${autoscalers.length}`,
      );
    }
    for (const autoscaler of autoscalers) {
      if (autoscaler.spec.scaleTargetRef.name !== deployment.metadata.name) {
        errors.push(
          `${named(autoscaler)}: scales ${autoscaler.spec.scaleTargetRef.name}, not ${named(deployment)}`,
        );
      }
      if (deployment.spec.replicas !== undefined) {
        errors.push(
          `${named(deployment)}: sets replicas, which ${named(autoscaler)} owns (a re-apply would reset it)`,
        );
      }
    }
  }

  for (const monitor of byKind("ServiceMonitor")) {
    const service = services.find((candidate) =>
      matches(monitor.spec.selector.matchLabels, candidate.metadata.labels),
    );
    if (!service) {
      errors.push(`${named(monitor)}: the selector matches no Service`);
      continue;
    }
    for (const endpoint of monitor.spec.endpoints) {
      if (!service.spec.ports.some((port) => port.name === endpoint.port)) {
        errors.push(`${named(monitor)}: port ${endpoint.port} is not a port of ${named(service)}`);
      }
    }
  }
  return errors;
}
