"""Spelled-word LM texts on AN4 dev, model by model -> results/spelled_lm_dev.json.

    python benchmarks/spelled_lm.py --model exp/an4_stream_ft/soup.pt exp/an4_stream_ft/seed0/best.pt ...

For each unidirectional model and each of the streaming benchmark's LM texts (``LM_TEXTS``: AN4's
training transcripts, then the same with spelled words added), the best AN4 dev WER over the
n-gram orders and the LM weight x word score grid the benchmark searches. Dev only: it tells
whether the spelled words help more than one model, not what the test split says.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.config import DecodeConfig  # noqa: E402
from asr.decoding.tune import tune_lm  # noqa: E402
from asr.model import AcousticModel  # noqa: E402
from benchmarks.common import ROOT, write_result  # noqa: E402
from benchmarks.streaming import (LM_ORDERS, LM_TEXTS, LM_WEIGHTS, WORD_SCORES, add_lm_text_args,  # noqa: E402
                                  build_lms, dev_log_probs, lm_texts, utterances)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs="+", required=True, help="unidirectional checkpoints")
    ap.add_argument("--data", default=str(ROOT / "data" / "an4"), help="folder with AN4 train/dev.jsonl")
    ap.add_argument("--workdir", default=str(ROOT / "exp" / "bench_spelled_lm"))
    add_lm_text_args(ap)
    ap.add_argument("--result", default="spelled_lm_dev.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data, work = Path(args.data), Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    arpas = build_lms(lm_texts(data / "train.jsonl", args.spell_corpus, args.word_list), work)
    text_of = {arpa: text for (text, _), arpa in arpas.items()}
    dev = None
    rows = {}
    for path in args.model:
        model = AcousticModel.load(path).eval()
        dev = dev or utterances(data / "dev.jsonl", model.feature_cfg.sample_rate)
        fs = model.feature_cfg.frame_shift * model.cfg.stride
        _, points = tune_lm(model.vocab, fs, dev_log_probs(model, dev), [t for _, t in dev], list(arpas.values()),
                            LM_WEIGHTS, WORD_SCORES, DecodeConfig(beam_size=32))
        rows[path] = {text: round(min(p.wer for p in points if text_of[p.lm] == text), 2) for text in LM_TEXTS}
        print(path, rows[path], flush=True)
    write_result(args.result, {"dev_wer_best_per_text": rows, "lm_texts": list(LM_TEXTS), "lm_orders": list(LM_ORDERS),
                               "lm_weights": list(LM_WEIGHTS), "word_scores": list(WORD_SCORES),
                               "spell_corpus": args.spell_corpus, "word_list": args.word_list})


if __name__ == "__main__":
    main()
