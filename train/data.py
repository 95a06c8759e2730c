"""Builds the held-out text, the byte-level BPE tokenizers and the pre-tokenised training stream.

    python3 train/data.py --vocab-sizes 4096 8192 16384 [--reuse-tokenizer]

Reads the corpus (default ../shared/data/corpus beside the repo), holds out the books listed in
train/heldout_books.txt and writes, under train/data/ (git-ignored):
  heldout.txt                the held-out books, each stripped, joined with "\\n\\n"
  heldout-v1.txt             the same for the first FIRST_MODEL_HELDOUT of them: the books held out
                             of the first model (99-book corpus), for figures comparable with its
  v{V}/tokenizer.json        byte-level BPE trained on the training books only (--reuse-tokenizer:
                             an existing one is kept; training it again gives the same file)
  v{V}/tokenizer_config.json, v{V}/generation_config.json
  v{V}/train.bin             uint16 token ids: the training books joined with <|eos|> between them
  v{V}/meta.json             counts (tokens, characters, books) for train.py and the README
"""

import argparse
import csv
import json
import os

import numpy as np

TRAIN_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TRAIN_DIR)
DEFAULT_CORPUS = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data", "corpus")
DEFAULT_OUT = os.path.join(TRAIN_DIR, "data")
HELDOUT_LIST = os.path.join(TRAIN_DIR, "heldout_books.txt")

BOS, EOS = "<|bos|>", "<|eos|>"
BOOK_SEPARATOR = "\n\n"
# The model reads any length (its state does not grow); it was trained on windows of 512 tokens.
MODEL_MAX_LENGTH = 2048
# heldout_books.txt lists first the books held out of the first model (trained on 99 books).
FIRST_MODEL_HELDOUT = 5


def read_manifest(corpus: str) -> list[dict]:
    with open(os.path.join(corpus, "MANIFEST.tsv"), newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def read_heldout_list() -> list[str]:
    with open(HELDOUT_LIST) as file:
        return [line.strip() for line in file if line.strip() and not line.startswith("#")]


def read_book(corpus: str, name: str) -> str:
    with open(os.path.join(corpus, name), encoding="utf-8") as file:
        return file.read().strip()


def split_books(corpus: str) -> tuple[list[str], list[str]]:
    """(training book files in manifest order, held-out book files in list order)."""
    names = [row["file"] for row in read_manifest(corpus)]
    heldout = read_heldout_list()
    missing = [name for name in heldout if name not in names]
    if missing:
        raise SystemExit(f"held-out books not in the manifest: {missing}")
    return [name for name in names if name not in heldout], heldout


def build_heldout_text(corpus: str, books: int | None = None) -> str:
    _, heldout = split_books(corpus)
    return BOOK_SEPARATOR.join(read_book(corpus, name) for name in heldout[:books])


def write_text(path: str, text: str):
    # Several data.py processes (one per vocabulary size) may write the same file at once.
    with open(f"{path}.{os.getpid()}.tmp", "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(f"{path}.{os.getpid()}.tmp", path)


def train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[BOS, EOS],  # ids 0 and 1
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return tokenizer


def write_tokenizer_files(tokenizer, directory: str):
    os.makedirs(directory, exist_ok=True)
    tokenizer.save(os.path.join(directory, "tokenizer.json"))
    bos_id, eos_id = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
    # No chat_template: the model is not instruction-tuned.
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "add_bos_token": True,
        "add_eos_token": False,
        "model_max_length": MODEL_MAX_LENGTH,
        "clean_up_tokenization_spaces": False,
    }
    generation_config = {"bos_token_id": bos_id, "eos_token_id": eos_id}
    for name, content in [("tokenizer_config.json", tokenizer_config), ("generation_config.json", generation_config)]:
        with open(os.path.join(directory, name), "w") as file:
            json.dump(content, file, indent=2)
            file.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[8192])
    parser.add_argument("--reuse-tokenizer", action="store_true", help="keep an existing v{V}/tokenizer.json")
    args = parser.parse_args()

    train_names, heldout_names = split_books(args.corpus)
    train_texts = [read_book(args.corpus, name) for name in train_names]
    heldout_text = build_heldout_text(args.corpus)
    os.makedirs(args.out, exist_ok=True)
    write_text(os.path.join(args.out, "heldout.txt"), heldout_text)
    write_text(os.path.join(args.out, "heldout-v1.txt"), build_heldout_text(args.corpus, FIRST_MODEL_HELDOUT))
    train_chars = sum(len(text) for text in train_texts)
    print(
        f"books: {len(train_names)} training ({train_chars} chars), {len(heldout_names)} held out "
        f"({len(heldout_text)} chars, {len(heldout_text) / (train_chars + len(heldout_text)):.2%})",
        flush=True,
    )

    for vocab_size in args.vocab_sizes:
        directory = os.path.join(args.out, f"v{vocab_size}")
        existing = os.path.join(directory, "tokenizer.json")
        if args.reuse_tokenizer and os.path.exists(existing):
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(existing)
        else:
            tokenizer = train_tokenizer(train_texts, vocab_size)
        write_tokenizer_files(tokenizer, directory)
        eos_id = tokenizer.token_to_id(EOS)
        stream = []
        for index, encoding in enumerate(tokenizer.encode_batch(train_texts, add_special_tokens=False)):
            if index:
                stream.append(eos_id)
            stream.extend(encoding.ids)
        tokens = np.asarray(stream, dtype=np.uint16)
        assert int(tokens.max()) < vocab_size <= 65536
        tokens.tofile(os.path.join(directory, "train.bin"))
        heldout_ids = tokenizer.encode(heldout_text, add_special_tokens=False).ids
        if tokenizer.decode(heldout_ids, skip_special_tokens=False) != heldout_text:
            raise SystemExit("byte-level tokenizer does not round-trip the held-out text")
        if tokenizer.encode("Once").ids[0] != tokenizer.token_to_id(BOS):
            raise SystemExit("post-processor does not prepend <|bos|>")
        meta = {
            "vocab_size": tokenizer.get_vocab_size(),
            "bos_token_id": tokenizer.token_to_id(BOS),
            "eos_token_id": eos_id,
            "train_books": train_names,
            "heldout_books": heldout_names,
            "train_tokens": len(tokens),
            "train_chars": train_chars,
            "train_chars_per_token": train_chars / len(tokens),
            "heldout_tokens": len(heldout_ids),
            "heldout_chars": len(heldout_text),
            "heldout_chars_per_token": len(heldout_text) / len(heldout_ids),
        }
        with open(os.path.join(directory, "meta.json"), "w") as file:
            json.dump(meta, file, indent=2)
            file.write("\n")
        print(
            f"v{vocab_size}: {len(tokens)} training tokens ({meta['train_chars_per_token']:.3f} chars/token), "
            f"{len(heldout_ids)} held-out tokens ({meta['heldout_chars_per_token']:.3f} chars/token)",
            flush=True,
        )


if __name__ == "__main__":
    main()
