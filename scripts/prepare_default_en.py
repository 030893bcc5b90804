"""Prepare the training data of the bundled English models (configs/default_en*.yaml).

    python scripts/prepare_default_en.py ../shared/corpora --out data/default_en

Reads the four corpora in their own layouts (AN4, FSDD, the Libri-light fine-tuning set,
speechocean762's train split) with ``asr prepare`` and writes, under ``--out``:

    <corpus>/{train,dev,test}.jsonl   one folder per corpus
    synth/{train,dev,test,read}.jsonl espeak-ng speech (with --synth, the default): AN4-style
                                      sentences in 16 voices (`asr synth`), and `read`: chunks of
                                      the Libri-light *training* transcripts spoken by espeak-ng
    dev.jsonl                         the four corpora's dev sets together (model selection)
    dev_commands.jsonl                AN4's and FSDD's dev sets (model selection of stage 3, which
                                      trains for commands, spelled words and digits)

Held-out sets, never used for training or tuning: AN4's and FSDD's official test splits, and for
Libri-light and speechocean762 (no official test split here) 10 % of the utterances as whole
speakers. Dev sets are carved from the training speakers. Every split is by speaker except FSDD's
(its official split is by recording index; all 6 speakers are in both).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path

from asr.data.corpora import HELD_OUT_TEST_FRACTION, prepare_corpus, split_by_speaker, summarize
from asr.data.manifest import read_manifest, write_manifest
from asr.data.synth import synthesize_corpus, synthesize_texts

CORPORA = {  # name -> (preparer, folder under the corpora root)
    "an4": ("an4", "an4"),
    "fsdd": ("fsdd", "fsdd"),
    "librilight": ("librilight", "librispeech_finetuning"),
    "speechocean762": ("kaldi", "speechocean762/train"),
}


def prepare_all(root: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, dict[str, Path]]:
    paths: dict[str, dict[str, Path]] = {}
    for name, (kind, sub) in CORPORA.items():
        src = root / sub
        if not src.exists():
            raise SystemExit(f"{src} not found: expected {name} there (see ../shared/corpora/README.md)")
        got = prepare_corpus(kind, src, out / name, dev_fraction=dev_fraction, seed=seed)
        if "test" not in got:  # a Kaldi train dir comes back whole as "all": hold out speakers here
            rows = read_manifest(got["all"])
            rest, test = split_by_speaker(rows, HELD_OUT_TEST_FRACTION, seed)
            train, dev = split_by_speaker(rest, dev_fraction, seed + 1)
            got = {"train": out / name / "train.jsonl", "dev": out / name / "dev.jsonl", "test": out / name / "test.jsonl"}
            for split, part in (("train", train), ("dev", dev), ("test", test)):
                write_manifest(got[split], part)
                logging.info("%s %s: %s", name, split, summarize(part))
        paths[name] = got
    return paths


def read_chunks(rows: list[dict], n: int, max_words: int = 12, seed: int = 0) -> list[str]:
    """``n`` word chunks (<= max_words) of the transcripts, drawn at random."""
    chunks = []
    for r in rows:
        words = r["text"].split()
        chunks += [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)]
    random.Random(seed).shuffle(chunks)
    return chunks[:n]


def prepare_synth(out: Path, librilight_train: Path, n_an4_style: int = 1000, n_read: int = 600, seed: int = 0) -> None:
    """Synthetic speech: voices nobody recorded, so the models also know espeak-ng's (and the
    examples/ clips are not out of domain). Read sentences come from training transcripts only."""
    synthesize_corpus(out, n_train=n_an4_style, n_dev=50, n_test=50, seed=seed)
    synthesize_texts(out, "read", read_chunks(read_manifest(librilight_train), n_read, seed=seed), seed)
    for name in ("train", "read", "test"):
        logging.info("synth %s: %s", name, summarize(read_manifest(out / f"{name}.jsonl")))


def write_dev(out: Path, paths: dict[str, dict[str, Path]]) -> None:
    dev = [row for name in CORPORA for row in read_manifest(paths[name]["dev"])]
    write_manifest(out / "dev.jsonl", dev)
    logging.info("dev (all corpora): %s", summarize(dev))
    commands = [row for name in ("an4", "fsdd") for row in read_manifest(paths[name]["dev"])]
    write_manifest(out / "dev_commands.jsonl", commands)
    logging.info("dev (AN4 + FSDD): %s", summarize(commands))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("corpora", type=Path, help="folder holding an4/, fsdd/, librispeech_finetuning/, speechocean762/")
    p.add_argument("--out", type=Path, default=Path("data/default_en"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synth", action=argparse.BooleanOptionalAction, default=True,
                   help="also synthesize espeak-ng speech into OUT/synth")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = prepare_all(args.corpora, args.out, seed=args.seed)
    write_dev(args.out, paths)
    if args.synth:
        prepare_synth(args.out / "synth", paths["librilight"]["train"], seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
