"""Hyper-parameter search: trials are normal training runs, the study resumes, poor trials are
pruned through the Trainer's epoch-end hook, best.yaml trains like any config."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from asr.cli import main
from asr.config import load_config
from asr.model import load_checkpoint
from asr.train.loop import Trainer
from asr.train.tune import PARAMS, STUDY_NAME, parse_space, to_overrides, tune

optuna = pytest.importorskip("optuna")

TINY = ["model.hidden=8", "model.layers=1", "train.epochs=2", "train.batch_size=4", "train.threads=1",
        "train.checkpoint_every=0", "train.patience=0", "augment.speed_factors=[]", "optim.warmup_steps=2"]
# A small space around the tiny model: every trial stays a few seconds long.
SPACE = ["lr=1e-3:1e-2", "dropout=0:0.2", "specaug=0.5:1.5", "hidden=8,16", "layers=1"]


@pytest.fixture(scope="module")
def tiny_corpus(synth_corpus, tmp_path_factory) -> dict[str, Path]:
    """6 training and 3 dev utterances of ``synth_corpus`` (absolute audio paths)."""
    from asr.data.manifest import read_manifest, write_manifest

    out = tmp_path_factory.mktemp("tiny")
    for split, n in (("train", 6), ("dev", 3)):
        write_manifest(out / f"{split}.jsonl", read_manifest(synth_corpus[split])[:n])
    return {split: out / f"{split}.jsonl" for split in ("train", "dev")}


def _base(corpus: dict) -> list[str]:
    return [f"data.train=[{corpus['train']}]", f"data.dev={corpus['dev']}", *TINY]


def _trials(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]


def test_epoch_end_callback_can_stop_training(tiny_corpus, tmp_path):
    seen = []

    def on_epoch_end(entry: dict) -> bool:
        seen.append(entry)
        return len(seen) == 2  # go on after epoch 1, stop after epoch 2 of 3

    cfg = load_config(None, _base(tiny_corpus) + ["train.epochs=3", f"train.out_dir={tmp_path}"])
    result = Trainer(cfg).fit(on_epoch_end=on_epoch_end)
    assert [e["epoch"] for e in seen] == [1, 2] and all("dev_wer" in e for e in seen)
    assert result["epochs"] == 2 and len(result["history"]) == 2
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 2
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 2 and (tmp_path / "best.pt").is_file()


def test_search_writes_runs_best_yaml_and_resumes(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "tune"
    args = ["tune", "--config", os.devnull, "--out", str(out), "--pruner", "none"]
    args += [a for item in SPACE for a in ("--space", item)]
    assert main([*args, "--trials", "2", *_base(tiny_corpus)]) == 0
    printed = capsys.readouterr().out
    rows = _trials(out)
    assert [(r["number"], r["state"]) for r in rows] == [(0, "complete"), (1, "complete")]
    for r in rows:  # each trial is a complete normal run
        run = Path(r["out_dir"])
        assert run == out / f"trial_{r['number']}"
        assert (run / "best.pt").is_file() and (run / "config.yaml").is_file()
        assert len((run / "history.jsonl").read_text().splitlines()) == 2 == r["epochs"]
        assert load_config(run / "config.yaml").model.hidden == r["params"]["hidden"]
    best = min(rows, key=lambda r: r["dev_wer"])
    assert f"best: trial {best['number']}" in printed
    got = load_config(out / "best.yaml")
    want = load_config(os.devnull, _base(tiny_corpus) + best["overrides"])
    assert got == want and got.model.hidden == best["params"]["hidden"]
    assert got.optim.lr == pytest.approx(best["params"]["lr"], rel=1e-3)
    assert got.model.dropout == pytest.approx(best["params"]["dropout"], rel=1e-3, abs=1e-6)

    # A search killed mid-trial leaves that trial "running"; the rerun marks it failed and goes on
    # counting: 3 trials in all means one more, numbered after the others.
    optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}").ask()
    assert main([*args, "--trials", "3", *_base(tiny_corpus)]) == 0
    rows = _trials(out)
    assert [(r["number"], r["state"]) for r in rows] == [(0, "complete"), (1, "complete"), (2, "fail"), (3, "complete")]
    assert (out / "trial_3" / "best.pt").is_file()
    assert rows[3]["params"] not in (rows[0]["params"], rows[1]["params"])  # not a replay of the first samples


def test_trailing_trial_is_pruned(tiny_corpus, tmp_path):
    """Three finished trials at 0% WER from epoch 1: with the median pruner, any real tiny run
    trails them after its first epoch and stops there, still a complete run."""
    out = tmp_path / "tune"
    out.mkdir()
    study = optuna.create_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}", direction="minimize")
    for _ in range(3):
        study.add_trial(optuna.trial.create_trial(value=0.0, intermediate_values={1: 0.0, 2: 0.0},
                                                  user_attrs={"overrides": []}))
    res = tune(os.devnull, _base(tiny_corpus), out, n_trials=4, space=parse_space(SPACE), pruner="median", prune_after=1)
    row = _trials(out)[3]
    assert row["state"] == "pruned" and row["epochs"] == 1 and list(row["dev_wer_by_epoch"]) == ["1"]
    assert len((out / "trial_3" / "history.jsonl").read_text().splitlines()) == 1
    assert (out / "trial_3" / "best.pt").is_file()
    assert res["counts"] == {"complete": 3, "pruned": 1} and res["best"]["number"] in (0, 1, 2)


def test_search_space_parsing():
    assert parse_space() == {name: default for name, (_, default) in PARAMS.items()}
    space = parse_space(["lr=1e-4:3e-3", "hidden=128,256", "layers=2", "specaug=off"])
    assert space["lr"] == (1e-4, 3e-3) and space["hidden"] == [128, 256] and space["layers"] == 2
    assert space["specaug"] is None and space["dropout"] == PARAMS["dropout"][1]
    for bad in ["lr", "size=1,2", "lr=3e-3:1e-4", "lr=0:1e-3", "hidden=1.5,2", "dropout=a:b"]:
        with pytest.raises(ValueError, match="search space item"):
            parse_space([bad])
    base = load_config(None, ["augment.freq_mask_width=10", "augment.time_mask_width=30"])
    assert to_overrides({"specaug": 1.5, "layers": 2}, base) == [
        "augment.freq_mask_width=15", "augment.time_mask_width=45", "model.layers=2"]


def test_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="data.dev"):
        tune(None, [], tmp_path, n_trials=1)
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'asr\[tune\]'"):
        tune(None, ["data.dev=dev.jsonl"], tmp_path, n_trials=1)
