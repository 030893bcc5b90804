"""Streaming benchmark -> results/streaming.json.

    python benchmarks/streaming.py --model exp/an4_stream/best.pt --data exp/bench_an4_v3/data \
        [--lookahead 0=path.pt 40=path.pt ...] [--realtime-utts 30]

Everything runs on one CPU thread through ``StreamingRecognizer`` (features + model + decoder),
fed in blocks of its chunk (160 ms, less a look-ahead convolution's look-ahead), on AN4's test split:

1. WER, greedy and with beam search + a word n-gram LM from AN4's training transcripts, optionally
   with English words spelled out letter by letter beside them (``LM_TEXTS``; which text, the order,
   LM weight and word score chosen on the dev split only), streamed, fp32 and int8.
2. Compute: real-time factor of the whole pipeline (fp32, int8), and milliseconds per chunk,
   from the fastest of three passes over the test set (this VM's speed drifts between minutes).
3. Latency: algorithmic (analysis window + chunk + the look-ahead: frame stacking's and the
   look-ahead convolution's), and, with
   test utterances fed in real time (paced by the wall clock, 1 s of silence appended so the
   endpoint rule can fire), the first partial's delay after speech onset, the final's delay after
   speech end, and the final's delay after the endpoint rule's silence has elapsed. Speech onset
   and end come from the audio's energy (frames within 30 dB of the utterance's loudest).
4. WER versus look-ahead, for models trained with more frames stacked or a look-ahead
   convolution (``--lookahead MS=PATH``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.audio import load_audio  # noqa: E402
from asr.config import DecodeConfig  # noqa: E402
from asr.data.dataset import load_rows  # noqa: E402
from asr.decoding import make_decoder  # noqa: E402
from asr.decoding.timing import FRAME_SECONDS, frame_db  # noqa: E402
from asr.decoding.tune import tune_lm  # noqa: E402
from asr.export import quantize_int8  # noqa: E402
from asr.features import compute_features  # noqa: E402
from asr.lm import estimate, read_sentences, spelled_sentences, write_arpa  # noqa: E402
from asr.model import AcousticModel  # noqa: E402
from asr.mic import DEFAULT_BLOCK_MS  # noqa: E402
from asr.streaming import EndpointConfig, StreamingRecognizer, default_chunk_frames  # noqa: E402
from asr.text import normalize_text  # noqa: E402
from asr.train.metrics import error_rates  # noqa: E402
from benchmarks.common import ROOT, write_result  # noqa: E402

LM_ORDERS = (3, 4, 5)  # word n-gram orders tried on dev
# The LM's text, also chosen on dev: AN4's training transcripts, then the same plus distinct words
# spelled out ("p a t t e r s o n"; AN4's speakers spell names, streets and codes, and its lexicon
# is mostly the 26 letters): the default corpora's training vocabulary (Libri-light + speechocean762
# train, --spell-corpus), plus the word list's proper names (capitalised entries of --word-list),
# plus all of its words. Ties go to the plainer text, listed first.
LM_TEXTS = ("an4", "an4+corpus", "an4+corpus+names", "an4+corpus+dictionary")
WORD_LIST = "/usr/share/dict/american-english"  # Debian package wamerican
LM_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)  # with the word scores: the dev grid
WORD_SCORES = (-1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0)


def model_chunk_ms(model: AcousticModel) -> int:
    """The recognizer's chunk: 160 ms, less a look-ahead model's look-ahead (``default_chunk_frames``)."""
    return round(default_chunk_frames(model) * model.feature_cfg.frame_shift * 1000)


def utterances(manifest: Path, sample_rate: int) -> list[tuple[np.ndarray, str]]:
    return [(load_audio(r["audio"], sample_rate), normalize_text(r["text"])) for r in load_rows([str(manifest)])]


def stream_all(model: AcousticModel, utts, decode: DecodeConfig | None = None, rounds: int = 3) -> dict:
    """Stream each utterance as fast as possible in blocks of the chunk; WER, RTF and per-chunk compute.

    Timing is the fastest of ``rounds`` passes over all utterances (this VM's speed drifts by
    +-30% between minutes; the fastest pass is the one least disturbed). The transcripts are the
    same in every pass."""
    sr = model.feature_cfg.sample_rate
    block = sr * model_chunk_ms(model) // 1000
    best = None
    for _ in range(rounds):
        hyps, chunk_ms, total, audio_s = [], [], 0.0, 0.0
        for audio, _ in utts:
            rec = StreamingRecognizer(model, decode, EndpointConfig(enabled=False))
            finals = []
            for i in range(0, len(audio), block):
                t0 = time.perf_counter()
                finals += [e for e in rec.accept(audio[i : i + block]) if e.kind == "final"]
                el = time.perf_counter() - t0
                total += el
                if i + block <= len(audio):
                    chunk_ms.append(el * 1000)
            t0 = time.perf_counter()
            finals += [e for e in rec.finish() if e.kind == "final"]
            total += time.perf_counter() - t0
            hyps.append(" ".join(e.text for e in finals if e.text))
            audio_s += len(audio) / sr
        if best is not None and hyps != best[0]:
            raise RuntimeError("streaming gave different transcripts in two passes over the same audio")
        if best is None or total < best[2]:
            best = (hyps, chunk_ms, total, audio_s)
    hyps, chunk_ms, total, audio_s = best
    wer, cer = error_rates([t for _, t in utts], hyps)
    return {"wer": round(wer, 2), "cer": round(cer, 2), "rtf": round(total / audio_s, 5),
            "chunk_ms_mean": round(statistics.mean(chunk_ms), 3),
            "chunk_ms_p95": round(float(np.percentile(chunk_ms, 95)), 3), "hyps": hyps}


def speech_bounds(audio: np.ndarray, sr: int) -> tuple[float, float]:
    """First and last 10 ms frame within 30 dB of the loudest frame, in seconds."""
    db = frame_db(audio, sr)
    loud = np.nonzero(db > db.max() - 30)[0]
    return loud[0] * FRAME_SECONDS, (loud[-1] + 1) * FRAME_SECONDS


def realtime_latency(model: AcousticModel, utts, n: int, endpoint: EndpointConfig) -> dict:
    """Feed ``n`` utterances (+1 s silence) in real time, in the microphone's blocks (100 ms; the
    recognizer still computes in its own chunks); delays of first partial and final.

    The final's delay is taken two ways: after the speech's acoustic end (energy) plus the
    endpoint's trailing silence, which includes how late the model emits the last letter; and
    after the moment the rule was met on the model's output (last word's end + trailing silence,
    in stream time), which is the recognizer's own lag: chunk buffering, look-ahead, compute."""
    sr = model.feature_cfg.sample_rate
    block = int(sr * DEFAULT_BLOCK_MS / 1000)  # what `asr live`'s microphone delivers per callback
    first, final, after_rule, after_decoded_rule = [], [], [], []
    for audio, _ in utts[:n]:
        onset, end = speech_bounds(audio, sr)
        x = np.concatenate([audio, np.zeros(sr, np.float32)])
        rec = StreamingRecognizer(model, None, endpoint)
        t_first = t_final = rule_met = None
        start = time.perf_counter()
        for i in range(0, len(x), block):
            piece = x[i : i + block]
            time.sleep(max(0.0, start + (i + len(piece)) / sr - time.perf_counter()))  # as a microphone would
            for e in rec.accept(piece):
                now = time.perf_counter() - start
                if e.kind == "partial" and t_first is None:
                    t_first = now
                if e.kind == "final" and e.text and t_final is None:
                    t_final = now
                    # when the rule was met on the model's output: its last word's end + the silence
                    rule_met = e.words[-1].end + endpoint.trailing_silence if e.words else None
        if t_first is not None:
            first.append((t_first - onset) * 1000)
        if t_final is not None:
            final.append((t_final - end) * 1000)
            after_rule.append((t_final - end - endpoint.trailing_silence) * 1000)
            if rule_met is not None:
                after_decoded_rule.append((t_final - rule_met) * 1000)
    med = lambda v: round(statistics.median(v), 1) if v else None  # noqa: E731
    return {"utterances": n, "first_partial_latency_ms": med(first), "final_latency_ms": med(final),
            "final_after_endpoint_rule_ms": med(after_rule), "final_after_endpoint_rule_ms_max": round(max(after_rule), 1) if after_rule else None,
            "final_after_decoded_rule_ms": med(after_decoded_rule),
            "final_after_decoded_rule_ms_max": round(max(after_decoded_rule), 1) if after_decoded_rule else None,
            "finals_made": len(final), "trailing_silence_s": endpoint.trailing_silence, "block_ms": DEFAULT_BLOCK_MS}


