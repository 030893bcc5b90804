"""Synthesize the example clips in examples/ (committed; rerun to regenerate them).

    python scripts/make_examples.py --out examples

espeak-ng speaks a few sentences in different voices, speeds and pitches; each clip is written as
16 kHz mono FLAC with its transcript beside it (examples/transcripts.tsv) and a manifest
(examples/examples.jsonl) so that ``asr evaluate --manifest examples/examples.jsonl`` scores them.
The sentences are in the style of the bundled models' strongest training data: spoken commands,
digits, dates and spelled letters (AN4, FSDD).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import load_audio
from asr.data.manifest import write_manifest
from asr.data.synth import spoken_form, synthesize
from asr.text import normalize_text

SAMPLE_RATE = 16000
PAD_SECONDS = 0.3
# (name, text, espeak voice, speed wpm, pitch). The bundled models know commands, digits, dates
# and spelled letters (AN4, FSDD) far better than free English (see the README's model card), so
# the examples show that; none of these sentences is in the training data.
EXAMPLES = [
    ("digits", "enter five three one two", "en-us", 150, 50),
    ("spelling", "erase s m i t h", "en-us+f3", 140, 60),
    ("command", "stop", "en-gb", 150, 45),
    ("date", "october twenty first nineteen seventy two", "en-us+m3", 150, 40),
]


def make_examples(out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, text, voice, speed, pitch in EXAMPLES:
        wav = synthesize(spoken_form(text), out / f"{name}.tmp.wav", voice=voice, speed=speed, pitch=pitch)
        audio = load_audio(wav, SAMPLE_RATE)
        wav.unlink()
        pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), dtype=np.float32)
        audio = np.concatenate([pad, audio, pad])
        path = out / f"{name}.flac"
        sf.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
        rows.append({"audio": path.name, "text": normalize_text(text), "duration": round(len(audio) / SAMPLE_RATE, 3),
                     "speaker": voice, "id": name})
    write_manifest(out / "examples.jsonl", rows)
    (out / "transcripts.tsv").write_text("".join(f"{r['audio']}\t{r['text']}\n" for r in rows))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("examples"))
    args = p.parse_args(argv)
    for r in make_examples(args.out):
        print(f"{args.out / r['audio']}\t{r['duration']:.2f}s\t{r['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
