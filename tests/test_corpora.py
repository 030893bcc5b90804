"""Corpus preparers on tiny fake trees in each corpus's layout, then (marked) on the real corpora."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.data.corpora import CORPORA, prepare_corpus, split_by_speaker
from asr.data.manifest import read_manifest
from asr.text import normalize_text

KEYS = {"audio", "text", "duration", "speaker", "id"}
SHARED_CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def tone(path: Path, seconds: float = 0.25, sr: int = 16000, **kw) -> Path:
    """A short sine + noise file; format/subtype passed to soundfile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * np.random.default_rng(0).standard_normal(len(t))
    sf.write(str(path), x.astype(np.float32), sr, **kw)
    return path


def corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    return path


def load(paths: dict) -> dict[str, list[dict]]:
    return {name: read_manifest(p) for name, p in paths.items()}


def check_rows(rows: list[dict], seconds: float | None = None) -> None:
    for r in rows:
        assert KEYS <= set(r)
        assert Path(r["audio"]).is_absolute() and Path(r["audio"]).is_file()
        assert r["text"] and r["text"] == normalize_text(r["text"])
        assert r["duration"] > 0
        if seconds is not None:
            assert r["duration"] == pytest.approx(seconds, abs=0.01)
    assert len({r["id"] for r in rows}) == len(rows)


def speakers(rows: list[dict]) -> set[str]:
    return {r["speaker"] for r in rows}


# ---------------------------------------------------------------------------------------------
# split_by_speaker


def fake_rows(n_speakers: int = 10, per: int = 5) -> list[dict]:
    return [{"id": f"s{s}-{i}", "speaker": f"s{s}", "duration": 1.0} for s in range(n_speakers) for i in range(per)]


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.3, 0.9])
def test_split_by_speaker_is_disjoint_and_complete(fraction):
    rows = fake_rows()
    train, dev = split_by_speaker(rows, fraction, seed=3)
    assert speakers(train).isdisjoint(speakers(dev))
    assert len(speakers(dev)) >= 1 and len(speakers(train)) >= 1
    assert sorted(r["id"] for r in train + dev) == sorted(r["id"] for r in rows)
    assert [r for r in rows if r in train] == train  # order kept


def test_split_by_speaker_is_deterministic_and_order_independent():
    rows = fake_rows(n_speakers=20)
    _, dev1 = split_by_speaker(rows, 0.2, seed=7)
    _, dev2 = split_by_speaker(list(reversed(rows)), 0.2, seed=7)
    assert speakers(dev1) == speakers(dev2)
    assert any(speakers(split_by_speaker(rows, 0.2, seed=s)[1]) != speakers(dev1) for s in range(5))


def test_split_by_speaker_edge_cases():
    rows = fake_rows(n_speakers=2)
    assert split_by_speaker(rows, 0.0) == (rows, [])
    train, dev = split_by_speaker(rows, 0.01)  # tiny fraction still gives one whole speaker
    assert len(speakers(dev)) == 1 and len(speakers(train)) == 1
    with pytest.raises(ValueError, match="1.5"):
        split_by_speaker(rows, 1.5)
    with pytest.raises(ValueError, match="1 speaker"):
        split_by_speaker(fake_rows(n_speakers=1), 0.1)


