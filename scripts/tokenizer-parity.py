"""Write the ground truth that test/tokenizer/parity.test.ts holds our tokenizer layer to.

For each fixture tokenizer it records, with the reference Python `tokenizers` library:
- encodeCases: tricky strings, their ids with and without special tokens, and the decode of the
  ids with special tokens, both skipping and keeping special tokens;
- decodeCases: seeded random id sequences (biased towards byte pieces, special tokens and space
  pieces, where decoders differ) and their decode, both skipping and keeping special tokens.

Usage: python3 scripts/tokenizer-parity.py   (needs tokenizers==0.22.2 and `npm ci`; deterministic)
Output: test/fixtures/tokenizer-parity/{llama-32000,bytelevel-1k}.json, formatted with the
repository's biome, whose checks cover test/**.
"""

import json
import random
import subprocess
from pathlib import Path

import tokenizers
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parent.parent
BIOME = REPO / "node_modules/.bin/biome"
FIXTURES = REPO / "test/fixtures"
TOKENIZERS = ["llama-32000", "bytelevel-1k"]

DECODE_CASES_PER_TOKENIZER = 300
DECODE_CASE_MAX_LENGTH = 24
RANDOM_SEED = 20240611

ALICE_PARAGRAPH = (
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having "
    "nothing to do: once or twice she had peeped into the book her sister was reading, but it had "
    "no pictures or conversations in it, \u2018and what is the use of a book,\u2019 thought Alice "
    "\u2018without pictures or conversations?\u2019"
)

TRICKY_STRINGS = [
    # empty and whitespace
    "",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "   \n  \t  ",
    "   leading spaces",
    "trailing spaces   ",
    " Hello",
    "multiple     internal    spaces",
    "tab\tseparated\tvalues",
    "tab at the end\t",
    "line one\nline two",
    "windows\r\nline\r\nendings\r\n",
    "\r\n\r\n",
    "trailing newline\n",
    "\n\nleading newlines",
    "mixed \t\n \r\n whitespace",
    "non\u00a0breaking space",
    "zero\u200bwidth space",
    "line\u2028separator",
    # plain prose
    "Hello world",
    "Once upon a time",
    "Hello, world! How's it going?",
    "don't won't I'm they're we've you'll he'd",
    ALICE_PARAGRAPH,
    # emoji
    "\U0001f600",
    "I love \U0001f355 and \U0001f363!",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family (ZWJ sequence)",
    "\U0001f44d\U0001f3fd thumbs up, medium skin tone",
    "\U0001f3f3\ufe0f\u200d\U0001f308 rainbow flag",
    "\U0001f1ef\U0001f1f5\U0001f1fa\U0001f1f8 regional indicator flags",
    "\u2764\ufe0f heart with variation selector",
    # scripts
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\u4e2d\u6587\u5b57\u7b26\u6d4b\u8bd5\uff0c\u6807\u70b9\u3002",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e",
    "Mixed English, \u65e5\u672c\u8a9e, \u0627\u0644\u0639\u0631\u0628\u064a\u0629, and emoji \U0001f389 together",
    # combining marks and normalisation forms
    "caf\u00e9",
    "cafe\u0301",
    "\u00f1 vs n\u0303",
    "\u212b (angstrom sign) vs \u00c5 vs A\u030a",
    "a\u0300\u0301\u0302\u0303\u0304 stacked marks",
    "Z\u0337\u0322a\u0338l\u0335g\u0336o\u0337",
    "\u00c0\u00c9\u00ce\u00d5\u00dc \u00e0\u00e9\u00ee\u00f5\u00fc \u00df",
    "\ufb01 ligature and \uff21\uff22\uff23 fullwidth",
    # characters that need byte fallback in the Llama vocabulary
    "\u0000 null",
    "\u0007 bell and \u007f delete",
    "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522 fraktur",
    "\U00013000 hieroglyph",
    "\ufffd replacement character",
    "\ufeffbyte order mark",
    "\u20ac\u20ac\u20ac",
    # long words
    "Supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "a" * 300,
    "ab" * 500,
    # numbers and punctuation
    "1234567890",
    "3.14159 2,718 1e-10 -42 +7",
    "100,000,000 and 0x1F and 1_000",
    "!!!???...",
    "---===+++***",
    "\"quotes\" and 'apostrophes' and `backticks`",
    "(parentheses) [brackets] {braces} <angles>",
    "\u2026 \u2014 \u2013 \u00ab\u00bb \u201c\u201d",
    # code
    "def square(x):\n    return x ** 2\n",
    "function add(a, b) {\n\treturn a + b;\n}",
    "<html><body class=\"x\">&amp;</body></html>",
    "https://example.com/path?query=1&x=y#frag",
    "user@example.com",
    # special-token text in the input
    "<s>",
    "</s>",
    "<unk>",
    "<s>Hello</s>",
    "text with <s> in the middle",
    "hi<s> there",
    "<s",
    "<|bos|>",
    "<|eos|> and <|bos|>hello",
    # the pieces the tokenizers themselves use for spaces
    "\u2581 literal metaspace",
    "\u0120 literal byte-level space",
]


