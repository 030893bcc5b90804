"""Prepare a corpus, train one model per seed (in parallel processes), evaluate each on test.

Used by benchmarks/an4.py and benchmarks/fsdd.py.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.config import load_config  # noqa: E402
from asr.data.corpora import prepare_corpus  # noqa: E402
from asr.evaluate import evaluate  # noqa: E402
from asr.transcribe import load_model  # noqa: E402


def finished_run(out: Path, log: Path, expected: list[str]) -> Optional[float]:
    """A seed's training that already ran to its end with the same settings: its wall time in
    seconds (config.yaml written at the start -> history.jsonl's last write), else None."""
    try:
        last = log.read_text().strip().splitlines()[-1]
        done = "best_dev_wer" in json.loads(last)
    except (OSError, IndexError, ValueError):
        return None
    if not done or not (out / "best.pt").is_file():
        return None
    if asdict(load_config(out / "config.yaml")) != asdict(load_config(expected[0], expected[1:])):
        raise RuntimeError(f"{out} was trained with other settings than asked; remove it or drop --reuse")
    return (out / "history.jsonl").stat().st_mtime - (out / "config.yaml").stat().st_mtime


def run(corpus: str, source: Path, config: str, workdir: Path, seeds: list[int], threads: int,
        overrides: list[str], reuse: bool = False) -> dict:
    """``reuse``: a seed whose run in ``workdir`` already finished with the same settings is
    evaluated, not trained again (its wall time is read from the run's files)."""
    manifests = prepare_corpus(corpus, source, workdir / "data")
    procs = []
    for seed in seeds:
        out = workdir / f"seed{seed}"
        settings = [f"data.train=[{manifests['train']}]", f"data.dev={manifests['dev']}",
                    f"train.out_dir={out}", f"train.seed={seed}", f"train.threads={threads}", *overrides]
        wall = finished_run(out, workdir / f"seed{seed}.log", [config, *settings]) if reuse else None
        if wall is not None:
            print(f"seed {seed}: reusing the finished run in {out} ({wall / 60:.1f} min)", flush=True)
            procs.append((seed, out, None, wall, None))
            continue
        cmd = [sys.executable, "-m", "asr", "train", "--config", config, *settings]
        log = open(workdir / f"seed{seed}.log", "w")
        print("running:", " ".join(cmd), flush=True)
        procs.append((seed, out, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), time.time(), log))
    runs = []
    for seed, out, p, t0, log in procs:
        if p is None:  # reused: t0 holds the wall time
            rc, wall = 0, t0
        else:
            rc = p.wait()
            wall = time.time() - t0
            log.close()
        if rc != 0:
            raise RuntimeError(f"training seed {seed} failed (exit {rc}); see {workdir}/seed{seed}.log")
        hist = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines() if l.strip()]
        rec = load_model(out / "best.pt")
        res = evaluate(rec, str(manifests["test"]))
        print(f"seed {seed}: test WER {res['wer']:.2f}%  CER {res['cer']:.2f}%  ({wall / 60:.1f} min)", flush=True)
        runs.append({"seed": seed, "wer": res["wer"], "cer": res["cer"], "rtf": res["rtf"], "train_wall_s": round(wall, 1),
                     "epochs": sum(1 for h in hist if "epoch" in h), "best_dev_wer": min(h.get("dev_wer", 1e9) for h in hist),
                     "averaged": any(h.get("best") for h in hist if "averaged_epochs" in h),
                     "params": rec.model.num_params(), "result": res})
    return {"manifests": {k: str(v) for k, v in manifests.items()}, "runs": runs}


def summarize(runs: list[dict]) -> dict:
    return {
        "wer": statistics.median(r["wer"] for r in runs),
        "cer": statistics.median(r["cer"] for r in runs),
        "wer_seeds": [r["wer"] for r in runs],
        "cer_seeds": [r["cer"] for r in runs],
        "params": runs[0]["params"],
        "train_wall_s": max(r["train_wall_s"] for r in runs),
        "train_wall_s_seeds": [r["train_wall_s"] for r in runs],
        "epochs": [r["epochs"] for r in runs],
        "best_dev_wer_seeds": [r["best_dev_wer"] for r in runs],
        "rtf": statistics.median(r["rtf"] for r in runs),
    }
