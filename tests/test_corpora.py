"""Corpus preparers on tiny fake trees in each corpus's layout, then (marked) on the real corpora."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.data.corpora import CORPORA, prepare_corpus, split_by_speaker, split_by_utterance
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


# ---------------------------------------------------------------------------------------------
# Common Voice

CV_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age",
             "gender", "accents", "variant", "locale", "segment"]
CV_SENTENCES = ('In 1984, he paid $5 for the 3rd "copy".', "It's 50% off!", "Hello there.")


def mp3(path: Path, **kw) -> Path:
    if "MP3" not in sf.available_formats():
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) cannot write MP3 (needs >= 1.1 with LAME)")
    return tone(path, sr=48000, format="MP3", subtype="MPEG_LAYER_III", **kw)


def fake_commonvoice(root: Path, header: list[str] = CV_HEADER, splits: tuple[str, ...] = ("train", "dev", "test")) -> Path:
    loc = root / "cv-corpus-17.0-2024-03-15" / "en"
    speakers_of = {"train": ("aa11", "bb22", "cc33"), "dev": ("dd44",), "test": ("ee55",)}
    validated = []
    for split, spks in speakers_of.items():
        lines = []
        for spk in spks:
            for i, sentence in enumerate(CV_SENTENCES[:2]):
                clip = f"common_voice_en_{spk}{i}.mp3"
                mp3(loc / "clips" / clip)
                values = {"client_id": spk, "path": clip, "sentence": sentence, "locale": "en", "up_votes": "2"}
                lines.append("\t".join(values.get(c, "") for c in header))
        validated += lines
        if split in splits:
            (loc / f"{split}.tsv").write_text("\t".join(header) + "\n" + "\n".join(lines) + "\n")
    (loc / "validated.tsv").write_text("\t".join(header) + "\n" + "\n".join(validated) + "\n")
    (loc / "invalidated.tsv").write_text("\t".join(header) + "\n")
    corrupt(loc / "clips" / "common_voice_en_bb220.mp3")
    (loc / "clips" / "common_voice_en_ee551.mp3").unlink()
    return loc


def test_commonvoice(tmp_path, caplog):
    fake_commonvoice(tmp_path)
    with caplog.at_level(logging.WARNING):  # found from the release folder, one level above the locale
        m = load(prepare_corpus("commonvoice", tmp_path / "cv-corpus-17.0-2024-03-15", tmp_path / "out"))
    assert set(m) == {"train", "dev", "test"}
    for rows in m.values():
        check_rows(rows, seconds=0.25)
    assert len(m["train"]) == 5 and len(m["dev"]) == 2 and len(m["test"]) == 1  # official splits, not carved
    assert speakers(m["train"]) == {"aa11", "bb22", "cc33"} and speakers(m["dev"]) == {"dd44"}
    assert {r["text"] for r in m["train"]} == {"in nineteen eighty four he paid five dollars for the third copy",
                                               "it's fifty percent off"}
    assert m["test"][0]["id"] == "common_voice_en_ee550" and m["test"][0]["audio"].endswith(".mp3")
    assert "common_voice_en_bb220" in caplog.text and "common_voice_en_ee551" in caplog.text


def test_commonvoice_old_column_order_and_validated_only(tmp_path):
    header = ["path", "sentence", "client_id", "up_votes", "down_votes", "age", "gender", "accent"]  # no locale
    loc = fake_commonvoice(tmp_path, header, splits=())
    m = load(prepare_corpus("commonvoice", loc, tmp_path / "out", dev_fraction=0.25))
    assert set(m) == {"all", "train", "dev", "test"}
    assert len(m["all"]) == 8 and len(m["train"]) + len(m["dev"]) + len(m["test"]) == 8
    tr, dv, te = speakers(m["train"]), speakers(m["dev"]), speakers(m["test"])
    assert tr and dv and te and tr.isdisjoint(dv) and tr.isdisjoint(te) and dv.isdisjoint(te)


def test_commonvoice_other_language_digits_skipped(tmp_path, caplog):
    loc = tmp_path / "fr"
    mp3(loc / "clips" / "common_voice_fr_1.mp3")
    mp3(loc / "clips" / "common_voice_fr_2.mp3")
    (loc / "train.tsv").write_text("client_id\tpath\tsentence\nx\tcommon_voice_fr_1.mp3\tIl a 3 chats.\n"
                                   "x\tcommon_voice_fr_2\tC'est \u00e9t\u00e9.\n")  # no extension: looked up
    with caplog.at_level(logging.WARNING):
        m = load(prepare_corpus("commonvoice", loc, tmp_path / "out"))
    assert [r["text"] for r in m["train"]] == ["c'est ete"]
    assert "common_voice_fr_1" in caplog.text and "dev.tsv" in caplog.text
    (loc / "train.tsv").write_text("client_id\tfile\tsentence\n")
    with pytest.raises(ValueError, match=r"no column \['path'\]"):
        prepare_corpus("commonvoice", loc, tmp_path / "out")
    with pytest.raises(ValueError, match="train.tsv or validated.tsv"):
        prepare_corpus("commonvoice", tmp_path / "fr" / "clips", tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# LJSpeech


def fake_ljspeech(root: Path, n: int = 20, reverse: bool = False) -> Path:
    ds = root / "LJSpeech-1.1"
    lines = []
    for i in range(1, n + 1):
        utt = f"LJ00{i % 3 + 1}-{i:04d}"
        tone(ds / "wavs" / f"{utt}.wav", seconds=0.2, sr=22050)
        if i % 2:
            lines.append(f'{utt}|Printing, in 1984, cost "$5".|Printing, in nineteen eighty-four, cost "five dollars".')
        else:  # no normalized column: the raw text's digits are expanded
            lines.append(f"{utt}|He was the 3rd man, Mr. Smith.")
    (ds / "metadata.csv").write_text("\n".join(reversed(lines) if reverse else lines) + "\n")
    (ds / "wavs" / "LJ002-0001.wav").unlink()
    corrupt(ds / "wavs" / "LJ003-0002.wav")
    return ds


def test_ljspeech(tmp_path, caplog):
    fake_ljspeech(tmp_path / "a")
    with caplog.at_level(logging.WARNING):
        m = load(prepare_corpus("ljspeech", tmp_path / "a", tmp_path / "out_a", dev_fraction=0.1))
    assert set(m) == {"train", "dev", "test"}
    for rows in m.values():
        check_rows(rows, seconds=0.2)
    ids = {name: {r["id"] for r in rows} for name, rows in m.items()}
    assert len(ids["test"]) == 2 and len(ids["dev"]) == 2 and len(ids["train"]) == 14  # 18 usable, 10% each
    assert not ids["train"] & ids["dev"] and not ids["train"] & ids["test"] and not ids["dev"] & ids["test"]
    assert {r["text"] for rows in m.values() for r in rows} == {"printing in nineteen eighty four cost five dollars",
                                                               "he was the third man mister smith"}
    assert speakers(m["train"] + m["dev"] + m["test"]) == {"LJSpeech-1.1"}
    assert "LJ002-0001" in caplog.text and "LJ003-0002" in caplog.text
    # The same ids whatever the order of metadata.csv; another seed, other ids.
    fake_ljspeech(tmp_path / "b", reverse=True)
    m2 = load(prepare_corpus("ljspeech", tmp_path / "b" / "LJSpeech-1.1", tmp_path / "out_b", dev_fraction=0.1))
    assert {name: {r["id"] for r in rows} for name, rows in m2.items()} == ids
    m3 = load(prepare_corpus("ljspeech", tmp_path / "a", tmp_path / "out_c", dev_fraction=0.1, seed=1))
    assert {r["id"] for r in m3["test"]} != ids["test"] or {r["id"] for r in m3["dev"]} != ids["dev"]


def test_split_by_utterance_edge_cases():
    rows = [{"id": str(i)} for i in range(4)]
    assert split_by_utterance(rows, 0, 0) == (rows, [], [])
    train, dev, test = split_by_utterance(rows, 0.01, 0.01)  # small fractions still hold out one each
    assert len(train) == 2 and len(dev) == 1 and len(test) == 1
    with pytest.raises(ValueError, match="lower the fractions"):
        split_by_utterance(rows[:2], 0.1, 0.1)
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_utterance(rows, 0.1, 1.0)


# ---------------------------------------------------------------------------------------------
# TED-LIUM

TALK_SECONDS = 3.0


def ramp_sph(path: Path, sr: int = 16000) -> Path:
    """A NIST SPHERE file whose sample value says its time: x(t) = t / 4 (exact in 16-bit PCM at 1/2**15)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(TALK_SECONDS * sr)) / sr
    sf.write(str(path), (t / 4).astype(np.float32), sr, format="NIST", subtype="PCM_16")
    return path


