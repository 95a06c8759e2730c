"""Picks the held-out books for a corpus and checks that none of their text is in the training books.

    python3 train/choose_heldout.py [--corpus ../shared/data/corpus] [--write]

Keeps the books already in train/heldout_books.txt (so figures stay comparable with earlier
models) and adds books drawn at random (fixed seed) from the rest of the manifest until the
held-out set is at least HELDOUT_FRACTION of the books and of the characters. A drawn book is
skipped when more than OVERLAP_LIMIT of its word 12-grams also occur in the training books (the
same story in another collection or translation), and the kept books are checked the same way.
--write rewrites heldout_books.txt with the result.
"""

import argparse
import math
import os
import random
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import DEFAULT_CORPUS, HELDOUT_LIST, read_book, read_heldout_list, read_manifest  # noqa: E402

HELDOUT_FRACTION = 0.03
SEED = 18
SHINGLE_WORDS = 12
# A held-out book may share a few stock phrases with the training books; a retold story shares
# whole passages.
OVERLAP_LIMIT = 0.01
WORD = re.compile(r"[a-z']+")


def shingles(text: str) -> np.ndarray:
    """The distinct word 12-grams of a text, hashed."""
    words = WORD.findall(text.lower())
    grams = {hash(tuple(words[k : k + SHINGLE_WORDS])) for k in range(len(words) - SHINGLE_WORDS + 1)}
    return np.fromiter(grams, dtype=np.int64, count=len(grams))


def shared_fractions(corpus: str, names: list[str]) -> dict[str, float]:
    """Per book: the fraction of its 12-grams that occur in at least one other book of the corpus
    (a held-out book sharing text only with another held-out book is counted too: conservative)."""
    per_book = {name: shingles(read_book(corpus, name)) for name in names}
    grams, counts = np.unique(np.concatenate(list(per_book.values())), return_counts=True)
    shared = grams[counts > 1]
    return {name: float(np.isin(own, shared, assume_unique=True).mean()) if len(own) else 0.0
            for name, own in per_book.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    rows = read_manifest(args.corpus)
    chars = {row["file"]: int(row["chars"]) for row in rows}
    kept = read_heldout_list()[:5]  # the held-out books of the first (99-book) corpus
    total_chars = sum(chars.values())
    need_books = math.ceil(HELDOUT_FRACTION * len(rows))
    need_chars = HELDOUT_FRACTION * total_chars

    shared = shared_fractions(args.corpus, list(chars))
    candidates = sorted(name for name in chars if name not in kept)
    random.Random(SEED).shuffle(candidates)
    heldout = list(kept)
    rejected = {}
    for name in candidates:
        if len(heldout) >= need_books and sum(chars[n] for n in heldout) >= need_chars:
            break
        if shared[name] > OVERLAP_LIMIT:
            rejected[name] = shared[name]
            continue
        heldout.append(name)
    held_chars = sum(chars[n] for n in heldout)
    print(f"{len(heldout)} of {len(rows)} books held out ({len(heldout) / len(rows):.2%}), "
          f"{held_chars} of {total_chars} chars ({held_chars / total_chars:.2%})")
    for name in heldout:
        print(f"  {name}\t{chars[name]}\tshared 12-grams {shared[name]:.4%}")
    for name, fraction in rejected.items():
        print(f"  skipped {name}: {fraction:.2%} of its 12-grams occur in other books")
    if args.write:
        with open(HELDOUT_LIST) as file:
            header = [line for line in file if line.startswith("#")]
        with open(HELDOUT_LIST, "w") as file:
            file.writelines(header)
            file.writelines(name + "\n" for name in heldout)


if __name__ == "__main__":
    main()
