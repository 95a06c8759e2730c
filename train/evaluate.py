"""Held-out perplexity and bits per character, by the protocol that `trine eval` implements.

    python3 train/evaluate.py --model train/out/hf --text train/data/heldout.txt \\
        [--train-bin train/data/v8192/train.bin] [--json eval.json]

Protocol (both implementations must agree within 1%):
  ids = tokenizer.encode(text, add_special_tokens=False).ids
  consecutive non-overlapping windows of WINDOW tokens (the last may be shorter); each window is
  scored from a fresh zero state with input [bos] + window[:-1] and targets = window, so every
  token of the text is predicted exactly once;
  mean_nll = total NLL (natural log) / tokens; perplexity = exp(mean_nll);
  bits_per_char = total NLL / ln 2 / Unicode characters of the text.
Computed in float32 with the quantised forward (TF32 off). `unigram_baseline` scores the same
tokens with training-token frequencies (add-one smoothing), for scale.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import HGRNBitForCausalLM, load_hf  # noqa: E402

WINDOW = 512
WINDOWS_PER_BATCH = 32


def summarize(total_nll: float, tokens: int, chars: int) -> dict:
    mean_nll = total_nll / tokens
    return {
        "tokens": tokens,
        "chars": chars,
        "total_nll": total_nll,
        "mean_nll": mean_nll,
        "perplexity": math.exp(mean_nll),
        "bits_per_char": total_nll / math.log(2) / chars,
    }


@torch.no_grad()
def evaluate_ids(model: HGRNBitForCausalLM, ids: list[int], chars: int, device) -> dict:
    """The protocol above on already tokenised text; leaves the model as it found it."""
    was_training = model.training
    matmul_dtype = model.lm_head.matmul_dtype
    model.eval()
    model.set_matmul_dtype(torch.float32)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    bos = model.config.bos_token_id
    windows = [ids[start : start + WINDOW] for start in range(0, len(ids), WINDOW)]
    total_nll = 0.0
    # Windows of equal length batch together; only the last can be shorter.
    groups = [windows[:-1], windows[-1:]] if len(windows[-1]) < WINDOW else [windows]
    for group in groups:
        for first in range(0, len(group), WINDOWS_PER_BATCH):
            batch = torch.tensor(group[first : first + WINDOWS_PER_BATCH], device=device)
            inputs = torch.cat([torch.full_like(batch[:, :1], bos), batch[:, :-1]], dim=1)
            logits = model(inputs).float()
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.reshape(-1), reduction="none")
            total_nll += float(nll.double().sum())
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    model.set_matmul_dtype(matmul_dtype)
    model.train(was_training)
    return summarize(total_nll, len(ids), chars)


def unigram_baseline(train_tokens: np.ndarray, ids: list[int], vocab_size: int, chars: int) -> dict:
    counts = np.bincount(train_tokens.astype(np.int64), minlength=vocab_size).astype(np.float64)
    log_probs = np.log((counts + 1.0) / (counts.sum() + vocab_size))
    return summarize(float(-log_probs[np.asarray(ids)].sum()), len(ids), chars)


def encode_text(tokenizer_path: str, text: str) -> list[int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(tokenizer_path).encode(text, add_special_tokens=False).ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Hugging Face directory (config, weights, tokenizer.json)")
    parser.add_argument("--text", required=True)
    parser.add_argument("--train-bin", help="uint16 training tokens, for the unigram baseline")
    parser.add_argument("--json", help="write the result here")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    # On CPUs the scan's shrinking gate products pass through subnormal floats, which x86 handles
    # slowly; flushing them to zero changes no digit of the result here and saves ~25% of the time.
    torch.set_flush_denormal(True)

    with open(args.text, encoding="utf-8") as file:
        text = file.read()
    ids = encode_text(os.path.join(args.model, "tokenizer.json"), text)
    model = load_hf(args.model, args.device)
    result = {"protocol": {"window": WINDOW, "dtype": "float32", "tf32": False}}
    result["model"] = evaluate_ids(model, ids, len(text), args.device)
    if args.train_bin:
        tokens = np.fromfile(args.train_bin, dtype=np.uint16)
        result["unigram_baseline"] = unigram_baseline(tokens, ids, model.config.vocab_size, len(text))
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=2)
            file.write("\n")


if __name__ == "__main__":
    main()
