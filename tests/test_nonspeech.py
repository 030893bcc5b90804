"""Non-speech training rows: the generator's clips and manifest, load_rows keeping them (and
only them) with an empty transcript, and CTC training on a batch that holds one."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf
import torch

from asr.data.dataset import collate, load_rows
from asr.data.manifest import write_manifest
from asr.data.nonspeech import SR, clip, synthesize_nonspeech
from asr.text import Vocabulary


def test_clips_are_varied_audible_and_reproducible():
    a, b = clip(np.random.default_rng([0, 1])), clip(np.random.default_rng([0, 1]))
    assert np.array_equal(a, b)
    clips = [clip(np.random.default_rng([0, i])) for i in range(12)]
    for c in clips:
        assert c.dtype == np.float32 and 2.0 * SR <= len(c) <= 8.0 * SR
        peak = float(np.abs(c).max())
        assert 10 ** (-41 / 20) < peak <= 10 ** (-3 / 20) + 1e-6
    assert len({len(c) for c in clips}) == len(clips)


def test_manifest_rows_are_marked_and_kept_by_load_rows(tmp_path):
    manifest = synthesize_nonspeech(tmp_path, 3, seed=5, name="ns")
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(rows) == 3 and all(r["text"] == "" and r["nonspeech"] is True for r in rows)
    audio, sr = sf.read(tmp_path / rows[0]["audio"])
    assert sr == SR and abs(len(audio) / SR - rows[0]["duration"]) < 1e-3
    # An empty transcript without the mark is still dropped.
    write_manifest(tmp_path / "mixed.jsonl", rows + [{"audio": rows[0]["audio"], "text": "", "duration": 1.0, "id": "x"},
                                                     {"audio": rows[0]["audio"], "text": "Hello", "duration": 1.0, "id": "y"}])
    kept = load_rows([str(tmp_path / "mixed.jsonl")])
    assert [r["id"] for r in kept] == ["ns_00000", "ns_00001", "ns_00002", "y"]
    assert kept[-1]["text"] == "hello"


def test_ctc_on_an_empty_target_is_finite_and_rewards_blank():
    vocab = Vocabulary()
    batch = collate([torch.zeros(40, 3), torch.zeros(30, 3)], ["", "ab"], ["n", "s"], vocab, 0.01)
    assert batch.target_lens.tolist() == [0, 2] and batch.targets.tolist() == vocab.encode("ab")
    ctc = torch.nn.CTCLoss(blank=vocab.blank, reduction="none", zero_infinity=True)
    lens = torch.tensor([40, 30])
    blankish = torch.full((40, 2, len(vocab)), -8.0)
    blankish[:, :, vocab.blank] = -0.01
    letters = torch.full((40, 2, len(vocab)), -8.0)
    letters[:, :, vocab.encode("a")[0]] = -0.01
    loss_blank, loss_letters = ctc(blankish, batch.targets, lens, batch.target_lens), ctc(letters, batch.targets, lens, batch.target_lens)
    assert torch.isfinite(loss_blank).all() and loss_blank[0] < loss_letters[0]
