"""Spelled-word LM texts on AN4 dev, model by model -> results/spelled_lm_dev.json.

    python benchmarks/spelled_lm.py --model exp/an4_stream_ft/soup.pt exp/an4_stream_ft/seed0/best.pt ...

For each unidirectional model and each of the streaming benchmark's LM texts (``LM_TEXTS``: AN4's
training transcripts, then the same with spelled words added), the best AN4 dev WER over the
n-gram orders and the LM weight x word score grid the benchmark searches; and how flat that grid
is: the greedy and lexicon-only (LM weight 0) dev WERs, the grid's best point, and how many points
lie within two dev words of the lexicon alone. Dev only: it tells whether the spelled words help
more than one model, and how much dev can tell the settings apart, not what the test split says.
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
                                  build_lms, dev_log_probs, greedy_wer, lm_texts, utterances)


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
    key_of = {arpa: key for key, arpa in arpas.items()}
    dev = None
    rows, flatness = {}, {}
    for path in args.model:
        model = AcousticModel.load(path).eval()
        dev = dev or utterances(data / "dev.jsonl", model.feature_cfg.sample_rate)
        refs = [t for _, t in dev]
        word_pct = 100.0 / sum(len(t.split()) for t in refs)  # one dev word, in WER %
        fs = model.feature_cfg.frame_shift * model.cfg.stride
        lps = dev_log_probs(model, dev)
        best, points = tune_lm(model.vocab, fs, lps, refs, list(arpas.values()),
                               LM_WEIGHTS, WORD_SCORES, DecodeConfig(beam_size=32))
        rows[path] = {text: round(min(p.wer for p in points if key_of[p.lm][0] == text), 2) for text in LM_TEXTS}
        lexicon_only = min(p.wer for p in points if p.lm_weight == 0)
        flatness[path] = {
            "dev_wer_greedy": round(greedy_wer(model, lps, refs), 2),
            "dev_wer_lexicon_only": round(lexicon_only, 2),
            "best": {"text": key_of[best.lm][0], "order": key_of[best.lm][1], "lm_weight": best.lm_weight,
                     "word_score": best.word_score, "dev_wer": round(best.wer, 2)},
            "grid_points": len(points),
            "points_within_2_words_of_lexicon_only": sum(abs(p.wer - lexicon_only) <= 2 * word_pct + 1e-6 for p in points),
        }
        print(path, rows[path], flatness[path], flush=True)
    write_result(args.result, {"dev_wer_best_per_text": rows, "grid_flatness": flatness, "dev_words": round(100.0 / word_pct),
                               "lm_texts": list(LM_TEXTS), "lm_orders": list(LM_ORDERS),
                               "lm_weights": list(LM_WEIGHTS), "word_scores": list(WORD_SCORES),
                               "spell_corpus": args.spell_corpus, "word_list": args.word_list})


if __name__ == "__main__":
    main()
