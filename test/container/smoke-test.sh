#!/usr/bin/env bash
# Container smoke test: builds the production image from the repository's Dockerfile, runs it the
# way Kubernetes does (read-only root filesystem, no capabilities, no privilege escalation, an
# API key), waits for /ready, completes and streams requests with the OpenAI client, scrapes
# /metrics, stops the container with SIGTERM while a stream is running and requires that the
# stream finishes and the server exits 0. Everything it creates is removed on exit.
#
#   npm run test:container          (as root; installs buildah/podman from Debian when missing)
#
# No Docker engine is needed: buildah builds and podman runs, both with the vfs storage driver and
# runc, from a local node:<major>-bookworm-slim base image made by
# ../shared/tools/container/make-node-base-image.sh (see its README). Where a real
# node:<major>-bookworm-slim image is already in podman's store, that script is not needed.
#
# Environment:
#   NODE_VERSION        the image's Node major (default 20, the Node the base-image script has)
#   TRINE_SMOKE_PORT    port on 127.0.0.1 for the server (default: a free one)
#   TRINE_SMOKE_MODEL   a model directory on the host to mount and serve; by default the shipped
#                       models/storyteller, or a small random test model while there is none
#   TRINE_BASE_IMAGE_SCRIPT  path of make-node-base-image.sh (default ../shared/tools/container/)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"

node_version="${NODE_VERSION:-20}"
port="${TRINE_SMOKE_PORT:-$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')}"
base_script="${TRINE_BASE_IMAGE_SCRIPT:-$repo/../shared/tools/container/make-node-base-image.sh}"
api_key="smoke-$RANDOM$RANDOM"
image="localhost/trine:smoke-$$"
container="trine-smoke-$$"
work="$(mktemp -d)"
started=$SECONDS

pm() { podman --storage-driver vfs "$@"; }
log() { printf '[%4ss] %s\n' "$((SECONDS - started))" "$*"; }

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ] && pm container exists "$container" 2>/dev/null; then
    echo "--- container log (last 60 lines) ---"
    pm logs --tail 60 "$container" 2>&1 || true
  fi
  pm rm -f -t 5 "$container" >/dev/null 2>&1 || true
  pm rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
  [ -n "${model_tmp:-}" ] && rm -rf "$model_tmp"
  log "cleaned up (exit $status)"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "smoke-test.sh: run as root (buildah and podman run rootful here)" >&2; exit 1; }

# ------------------------------------------------------------------------------ base image
if ! command -v podman >/dev/null || ! pm image exists "docker.io/library/node:${node_version}-bookworm-slim"; then
  [ -f "$base_script" ] || { echo "no node:${node_version}-bookworm-slim image and no $base_script" >&2; exit 1; }
  log "making the local node:${node_version}-bookworm-slim base image"
  NODE_MAJOR="$node_version" IMAGE="docker.io/library/node:${node_version}-bookworm-slim" bash "$base_script" 2>&1 | tail -n 3
fi

# ------------------------------------------------------------------------------ build
# npm inside the build reaches the registry through this machine's TLS proxy: give it the host's
# CA bundle for the build only (mounted, never copied into a layer). Harmless elsewhere.
mkdir -p "$work/npm-etc"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$work/npm-etc/ca.crt"
  echo "cafile=/usr/local/etc/ca.crt" >"$work/npm-etc/npmrc"
fi
# The host's npm cache (filled by its own npm ci) spares the build most downloads.
npm_cache="$(npm config get cache)"
mkdir -p "$npm_cache"
log "building $image (NODE_VERSION=$node_version)"
build_started=$SECONDS
buildah --storage-driver vfs bud --isolation chroot --format docker --pull=never --layers=false \
  -v "$work/npm-etc":/usr/local/etc:ro -v "$npm_cache":/root/.npm \
  --build-arg NODE_VERSION="$node_version" --build-arg VERSION="$(node -p 'require("./package.json").version')" \
  --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t "$image" . >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; exit 1; }
log "built in $((SECONDS - build_started)) s, $(pm image inspect --format '{{.Size}}' "$image" | numfmt --to=iec) image"

