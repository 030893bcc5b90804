"""JSONL manifests: paths resolve against the manifest folder, errors name the line, writes are atomic."""
from __future__ import annotations

import json

import pytest

from asr.data.manifest import read_manifest, write_manifest


def test_round_trip_and_relative_paths(tmp_path, monkeypatch):
    rows = [
        {"audio": "wavs/a.wav", "text": "hello", "duration": 1.5, "speaker": "s1", "id": "a"},
        {"audio": "/abs/b.flac", "text": "world", "duration": 2.0, "speaker": "s2", "id": "b"},
    ]
    path = tmp_path / "sub" / "m.jsonl"
    assert write_manifest(path, iter(rows)) == 2
    monkeypatch.chdir(tmp_path)  # reading through a relative path still resolves against the manifest's folder
    back = read_manifest("sub/m.jsonl")
    assert back[0]["audio"] == str(tmp_path / "sub" / "wavs" / "a.wav")
    assert back[1]["audio"] == "/abs/b.flac"
    for got, want in zip(back, rows):
        assert {k: v for k, v in got.items() if k != "audio"} == {k: v for k, v in want.items() if k != "audio"}


def test_nemo_keys_and_defaults(tmp_path):
    path = tmp_path / "nemo.json"
    path.write_text(json.dumps({"audio_filepath": "x/utt1.wav", "duration": 1.0}) + "\n\n")
    (row,) = read_manifest(path)  # blank lines are skipped
    assert "audio_filepath" not in row
    assert row["audio"] == str(tmp_path / "x" / "utt1.wav")
    assert row["id"] == "utt1" and row["speaker"] == "" and row["text"] == ""


def test_bad_json_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"audio": "a.wav", "text": "a"})
    path.write_text(f"{good}\n{good}\n{{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:3:"):
        read_manifest(path)
    path.write_text(f"{good}\n{json.dumps({'text': 'no audio'})}\n")
    with pytest.raises(ValueError, match=r":2: no 'audio'"):
        read_manifest(path)
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_manifest(tmp_path / "missing.jsonl")


def test_write_is_atomic(tmp_path):
    path = tmp_path / "m.jsonl"
    write_manifest(path, [{"audio": "a.wav", "text": "old"}])
    assert [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]

    def failing_rows():
        yield {"audio": "b.wav", "text": "new"}
        yield {"audio": object()}  # not JSON serialisable

    with pytest.raises(TypeError):
        write_manifest(path, failing_rows())
    assert [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]  # no .tmp left behind
    assert [r["text"] for r in read_manifest(path)] == ["old"]  # old content intact
