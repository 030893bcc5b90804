"""The bundled English models on every held-out split: WER/CER, FSDD accuracy, size, speed.

    python benchmarks/default_model.py            # after scripts/prepare_default_en.py
    -> benchmarks/results/default_model.json

Splits (none used for training or tuning; data/default_en from scripts/prepare_default_en.py):
AN4 test, FSDD test (accuracy = whole-utterance exact match; also decoded with a lexicon of the
ten digit words, as a digit application would), held-out Libri-light speakers,
held-out speechocean762 speakers, and espeak-ng test clips (synthetic voices; extra). Robustness
row: FSDD test with 0.5 s of room tone (pink noise, -60 dBFS) before and after each clip, greedy.

Each model is scored greedy and with beam search + a word 3-gram LM (modified Kneser-Ney,
``asr.lm``) estimated on the four corpora's *training* transcripts; its weight and word score are
chosen on the combined dev set (dev speakers of the four corpora), never on a test split.

The streaming model's WER comes from its full-utterance forward pass: a unidirectional model's
chunked output is the same (tests/test_streaming.py::test_streamed_tokens_equal_offline), so
the figures are those of `asr stream`. Its RTF is measured through the streaming recognizer
(160 ms chunks, endpointing on, as `asr stream`), fp32 and int8. RTF = compute seconds per
audio second, audio decoding excluded, ``--threads`` torch threads.
"""
from __future__ import annotations

import argparse
import filecmp
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.config import DecodeConfig  # noqa: E402
from asr.data.augment import pad_with_room_tone  # noqa: E402
from asr.data.dataset import load_rows  # noqa: E402
from asr.decoding import make_decoder  # noqa: E402
from asr.decoding.tune import tune_lm  # noqa: E402
from asr.export import quantize_int8  # noqa: E402
from asr.lm import estimate, read_sentences, write_arpa  # noqa: E402
from asr.pretrained import DEFAULT_LM_WEIGHTS, default_lm, default_model  # noqa: E402
from asr.streaming import EndpointConfig, StreamingRecognizer  # noqa: E402
from asr.train.metrics import error_rates  # noqa: E402
from asr.transcribe import load_model  # noqa: E402
from benchmarks.common import ROOT, write_result  # noqa: E402

SPLITS = {  # result key -> manifest under --data
    "an4": "an4/test.jsonl",
    "fsdd": "fsdd/test.jsonl",
    "librilight_heldout": "librilight/test.jsonl",
    "speechocean_heldout": "speechocean762/test.jsonl",
    "espeak_synth": "synth/test.jsonl",
}
LM_TRAIN = ["an4/train.jsonl", "fsdd/train.jsonl", "librilight/train.jsonl", "speechocean762/train.jsonl"]
# The streaming model's tuned weight sat on the old grid's lower edge (0.5): 0.25 and 0.75 added.
LM_GRID = {"lm_weight": [0.25, 0.5, 0.75, 1.0, 1.5, 2.0], "word_score": [-1.0, 0.0, 1.0, 2.0]}
CHUNK_MS = 160
PAD_SECONDS, PAD_DBFS = 0.5, -60.0  # the FSDD robustness row: room tone around each clip
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def load_split(rec, manifest: Path) -> dict:
    rows = load_rows([str(manifest)])
    audios = [rec.load(r["audio"]) for r in rows]
    return {"audios": audios, "refs": [r["text"] for r in rows],
            "seconds": sum(len(a) for a in audios) / rec.sample_rate}


def forward_all(rec, split: dict) -> tuple[list[torch.Tensor], float]:
    t0 = time.perf_counter()
    lps = [rec.log_probs(a) for a in split["audios"]]
    return lps, time.perf_counter() - t0


def decode_all(decoder, lps) -> list[str]:
    return [decoder.decode(lp)[0].text for lp in lps]


def scores(refs: list[str], hyps: list[str]) -> dict:
    wer, cer = error_rates(refs, hyps)
    exact = sum(r.split() == h.split() for r, h in zip(refs, hyps)) / max(1, len(refs))
    return {"wer": round(wer, 2), "cer": round(cer, 2), "exact_match": round(100 * exact, 2)}