# ------------------------------------------------------------------------------ model
model_args=()
model_dir="${TRINE_SMOKE_MODEL:-}"
if [ -z "$model_dir" ] && [ ! -d models/storyteller ]; then
  model_tmp="$(npx tsx test/container/make-test-model.ts)"
  model_dir="$model_tmp"
  log "no shipped model yet: serving a random test model from $model_dir"
fi
if [ -n "$model_dir" ]; then
  model_args=(-v "$model_dir":/models/smoke:ro -e TRINE_MODEL=/models/smoke)
  config="$model_dir/config.json"
else
  log "serving the shipped model (models/storyteller)"
  config="models/storyteller/config.json"
fi
eos_ids="$(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log([c.eos_token_id].flat().filter((id) => id !== undefined && id !== null).join(","))' "$config")"

# ------------------------------------------------------------------------------ run
nproc_limit="$(ulimit -Hu)"
pid_max="$(cat /proc/sys/kernel/pid_max)"
if [ "$nproc_limit" = unlimited ] || [ "$nproc_limit" -gt "$pid_max" ]; then nproc_limit="$pid_max"; fi
log "starting $container on 127.0.0.1:$port"
# podman's messages go to a log: without systemd it cannot schedule the HEALTHCHECK, and says so
# on every start and stop (the check is run by hand below).
pm run -d --name "$container" --runtime runc \
  --ulimit nofile="$(ulimit -Hn)":"$(ulimit -Hn)" --ulimit nproc="$nproc_limit":"$nproc_limit" \
  --network host --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  -e TRINE_HOST=127.0.0.1 -e TRINE_PORT="$port" -e TRINE_WORKERS=2 -e TRINE_API_KEYS="$api_key" \
  -e TRINE_MAX_OUTPUT_TOKENS=100000 -e TRINE_GRACE_PERIOD_S=60 \
  "${model_args[@]}" "$image" >/dev/null 2>"$work/podman-run.log" || { cat "$work/podman-run.log"; exit 1; }

base_url="http://127.0.0.1:$port"
ready=""
for _ in $(seq 1 240); do
  [ "$(pm inspect --format '{{.State.Running}}' "$container")" = true ] || { echo "container exited early" >&2; exit 1; }
  if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' \
    "$base_url/ready"; then ready=yes; break; fi
  sleep 0.5
done
[ -n "$ready" ] || { echo "/ready did not answer 200 within 120 s" >&2; exit 1; }
log "/ready answered 200"
pm healthcheck run "$container" >/dev/null && log "the image's HEALTHCHECK passes" \
  || { echo "the image's HEALTHCHECK failed" >&2; exit 1; }

# ------------------------------------------------------------------------------ exercise
node test/container/exercise-server.mjs check "$base_url" "$api_key"

# ------------------------------------------------------------------------------ SIGTERM
node test/container/exercise-server.mjs drain "$base_url" "$api_key" "$eos_ids" >"$work/drain.log" 2>&1 &
drain_pid=$!
for _ in $(seq 1 120); do
  grep -q STREAMING "$work/drain.log" && break
  kill -0 "$drain_pid" 2>/dev/null || break
  sleep 0.25
done
grep -q STREAMING "$work/drain.log" || { cat "$work/drain.log"; echo "the drain stream did not start" >&2; exit 1; }
stop_started=$SECONDS
pm stop -t 60 "$container" >/dev/null 2>"$work/podman-stop.log" || { cat "$work/podman-stop.log"; exit 1; }
drain_status=0
wait "$drain_pid" || drain_status=$?
grep -v '^STREAMING$' "$work/drain.log" || true
[ "$drain_status" -eq 0 ] || exit 1
exit_code="$(pm inspect --format '{{.State.ExitCode}}' "$container")"
[ "$exit_code" = 0 ] || { echo "FAIL the server exited $exit_code after SIGTERM" >&2; exit 1; }
echo "ok   SIGTERM: the server drained and exited 0 after $((SECONDS - stop_started)) s"
echo "--- server log (last 5 lines) ---"
pm logs --tail 5 "$container" 2>&1 | cut -c1-200

log "smoke test passed"