def fake_talk(folder: Path, talk: str, audio: str = "ok") -> None:
    if audio == "ok":
        ramp_sph(folder / "sph" / f"{talk}.sph")
    elif audio == "corrupt":
        corrupt(folder / "sph" / f"{talk}.sph")
    stm = [
        f"{talk} 1 {talk} 0.00 0.50 <o,f0,male> ignore_time_segment_in_scoring",
        f"{talk} 1 {talk} 0.50 1.25 <o,f0,male> i 've {{NOISE}} seen it(2) <unk> there",
        f"{talk} 1 {talk} 1.25 2.90 <o,f0,male> we 're here",
        f"{talk} 1 {talk} 2.90 3.40 <o,f0,male> past the end",  # clipped to the 3 s recording
        f"{talk} 1 {talk} 3.50 4.00 <o,f0,male> wholly outside",  # skipped
        f"{talk} 1 {talk} 4.00 4.50 <o,f0,male> {{NOISE}}",  # empty after cleaning
    ]
    (folder / "stm").mkdir(parents=True, exist_ok=True)
    (folder / "stm" / f"{talk}.stm").write_text("\n".join(stm) + "\n")


def test_tedlium_official_splits_and_offsets(tmp_path, caplog):
    legacy = tmp_path / "TEDLIUM_release-3" / "legacy"
    fake_talk(legacy / "train", "AaronHuey_2010X")
    fake_talk(legacy / "train", "BrokenTalk_2011", audio="corrupt")
    fake_talk(legacy / "dev", "DanBarber_2010")
    fake_talk(legacy / "test", "MissingTalk_2012", audio="missing")
    fake_talk(legacy / "test", "JaneMcGonigal_2010")
    with caplog.at_level(logging.WARNING):
        m = load(prepare_corpus("tedlium", tmp_path / "TEDLIUM_release-3", tmp_path / "out"))
    assert set(m) == {"train", "dev", "test"}
    assert [len(m[s]) for s in ("train", "dev", "test")] == [3, 3, 3]
    for rows in m.values():
        check_rows(rows)
    rows = m["train"]
    assert [r["text"] for r in rows] == ["i've seen it there", "we're here", "past the end"]
    assert [(r["offset"], r["duration"]) for r in rows] == [(0.5, 0.75), (1.25, 1.65), (2.9, pytest.approx(0.1))]
    assert rows[0]["id"] == "AaronHuey_2010X-0000050-0000125" and speakers(rows) == {"AaronHuey_2010X"}
    assert all(r["audio"].endswith("AaronHuey_2010X.sph") for r in rows)
    assert speakers(m["test"]) == {"JaneMcGonigal_2010"}
    assert "BrokenTalk_2011" in caplog.text and "MissingTalk_2012" in caplog.text and "wholly" not in caplog.text
    assert "AaronHuey_2010X-0000350-0000400" in caplog.text  # the segment past the end of the talk
    # The rows cut the right samples out of the talk (the ramp says where we are), in training too.
    from asr.audio import load_audio
    from asr.config import FeatureConfig
    from asr.data.dataset import UtteranceFeatures
    from asr.data.manifest import segment

    for r in rows:
        x = load_audio(r["audio"], 16000, *segment(r))
        assert len(x) == round(r["duration"] * 16000)
        assert x[0] == pytest.approx(r["offset"] / 4, abs=1e-4)
        assert x[-1] == pytest.approx((r["offset"] + r["duration"]) / 4, abs=1e-4)
    cfg = FeatureConfig()
    feats = UtteranceFeatures(rows, cfg, cache=False)
    for i, r in enumerate(rows):
        assert feats.get(i).shape[0] == pytest.approx(r["duration"] / cfg.frame_shift, abs=3)


