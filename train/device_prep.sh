#!/usr/bin/env bash
# On the GPU machine: unpacks the carried corpus (train/data/corpus.tar.xz, made here with
#   tar cf - -C ../shared/data corpus | xz -9 --block-size=75MiB -T2 > train/data/corpus.tar.xz)
# and builds train/data/ for each vocabulary size given, one data.py process per size (each uses
# every core). Extra data.py arguments (e.g. --reuse-tokenizer) go in DATA_ARGS. From the repo root:
#   bash train/device_prep.sh 4096 8192 16384
set -eu
corpus=/tmp/trine-corpus
if [ ! -f "$corpus/corpus/MANIFEST.tsv" ]; then
  mkdir -p "$corpus"
  xz -dc -T0 train/data/corpus.tar.xz | tar xf - -C "$corpus"
fi
pids=()
for vocab in "$@"; do
  python3 train/data.py --corpus "$corpus/corpus" --vocab-sizes "$vocab" ${DATA_ARGS:-} &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
