"""Plots training loss and held-out loss against step from a run directory's CSV logs.

    python3 train/plot_loss.py train/out/run docs/training-loss.png
"""

import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SMOOTHING_STEPS = 25  # trailing mean of the per-step loss
Y_TOP = 6.0  # nats/token: the first ~50 steps (from ln(vocab)) would flatten the rest


def read_csv(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, newline="") as file:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]


def plot(run_dir: str, png_path: str):
    train = read_csv(os.path.join(run_dir, "train_log.csv"))
    val = read_csv(os.path.join(run_dir, "val_log.csv"))
    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=120)
    steps = [row["step"] for row in train]
    losses = [row["loss"] for row in train]
    smoothed = [sum(losses[max(0, k - SMOOTHING_STEPS + 1) : k + 1]) / min(k + 1, SMOOTHING_STEPS) for k in range(len(losses))]
    axis.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8, label="train loss (per step)")
    axis.plot(steps, smoothed, color="tab:blue", linewidth=1.5, label=f"train loss (mean of {SMOOTHING_STEPS} steps)")
    if val:
        axis.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", color="tab:red", markersize=4, label="held-out loss")
    title = "Trine default model: training"
    eval_path = os.path.join(run_dir, "eval.json")
    if os.path.exists(eval_path):
        with open(eval_path) as file:
            result = json.load(file)
        heldout = result["heldout"]
        model = result["config"]["model"]
        title = (
            f"hidden {model['hidden_size']}, {model['num_hidden_layers']} layers, vocab {result['model_config']['vocab_size']}: "
            f"held-out ppl {heldout['perplexity']:.2f}, {heldout['bits_per_char']:.3f} bits/char"
        )
    axis.set_title(title, fontsize=10)
    axis.set_xlabel("step")
    axis.set_ylabel("cross-entropy (nats/token)")
    if losses:
        axis.set_ylim(min(losses + [r["val_loss"] for r in val]) * 0.95, Y_TOP)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
    figure.savefig(png_path)
    plt.close(figure)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    plot(sys.argv[1], sys.argv[2])