def test_tedlium_single_folder_split_by_speaker(tmp_path):
    for talk in ("A_2010", "B_2011", "C_2012", "D_2013"):
        fake_talk(tmp_path / "TEDLIUM_release-3" / "data", talk)
    m = load(prepare_corpus("tedlium", tmp_path / "TEDLIUM_release-3", tmp_path / "out", dev_fraction=0.25))
    assert set(m) == {"data", "train", "dev"} and len(m["data"]) == 12
    assert speakers(m["train"]).isdisjoint(speakers(m["dev"])) and m["dev"]
    assert sorted(r["id"] for r in m["train"] + m["dev"]) == sorted(r["id"] for r in m["data"])
    with pytest.raises(ValueError, match="stm"):
        prepare_corpus("tedlium", tmp_path / "out", tmp_path / "out2")


def test_manifest_segment_rows(tmp_path):
    from asr.audio import load_audio
    from asr.data.manifest import segment, write_manifest

    assert segment({"audio": "a.wav", "duration": 2.0}) == (0.0, None)  # a whole file
    assert segment({"offset": 1.5, "duration": 2.0}) == (1.5, 2.0)
    for bad in ({"offset": -1, "duration": 1}, {"offset": 1}, {"offset": "x", "duration": 1}):
        with pytest.raises(ValueError, match="offset"):
            segment(bad)
    write_manifest(tmp_path / "m.jsonl", [{"audio": "a.sph", "text": "a", "offset": 1.0, "duration": 1.0},
                                          {"audio": "a.sph", "text": "b", "offset": 1.0}])
    with pytest.raises(ValueError, match=r"m\.jsonl:2: .*duration"):
        read_manifest(tmp_path / "m.jsonl")
    talk = ramp_sph(tmp_path / "talk.sph")
    assert len(load_audio(talk, 16000, 2.5, 1.0)) == 8000  # cut short at the end of the file
    with pytest.raises(ValueError, match="past the end"):
        load_audio(talk, 16000, 3.5, 1.0)


