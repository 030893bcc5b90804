"""Many files: input expansion, batch transcription with bad files in the mix, long files in
segments, and the ``asr transcribe`` command's outputs."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.cli import main
from asr.segment import SegmenterConfig
from asr.transcribe import AUDIO_EXTENSIONS, FileResult, expand_inputs, transcribe_files
from asr.writers import FORMATS

from helpers import speechlike  # noqa: E402

SR = 16000


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> dict[str, str]:
    """Good files of different lengths, formats and rates; a corrupt, an empty and a missing one."""
    d = tmp_path_factory.mktemp("audio")
    files = {}
    for name, sr, secs, seed in [("one.wav", SR, 1.0, 1), ("two.flac", SR, 1.6, 2), ("three.wav", 8000, 0.7, 3),
                                 ("four.wav", SR, 1.3, 4), ("five.ogg", SR, 0.9, 5)]:
        sf.write(str(d / name), speechlike(sr, secs, seed), sr)
        files[name] = str(d / name)
    (d / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(200)))
    (d / "empty.wav").write_bytes(b"")
    files["corrupt.wav"] = str(d / "corrupt.wav")
    files["empty.wav"] = str(d / "empty.wav")
    files["missing.wav"] = str(d / "missing.wav")
    return files


# ---------------------------------------------------------------- expand_inputs
def test_expand_inputs(tmp_path):
    d = tmp_path / "corpus"
    for rel in ["b.wav", "a.WAV", "sub/c.flac", "sub/deeper/d.mp3", "sub/notes.txt", "sub/e.ogg", "z.opus", "x.json"]:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(b"x")
    # Globs, sorted; recursive with **.
    assert expand_inputs([str(d / "*.wav")]) == [str(d / "b.wav")]  # case-sensitive, as the shell's
    assert expand_inputs([str(d / "**" / "*.ogg"), str(d / "?.opus")]) == [str(d / "sub" / "e.ogg"), str(d / "z.opus")]
    # Glob matches are filtered to audio files; a pattern that matches nothing is kept (and reported).
    assert expand_inputs([str(d / "sub" / "*.*")]) == [str(d / "sub" / "c.flac"), str(d / "sub" / "e.ogg")]
    assert expand_inputs([str(d / "nothing*.wav")]) == [str(d / "nothing*.wav")]
    # A directory: recursive, audio extensions only (any case), sorted.
    (d / "folder.wav").mkdir()  # a directory with an audio name is not a file
    audio = ["a.WAV", "b.wav", "sub/c.flac", "sub/deeper/d.mp3", "sub/e.ogg", "z.opus"]
    assert expand_inputs([str(d)]) == sorted(str(d / r) for r in audio)
    assert all(Path(p).suffix.lower() in AUDIO_EXTENSIONS for p in expand_inputs([str(d)]))
    # Order of the items is kept; a missing path stays, to be reported.
    single = str(d / "x.json")
    missing = str(tmp_path / "gone.wav")
    out = expand_inputs([single, missing, str(d / "sub")])
    assert out == [single, missing] + sorted(str(d / "sub" / r) for r in ["c.flac", "deeper/d.mp3", "e.ogg"])


# ---------------------------------------------------------------- transcribe_files
ORDER = ["one.wav", "corrupt.wav", "two.flac", "missing.wav", "three.wav", "empty.wav", "four.wav", "five.ogg"]


def run_files(rec, audio_dir, batch_size: int) -> list[FileResult]:
    return list(transcribe_files(rec, [audio_dir[n] for n in ORDER], batch_size=batch_size))


def test_order_errors_and_transcripts(rec, audio_dir):
    results = run_files(rec, audio_dir, batch_size=8)
    assert [r.path for r in results] == [audio_dir[n] for n in ORDER]
    for r, name in zip(results, ORDER):
        if name in ("corrupt.wav", "missing.wav", "empty.wav"):
            assert r.error and name in r.error and r.segments == []
        else:
            assert r.error is None, r.error
            info = sf.info(r.path)
            assert r.duration == pytest.approx(info.frames / info.samplerate, abs=1e-3)
            (seg,) = r.segments
            assert seg.start == 0.0 and seg.end == pytest.approx(r.duration, abs=1e-3)
            assert r.text and r.text == seg.text
            assert r.text == rec.transcribe(r.path).text
            assert all(0.0 <= w.start < w.end <= seg.end + 0.03 for w in seg.words)
    assert "no such file" in results[ORDER.index("missing.wav")].error


def test_batched_equals_one_by_one(rec, audio_dir):
    batched = run_files(rec, audio_dir, batch_size=8)
    single = run_files(rec, audio_dir, batch_size=1)
    small = run_files(rec, audio_dir, batch_size=2)  # batches cut by errors and by size
    for a, b, c in zip(batched, single, small):
        assert a.path == b.path == c.path
        assert (a.error is None) == (b.error is None) == (c.error is None)
        assert a.text == b.text == c.text
        assert a.duration == pytest.approx(b.duration, abs=1e-3)
        for sa, sb in zip(a.segments, b.segments):
            assert [(w.text, w.start, w.end) for w in sa.words] == [(w.text, w.start, w.end) for w in sb.words]
            assert [w.confidence for w in sa.words] == pytest.approx([w.confidence for w in sb.words], abs=1e-4)


def test_results_come_out_lazily(rec, audio_dir):
    """A generator: the first batch is out before later files are even looked at."""
    paths = [audio_dir["one.wav"], audio_dir["two.flac"], audio_dir["missing.wav"]]
    gen = transcribe_files(rec, iter(paths), batch_size=2)
    first = next(gen)
    assert first.path == paths[0] and first.error is None
    rest = list(gen)
    assert [r.path for r in rest] == paths[1:]


def test_long_file_is_transcribed_in_segments(rec, tmp_path):
    """5 s with pauses and max_seconds=2: several segments, times in the file's time."""
    x = speechlike(SR, 5.0, seed=7)
    env = np.zeros(len(x), np.float32)
    speech = [(0.3, 1.3), (1.9, 2.9), (3.5, 4.6)]
    for a, b in speech:
        env[int(a * SR):int(b * SR)] = 1.0
    path = tmp_path / "long.wav"
    sf.write(str(path), x * env, SR, subtype="FLOAT")
    cfg = SegmenterConfig(max_seconds=2.0)
    (res,) = transcribe_files(rec, [str(path)], batch_size=8, segmenter=cfg)
    assert res.error is None and res.duration == pytest.approx(5.0)
    segs = res.segments
    assert len(segs) == len(speech)
    prev_end = 0.0
    for seg, (a, b) in zip(segs, speech):
        assert prev_end <= seg.start < seg.end <= 5.0
        assert seg.start <= a and seg.end >= b  # each stretch of speech is inside its segment
        assert seg.end - seg.start <= cfg.max_seconds
        assert seg.words  # the test model says something in each
        for w in seg.words:
            assert seg.start - 1e-9 <= w.start < w.end <= seg.end + 0.03 + 1e-9  # file time, not segment time
        prev_end = seg.end
    assert res.text == " ".join(s.text for s in segs if s.text)
    # The same segments as the Recognizer API gives for the file.
    api = list(rec.segments(str(path), segmenter=cfg))
    assert [(s.start, s.end, s.text) for s in api] == [(s.start, s.end, s.text) for s in segs]