def test_prepare_corpus_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="'timit'"):
        prepare_corpus("timit", tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="nowhere"):
        prepare_corpus("an4", tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(ValueError, match="an4_train.transcription not found"):
        prepare_corpus("an4", tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="-0.1"):
        prepare_corpus("an4", tmp_path, tmp_path / "out", dev_fraction=-0.1)
    assert {"an4", "fsdd", "librispeech", "librilight", "kaldi"} <= set(CORPORA)


# ---------------------------------------------------------------------------------------------
# AN4


def fake_an4(root: Path, ext: str, broken: bool = True) -> None:
    kw = {"format": "NIST", "subtype": "PCM_16"} if ext == ".sph" else {}
    train = [(spk, f"an{i}-{spk}-b") for spk in ("fash", "mcel", "mjwl", "fjlp", "marh") for i in (1, 2)]
    test = [(spk, f"an{i}-{spk}-b") for spk in ("fcaw", "menk") for i in (3, 4)]
    for split, folder, items in (("train", "an4_clstk", train), ("test", "an4test_clstk", test)):
        (root / "etc").mkdir(parents=True, exist_ok=True)
        fmt = "<s> B A O Z FIVE-THREE </s> ({})" if split == "train" else "ERASE C Q, Seven ({})"
        (root / "etc" / f"an4_{split}.transcription").write_text("\n".join(fmt.format(u) for _, u in items) + "\n")
        (root / "etc" / f"an4_{split}.fileids").write_text("\n".join(f"{folder}/{s}/{u}" for s, u in items) + "\n")
        for spk, utt in items:
            tone(root / "wav" / folder / spk / f"{utt}{ext}", **kw)
    if broken:  # one listed file missing, one unreadable
        (root / "wav" / "an4_clstk" / "fash" / f"an1-fash-b{ext}").unlink()
        corrupt(root / "wav" / "an4_clstk" / "mcel" / f"an2-mcel-b{ext}")


@pytest.mark.parametrize("ext", [".sph", ".flac", ".wav"])
def test_an4(tmp_path, ext, caplog):
    fake_an4(tmp_path / "an4", ext)
    with caplog.at_level(logging.WARNING):
        paths = prepare_corpus("an4", tmp_path / "an4", tmp_path / "out", dev_fraction=0.2)
    assert set(paths) == {"train", "dev", "test"}
    m = load(paths)
    for rows in m.values():
        check_rows(rows, seconds=0.25)
    assert len(m["train"]) + len(m["dev"]) == 8 and len(m["test"]) == 4
    assert {r["text"] for r in m["train"] + m["dev"]} == {"b a o z five three"}
    assert {r["text"] for r in m["test"]} == {"erase c q seven"}
    assert speakers(m["train"]).isdisjoint(speakers(m["dev"])) and m["dev"]
    assert speakers(m["test"]) == {"fcaw", "menk"}
    assert not {r["id"] for r in m["test"]} & {r["id"] for r in m["train"] + m["dev"]}
    assert all(r["audio"].endswith(ext) for rows in m.values() for r in rows)
    assert "an1-fash-b" in caplog.text and "an2-mcel-b" in caplog.text


def test_an4_accepts_parent_folder(tmp_path):
    fake_an4(tmp_path / "an4", ".flac", broken=False)
    m = load(prepare_corpus("an4", tmp_path, tmp_path / "out"))
    assert len(m["train"]) + len(m["dev"]) == 10


# ---------------------------------------------------------------------------------------------
# FSDD


def test_fsdd(tmp_path, caplog):
    rec = tmp_path / "fsdd" / "recordings"
    for digit in (0, 7):
        for spk in ("jackson", "theo", "george"):
            for i in range(12):
                tone(rec / f"{digit}_{spk}_{i}.wav", seconds=0.1, sr=8000)
    corrupt(rec / "7_theo_11.wav")
    (rec / "README.txt").write_text("not a recording")
    with caplog.at_level(logging.WARNING):
        m = load(prepare_corpus("fsdd", tmp_path / "fsdd", tmp_path / "out"))
    for rows in m.values():
        check_rows(rows, seconds=0.1)
    index = lambda r: int(r["id"].rsplit("_", 1)[1])  # noqa: E731
    assert {index(r) for r in m["test"]} == {0, 1, 2, 3, 4} and len(m["test"]) == 30
    assert {index(r) for r in m["dev"]} == {5}  # 0.1 of the 7 training indices, rounded, at least 1
    assert {index(r) for r in m["train"]} == set(range(6, 12))
    assert len(m["train"]) == 6 * 6 - 1  # the corrupt file is skipped, the rest kept
    assert {r["text"] for r in m["train"]} == {"zero", "seven"}
    assert all(r["text"] == ("seven" if r["id"].startswith("7") else "zero") for rows in m.values() for r in rows)
    assert "7_theo_11" in caplog.text


def test_fsdd_empty_folder_names_layout(tmp_path):
    with pytest.raises(ValueError, match="recordings"):
        prepare_corpus("fsdd", tmp_path, tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# LibriSpeech / Libri-light


def fake_chapter(folder: Path, spk: str, chap: str, n: int, ext: str, **kw) -> None:
    lines = []
    for i in range(n):
        utt = f"{spk}-{chap}-{i:04d}"
        tone(folder / spk / chap / f"{utt}{ext}", **kw)
        lines.append(f"{utt} HE SAID THAT'S THE AUTHORS' BOOK")
    (folder / spk / chap / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")


def test_librispeech_subsets_flac(tmp_path):
    src = tmp_path / "LibriSpeech"
    for spk in ("19", "26"):
        fake_chapter(src / "train-clean-100", spk, "198", 2, ".flac")
    fake_chapter(src / "dev-clean", "84", "121", 2, ".flac")
    (src / "dev-clean" / "84" / "121" / "84-121-0001.flac").unlink()
    m = load(prepare_corpus("librispeech", tmp_path, tmp_path / "out"))
    assert set(m) == {"train-clean-100", "dev-clean"}
    assert len(m["train-clean-100"]) == 4 and len(m["dev-clean"]) == 1
    for rows in m.values():
        check_rows(rows, seconds=0.25)
    assert m["dev-clean"][0]["text"] == "he said that's the authors book"
    assert speakers(m["train-clean-100"]) == {"19", "26"}


def test_librilight_opus_tree_gets_speaker_disjoint_splits(tmp_path):
    src = tmp_path / "librispeech_finetuning"
    for k, spk in enumerate(("101", "102", "103", "104", "105", "106", "107", "108")):
        sub = src / "1h" / str(k % 2) / ("clean" if k % 3 else "other")
        sr = 48000 if k % 2 else 16000
        fake_chapter(sub, spk, "5", 2, ".opus", sr=sr, format="OGG", subtype="OPUS")
    corrupt(src / "1h" / "1" / "clean" / "102" / "5" / "102-5-0001.opus")
    m = load(prepare_corpus("librilight", src, tmp_path / "out", dev_fraction=0.1))
    assert set(m) == {"all", "train", "dev", "test"}
    for rows in m.values():
        check_rows(rows, seconds=0.25)
    assert len(m["all"]) == 15
    assert len(m["train"]) + len(m["dev"]) + len(m["test"]) == 15
    tr, dv, te = speakers(m["train"]), speakers(m["dev"]), speakers(m["test"])
    assert tr and dv and te and tr.isdisjoint(dv) and tr.isdisjoint(te) and dv.isdisjoint(te)


def test_librispeech_without_transcripts_names_layout(tmp_path):
    with pytest.raises(ValueError, match="trans.txt"):
        prepare_corpus("librispeech", tmp_path, tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# Kaldi data dir


def fake_kaldi(root: Path, name: str = "train") -> Path:
    data = root / name
    data.mkdir(parents=True)
    scp, text, utt2spk = [], [], []
    for spk in ("0001", "0002", "0003", "0004"):
        for i in range(3):
            utt = f"{spk}{i:04d}"
            tone(root / "WAVE" / f"SPEAKER{spk}" / f"{utt}.opus", format="OGG", subtype="OPUS")
            scp.append(f"{utt} WAVE/SPEAKER{spk}/{utt}.opus")  # relative to the data dir's parent
            text.append(f"{utt}\tWE CALL IT BEAR!")
            utt2spk.append(f"{utt} {spk}")
    scp[0] = f"{scp[0].split()[0]} {tone(root / 'abs.flac')}"  # absolute
    tone(data / "local.wav")
    scp[1] = f"{scp[1].split()[0]} local.wav"  # relative to the data dir
    scp[2] = f"{scp[2].split()[0]} sph2pipe -f wav x.sph |"  # piped: skipped
    scp[3] = f"{scp[3].split()[0]} WAVE/gone.opus"  # missing: skipped
    (data / "wav.scp").write_text("\n".join(scp) + "\n")
    (data / "text").write_text("\n".join(text) + "\n")
    (data / "utt2spk").write_text("\n".join(utt2spk) + "\n")
    return data


def test_kaldi(tmp_path, caplog):
    data = fake_kaldi(tmp_path)
    with caplog.at_level(logging.WARNING):
        m = load(prepare_corpus("kaldi", data, tmp_path / "out", dev_fraction=0.25))
    assert set(m) == {"all", "train", "dev"}
    for rows in m.values():
        check_rows(rows)
    assert len(m["all"]) == 10 and {r["text"] for r in m["all"]} == {"we call it bear"}
    assert sorted(r["id"] for r in m["train"] + m["dev"]) == sorted(r["id"] for r in m["all"])
    assert speakers(m["train"]).isdisjoint(speakers(m["dev"])) and m["dev"]
    assert "sph2pipe" in caplog.text and "gone.opus" in caplog.text


def test_kaldi_no_split_and_eval_dirs_untouched(tmp_path):
    m = load(prepare_corpus("kaldi", fake_kaldi(tmp_path / "a"), tmp_path / "out_a", dev_fraction=0))
    assert set(m) == {"train"} and len(m["train"]) == 10
    m = load(prepare_corpus("kaldi", fake_kaldi(tmp_path / "b", "test_clean"), tmp_path / "out_b"))
    assert set(m) == {"test_clean"}
    with pytest.raises(ValueError, match="wav.scp not found"):
        prepare_corpus("kaldi", tmp_path, tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# Real corpora (../shared/corpora next to the project); header reads only, a few seconds in all


def real(name: str) -> Path:
    path = SHARED_CORPORA / name
    if not path.is_dir():
        pytest.skip(f"real corpus not available: {path} is absent (only on dev machines and CI)")
    return path


@pytest.mark.corpora
def test_real_an4(tmp_path):
    m = load(prepare_corpus("an4", real("an4"), tmp_path))
    assert len(m["train"]) + len(m["dev"]) == 948 and len(m["test"]) == 130
    assert speakers(m["train"]).isdisjoint(speakers(m["dev"]))
    assert speakers(m["test"]).isdisjoint(speakers(m["train"]) | speakers(m["dev"]))
    check_rows(m["test"])


@pytest.mark.corpora
def test_real_fsdd(tmp_path):
    m = load(prepare_corpus("fsdd", real("fsdd"), tmp_path))
    assert len(m["train"]) + len(m["dev"]) == 2700 and len(m["test"]) == 300
    assert {r["text"] for r in m["test"]} == {"zero", "one", "two", "three", "four", "five", "six", "seven",
                                              "eight", "nine"}


@pytest.mark.corpora
def test_real_speechocean762(tmp_path):
    m = load(prepare_corpus("kaldi", real("speechocean762") / "train", tmp_path))
    assert len(m["all"]) == 2500 and len(m["train"]) + len(m["dev"]) == 2500
    assert len(speakers(m["all"])) == 125
    assert speakers(m["train"]).isdisjoint(speakers(m["dev"]))


@pytest.mark.corpora
def test_real_librilight(tmp_path):
    m = load(prepare_corpus("librilight", real("librispeech_finetuning"), tmp_path))
    assert 1500 <= len(m["all"]) <= 1600
    assert len(m["train"]) + len(m["dev"]) + len(m["test"]) == len(m["all"])
    assert 5.0 < sum(r["duration"] for r in m["all"]) / 3600 < 6.0
    tr, dv, te = speakers(m["train"]), speakers(m["dev"]), speakers(m["test"])
    assert tr.isdisjoint(dv) and tr.isdisjoint(te) and dv.isdisjoint(te)