def lookahead_ms(model: AcousticModel) -> float:
    """The model's look-ahead: the frames stacked beyond the stride, and the output frames its
    look-ahead convolution waits for (``model.lookahead``)."""
    c = model.cfg
    return 1000 * (c.stack - c.stride + c.lookahead * c.stride) * model.feature_cfg.frame_shift


def algorithmic_latency_ms(model: AcousticModel) -> float:
    """How far past a frame's time its audio must reach: the centred analysis frame (n_fft / 2),
    one chunk of buffering, and the model's look-ahead."""
    f = model.feature_cfg
    return round(1000 * (f.n_fft / 2 / f.sample_rate + model_chunk_ms(model) / 1000) + lookahead_ms(model), 1)


def training_epochs(path: str) -> Optional[int]:
    """Epochs the model's run trained (its history.jsonl beside the checkpoint), if known."""
    hist = Path(path).parent / "history.jsonl"
    if not hist.is_file():
        return None
    return sum(1 for line in hist.read_text().splitlines() if '"epoch"' in line)


def add_lm_text_args(ap: argparse.ArgumentParser) -> None:
    """--spell-corpus and --word-list: the sources of ``LM_TEXTS``' spelled words."""
    ap.add_argument("--spell-corpus", nargs="+", default=[str(ROOT / "data" / "default_en" / c / "train.jsonl")
                                                          for c in ("librilight", "speechocean762")],
                    help="manifests or texts whose vocabulary the spelled LM texts add (LM_TEXTS)")
    ap.add_argument("--word-list", default=WORD_LIST, help="a word list, one word per line (LM_TEXTS)")


