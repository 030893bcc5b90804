"""Hyper-parameter search (``asr tune``): Optuna's seeded TPE sampler over learning rate, dropout,
SpecAugment strength and model size. Each trial is a normal training run in ``<out>/trial_<n>``
(config.yaml, checkpoints, history.jsonl), scored by its best dev WER; after each epoch the
trial reports its dev WER, and a pruner stops runs that trail the others' learning curves.

The study lives in ``<out>/study.db`` (SQLite), so running the same command again resumes it:
``n_trials`` is the total to reach, trial numbers continue, and a trial that was interrupted
mid-run (Ctrl-C: Optuna marks it failed; kill -9: left "running", marked failed here) does not
count. One process per study. At the end: ``trials.jsonl`` (one line per trial) and ``best.yaml``
(the base config with the best trial's overrides, for ``asr train --config``).
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional, Union

from ..config import Config, load_config, save_config

log = logging.getLogger(__name__)

STUDY_NAME = "asr-tune"
# name -> (type, default). A default is a (low, high) range, a [choice, ...] list, a fixed value,
# or None (not searched: the base config's value stays).
PARAMS: dict[str, tuple[type, Any]] = {
    "lr": (float, (3e-4, 5e-3)),  # optim.lr, sampled log-uniformly
    "dropout": (float, (0.0, 0.4)),  # model.dropout
    "specaug": (float, (0.0, 2.0)),  # scales the base augment.freq_mask_width and time_mask_width
    "hidden": (int, [128, 256, 384]),  # model.hidden
    "layers": (int, [2, 3, 4]),  # model.layers
}
PRUNERS = ("median", "halving", "none")
MEDIAN_STARTUP_TRIALS = 3  # the median pruner waits for this many finished trials


def _optuna():
    try:
        import optuna
    except ImportError as e:
        raise ImportError("hyper-parameter search needs Optuna: pip install 'asr[tune]' (or pip install optuna)") from e
    return optuna


def parse_space(items: Optional[list[str]] = None) -> dict[str, Any]:
    """The default search space, changed by ``name=spec`` items: ``lr=1e-4:3e-3`` (a range),
    ``hidden=128,256`` (choices), ``layers=2`` (fixed), ``specaug=off`` (not searched)."""
    space = {name: default for name, (_, default) in PARAMS.items()}
    for item in items or []:
        name, sep, spec = item.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or name not in PARAMS or not spec:
            raise ValueError(f"search space item {item!r} must be NAME=LOW:HIGH, NAME=A,B,... , NAME=VALUE "
                             f"or NAME=off, with NAME one of {sorted(PARAMS)}")
        kind = PARAMS[name][0]
        try:
            if spec == "off":
                space[name] = None
            elif ":" in spec:
                low, high = (kind(v) for v in spec.split(":"))
                if not 0 <= low <= high or (name == "lr" and low <= 0):
                    raise ValueError
                space[name] = (low, high)
            elif "," in spec:
                space[name] = [kind(v) for v in spec.split(",")]
            else:
                space[name] = kind(spec)
        except ValueError:
            raise ValueError(f"search space item {item!r}: bad {kind.__name__} value(s) or range "
                             "(a range is LOW:HIGH with 0 <= LOW <= HIGH)") from None
    return space


def sample(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """One value per searched name: ranges and choices from the trial, fixed values as given."""
    values = {}
    for name, spec in space.items():
        if spec is None:
            continue
        if isinstance(spec, list):
            values[name] = trial.suggest_categorical(name, spec)
        elif isinstance(spec, tuple):
            low, high = spec
            if PARAMS[name][0] is int:
                values[name] = trial.suggest_int(name, low, high)
            else:
                values[name] = trial.suggest_float(name, low, high, log=name == "lr")
        else:
            values[name] = spec
    return values


def _short(x: float) -> str:
    return repr(float(f"{x:.4g}"))


def to_overrides(values: dict[str, Any], base: Config) -> list[str]:
    """``section.key=value`` overrides for sampled values (see PARAMS); floats rounded to 4
    significant digits, for overrides a person can read."""
    out = []
    if "lr" in values:
        out.append(f"optim.lr={_short(values['lr'])}")
    if "dropout" in values:
        out.append(f"model.dropout={_short(values['dropout'])}")
    if "specaug" in values:
        a = base.augment
        out += [f"augment.freq_mask_width={round(a.freq_mask_width * values['specaug'])}",
                f"augment.time_mask_width={round(a.time_mask_width * values['specaug'])}"]
    if "hidden" in values:
        out.append(f"model.hidden={values['hidden']}")
    if "layers" in values:
        out.append(f"model.layers={values['layers']}")
    return out


def make_pruner(pruner: Union[str, Any], prune_after: int = 2) -> Any:
    """A named pruner; epochs are Optuna's steps, and no trial is pruned before epoch
    ``prune_after``. ``median``: below the median of earlier trials at the same epoch (once
    MEDIAN_STARTUP_TRIALS have finished); ``halving``: successive halving (asynchronous), keeping
    the best third at epochs prune_after, 3 x prune_after, ... An Optuna pruner object passes through."""
    optuna = _optuna()
    if not isinstance(pruner, str):
        return pruner
    if pruner not in PRUNERS:
        raise ValueError(f"pruner must be one of {PRUNERS}, got {pruner!r}")
    if prune_after < 1:
        raise ValueError(f"prune_after must be >= 1 epoch, got {prune_after}")
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=prune_after)
    if pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=prune_after, reduction_factor=3)
    return optuna.pruners.NopPruner()


def _trial_row(t: Any, out: Path) -> dict:
    return {"number": t.number, "state": t.state.name.lower(), "dev_wer": t.value, "params": t.params,
            "overrides": t.user_attrs.get("overrides", []), "epochs": t.user_attrs.get("epochs"),
            "dev_wer_by_epoch": {str(k): v for k, v in sorted(t.intermediate_values.items())},
            "out_dir": str(out / f"trial_{t.number}")}


def write_trials(study: Any, out: Path) -> Path:
    """``<out>/trials.jsonl``: one line per trial (any state), rewritten atomically."""
    path = out / "trials.jsonl"
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for t in study.get_trials(deepcopy=False):
            f.write(json.dumps(_trial_row(t, out)) + "\n")
    os.replace(tmp, path)
    return path


def tune(config: Optional[Union[str, Path]], overrides: list[str], out: Union[str, Path], n_trials: int,
         timeout_minutes: float = 0.0, space: Optional[dict[str, Any]] = None, pruner: Union[str, Any] = "median",
         prune_after: int = 2) -> dict:
    """Run (or resume) a search of ``n_trials`` trials in all. ``config`` + ``overrides`` is the
    base; ``space`` comes from :func:`parse_space`. Returns ``{"best": {"number", "dev_wer",
    "overrides", "out_dir"} or None, "best_yaml", "counts": {state: n}, "study": path}``."""
    optuna = _optuna()
    from optuna.trial import TrialState

    from .loop import Trainer

    if n_trials < 1:
        raise ValueError(f"the number of trials must be >= 1, got {n_trials}")
    base = load_config(config, overrides)
    if not base.data.dev:
        raise ValueError("asr tune scores trials by dev WER: the base config needs data.dev")
    space = dict(parse_space() if space is None else space)
    if space.get("specaug") is not None and not (base.augment.freq_masks or base.augment.time_masks):
        log.warning("the base config has no SpecAugment masks: specaug is not searched")
        space["specaug"] = None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=STUDY_NAME, storage=storage, direction="minimize",
                                pruner=make_pruner(pruner, prune_after), load_if_exists=True)
    n_existing = len(study.get_trials(deepcopy=False))
    if not n_existing and any(out.glob("trial_*")):
        raise ValueError(f"{out} holds trial folders but its study.db has no trials: use a new --out")
    # Seeded, and seeded differently on resume: a resumed search must not replay its first samples.
    study.sampler = optuna.samplers.TPESampler(seed=base.train.seed + n_existing, n_startup_trials=5)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # killed mid-run
        study.tell(t.number, state=TrialState.FAIL)
        print(f"trial {t.number} was interrupted: marked failed", file=sys.stderr)

    def objective(trial: Any) -> float:
        trial_overrides = to_overrides(sample(trial, space), base)
        trial.set_user_attr("overrides", trial_overrides)
        run_dir = out / f"trial_{trial.number}"
        cfg = load_config(config, overrides + trial_overrides + [f"train.out_dir={run_dir}"])
        print(f"trial {trial.number}: {' '.join(trial_overrides)} -> {run_dir}", file=sys.stderr)
        pruned = False

        def on_epoch_end(entry: dict) -> bool:
            nonlocal pruned
            if "dev_wer" not in entry:
                return False
            trial.report(entry["dev_wer"], entry["epoch"])
            pruned = trial.should_prune()
            return pruned

        result = Trainer(cfg).fit(on_epoch_end=on_epoch_end)
        trial.set_user_attr("epochs", result["epochs"])
        if pruned:
            raise optuna.TrialPruned(f"dev WER {result['history'][-1]['dev_wer']} at epoch {result['epochs']}")
        return result["best_dev_wer"]

    def after_trial(study: Any, t: Any) -> None:
        write_trials(study, out)
        print(json.dumps({"trial": t.number, "state": t.state.name.lower(), "dev_wer": t.value,
                          "epochs": t.user_attrs.get("epochs")}), file=sys.stderr)

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    if done < n_trials:
        # A RuntimeError (a diverged or out-of-memory run) fails its trial, not the search.
        study.optimize(objective, n_trials=n_trials - done, timeout=timeout_minutes * 60 or None,
                       callbacks=[after_trial], catch=(RuntimeError,))
    write_trials(study, out)
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    result = {"best": None, "best_yaml": None, "counts": counts, "study": str(out / "study.db")}
    if counts.get("complete"):
        b = study.best_trial
        best_overrides = b.user_attrs["overrides"]
        save_config(load_config(config, overrides + best_overrides), out / "best.yaml")
        result["best"] = {"number": b.number, "dev_wer": b.value, "overrides": best_overrides,
                          "out_dir": str(out / f"trial_{b.number}")}
        result["best_yaml"] = str(out / "best.yaml")
    return result
