"""The command line: thin commands that report bad input and go on."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.cli import main
from asr.config import FeatureConfig, ModelConfig
from asr.data.manifest import write_manifest
from asr.model import AcousticModel
from asr.text import Vocabulary


@pytest.fixture()
def tiny_model(tmp_path) -> Path:
    torch.manual_seed(0)
    m = AcousticModel(FeatureConfig(), ModelConfig(hidden=16, layers=1), Vocabulary())
    path = tmp_path / "model.pt"
    m.save(path)
    return path


def _wav(path: Path, seconds: float = 0.5, sr: int = 16000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), sr)
    return path


def test_transcribe_reports_bad_file_and_goes_on(tiny_model, tmp_path, capsys):
    good = _wav(tmp_path / "good.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    missing = tmp_path / "missing.flac"
    rc = main(["transcribe", "--model", str(tiny_model), str(good), str(bad), str(missing), str(good)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert out.count(str(good)) == 2  # both good files transcribed, one line each
    assert "bad.wav" in err and "missing.flac" in err and "2 of 4 files failed" in err


def test_evaluate_json_and_summary_line(tiny_model, tmp_path, capsys):
    rows = [{"audio": str(_wav(tmp_path / f"{i}.wav", 0.3 + 0.1 * i)), "text": "hello", "id": f"u{i}", "duration": 0.3 + 0.1 * i}
            for i in range(3)]
    rows.append({"audio": str(tmp_path / "gone.wav"), "text": "lost", "id": "gone", "duration": 1.0})
    write_manifest(tmp_path / "m.jsonl", rows)
    rc = main(["evaluate", "--model", str(tiny_model), "--manifest", str(tmp_path / "m.jsonl"), "--json", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert rc == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("WER ") and "CER " in last and "RTF " in last and "n=3" in last
    r = json.loads((tmp_path / "r.json").read_text())
    assert {"wer", "cer", "rtf", "n", "utterances"} <= set(r)
    assert r["n"] == 3 and len(r["utterances"]) == 3 and len(r["failed"]) == 1
    assert all({"ref", "hyp", "id"} <= set(u) for u in r["utterances"])
    assert "gone.wav" in err


def test_prepare_command_writes_manifests(tmp_path, capsys):
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    for digit in range(3):
        for spk in ("jackson", "nicolas"):
            for idx in range(0, 12):
                _wav(rec / f"{digit}_{spk}_{idx}.wav", 0.2, 8000)
    rc = main(["prepare", "fsdd", str(tmp_path / "fsdd"), "--out", str(tmp_path / "out")])
    assert rc == 0
    test = [json.loads(l) for l in (tmp_path / "out" / "test.jsonl").read_text().splitlines()]
    assert len(test) == 3 * 2 * 5 and {r["text"] for r in test} == {"zero", "one", "two"}


def test_unknown_corpus_is_a_clear_error(tmp_path, capsys):
    assert main(["prepare", "timit", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "timit" in capsys.readouterr().err


def test_python_dash_m_works():
    r = subprocess.run([sys.executable, "-m", "asr", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "transcribe" in r.stdout


def test_evaluate_reads_only_a_segment_rows_span(tiny_model, tmp_path):
    """A row with ``offset`` (TED-LIUM style) scores its span of the long file, the same as the
    span cut out into a file of its own."""
    sr = 16000
    rng = np.random.default_rng(0)
    long = (0.1 * rng.standard_normal(2 * sr)).astype(np.float32)
    sf.write(tmp_path / "long.wav", long, sr)
    sf.write(tmp_path / "cut.wav", long[int(0.5 * sr) : int(1.1 * sr)], sr)
    write_manifest(tmp_path / "seg.jsonl", [{"audio": str(tmp_path / "long.wav"), "offset": 0.5, "duration": 0.6, "text": "a", "id": "s"}])
    write_manifest(tmp_path / "cut.jsonl", [{"audio": str(tmp_path / "cut.wav"), "duration": 0.6, "text": "a", "id": "s"}])
    for name in ("seg", "cut"):
        assert main(["evaluate", "--model", str(tiny_model), "--manifest", str(tmp_path / f"{name}.jsonl"),
                     "--json", str(tmp_path / f"{name}.json")]) == 0
    seg, cut = (json.loads((tmp_path / f"{n}.json").read_text())["utterances"][0]["hyp"] for n in ("seg", "cut"))
    assert seg == cut