def decode_cases(tokenizer: Tokenizer, rng: random.Random) -> list[dict]:
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    special_ids = sorted(i for i, token in tokenizer.get_added_tokens_decoder().items() if token.special)
    byte_piece_ids = sorted(i for tok, i in vocab.items() if tok.startswith("<0x") and len(tok) == 6)
    space_piece_ids = sorted(i for tok, i in vocab.items() if set(tok) <= {"\u2581", "\u0120", " "})
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    cases = []
    for _ in range(DECODE_CASES_PER_TOKENIZER):
        ids = []
        for _ in range(rng.randint(1, DECODE_CASE_MAX_LENGTH)):
            kind = rng.random()
            if kind < 0.1 and special_ids:
                ids.append(rng.choice(special_ids))
            elif kind < 0.45 and byte_piece_ids:
                ids.append(rng.choice(byte_piece_ids))
            elif kind < 0.55 and space_piece_ids:
                ids.append(rng.choice(space_piece_ids))
            else:
                ids.append(rng.randrange(vocab_size))
        cases.append(
            {
                "ids": ids,
                "decoded": tokenizer.decode(ids, skip_special_tokens=True),
                "decodedKeepingSpecialTokens": tokenizer.decode(ids, skip_special_tokens=False),
            }
        )
    return cases


def encode_cases(tokenizer: Tokenizer) -> list[dict]:
    cases = []
    for text in TRICKY_STRINGS:
        with_special = tokenizer.encode(text, add_special_tokens=True).ids
        cases.append(
            {
                "text": text,
                "idsWithSpecialTokens": with_special,
                "idsWithoutSpecialTokens": tokenizer.encode(text, add_special_tokens=False).ids,
                "decoded": tokenizer.decode(with_special, skip_special_tokens=True),
                "decodedKeepingSpecialTokens": tokenizer.decode(with_special, skip_special_tokens=False),
            }
        )
    return cases


def main() -> None:
    rng = random.Random(RANDOM_SEED)
    out_dir = FIXTURES / "tokenizer-parity"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZERS:
        tokenizer = Tokenizer.from_file(str(FIXTURES / "tokenizers" / name / "tokenizer.json"))
        fixture = {
            "tokenizer": f"test/fixtures/tokenizers/{name}/tokenizer.json",
            "generatedBy": f"scripts/tokenizer-parity.py with Python tokenizers {tokenizers.__version__}",
            "encodeCases": encode_cases(tokenizer),
            "decodeCases": decode_cases(tokenizer, rng),
        }
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(fixture, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        subprocess.run([BIOME, "format", "--write", path], cwd=REPO, check=True, capture_output=True)
        print(f"wrote {path.relative_to(REPO)}: {len(fixture['encodeCases'])} encode cases, "
              f"{len(fixture['decodeCases'])} decode cases")


if __name__ == "__main__":
    main()