# ---------------------------------------------------------------------------------------------
# Generic CSV / TSV


def test_csv_tsv_with_default_columns(tmp_path, caplog):
    data = tmp_path / "mine"
    for i in range(6):
        tone(data / "audio" / f"u{i}.flac", seconds=0.3)
    absolute = tone(tmp_path / "elsewhere" / "abs.wav", seconds=0.3)
    corrupt(data / "audio" / "u5.flac")
    lines = ["Speaker_ID\tFilename\tTranscript\tnotes",
             *(f"s{i % 3}\taudio/u{i}.flac\tRoom {i}, \"B\" wing\t" for i in range(4)),
             "s1\taudio/u4\tThe 2nd door\tno extension",
             "s2\taudio/u5.flac\tcorrupt\t", "s2\taudio/gone.flac\tmissing\t", f"s0\t{absolute}\tabsolute path\t"]
    (data / "train.tsv").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        m = load(prepare_corpus("csv", data / "train.tsv", tmp_path / "out", dev_fraction=0.3))
    assert set(m) == {"all", "train", "dev"}
    for rows in m.values():
        check_rows(rows, seconds=0.3)
    assert [r["text"] for r in m["all"]] == ["room zero b wing", "room one b wing", "room two b wing",
                                             "room three b wing", "the second door", "absolute path"]
    assert [r["id"] for r in m["all"]][:2] == ["audio/u0", "audio/u1"]
    assert speakers(m["all"]) == {"s0", "s1", "s2"} and speakers(m["train"]).isdisjoint(speakers(m["dev"]))
    assert "audio/u5" in caplog.text and "gone.flac" in caplog.text


def test_csv_sniffed_named_columns_and_cli(tmp_path, capsys):
    from asr.cli import main

    for i in range(3):
        tone(tmp_path / "wav" / f"{i}.wav")
    rows = ["clip;words;who", *(f'wav/{i}.wav;"Say {i + 1}; then stop";spk{i}' for i in range(3))]
    (tmp_path / "test_set.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"no an audio path column among \['clip', 'words', 'who'\]"):
        prepare_corpus("csv", tmp_path / "test_set.csv", tmp_path / "out")
    m = load(prepare_corpus("csv", tmp_path, tmp_path / "out", path_column="Clip", text_column="words"))
    assert set(m) == {"test_set"}  # named like an evaluation set: never split
    assert [r["text"] for r in m["test_set"]] == ["say one then stop", "say two then stop", "say three then stop"]
    assert speakers(m["test_set"]) == {"wav/0", "wav/1", "wav/2"}  # no speaker column: each its own
    with pytest.raises(ValueError, match="speaker column 'talker'"):
        prepare_corpus("csv", tmp_path, tmp_path / "out", path_column="clip", text_column="words",
                       speaker_column="talker")
    with pytest.raises(ValueError, match=r"an4: unknown option\(s\) \['text_column'\]"):
        prepare_corpus("an4", tmp_path, tmp_path / "out", text_column="words")
    rc = main(["prepare", "csv", str(tmp_path / "test_set.csv"), "--out", str(tmp_path / "cli"),
               "--path-column", "clip", "--text-column", "words", "--speaker-column", "who"])
    assert rc == 0 and "test_set\t" in capsys.readouterr().out
    assert speakers(read_manifest(tmp_path / "cli" / "test_set.jsonl")) == {"spk0", "spk1", "spk2"}
    assert main(["prepare", "ljspeech", str(tmp_path), "--out", str(tmp_path / "o"), "--text-column", "x"]) == 2


def test_new_corpora_are_registered():
    assert {"commonvoice", "ljspeech", "tedlium", "csv"} <= set(CORPORA)