def lm_texts(train: Path, spell_corpus: list[str], word_list: str) -> dict[str, list[list[str]]]:
    """``LM_TEXTS``' sentences: the transcripts, then spelled words added source by source."""
    for p in [*spell_corpus, word_list]:
        if not Path(p).is_file():
            sys.exit(f"{p} not found: the spelled LM texts need it (--spell-corpus: `python scripts/prepare_default_en.py` "
                     f"writes the manifests; --word-list: `apt-get install wamerican`)")
    corpus = [w for words in read_sentences(spell_corpus) for w in words]
    entries = Path(word_list).read_text(encoding="utf-8").split()
    names = [w for w in entries if w[:1].isupper() and w[1:].islower()]
    transcripts = list(read_sentences([train]))
    sources = {"an4": [], "an4+corpus": corpus, "an4+corpus+names": corpus + names,
               "an4+corpus+dictionary": corpus + names + entries}
    return {name: transcripts + list(spelled_sentences(sources[name])) for name in LM_TEXTS}


def build_lms(texts: dict[str, list[list[str]]], work: Path) -> dict[tuple[str, int], str]:
    """(text, order) -> ARPA file for each LM text and ``LM_ORDERS``, in that order of preference."""
    arpas = {}
    for text, sentences in texts.items():
        for order in LM_ORDERS:
            arpas[text, order] = str(work / f"{text.replace('+', '_')}_{order}gram.arpa")
            write_arpa(estimate(sentences, order=order), arpas[text, order])
    return arpas


def dev_log_probs(model: AcousticModel, utts) -> list[torch.Tensor]:
    """The model's (offline == streamed) log-probs of each utterance: the whole utterance plus the
    tail silence that ``StreamingRecognizer.finish`` appends."""
    lps = []
    with torch.inference_mode():
        for audio, _ in utts:
            feats = compute_features(torch.from_numpy(np.concatenate([audio, model.tail_silence()])), model.feature_cfg)[None]
            lp, _ = model(feats, torch.tensor([feats.shape[1]]))
            lps.append(lp[0])
    return lps


def greedy_wer(model: AcousticModel, lps: list[torch.Tensor], refs: list[str]) -> float:
    """Greedy WER % of ``dev_log_probs``' output against ``refs``."""
    greedy = make_decoder(model.vocab, DecodeConfig(), model.feature_cfg.frame_shift * model.cfg.stride)
    return error_rates(refs, [greedy.decode(lp)[0].text for lp in lps])[0]


