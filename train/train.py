"""Trains the MatMul-free LM on the pre-tokenised corpus and exports a Hugging Face directory.

    python3 train/train.py --config train/config.json --out train/out/run [--ckpt PATH] [--resume]

Before training it checks the model against the golden checkpoints (check_golden.py) and refuses
to start if that fails. Training: random windows of the token stream, input [bos] + window[:-1],
targets = window; AdamW, linear warm-up then cosine decay, gradient clipping; bf16 matmuls of the
quantised (integer) operands, everything else in float32. `--ckpt` is written every
`checkpoint_every` steps and at the end; `--resume` continues from it.

Writes to --out: train_log.csv (every step), val_log.csv (held-out protocol every `eval_every`
steps), hf/ (config.json, sharded safetensors, tokenizer files), eval.json (perplexity and bits
per character of the exported weights reloaded, unigram baseline, run facts) and
training-loss.png.
"""

import argparse
import csv
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

TRAIN_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TRAIN_DIR)
from check_golden import check_all  # noqa: E402
from evaluate import encode_text, evaluate_ids, unigram_baseline  # noqa: E402
from model import BitLinear, HGRNBitForCausalLM, ModelConfig, load_hf, quantize_weights, save_hf  # noqa: E402

REPO_ROOT = os.path.dirname(TRAIN_DIR)
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]

DEFAULTS = {
    "data_dir": "train/data/v8192",
    "heldout_text": "train/data/heldout.txt",
    "seed": 1234,
    "model": {"hidden_size": 512, "num_hidden_layers": 6},
    "context": 512,
    "batch_size": 64,
    "max_steps": None,  # or derived from train_chars or train_flops
    "train_chars": None,  # training characters to see (equal-data comparisons)
    "train_flops": None,  # 6 x ternary parameters x tokens (equal-compute comparisons)
    "lr": 3e-3,
    "min_lr_ratio": 0.1,
    "warmup_steps": 200,
    "weight_decay": 0.1,
    "betas": [0.9, 0.95],
    "grad_clip": 1.0,
    "residual_dropout": 0.0,  # training only; the exported architecture has none
    "matmul_dtype": "bfloat16",
    "log_every": 10,
    "eval_every": 250,
    "checkpoint_every": 500,
    "export": True,
    "export_dtype": "float16",
    "export_ternary": False,  # export BitLinear weights as model.ternary_equivalent (compressible)
    "shard_max_mib": 14,
    "compile": False,  # torch.compile the training forward/backward (evaluation stays eager)
    "extra_heldout": {},  # name -> text file, also scored on the export at the end
}

MATMUL_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}


def load_config(path: str) -> dict:
    with open(path) as file:
        overrides = json.load(file)
    unknown = set(overrides) - set(DEFAULTS) - {"comment"}
    if unknown:
        raise SystemExit(f"unknown config keys: {sorted(unknown)}")
    config = {**DEFAULTS, **overrides}
    config["model"] = {**DEFAULTS["model"], **overrides.get("model", {})}
    return config


