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

    columns = {"path_column": args.path_column, "text_column": args.text_column, "speaker_column": args.speaker_column}
    options = {k: v for k, v in columns.items() if v is not None}
    out = prepare_corpus(args.corpus, args.source, args.out, dev_fraction=args.dev_fraction, seed=args.seed, **options)
    for split, path in out.items():
        print(f"{split}\t{path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train.distributed import session
    from .train.loop import Trainer

    device = [f"train.device={args.device}"] if args.device else []
    if args.resume:
        cfg_path = Path(args.resume) / "config.yaml"
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{cfg_path}: nothing to resume (no config.yaml in {args.resume})")
        overrides = [f"train.out_dir={args.resume}"] + args.overrides + device
        cfg = load_config(cfg_path, overrides)
        resume = (Path(args.resume) / "last.pt").is_file()
        if not resume:
            print(f"{args.resume}: no last.pt yet, starting from the beginning", file=sys.stderr)
    else:
        if not args.config:
            raise ValueError("asr train needs --config FILE.yaml (or --resume DIR)")
        cfg = load_config(args.config, args.overrides + device)
        resume = False
    # Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK set) this joins the process group: DDP.
    with session(cfg.train.device) as env:
        result = Trainer(cfg, resume=resume, env=env).fit()
    if env.is_main:
        print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    return 0


def _tune(args: argparse.Namespace) -> int:
    from .train.tune import parse_space, tune

    try:
        res = tune(args.config, args.overrides, args.out, args.trials, timeout_minutes=args.timeout_minutes,
                   space=parse_space(args.space), pruner=args.pruner, prune_after=args.prune_after)
    except ImportError as e:  # Optuna missing
        print(f"error: {e}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{n} {state}" for state, n in sorted(res["counts"].items()))
    print(f"trials: {counts}; study {res['study']}")
    best = res["best"]
    if best is None:
        print("no trial completed: no best.yaml")
        return 1
    print(f"best: trial {best['number']}, dev WER {best['dev_wer']:.2f}%  {' '.join(best['overrides'])}")
    print(f"wrote {res['best_yaml']} (train with: asr train --config {res['best_yaml']})")
    return 0


def _decode_config(args: argparse.Namespace, model):
    """The decoding the arguments ask for, for ``model``: --lm bundled takes the weights tuned for
    its kind (offline for a bidirectional model, streaming for a unidirectional one, such as the
    bundled streaming model given to ``asr evaluate``)."""
    from .config import DecodeConfig
    from .decoding.hotwords import read_hotwords_file
    from .pretrained import lm_settings

    hotwords = list(args.hotword or [])
    if args.hotwords_file:
        hotwords += read_hotwords_file(args.hotwords_file)
    decoder = args.decoder or ("beam" if (args.lm or args.lexicon or hotwords or args.nbest > 1) else "greedy")
    kind = "offline" if model.cfg.bidirectional else "streaming"
    lm, lm_weight, word_score = lm_settings(args.lm, args.lm_weight, args.word_score, kind)
    return DecodeConfig(decoder=decoder, beam_size=args.beam_size, beam_size_token=args.beam_size_token,
                        beam_threshold=args.beam_threshold, blank_skip=args.blank_skip,
                        token_min_logp=args.token_min_logp, lm=lm,
                        lm_unit=args.lm_unit, lm_weight=lm_weight, word_score=word_score, lexicon=args.lexicon,
                        nbest=args.nbest, hotwords=hotwords, min_confidence=args.min_confidence)


def _file_recognizer(args: argparse.Namespace):
    """The model of --model (default: the bundled offline one) with the decoding the arguments ask for."""
    from .model import AcousticModel
    from .pretrained import resolve_model
    from .transcribe import Recognizer

    model = AcousticModel.load(resolve_model(args.model, "offline"), map_location=args.device)
    return Recognizer(model, args.device, _decode_config(args, model))


def _add_decode_args(s: argparse.ArgumentParser) -> None:
    g = s.add_argument_group("decoding")
    g.add_argument("--decoder", choices=["greedy", "beam"], help="default: greedy, or beam when an LM/lexicon/hotword/nbest is given")
    g.add_argument("--beam-size", type=int, default=32)
    g.add_argument("--beam-size-token", type=int, default=5, help="tokens tried per frame (0 = all)")
    g.add_argument("--beam-threshold", type=float, default=12.0, help="prune hypotheses this far below the best")
    g.add_argument("--blank-skip", type=float, default=0.999,
                   help="the search skips a frame whose blank probability is at least this and whose previous frame's is too (0 = off)")
    g.add_argument("--token-min-logp", type=float, default=float("-inf"),
                   help="tokens less likely than this log-probability in a frame are not tried (e.g. -5; default: off)")
    g.add_argument("--lm", help="n-gram LM: ARPA or KenLM binary (word-level with a lexicon, or character-level); "
                   "'bundled': the English word 3-gram shipped with the package")
    g.add_argument("--lm-unit", choices=["auto", "word", "char"], default="auto")
    g.add_argument("--lm-weight", type=float, help="LM weight (default 0.5; with --lm bundled, the weight tuned for the bundled models)")
    g.add_argument("--word-score", type=float, help="word insertion score (default 0; with --lm bundled, the tuned one)")
    g.add_argument("--lexicon", help="word list: restrict output to these words")
    g.add_argument("--hotword", action="append", metavar="WORD[:BOOST]", help="bias towards a word or phrase (repeatable)")
    g.add_argument("--hotwords-file", help="one WORD[:BOOST] per line")
    g.add_argument("--nbest", type=int, default=1, help="return the N best hypotheses")
    g.add_argument("--min-confidence", type=float, default=0.0,
                   help="say nothing for a result (file, segment, streamed utterance) whose words' mean confidence "
                   "is below this, e.g. 0.6 where music or noise gets transcribed (default 0: off)")


KENLM_MAX_ORDER = 6  # flashlight-text's KenLM is compiled with KENLM_MAX_ORDER=6


def _lm_build(args: argparse.Namespace) -> int:
    from .lm import char_sentences, estimate, read_sentences, spelled_sentences, write_arpa

    if not 2 <= args.order <= KENLM_MAX_ORDER:
        raise ValueError(f"--order must be 2 to {KENLM_MAX_ORDER}: the beam search's KenLM (flashlight-text's build) reads "
                         f"no unigram-only model and no order above {KENLM_MAX_ORDER}; got {args.order}")
    if args.spell and args.unit == "char":
        raise ValueError("--spell adds letter sentences to a word LM; a character LM (--unit char) spells everything already")
    sentences = list(read_sentences(args.text))
    if args.unit == "char":
        sentences = list(char_sentences(sentences))
    if args.spell:
        sentences += spelled_sentences(w for words in read_sentences(args.spell) for w in words)
    model = estimate(sentences, args.order)
    write_arpa(model, args.output)
    counts = ", ".join(f"{n}-grams: {len(model.probs[n])}" for n in range(1, model.order + 1))
    print(f"wrote {args.output} ({len(sentences)} sentences; {counts})")
    return 0


def _lm_tune(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .config import DecodeConfig
    from .decoding import make_decoder
    from .decoding.tune import LM_WEIGHTS, WORD_SCORES, grid_table, tune_lm
    from .evaluate import manifest_log_probs
    from .pretrained import resolve_lm, resolve_model
    from .train.metrics import error_rates
    from .transcribe import load_model

    rec = load_model(resolve_model(args.model, args.kind), args.device)
    lps, refs, failed = manifest_log_probs(rec, args.manifest)
    for f in failed:
        print(f"skipped {f['audio']}: {f['error']}", file=sys.stderr)
    greedy = make_decoder(rec.model.vocab, DecodeConfig(), rec.frame_seconds)
    greedy_wer = error_rates(refs, [greedy.decode(lp)[0].text for lp in lps])[0]
    print(f"{len(refs)} utterances; greedy WER {greedy_wer:.2f}%")
    lms = [resolve_lm(lm) for lm in args.lm]
    base = DecodeConfig(decoder="beam", beam_size=args.beam_size, lm_unit=args.lm_unit, lexicon=args.lexicon)
    weights, scores = args.lm_weights or LM_WEIGHTS, args.word_scores or WORD_SCORES
    with tqdm(total=len(lms) * len(weights) * len(scores), unit="point", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
        best, points = tune_lm(rec.model.vocab, rec.frame_seconds, lps, refs, lms, weights, scores, base,
                               on_point=lambda p: bar.update(1))
    for lm in lms:
        print("\n" + grid_table(points, lm))
    as_given = args.lm[lms.index(best.lm)]  # "bundled" stays "bundled"
    print(f"\nbest: WER {best.wer:.2f}% (greedy {greedy_wer:.2f}%) with --lm {as_given} --lm-weight {best.lm_weight:g} "
          f"--word-score {best.word_score:g}" + (f" --lexicon {args.lexicon}" if args.lexicon else ""))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"manifest": args.manifest, "n": len(refs), "greedy_wer": round(greedy_wer, 3),
                                               "beam_size": args.beam_size, "best": best.as_dict(),
                                               "grid": [p.as_dict() for p in points]}, indent=1))
    return 0


