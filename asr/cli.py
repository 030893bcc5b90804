"""Command line: thin sub-commands that parse, call the library and print."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence


def _prepare(args: argparse.Namespace) -> int:
    from .data.corpora import prepare_corpus

    out = prepare_corpus(args.corpus, args.source, args.out, dev_fraction=args.dev_fraction, seed=args.seed)
    for split, path in out.items():
        print(f"{split}\t{path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train.loop import Trainer

    if args.resume:
        cfg_path = Path(args.resume) / "config.yaml"
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{cfg_path}: nothing to resume (no config.yaml in {args.resume})")
        overrides = [f"train.out_dir={args.resume}"] + args.overrides
        cfg = load_config(cfg_path, overrides)
        resume = (Path(args.resume) / "last.pt").is_file()
        if not resume:
            print(f"{args.resume}: no last.pt yet, starting from the beginning", file=sys.stderr)
    else:
        if not args.config:
            raise ValueError("asr train needs --config FILE.yaml (or --resume DIR)")
        cfg = load_config(args.config, args.overrides)
        resume = False
    result = Trainer(cfg, resume=resume).fit()
    print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate
    from .transcribe import load_model

    rec = load_model(args.model, args.device)

    def show(u: dict) -> None:
        if not args.quiet:
            mark = "ok " if u["word_errors"] == 0 else f"{u['word_errors']}e "
            print(f"{mark}{u['id']}\n  ref: {u['ref']}\n  hyp: {u['hyp']}")

    res = evaluate(rec, args.manifest, batch_size=args.batch_size, on_utterance=show)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))
    for f in res["failed"]:
        print(f"FAILED {f['audio']}: {f['error']}", file=sys.stderr)
    print(f"WER {res['wer']:.2f}%  CER {res['cer']:.2f}%  RTF {res['rtf']:.4f}  n={res['n']}"
          + (f"  failed={len(res['failed'])}" if res["failed"] else ""))
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    from .audio import AudioError
    from .transcribe import load_model

    rec = load_model(args.model, args.device)
    failed = 0
    for path in args.files:
        try:
            t = rec.transcribe(path)
        except (AudioError, OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}\t{t.text}" if len(args.files) > 1 else t.text, flush=True)
    if failed:
        print(f"{failed} of {len(args.files)} files failed", file=sys.stderr)
    return 1 if failed else 0


def _synth(args: argparse.Namespace) -> int:
    from .data.synth import synthesize_corpus

    out = synthesize_corpus(args.out, n_train=args.n_train, n_dev=args.n_dev, n_test=args.n_test, seed=args.seed)
    for split, path in out.items():
        print(f"{split}\t{path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asr", description="Streaming BiLSTM-CTC speech recognition")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("prepare", help="write JSONL manifests for a corpus on disk")
    s.add_argument("corpus", help="an4 | fsdd | librispeech | librilight | kaldi")
    s.add_argument("source", help="the corpus folder")
    s.add_argument("--out", required=True, help="folder for the manifests")
    s.add_argument("--dev-fraction", type=float, default=0.1, help="share of training speakers held out as dev")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_prepare)

    s = sub.add_parser("train", help="train an acoustic model")
    s.add_argument("--config", help="YAML config (configs/*.yaml)")
    s.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    s.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. train.epochs=5")
    s.set_defaults(func=_train)

    s = sub.add_parser("evaluate", help="WER/CER/RTF of a model on a manifest")
    s.add_argument("--model", required=True, help="checkpoint file or training folder")
    s.add_argument("--manifest", required=True, help="JSONL manifest (audio, text)")
    s.add_argument("--json", help="write the results here")
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--device", default="cpu")
    s.add_argument("-q", "--quiet", action="store_true", help="only the summary line")
    s.set_defaults(func=_evaluate)

    s = sub.add_parser("transcribe", help="transcribe audio files")
    s.add_argument("files", nargs="+", help="audio files (wav, flac, ogg/opus, mp3, sph)")
    s.add_argument("--model", required=True, help="checkpoint file or training folder")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=_transcribe)

    s = sub.add_parser("synth", help="synthesize a small spoken corpus with espeak-ng (demo, tests)")
    s.add_argument("--out", required=True)
    s.add_argument("--n-train", type=int, default=600)
    s.add_argument("--n-dev", type=int, default=60)
    s.add_argument("--n-test", type=int, default=60)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_synth)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