def stream_rtf(model, audios: list[np.ndarray], sr: int, decode: DecodeConfig | None = None) -> float:
    block = sr * CHUNK_MS // 1000
    total, seconds = 0.0, 0.0
    for audio in audios:
        rec = StreamingRecognizer(model, decode, EndpointConfig(), chunk_frames=CHUNK_MS // 10)
        t0 = time.perf_counter()
        for i in range(0, len(audio), block):
            rec.accept(audio[i : i + block])
        rec.finish()
        total += time.perf_counter() - t0
        seconds += len(audio) / sr
    return total / seconds


def evaluate_model(kind: str, path: Path, data: Path, arpa: str) -> dict:
    rec = load_model(path)
    fs = rec.frame_seconds
    vocab = rec.model.vocab
    print(f"== {kind}: {path} ({rec.model.num_params():,} parameters)", flush=True)
    dev = load_split(rec, data / "dev.jsonl")
    dev_lps, _ = forward_all(rec, dev)
    best, _ = tune_lm(vocab, fs, dev_lps, dev["refs"], [arpa], LM_GRID["lm_weight"], LM_GRID["word_score"], DecodeConfig(beam_size=32))
    dev_wer_lm, lw, ws = best.wer, best.lm_weight, best.word_score
    dev_wer = error_rates(dev["refs"], decode_all(make_decoder(vocab, DecodeConfig(), fs), dev_lps))[0]
    print(f"dev WER greedy {dev_wer:.2f}, LM {dev_wer_lm:.2f} (lm_weight {lw}, word_score {ws})", flush=True)
    greedy = make_decoder(vocab, DecodeConfig(), fs)
    beam_cfg = DecodeConfig(decoder="beam", beam_size=32, lm=arpa, lm_weight=lw, word_score=ws)
    beam = make_decoder(vocab, beam_cfg, fs)
    out: dict = {"model": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
                 "size_mb": round(path.stat().st_size / 1e6, 2), "parameters": rec.model.num_params(),
                 "lm_weight": lw, "word_score": ws, "dev_wer_greedy": round(dev_wer, 2), "dev_wer_lm": round(dev_wer_lm, 2),
                 "splits": {}}
    forward_s = audio_s = beam_s = 0.0
    loaded = {}  # name -> (split, log-probs), reused below
    for name, rel in SPLITS.items():
        if not (data / rel).is_file():
            print(f"{name}: {data / rel} missing, skipped", flush=True)
            continue
        split = load_split(rec, data / rel)
        lps, seconds = forward_all(rec, split)
        loaded[name] = (split, lps)
        forward_s, audio_s = forward_s + seconds, audio_s + split["seconds"]
        g = scores(split["refs"], decode_all(greedy, lps))
        t0 = time.perf_counter()
        b_hyps = decode_all(beam, lps)
        beam_s += time.perf_counter() - t0
        b = scores(split["refs"], b_hyps)
        out["splits"][name] = {"n": len(split["refs"]), "hours": round(split["seconds"] / 3600, 3), "greedy": g, "lm": b}
        print(f"{name}: greedy WER {g['wer']:.2f} CER {g['cer']:.2f} exact {g['exact_match']:.1f}% | "
              f"LM WER {b['wer']:.2f} CER {b['cer']:.2f} exact {b['exact_match']:.1f}%", flush=True)
    s = out["splits"]
    out["an4_wer"] = s["an4"]["greedy"]["wer"]
    out["an4_wer_lm"] = s["an4"]["lm"]["wer"]
    out["fsdd_accuracy"] = s["fsdd"]["greedy"]["exact_match"]
    out["fsdd_accuracy_lm"] = s["fsdd"]["lm"]["exact_match"]
    # Closed vocabulary, as a digit application would decode: the ten words, no LM.
    lexicon = Path(arpa).with_name("digits.txt")
    lexicon.write_text("\n".join(DIGIT_WORDS) + "\n")
    split, lps = loaded["fsdd"]
    dec = make_decoder(vocab, DecodeConfig(decoder="beam", beam_size=32, lexicon=str(lexicon)), fs)
    out["fsdd_accuracy_digit_lexicon"] = scores(split["refs"], decode_all(dec, lps))["exact_match"]
    print(f"fsdd, lexicon of the ten digit words: accuracy {out['fsdd_accuracy_digit_lexicon']:.2f}%", flush=True)
    # FSDD's clips start and stop with the digit; a recording has a pause around a word.
    padded = [pad_with_room_tone(a, int(PAD_SECONDS * rec.sample_rate), int(PAD_SECONDS * rec.sample_rate), PAD_DBFS, "pink",
                                 np.random.default_rng(k)) for k, a in enumerate(split["audios"])]
    g = scores(split["refs"], decode_all(greedy, [rec.log_probs(a) for a in padded]))
    out["fsdd_padded_accuracy"] = g["exact_match"]
    out["splits"]["fsdd_padded"] = {"n": len(padded), "pad_seconds": PAD_SECONDS, "pad_dbfs": PAD_DBFS, "greedy": g}
    print(f"fsdd with {PAD_SECONDS} s of room tone ({PAD_DBFS} dBFS) before and after: accuracy {g['exact_match']:.2f}%", flush=True)
    out["librilight_heldout_wer"] = s["librilight_heldout"]["greedy"]["wer"]
    out["librilight_heldout_wer_lm"] = s["librilight_heldout"]["lm"]["wer"]
    out["speechocean_heldout_wer"] = s["speechocean_heldout"]["greedy"]["wer"]
    out["speechocean_heldout_wer_lm"] = s["speechocean_heldout"]["lm"]["wer"]
    if kind == "offline":  # whole-file forward pass (no decoding), as `asr transcribe`
        out["rtf"] = round(forward_s / audio_s, 4)
        out["rtf_lm"] = round((forward_s + beam_s) / audio_s, 4)
        out["rtf_note"] = ("acoustic model forward over all test splits, one utterance at a time; rtf_lm: plus the beam "
                           "search with the LM (beam 32, default pruning), as --lm bundled")
    else:  # the streaming recognizer itself, on AN4 test
        an4 = loaded["an4"][0]
        out["rtf"] = round(stream_rtf(rec.model, an4["audios"], rec.sample_rate), 4)
        out["rtf_int8"] = round(stream_rtf(quantize_int8(rec.model), an4["audios"], rec.sample_rate), 4)
        out["rtf_lm"] = round(stream_rtf(rec.model, an4["audios"], rec.sample_rate, beam_cfg), 4)
        out["rtf_note"] = (f"StreamingRecognizer, {CHUNK_MS} ms chunks, greedy, AN4 test; rtf_lm: fp32 with the beam "
                           "search and the LM (beam 32, default pruning), as --lm bundled")
    print(f"size {out['size_mb']} MB, RTF {out['rtf']}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--offline", type=Path, default=None, help="default: the bundled offline model")
    ap.add_argument("--streaming", type=Path, default=None, help="default: the bundled streaming model")
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "default_en")
    ap.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench_default")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--output", default="default_model.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    arpa = str(args.workdir / "train_3gram.arpa")
    write_arpa(estimate(read_sentences([args.data / m for m in LM_TRAIN]), order=3), arpa)
    # The LM rebuilt from these corpora should be the bundled one (--lm bundled), byte for byte.
    lm_is_bundled = filecmp.cmp(arpa, default_lm(), shallow=False)
    print(f"LM rebuilt from {args.data}: {'identical to' if lm_is_bundled else 'DIFFERENT from'} {default_lm()}", flush=True)
    models = {"offline": (args.offline or default_model("offline")).resolve(),
              "streaming": (args.streaming or default_model("streaming")).resolve()}
    result = {kind: evaluate_model(kind, path, args.data, arpa) for kind, path in models.items()}
    off, st = result["offline"], result["streaming"]
    ratios = {k: round(st[k] / off[k], 2) if off[k] else None
              for k in ("an4_wer", "librilight_heldout_wer", "speechocean_heldout_wer")}
    ratios["fsdd_error"] = round((100 - st["fsdd_accuracy"]) / (100 - off["fsdd_accuracy"]), 2) if off["fsdd_accuracy"] < 100 else None
    # --lm bundled uses DEFAULT_LM_WEIGHTS: they should be what dev chose here.
    for kind in models:
        tuned = (result[kind]["lm_weight"], result[kind]["word_score"])
        result[kind]["bundled_lm_weights_agree"] = tuned == DEFAULT_LM_WEIGHTS[kind]
        if tuned != DEFAULT_LM_WEIGHTS[kind]:
            print(f"{kind}: dev chose LM weight / word score {tuned}; asr/pretrained.py has {DEFAULT_LM_WEIGHTS[kind]}", flush=True)
    write_result(args.output, {
        **result, "streaming_to_offline_wer_ratio": ratios,
        "total_size_mb": round(off["size_mb"] + st["size_mb"], 2),
        "lm_size_mb": round(default_lm().stat().st_size / 1e6, 2), "lm_is_bundled": lm_is_bundled,
        "lm": "word 3-gram, modified Kneser-Ney (asr lm build) on the training transcripts of AN4, FSDD, "
              "Libri-light and speechocean762; lexicon = its words; beam 32; weights tuned on the combined dev set",
        "threads": args.threads,
    })


if __name__ == "__main__":
    main()