def _tokenizer_train(args: argparse.Namespace) -> int:
    from .lm import read_sentences
    from .text import SentencePieceVocabulary, train_sentencepiece

    texts = [" ".join(words) for words in read_sentences(args.manifest)]
    out = train_sentencepiece(texts, args.output, args.vocab_size, args.type)
    vocab = SentencePieceVocabulary.load(out)
    print(f"wrote {out}: {args.type}, {len(vocab) - 1} pieces from {len(texts)} sentences; "
          f"train with data.tokenizer={out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    rec = _file_recognizer(args)

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
    from tqdm import tqdm

    from .transcribe import expand_inputs, transcribe_files
    from .writers import FORMATS, render, write_outputs

    formats = list(FORMATS) if args.format == "all" else [args.format]
    if len(formats) > 1 and not args.output_dir:
        raise ValueError("--format all needs --output-dir")
    paths = expand_inputs(args.files)
    if not paths:
        raise ValueError(f"no audio files found in {args.files}")
    rec = _file_recognizer(args)
    failed = 0
    bar = tqdm(total=len(paths), unit="file", disable=len(paths) < 2 or not sys.stderr.isatty(), file=sys.stderr)
    for res in transcribe_files(rec, paths, batch_size=args.batch_size):
        bar.update(1)
        if res.error:
            failed += 1
            bar.write(f"error: {res.error}", file=sys.stderr)
            continue
        if args.output_dir:
            write_outputs(res.segments, res.path, args.output_dir, formats, res.duration)
        if args.format == "txt" or not args.output_dir:
            if args.nbest > 1:
                for seg in res.segments:
                    for rank, h in enumerate(seg.nbest, 1):
                        print(f"{res.path}\t{seg.start:.2f}\t{rank}\t{h.score:.3f}\t{h.text}", flush=True)
            elif args.format in ("txt",):
                print(f"{res.path}\t{res.text}" if len(paths) > 1 else res.text, flush=True)
            else:
                print(render(args.format, res.segments, res.path, res.duration), end="", flush=True)
    bar.close()
    if failed:
        print(f"{failed} of {len(paths)} files failed", file=sys.stderr)
    return 1 if failed else 0


def _stream(args: argparse.Namespace) -> int:
    import time

    from .audio import stream_audio
    from .model import AcousticModel
    from .pretrained import resolve_model
    from .streaming import EndpointConfig, StreamingRecognizer

    model = AcousticModel.load(resolve_model(args.model, "streaming"))
    if args.int8:
        from .export import quantize_int8

        model = quantize_int8(model)
    rec = StreamingRecognizer(model, _decode_config(args, model), EndpointConfig(trailing_silence=args.trailing_silence,
                                                                          max_utterance=args.max_utterance),
                              boost_quiet=args.boost_quiet)
    sr = model.feature_cfg.sample_rate
    block = max(1, int(sr * args.chunk_ms / 1000))
    t0 = time.perf_counter()
    sent = 0

    def show(events) -> None:
        for e in events:
            if not e.text:  # an utterance that ended with nothing recognised
                continue
            lag = (time.perf_counter() - t0 - sent / sr) * 1000 if args.realtime else e.compute_ms
            label = "lag" if args.realtime else "compute"
            line = f"[{e.kind:7s} {e.start:7.2f}-{e.end:7.2f}s] {e.text}  ({label} {lag:.0f} ms)"
            if e.kind == "final" or args.partials:
                print(line, flush=True)

    for chunk in stream_audio(args.file, sr, block_seconds=10.0):
        for i in range(0, len(chunk), block):
            piece = chunk[i : i + block]
            if args.realtime:  # pace: never send audio before it would have been spoken
                time.sleep(max(0.0, t0 + (sent + len(piece)) / sr - time.perf_counter()))
            sent += len(piece)
            show(rec.accept(piece))
    show(rec.finish())
    elapsed = time.perf_counter() - t0
    print(f"audio {sent / sr:.2f}s  wall {elapsed:.2f}s  RTF {elapsed / max(sent / sr, 1e-9):.4f}", file=sys.stderr)
    return 0


def _live(args: argparse.Namespace) -> int:
    from .mic import MicrophoneError, list_devices

    try:
        if args.list_devices:
            print(list_devices())
            return 0
        from .live import Display, run_live
        from .model import AcousticModel
        from .pretrained import resolve_model
        from .streaming import EndpointConfig

        display = Display()
        device = int(args.device) if args.device and args.device.isdigit() else args.device
        model = AcousticModel.load(resolve_model(args.model, "streaming"))
        if args.int8:
            from .export import quantize_int8

            model = quantize_int8(model)
        run_live(model, device=device, decode=_decode_config(args, model),
                 endpoint=EndpointConfig(trailing_silence=args.trailing_silence, max_utterance=args.max_utterance),
                 save=args.save, output=args.output, duration=args.duration, on_event=display.show,
                 boost_quiet=args.boost_quiet)
    except MicrophoneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_streaming
    from .model import AcousticModel

    path = export_streaming(AcousticModel.load(args.model), args.output, chunk_frames=args.chunk_frames)
    print(f"wrote {path}: one streaming step, (feats, h, c) -> (log_probs, h, c); load with asr.export.load_exported")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from .pretrained import pack_checkpoint

    out = pack_checkpoint(args.model, args.output, args.dtype)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {args.dtype} weights)")
    return 0


