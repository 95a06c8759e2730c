"""The scaling sweep: held-out loss against parameters and against training tokens.

    python3 train/plot_scaling.py RESULTS_DIR docs/scaling.png [--final NAME]

RESULTS_DIR holds one folder per run (eval.json, val_log.csv), as train/results/ does. Runs named
size-* are the sweep at equal compute (vocabulary 8192), vocab-* the vocabulary check; --final
adds the shipped model's run. Left: held-out bits per character at the end of each run against
ternary parameters, with a parabola in log(parameters) through the sizes and its minimum. Right:
held-out bits per character against tokens seen, every evaluation of every run.
"""

import argparse
import csv
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load_runs(results: str) -> dict[str, dict]:
    runs = {}
    for name in sorted(os.listdir(results)):
        path = os.path.join(results, name, "eval.json")
        if not os.path.exists(path):
            continue
        with open(path) as file:
            run = json.load(file)
        val_path = os.path.join(results, name, "val_log.csv")
        run["val_log"] = []
        if os.path.exists(val_path):
            with open(val_path, newline="") as file:
                run["val_log"] = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(file)]
        runs[name] = run
    return runs


def tokens_per_step(run: dict) -> int:
    return run["config"]["batch_size"] * run["config"]["context"]


def fit_minimum(params: list[float], bpc: list[float]) -> tuple[np.ndarray, float]:
    """Parabola bpc(log10 N) through the sweep and the N at its vertex (the compute-optimal size)."""
    coefficients = np.polyfit(np.log10(params), bpc, 2)
    vertex = -coefficients[1] / (2 * coefficients[0]) if coefficients[0] > 0 else math.nan
    return coefficients, 10**vertex


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results")
    parser.add_argument("png")
    parser.add_argument("--final", help="the shipped model's run folder name")
    args = parser.parse_args()
    runs = load_runs(args.results)
    sizes = sorted((n for n in runs if n.startswith("size-")), key=lambda n: runs[n]["parameters"]["ternary"])
    vocabs = [n for n in runs if n.startswith("vocab-")]

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=120)
    params = [runs[n]["parameters"]["ternary"] for n in sizes]
    bpc = [runs[n]["heldout"]["bits_per_char"] for n in sizes]
    flops = runs[sizes[0]]["config"]["train_flops"] if sizes else None
    left.plot(params, bpc, "o", color="tab:blue", label=f"vocab 8192, {flops:.1e} FLOPs each" if flops else None)
    for name, n, b in zip(sizes, params, bpc):
        tokens = runs[name]["tokens_seen"]
        left.annotate(f"{name[5:]}\n{tokens / 1e6:.0f}M tokens", (n, b), textcoords="offset points", xytext=(6, 4), fontsize=8)
    if len(sizes) >= 3:
        coefficients, optimum = fit_minimum(params, bpc)
        grid = np.logspace(math.log10(min(params)) - 0.1, math.log10(max(params)) + 0.1, 100)
        left.plot(grid, np.polyval(coefficients, np.log10(grid)), "--", color="tab:blue", alpha=0.5,
                  label=f"parabola in log N, minimum at {optimum / 1e6:.0f}M" if optimum == optimum else "parabola in log N")
    for name in vocabs:
        run = runs[name]
        left.plot(run["parameters"]["ternary"], run["heldout"]["bits_per_char"], "s", markersize=6,
                  label=f"vocab {run['model_config']['vocab_size']} (512x8)")
    if args.final and args.final in runs:
        run = runs[args.final]
        left.plot(run["parameters"]["ternary"], run["heldout"]["bits_per_char"], "*", color="tab:red", markersize=12,
                  label=f"shipped model, {run['train_flops']:.1e} FLOPs")
    left.set_xscale("log")
    left.set_xlabel("ternary parameters (BitLinear layers + lm_head)")
    left.set_ylabel("held-out bits per character")
    left.set_title("Held-out loss at equal compute", fontsize=10)
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)

    for name in sizes + vocabs + ([args.final] if args.final in runs else []):
        run = runs[name]
        log = run["val_log"]
        style = "-*" if name == args.final else ("-o" if name in sizes else ":s")
        label = "shipped model" if name == args.final else name
        right.plot([r["step"] * tokens_per_step(run) for r in log], [r["val_bpc"] for r in log], style, markersize=3, label=label)
    right.set_xscale("log")
    right.set_xlabel("training tokens seen")
    right.set_ylabel("held-out bits per character")
    right.set_title("Held-out loss during training", fontsize=10)
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=8)
    right.set_ylim(top=min(3.0, right.get_ylim()[1]))
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
    figure.savefig(args.png)
    print("size\tternary params\ttokens\tbits/char")
    for name, n, b in zip(sizes, params, bpc):
        print(f"{name}\t{n}\t{runs[name]['tokens_seen']}\t{b:.4f}")
    if len(sizes) >= 3:
        print(f"parabola minimum: {fit_minimum(params, bpc)[1] / 1e6:.1f}M ternary parameters")


if __name__ == "__main__":
    main()
