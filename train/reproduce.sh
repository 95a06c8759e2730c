#!/usr/bin/env bash
# The shipped model in one command, resumable (from any directory; paths are the repository's):
#   bash train/reproduce.sh          (or ./reproduce.sh inside train/)
# Builds train/data/ from the corpus when it is missing (train/data.py; its tokenizer is kept once
# made), then trains train/config.json with a checkpoint every 500 steps in train/out/ckpt.pt: run
# the same command again after an interruption and it continues from there.
# Then export, held-out evaluation and plot (train/out/run/), and the packed model:
#   npx tsx scripts/ship-default-model.ts train/out/run/hf
set -eu
cd "$(dirname "$0")/.."
corpus=${CORPUS:-../shared/data/corpus}
if [ ! -f train/data/v8192/train.bin ] || [ ! -f train/data/heldout-v1.txt ]; then
  python3 train/data.py --corpus "$corpus" --vocab-sizes 8192 --reuse-tokenizer
fi
python3 train/train.py --config train/config.json --out train/out/run --ckpt train/out/ckpt.pt --resume "$@"
