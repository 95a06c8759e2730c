"""Train the small byte-level BPE fixture at test/fixtures/tokenizers/bytelevel-1k/tokenizer.json.

It stands in for the GPT-2 style tokenizer of Trine's default model in tests: ByteLevel
pre-tokenizer and decoder, ~1000 ids, <|bos|> and <|eos|> as special tokens, and a
TemplateProcessing post-processor that prepends <|bos|>. The training text is public domain
(the two Alice books of the shared corpus), so the fixture can be committed.

Usage: python3 scripts/train-bytelevel-tokenizer.py   (needs tokenizers==0.22.2 and `npm ci`;
deterministic). The output is formatted with the repository's biome, whose checks cover test/**.
"""

import subprocess
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

REPO = Path(__file__).resolve().parent.parent
BIOME = REPO / "node_modules/.bin/biome"
CORPUS = Path("/work/shared/data/corpus")
TRAINING_BOOKS = ["pg00011-alice-in-wonderland.txt", "pg00012-through-the-looking-glass.txt"]
OUTPUT = REPO / "test/fixtures/tokenizers/bytelevel-1k/tokenizer.json"

VOCAB_SIZE = 1000
BOS = "<|bos|>"
EOS = "<|eos|>"


def main() -> None:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[BOS, EOS],
        # All 256 byte symbols, so any text (emoji, CJK, control characters) encodes without <unk>.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = []
    for book in TRAINING_BOOKS:
        lines.extend((CORPUS / book).read_text(encoding="utf-8").splitlines(keepends=True))
    tokenizer.train_from_iterator(lines, trainer=trainer)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A {BOS} $B",
        special_tokens=[(BOS, bos_id)],
    )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(OUTPUT), pretty=True)
    subprocess.run([BIOME, "format", "--write", OUTPUT], cwd=REPO, check=True, capture_output=True)
    print(f"wrote {OUTPUT.relative_to(REPO)}: {tokenizer.get_vocab_size()} ids")


if __name__ == "__main__":
    main()