# ---------------------------------------------------------------- asr transcribe
def test_cli_format_all_writes_every_file(model_path, audio_dir, tmp_path, capsys):
    out = tmp_path / "out"
    inputs = [audio_dir["one.wav"], audio_dir["two.flac"]]
    assert main(["transcribe", *inputs, "--model", str(model_path), "--format", "all", "--output-dir", str(out)]) == 0
    expected = sorted(f"{stem}.{fmt}" for stem in ("one", "two") for fmt in FORMATS)
    assert sorted(p.name for p in out.iterdir()) == expected
    doc = json.loads((out / "one.json").read_text())
    assert doc["audio"] == audio_dir["one.wav"] and doc["segments"]
    assert (out / "two.txt").read_text().strip() == json.loads((out / "two.json").read_text())["text"]


def test_cli_json_to_stdout(model_path, audio_dir, capsys, rec):
    assert main(["transcribe", audio_dir["four.wav"], "--model", str(model_path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["audio"] == audio_dir["four.wav"]
    assert doc["duration"] == pytest.approx(1.3)
    assert doc["text"] == rec.transcribe(audio_dir["four.wav"]).text


def test_cli_txt_reports_bad_files_and_goes_on(model_path, audio_dir, capsys, rec):
    inputs = [audio_dir["one.wav"], audio_dir["corrupt.wav"], audio_dir["three.wav"]]
    assert main(["transcribe", *inputs, "--model", str(model_path)]) == 1
    cap = capsys.readouterr()
    lines = cap.out.strip().split("\n")
    assert lines == [f"{p}\t{rec.transcribe(p).text}" for p in (inputs[0], inputs[2])]
    assert "corrupt.wav" in cap.err and "1 of 3 files failed" in cap.err


def test_cli_nbest_prints_ranked_lines(model_path, audio_dir, capsys):
    path = audio_dir["one.wav"]
    assert main(["transcribe", path, "--model", str(model_path), "--nbest", "3"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().split("\n")]
    assert [r[2] for r in rows] == ["1", "2", "3"]
    assert all(r[0] == path and float(r[1]) == 0.0 for r in rows)
    scores = [float(r[3]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert len({r[4] for r in rows}) == 3  # distinct texts


def test_cli_usage_errors(model_path, tmp_path, audio_dir, capsys):
    assert main(["transcribe", audio_dir["one.wav"], "--model", str(model_path), "--format", "all"]) == 2
    assert "--output-dir" in capsys.readouterr().err
    assert main(["transcribe", str(tmp_path / "none*.wav"), "--model", str(model_path)]) == 1  # reported as failed
    assert "none*.wav: no such file" in capsys.readouterr().err
    (tmp_path / "emptydir").mkdir()
    assert main(["transcribe", str(tmp_path / "emptydir"), "--model", str(model_path)]) == 2
    assert "no audio files" in capsys.readouterr().err


@pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("ffprobe")), reason="ffmpeg not installed (apt-get install ffmpeg)")
def test_m4a_in_a_directory_is_found_and_transcribed_like_its_wav(rec, audio_dir, tmp_path):
    d = tmp_path / "recordings"
    d.mkdir()
    wav = audio_dir["two.flac"]
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", wav, "-c:a", "alac", str(d / "phone.m4a")], check=True)
    (found,) = expand_inputs([str(d)])
    assert found.endswith("phone.m4a")
    (res,) = transcribe_files(rec, [found])
    assert res.error is None and res.text == rec.transcribe(wav).text
    assert res.duration == pytest.approx(1.6, abs=0.01)
