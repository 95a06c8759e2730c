#!/usr/bin/env bash
# Runs several train.py configs at once on the GPU machine, one process per GPU (round-robin when
# there are fewer GPUs than runs; several share a GPU), and packs what comes back into $OUT: one
# results.tgz (logs, CSVs, eval.json, plots, small Hugging Face files) plus the Hugging Face export
# of the run named by EXPORT_RUN ("best": the finished run of lowest held-out bits per char) as
# export.tar.xz.part-aa, -ab, ... (15 MiB pieces: $OUT takes files of at most 16 MiB; rejoin with
# `cat export.tar.xz.part-* | xz -dc | tar xf -`). From the repo root:
#   EXPORT_RUN=best bash train/device_runs.sh SECONDS NAME=CONFIG [NAME=CONFIG ...]
# SECONDS bounds each run's training (train.py --max-seconds). Extra train.py arguments (e.g.
# --resume) go in TRAIN_ARGS; training checkpoints stay in /tmp/trine-runs/NAME.ckpt.pt, which
# lives as long as the machine stays warm.
set -u
seconds=$1
shift
out=${OUT:-/tmp/device-out}
runs=/tmp/trine-runs
mkdir -p "$out/logs" "$runs"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv >"$out/logs/gpus.txt" 2>&1 || echo "no nvidia-smi" >"$out/logs/gpus.txt"
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
[ "$gpus" -gt 0 ] || gpus=1
k=0
pids=()
for run in "$@"; do
  name=${run%%=*}
  config=${run#*=}
  CUDA_VISIBLE_DEVICES=$((k % gpus)) python3 train/train.py --config "$config" --out "$runs/$name" \
    --ckpt "$runs/$name.ckpt.pt" --max-seconds "$seconds" ${TRAIN_ARGS:-} >>"$out/logs/$name.log" 2>&1 &
  pids+=($!)
  k=$((k + 1))
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
if [ "${EXPORT_RUN:-}" = best ]; then
  EXPORT_RUN=$(python3 - "$runs" <<'PY'
import json, os, sys
scores = {}
for name in os.listdir(sys.argv[1]):
    path = os.path.join(sys.argv[1], name, "eval.json")
    if os.path.exists(path):
        result = json.load(open(path))
        if result["finished"] and "weight_files" in result:
            scores[name] = result["heldout"]["bits_per_char"]
print(min(scores, key=scores.get) if scores else "")
PY
)
  echo "best run: $EXPORT_RUN" | tee "$runs/chosen.txt"
fi
cp "$out"/logs/*.log "$out/logs/gpus.txt" "$runs/" 2>/dev/null
tar czf "$out/results.tgz" -C "$runs" --exclude='*.safetensors' --exclude='*.ckpt.pt' --exclude='*.tmp' .
rm -r "$out/logs"
if [ -n "${EXPORT_RUN:-}" ] && [ -d "$runs/$EXPORT_RUN/hf" ]; then
  tar cf - -C "$runs/$EXPORT_RUN" hf | xz -6 -T0 | split -b 15M - "$out/export.tar.xz.part-"
fi
ls -la "$out"
for run in "$@"; do
  name=${run%%=*}
  echo "== $name"; tail -n 3 "$runs/$name.log"
done
exit $status