def repo_path(path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(REPO_ROOT, path)


def learning_rate(step: int, config: dict, max_steps: int) -> float:
    peak = config["lr"]
    if step < config["warmup_steps"]:
        return peak * (step + 1) / config["warmup_steps"]
    progress = (step - config["warmup_steps"]) / max(1, max_steps - config["warmup_steps"])
    floor = peak * config["min_lr_ratio"]
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def sample_batch(tokens, batch_size, context, bos, generator):
    """Random windows of the stream: input [bos] + window[:-1], targets = window (as evaluated)."""
    starts = torch.randint(0, len(tokens) - context + 1, (batch_size,), device=tokens.device, generator=generator)
    windows = tokens[starts[:, None] + torch.arange(context, device=tokens.device)]
    inputs = torch.cat([torch.full_like(windows[:, :1], bos), windows[:, :-1]], dim=1)
    return inputs, windows


def steps_for(config: dict, counts: dict, meta: dict) -> int:
    """Training steps from max_steps, or a budget of characters, or of compute (FLOPs)."""
    tokens_per_step = config["batch_size"] * config["context"]
    if config["max_steps"] is not None:
        return config["max_steps"]
    if config["train_flops"] is not None:
        return math.ceil(config["train_flops"] / (6 * counts["ternary"] * tokens_per_step))
    return math.ceil(config["train_chars"] / (tokens_per_step * meta["train_chars_per_token"]))


def make_optimizer(model, config, device):
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        # Matrices decay; norm gains and the lower bounds (a softmax's logits) do not.
        (decay if parameter.dim() == 2 and name != "model.lower_bounds" else no_decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": config["weight_decay"]},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=config["lr"], betas=tuple(config["betas"]), fused=fused)


def packed_size_bytes(counts: dict) -> int:
    """Trine's packed model: ternary weights at 2 bits, embedding in float16, the rest float32."""
    return counts["ternary"] // 4 + 2 * counts["embedding"] + 4 * counts["other"]


def compare_quantised(trained, exported) -> dict:
    """How far the export's quantised weights are from the trained model's: ternary values that
    differ (a fraction of all) and the largest relative change of a per-tensor scale."""
    changed, total, worst_scale = 0, 0, 0.0
    exported_modules = dict(exported.named_modules())
    for name, module in trained.named_modules():
        if isinstance(module, BitLinear):
            ternary, scale = quantize_weights(module.weight.detach().float())
            ternary_out, scale_out = quantize_weights(exported_modules[name].weight.detach().float())
            changed += int((ternary != ternary_out).sum())
            total += ternary.numel()
            worst_scale = max(worst_scale, float((scale_out / scale - 1).abs()))
    return {"ternary_changed_fraction": changed / total, "max_scale_relative_change": worst_scale}


def write_csv(path: str, rows: list[dict]):
    if not rows:
        return
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", default=os.path.join(TRAIN_DIR, "out", "run"))
    parser.add_argument("--ckpt", help="training checkpoint path (model, optimizer, RNG states, logs)")
    parser.add_argument("--resume", action="store_true", help="continue from --ckpt if it exists")
    parser.add_argument("--max-seconds", type=float, help="stop training after this many seconds")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    config = load_config(args.config)
    device = torch.device(args.device)
    os.makedirs(args.out, exist_ok=True)
    if not check_all(args.device):
        sys.exit("golden check failed: refusing to train")

    data_dir = repo_path(config["data_dir"])
    with open(os.path.join(data_dir, "meta.json")) as file:
        meta = json.load(file)
    stream = np.fromfile(os.path.join(data_dir, "train.bin"), dtype=np.uint16)
    tokens = torch.from_numpy(stream.astype(np.int64)).to(device)
    with open(repo_path(config["heldout_text"]), encoding="utf-8") as file:
        heldout_text = file.read()
    heldout_ids = encode_text(os.path.join(data_dir, "tokenizer.json"), heldout_text)

    context, batch_size = config["context"], config["batch_size"]

    torch.manual_seed(config["seed"])
    model_config = ModelConfig(
        vocab_size=meta["vocab_size"],
        bos_token_id=meta["bos_token_id"],
        eos_token_id=meta["eos_token_id"],
        **config["model"],
    )
    model = HGRNBitForCausalLM(model_config, config["residual_dropout"]).to(device)
    model.set_matmul_dtype(MATMUL_DTYPES[config["matmul_dtype"]])
    optimizer = make_optimizer(model, config, device)
    generator = torch.Generator(device=device)
    generator.manual_seed(config["seed"] + 1)
    counts = model.parameter_counts()
    max_steps = steps_for(config, counts, meta)
    train_model = model
    if config["compile"] and device.type == "cuda":
        from torch._dynamo import config as dynamo_config

        # A construct the compiler cannot take runs eagerly instead of stopping the run.
        dynamo_config.suppress_errors = True
        train_model = torch.compile(model)
    print(
        f"model: {model_config}\nparameters: {counts}, packed ~{packed_size_bytes(counts) / 1e6:.1f} MB\n"
        f"steps: {max_steps} x {batch_size} x {context} tokens = "
        f"{max_steps * batch_size * context / len(tokens):.2f} epochs of {len(tokens)} tokens",
        flush=True,
    )

    step, train_log, val_log, elapsed_before = 0, [], [], 0.0
    if args.resume and args.ckpt and os.path.exists(args.ckpt):
        checkpoint = torch.load(args.ckpt, map_location=device, weights_only=False)
        if checkpoint["model_config"] != model_config.__dict__:
            sys.exit("checkpoint was made with another model config")
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        generator.set_state(checkpoint["generator"].cpu())
        torch.set_rng_state(checkpoint["torch_rng"].cpu())
        if checkpoint["cuda_rng"] is not None:
            torch.cuda.set_rng_state(checkpoint["cuda_rng"].cpu(), device)
        step, train_log, val_log = checkpoint["step"], checkpoint["train_log"], checkpoint["val_log"]
        elapsed_before = checkpoint["elapsed_s"]
        print(f"resumed from {args.ckpt} at step {step}", flush=True)

    def save_checkpoint(elapsed):
        if not args.ckpt:
            return
        os.makedirs(os.path.dirname(os.path.abspath(args.ckpt)), exist_ok=True)
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),  # dropout masks
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "step": step,
            "train_log": train_log,
            "val_log": val_log,
            "elapsed_s": elapsed,
            "model_config": model_config.__dict__,
            "config": config,
        }
        torch.save(state, args.ckpt + ".tmp")
        os.replace(args.ckpt + ".tmp", args.ckpt)

    def validate():
        result = evaluate_ids(model, heldout_ids, len(heldout_text), device)
        loss, ppl, bpc = result["mean_nll"], result["perplexity"], result["bits_per_char"]
        val_log.append({"step": step, "val_loss": loss, "val_ppl": ppl, "val_bpc": bpc})
        print(f"step {step}: val loss {loss:.4f} ppl {ppl:.2f} bpc {bpc:.4f}", flush=True)

    model.train()
    start = time.time()
    pending = []  # (step, lr, loss, grad norm) still on the device: read back every log_every steps
    finished = True

    def flush_pending():
        elapsed = round(elapsed_before + time.time() - start, 2)
        for s, rate, value, norm in pending:
            row = {"step": s, "tokens": s * batch_size * context, "lr": rate}
            train_log.append({**row, "loss": float(value), "grad_norm": float(norm), "elapsed_s": elapsed})
        pending.clear()
        return elapsed

    while step < max_steps:
        lr = learning_rate(step, config, max_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs, targets = sample_batch(tokens, batch_size, context, model_config.bos_token_id, generator)
        logits = train_model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
        optimizer.step()
        step += 1
        pending.append((step, lr, loss.detach(), grad_norm.detach()))
        if step % config["log_every"] == 0 or step == max_steps:
            elapsed = flush_pending()
            recent = train_log[-config["log_every"] :]
            throughput = (step * batch_size * context) / max(elapsed, 1e-9)
            print(
                f"step {step}/{max_steps} loss {sum(r['loss'] for r in recent) / len(recent):.4f} lr {lr:.2e} "
                f"grad {recent[-1]['grad_norm']:.3f} {elapsed:.0f}s {throughput / 1e3:.0f}k tok/s",
                flush=True,
            )
        if step % config["eval_every"] == 0 or step == max_steps:
            validate()
        if config["checkpoint_every"] and step % config["checkpoint_every"] == 0:
            save_checkpoint(elapsed_before + time.time() - start)
        if args.max_seconds and elapsed_before + time.time() - start > args.max_seconds and step < max_steps:
            print(f"stopping at step {step}: --max-seconds {args.max_seconds} reached", flush=True)
            finished = False
            flush_pending()
            validate()
            break
    training_seconds = elapsed_before + time.time() - start
    save_checkpoint(training_seconds)
    write_csv(os.path.join(args.out, "train_log.csv"), train_log)
    write_csv(os.path.join(args.out, "val_log.csv"), val_log)

    result = {
        "finished": finished,
        "steps": step,
        "max_steps": max_steps,
        "tokens_seen": step * batch_size * context,
        "epochs": step * batch_size * context / len(tokens),
        "training_seconds": round(training_seconds, 1),
        "tokens_per_second": round(step * batch_size * context / max(training_seconds, 1e-9)),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "config": config,
        "model_config": model_config.to_hf(config["export_dtype"]),
        "parameters": counts,
        "train_flops": 6 * counts["ternary"] * step * batch_size * context,
        "packed_size_bytes_estimate": packed_size_bytes(counts),
        "final_train_loss_mean_last_50": sum(r["loss"] for r in train_log[-50:]) / max(1, len(train_log[-50:])),
    }
    if config["export"]:
        hf_dir = os.path.join(args.out, "hf")
        shard_bytes = int(config["shard_max_mib"] * 2**20)
        result["weight_files"] = save_hf(model, hf_dir, config["export_dtype"], shard_bytes, config["export_ternary"])
        for name in TOKENIZER_FILES:
            shutil.copy(os.path.join(data_dir, name), os.path.join(hf_dir, name))
        # Score exactly what Trine converts: the exported file, reloaded.
        reloaded = load_hf(hf_dir, args.device)
        result["export_check"] = compare_quantised(model, reloaded)
        print(f"export against the trained model: {result['export_check']}", flush=True)
        result["heldout"] = evaluate_ids(reloaded, heldout_ids, len(heldout_text), device)
        result["heldout"]["source"] = f"exported {config['export_dtype']} weights reloaded"
    else:
        result["heldout"] = evaluate_ids(model, heldout_ids, len(heldout_text), device)
        result["heldout"]["source"] = "in-memory float32 latent weights"
    result["unigram_baseline"] = unigram_baseline(stream, heldout_ids, model_config.vocab_size, len(heldout_text))
    scored = reloaded if config["export"] else model
    result["extra_heldout"] = {}
    for name, path in config["extra_heldout"].items():
        with open(repo_path(path), encoding="utf-8") as file:
            text = file.read()
        ids = encode_text(os.path.join(data_dir, "tokenizer.json"), text)
        result["extra_heldout"][name] = {
            "text": path,
            "model": evaluate_ids(scored, ids, len(text), device),
            "unigram_baseline": unigram_baseline(stream, ids, model_config.vocab_size, len(text)),
        }
    result["protocol"] = {"window": 512, "dtype": "float32", "tf32": False, "text": config["heldout_text"]}
    with open(os.path.join(args.out, "eval.json"), "w") as file:
        json.dump(result, file, indent=2)
        file.write("\n")
    print(
        f"held-out ({result['heldout']['source']}): ppl {result['heldout']['perplexity']:.3f} "
        f"bpc {result['heldout']['bits_per_char']:.4f}; unigram ppl {result['unigram_baseline']['perplexity']:.1f} "
        f"bpc {result['unigram_baseline']['bits_per_char']:.4f}; {training_seconds:.0f}s training",
        flush=True,
    )
    try:
        from plot_loss import plot

        plot(args.out, os.path.join(args.out, "training-loss.png"))
    except ImportError as error:
        print(f"no plot: {error}", flush=True)


if __name__ == "__main__":
    main()