def _average(args: argparse.Namespace) -> int:
    from .train.average import average_checkpoints

    model = average_checkpoints(args.models, args.weights)
    model.save(args.output)
    how = "mean" if args.weights is None else "weighted mean (" + ", ".join(f"{w:g}" for w in args.weights) + ")"
    print(f"wrote {args.output}: the {how} of {len(args.models)} checkpoints' weights")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from .data.synth import synthesize_corpus

    out = synthesize_corpus(args.out, n_train=args.n_train, n_dev=args.n_dev, n_test=args.n_test, seed=args.seed)
    for split, path in out.items():
        print(f"{split}\t{path}")
    return 0


def _add_stream_args(p: argparse.ArgumentParser) -> None:
    """Options shared by ``asr stream`` and ``asr live``: endpointing, input level, int8, decoding."""
    p.add_argument("--trailing-silence", type=float, default=0.6, help="endpoint after this much silence (s)")
    p.add_argument("--max-utterance", type=float, default=20.0, help="longest utterance (s)")
    p.add_argument("--boost-quiet", action="store_true",
                   help="raise very quiet input (peak under -40 dBFS so far) by up to 40 dB; off: it also raises room noise")
    p.add_argument("--int8", action="store_true", help="int8 dynamic quantization (faster on CPU)")
    _add_decode_args(p)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asr", description="Streaming BiLSTM-CTC speech recognition")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("prepare", help="write JSONL manifests for a corpus on disk")
    s.add_argument("corpus", help="an4 | fsdd | librispeech | librilight | kaldi | commonvoice | ljspeech | tedlium | csv")
    s.add_argument("source", help="the corpus folder (csv: the .csv/.tsv file)")
    s.add_argument("--out", required=True, help="folder for the manifests")
    s.add_argument("--dev-fraction", type=float, default=0.1, help="share of training speakers held out as dev")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--path-column", help="csv: audio path column (default: path, audio, file, filename, wav, ...)")
    s.add_argument("--text-column", help="csv: transcript column (default: text, transcript, sentence, ...)")
    s.add_argument("--speaker-column", help="csv: speaker column (default: speaker, speaker_id, client_id, if any)")
    s.set_defaults(func=_prepare)

    s = sub.add_parser("train", help="train an acoustic model")
    s.add_argument("--config", help="YAML config (configs/*.yaml)")
    s.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    s.add_argument("--device", help="cpu | cuda | cuda:N | auto (sets train.device; under torchrun, cuda = the local rank's GPU)")
    s.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. train.epochs=5")
    s.set_defaults(func=_train)

    s = sub.add_parser("tune", help="hyper-parameter search (Optuna): each trial a training run, scored by dev WER")
    s.add_argument("--config", required=True, help="base YAML config (needs data.dev)")
    s.add_argument("--trials", type=int, required=True, help="trials in the study in all (a rerun resumes it)")
    s.add_argument("--out", required=True, help="folder for study.db, trial_<n>/, trials.jsonl, best.yaml")
    s.add_argument("--timeout-minutes", type=float, default=0.0, help="start no new trial after this (0 = no limit)")
    s.add_argument("--space", action="append", metavar="NAME=SPEC",
                   help="change the search space (repeatable): lr=1e-4:3e-3 (range), hidden=128,256 (choices), "
                        "layers=2 (fixed), specaug=off (base value); names: lr, dropout, specaug, hidden, layers")
    s.add_argument("--pruner", choices=["median", "halving", "none"], default="median",
                   help="stop trials whose dev WER trails: median of earlier trials, or successive halving")
    s.add_argument("--prune-after", type=int, default=2, metavar="EPOCHS", help="no trial is pruned before this epoch")
    s.add_argument("overrides", nargs="*", help="section.key=value overrides of the base config, e.g. train.epochs=5")
    s.set_defaults(func=_tune)

    s = sub.add_parser("evaluate", help="WER/CER/RTF of a model on a manifest")
    s.add_argument("--model", help="checkpoint file or training folder (default: the bundled offline English model)")
    s.add_argument("--manifest", required=True, help="JSONL manifest (audio, text)")
    s.add_argument("--json", help="write the results here")
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--device", default="cpu")
    s.add_argument("-q", "--quiet", action="store_true", help="only the summary line")
    _add_decode_args(s)
    s.set_defaults(func=_evaluate)

    s = sub.add_parser("transcribe", help="transcribe audio files")
    s.add_argument("files", nargs="+", help="audio files (wav, flac, ogg/opus, mp3, sph; m4a, mp4, webm, ... with ffmpeg), directories (searched recursively) or globs")
    s.add_argument("--model", help="checkpoint file or training folder (default: the bundled offline English model)")
    s.add_argument("--device", default="cpu", help="cpu or cuda")
    s.add_argument("--format", default="txt", choices=["txt", "json", "srt", "vtt", "tsv", "all"])
    s.add_argument("--output-dir", help="write <file stem>.<format> here instead of printing")
    s.add_argument("--batch-size", type=int, default=8, help="short files decoded together")
    _add_decode_args(s)
    s.set_defaults(func=_transcribe)

    s = sub.add_parser("stream", help="feed a file through the streaming recognizer, printing events")
    s.add_argument("file")
    s.add_argument("--model", help="a unidirectional (streaming) checkpoint (default: the bundled streaming English model)")
    s.add_argument("--realtime", action="store_true", help="pace the audio as if spoken live")
    s.add_argument("--chunk-ms", type=float, default=100.0, help="audio block size fed per call")
    s.add_argument("--partials", action=argparse.BooleanOptionalAction, default=True, help="print partial results")
    _add_stream_args(s)
    s.set_defaults(func=_stream)

    s = sub.add_parser("live", help="transcribe the microphone live")
    s.add_argument("--model", help="a unidirectional (streaming) checkpoint (default: the bundled streaming English model)")
    s.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    s.add_argument("--device", help="input device index or name (default: the system default)")
    s.add_argument("--save", metavar="FILE.wav", help="also keep the captured audio")
    s.add_argument("--output", metavar="FILE.jsonl", help="append events as JSON lines")
    s.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    _add_stream_args(s)
    s.set_defaults(func=_live)

    s = sub.add_parser("export", help="export the streaming step (torch.export) with explicit LSTM state")
    s.add_argument("--model", required=True)
    s.add_argument("-o", "--output", required=True, help="output .pt2 file")
    s.add_argument("--chunk-frames", type=int, default=16, help="output frames per chunk (fixed in the export)")
    s.set_defaults(func=_export)

    s = sub.add_parser("pack", help="shrink a checkpoint for distribution (inference weights only, fp16)")
    s.add_argument("model", help="checkpoint file or training folder")
    s.add_argument("-o", "--output", required=True, help="output .pt file")
    s.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    s.set_defaults(func=_pack)

    s = sub.add_parser("average", help="average the weights of checkpoints of one network (epochs of a run, "
                       "or seeds fine-tuned from the same start)")
    s.add_argument("models", nargs="+", help="checkpoint files or training folders (their best.pt)")
    s.add_argument("-o", "--output", required=True, help="output .pt file")
    s.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="one weight per checkpoint (normalised to sum 1): interpolate, e.g. a general model "
                        "and one fine-tuned from it (default: equal)")
    s.set_defaults(func=_average)

    s = sub.add_parser("lm", help="language models")
    lm_sub = s.add_subparsers(dest="lm_command", required=True)
    b = lm_sub.add_parser("build", help="estimate a modified Kneser-Ney n-gram LM and write ARPA")
    b.add_argument("text", nargs="+", help="text files (one sentence per line) or JSONL manifests (their text)")
    b.add_argument("--order", type=int, default=3, help="n-gram order, 2 to 6 (default 3)")
    b.add_argument("--unit", choices=["word", "char"], default="word", help="word LM (lexicon decoding) or character LM")
    b.add_argument("--spell", nargs="+", metavar="FILE",
                   help="word lists or texts whose distinct words are added spelled out, one sentence each "
                        "('c a t'): for recognizers of spelled names and codes, whose words are letters")
    b.add_argument("-o", "--output", required=True, help="output .arpa file")
    b.set_defaults(func=_lm_build)

    t = lm_sub.add_parser("tune", help="choose the LM weight and word score (and among LMs) by WER on a dev manifest")
    t.add_argument("--model", help="checkpoint file or training folder (default: the bundled model of --kind)")
    t.add_argument("--kind", choices=["offline", "streaming"], default="offline", help="which bundled model, without --model")
    t.add_argument("--manifest", required=True, help="dev JSONL manifest (audio, text): never the split you report")
    t.add_argument("--lm", nargs="+", required=True,
                   help="ARPA or KenLM binary files, or 'bundled' (several: the best is chosen too)")
    t.add_argument("--lm-unit", choices=["auto", "word", "char"], default="auto")
    t.add_argument("--lexicon", help="word list: restrict output to these words")
    t.add_argument("--lm-weights", type=float, nargs="+", metavar="W",
                   help="default: 0 0.1 0.25 0.5 0.75 1 1.5 2 3 (the LM's log10 probabilities are multiplied by it)")
    t.add_argument("--word-scores", type=float, nargs="+", metavar="S", help="default: -1 0 1 2 3 4 (bonus per word)")
    t.add_argument("--beam-size", type=int, default=32)
    t.add_argument("--device", default="cpu")
    t.add_argument("--json", help="write the grid and the best here")
    t.set_defaults(func=_lm_tune)

    s = sub.add_parser("tokenizer", help="SentencePiece vocabularies")
    tok_sub = s.add_subparsers(dest="tokenizer_command", required=True)
    b = tok_sub.add_parser("train", help="train a SentencePiece (unigram or BPE) tokenizer on transcripts")
    b.add_argument("--manifest", nargs="+", required=True, help="JSONL manifests (their text) or text files")
    b.add_argument("--vocab-size", type=int, default=256, help="at most this many pieces")
    b.add_argument("--type", choices=["unigram", "bpe"], default="unigram")
    b.add_argument("-o", "--output", required=True, help="output .model file (use it as data.tokenizer)")
    b.set_defaults(func=_tokenizer_train)

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