def choose_lm(model: AcousticModel, dev, arpas: dict[tuple[str, int], str]) -> tuple[float, tuple[str, int], float, float, float]:
    """(dev WER with the LM, its (text, n-gram order), LM weight, word score, greedy dev WER): the
    text and order (``arpas``: (text, order) -> ARPA file, in order of preference), weight and score
    by dev WER, ties to the earlier text and order, lower weight, score (``dev_log_probs``)."""
    fs = model.feature_cfg.frame_shift * model.cfg.stride
    lps = dev_log_probs(model, dev)
    refs = [t for _, t in dev]
    dev_greedy = greedy_wer(model, lps, refs)
    key_of = {arpa: key for key, arpa in arpas.items()}
    best, _ = tune_lm(model.vocab, fs, lps, refs, list(arpas.values()),  # ties to the LM listed first
                      LM_WEIGHTS, WORD_SCORES, DecodeConfig(beam_size=32))
    return best.wer, key_of[best.lm], best.lm_weight, best.word_score, dev_greedy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "exp" / "an4_stream" / "best.pt"), help="a unidirectional checkpoint")
    ap.add_argument("--data", default=str(ROOT / "exp" / "bench_an4_v3" / "data"), help="folder with AN4 train/dev/test.jsonl")
    ap.add_argument("--workdir", default=str(ROOT / "exp" / "bench_streaming"))
    ap.add_argument("--realtime-utts", type=int, default=30, help="test utterances fed in real time for latencies")
    ap.add_argument("--about", default="", help="how the model was made (kept in the result)")
    ap.add_argument("--result", default="streaming.json", help="file name under benchmarks/results/ (another name for a side run)")
    add_lm_text_args(ap)
    ap.add_argument("--lookahead", nargs="*", default=[], metavar="MS=PATH", help="more models for the WER-vs-look-ahead table")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data, work = Path(args.data), Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    model = AcousticModel.load(args.model).eval()
    if model.cfg.bidirectional:
        sys.exit(f"{args.model} is bidirectional; the streaming benchmark needs a unidirectional model")
    sr = model.feature_cfg.sample_rate
    test, dev = utterances(data / "test.jsonl", sr), utterances(data / "dev.jsonl", sr)

    fp32 = stream_all(model, test)
    print(f"fp32 greedy: WER {fp32['wer']}  RTF {fp32['rtf']}  chunk {fp32['chunk_ms_mean']} ms", flush=True)
    q = quantize_int8(model)
    int8 = stream_all(q, test)
    print(f"int8 greedy: WER {int8['wer']}  RTF {int8['rtf']}  chunk {int8['chunk_ms_mean']} ms", flush=True)

    arpas = build_lms(lm_texts(data / "train.jsonl", args.spell_corpus, args.word_list), work)
    dev_wer, (text, order), lw, ws, dev_greedy = choose_lm(model, dev, arpas)
    beam_cfg = DecodeConfig(decoder="beam", beam_size=32, lm=arpas[text, order], lm_weight=lw, word_score=ws)
    lm = stream_all(model, test, beam_cfg)
    print(f"beam + LM ({text} {order}-gram, lm_weight {lw}, word_score {ws}; dev WER {dev_wer:.2f}): WER {lm['wer']}  RTF {lm['rtf']}", flush=True)

    endpoint = EndpointConfig()
    lat = realtime_latency(q, test, args.realtime_utts, endpoint)
    print(f"real-time (int8): {lat}", flush=True)

    table = {}
    for spec in args.lookahead:
        ms, path = spec.split("=", 1)
        m = AcousticModel.load(path).eval()
        lookahead = round(lookahead_ms(m), 1)
        if abs(lookahead - float(ms)) > 0.5:
            raise SystemExit(f"--lookahead {spec}: that model looks {lookahead} ms ahead (stack {m.cfg.stack}, stride {m.cfg.stride}, "
                             f"look-ahead frames {m.cfg.lookahead})")
        table[ms] = {"model": path, "stack": m.cfg.stack, "stride": m.cfg.stride, "lookahead_frames": m.cfg.lookahead,
                     "chunk_ms": model_chunk_ms(m), "epochs": training_epochs(path),
                     "algorithmic_latency_ms": algorithmic_latency_ms(m), "wer": stream_all(m, test, rounds=1)["wer"]}
        print(f"look-ahead {ms} ms: {table[ms]}", flush=True)

    write_result(args.result, {
        "an4_wer_uni_greedy": fp32["wer"], "an4_cer_uni_greedy": fp32["cer"], "an4_wer_uni_lm": lm["wer"],
        "an4_wer_uni_int8_greedy": int8["wer"],
        "lm": f"word {order}-gram (asr lm build) on LM text '{text}', text of {list(LM_TEXTS)} and order of {list(LM_ORDERS)} "
              "chosen on dev; lexicon = AN4 train's words",
        "lm_text": text, "lm_order": order, "spell_corpus": args.spell_corpus, "word_list": args.word_list,
        "lm_weight": lw, "word_score": ws, "dev_wer_lm": round(dev_wer, 2), "dev_wer_greedy": round(dev_greedy, 2),
        "rtf_fp32": fp32["rtf"], "rtf_int8": int8["rtf"], "rtf_beam_lm_fp32": lm["rtf"],
        "chunk_ms": model_chunk_ms(model), "chunk_ms_fp32": fp32["chunk_ms_mean"], "chunk_ms_int8": int8["chunk_ms_mean"],
        "chunk_ms_int8_p95": int8["chunk_ms_p95"],
        "algorithmic_latency_ms": algorithmic_latency_ms(model),
        "first_partial_latency_ms": lat["first_partial_latency_ms"], "final_latency_ms": lat["final_latency_ms"],
        "realtime": lat, "wer_vs_lookahead": table,
        "model": args.model, "model_about": args.about, "params": model.num_params(), "threads": 1,
        "model_config": {"stack": model.cfg.stack, "stride": model.cfg.stride, "hidden": model.cfg.hidden,
                         "layers": model.cfg.layers, "proj_size": model.cfg.proj_size, "lookahead": model.cfg.lookahead},
    })


if __name__ == "__main__":
    main()
