"""Training throughput -> results/train_throughput.json: seconds of audio trained per wall-clock
second, on AN4, for configs/an4.yaml's model (3x256 BiLSTM, stack 3 / stride 2) and a 4x320
BiLSTM at 4x subsampling (stack 4 / stride 4).

    python benchmarks/train_throughput.py [--source ../shared/corpora/an4] [--steps 30] [--warmup 3]

Set-ups, each in fresh processes: one CPU process (all cores as torch threads); two CPU processes
under torchrun (DDP over gloo, cores split between them); both again under bf16 autocast
(``train.amp=bf16``: oneDNN runs the LSTMs and linear layers in bfloat16 where the CPU has
AVX512-BF16 or AMX, CTC stays fp32); and where CUDA exists, one GPU in fp32 and in bf16 autocast. Each process prepares its ``warmup + steps`` batches first (features,
speed perturbation), so the clock covers the training step alone: SpecAugment, forward, CTC,
backward (with DDP's gradient all-reduce), clipping and the optimizer. Throughput = audio seconds
of the timed steps, over all processes, / wall time of the slowest. Per-process batch: the
config's (16) on CPU, ``--gpu-batch-size`` on the GPU; DDP doubles the global batch.

Key ``<setup>_audio_s_per_s`` maps model -> audio s/s. ``--no-save`` prints without writing
(smoke tests: ``--steps 2 --warmup 1 --limit 40 --no-save``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, SHARED_CORPORA, write_result  # noqa: E402

MODELS = {
    "an4_3x256_stride2": [],  # configs/an4.yaml as it is
    "bilstm_4x320_stride4": ["model.layers=4", "model.hidden=320", "model.stack=4", "model.stride=4"],
}


def measure(args: argparse.Namespace) -> None:
    """Worker: one process of a set-up (under torchrun when DDP). Rank 0 writes ``args.out``."""
    import torch

    from asr.config import load_config
    from asr.train.distributed import barrier, session
    from asr.train.loop import Trainer

    cfg = load_config(args.config, [f"data.train=[{args.train}]", "data.dev=null", f"train.out_dir={args.run_dir}",
                                    f"train.threads={args.threads}", f"train.device={args.device}",
                                    f"train.amp={args.amp}", *MODELS[args.model], *args.overrides])
    with session(cfg.train.device) as env:
        trainer = Trainer(cfg, env=env)
        stream = trainer.data.stream(0, 0, cfg.train.epochs)
        groups = []
        while len(groups) < args.warmup + args.steps:
            batch = next(stream)[2]
            if batch is not None or env.distributed:
                groups.append([batch])
        seconds, t0 = 0.0, 0.0
        for k, group in enumerate(groups):
            if k == args.warmup:
                if trainer.device.type == "cuda":
                    torch.cuda.synchronize(trainer.device)
                barrier(env)
                t0 = time.perf_counter()
            _, s = trainer.train_step(group)  # (loss, audio seconds of all ranks); waits for the step
            trainer.step += 1
            if k >= args.warmup:
                seconds += s
        wall = time.perf_counter() - t0
        barrier(env)
        if env.is_main:
            device = str(trainer.device)
            if trainer.device.type == "cuda":
                device += f" ({torch.cuda.get_device_name(trainer.device)})"
            Path(args.out).write_text(json.dumps({
                "audio_s_per_s": seconds / wall, "audio_s": seconds, "wall_s": wall, "steps": args.steps,
                "processes": env.world_size, "threads_per_process": torch.get_num_threads(),
                "batch_size_per_process": cfg.train.batch_size, "params": trainer.model.num_params(),
                "device": device,
            }))


def run_setup(args: argparse.Namespace, train: Path, model: str, nproc: int, threads: int, device: str, amp: str,
              extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        worker = [str(Path(__file__).resolve()), "--worker", "--config", args.config, "--train", str(train),
                  "--run-dir", str(Path(tmp) / "run"), "--model", model, "--threads", str(threads), "--device", device,
                  "--amp", amp, "--steps", str(args.steps), "--warmup", str(args.warmup), "--out", str(out), *extra]
        if nproc > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *worker]
        else:
            cmd = [sys.executable, *worker]
        print("running:", " ".join(cmd), flush=True)
        env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"{model} ({nproc} x {device} {amp}) failed:\n{r.stderr[-3000:]}")
        res = json.loads(out.read_text())
    print(f"  {model}: {res['audio_s_per_s']:.1f} audio s/s ({res['steps']} steps, {res['wall_s']:.1f} s)", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=SHARED_CORPORA / "an4")
    ap.add_argument("--data", type=Path, help="already prepared AN4 manifests (default: prepare into --workdir)")
    ap.add_argument("--config", default=str(ROOT / "configs" / "an4.yaml"))
    ap.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench_train_throughput")
    ap.add_argument("--steps", type=int, default=30, help="timed optimizer steps per set-up")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--gpu-batch-size", type=int, default=32)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training utterances (smoke tests)")
    ap.add_argument("--no-save", action="store_true", help="print results, do not write results/train_throughput.json")
    ap.add_argument("overrides", nargs="*", help="config overrides for every set-up")
    # Worker mode (internal): one process of a set-up.
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("--train", "--run-dir", "--model", "--device", "--amp", "--out"):
        ap.add_argument(name, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        measure(args)
        return

    import torch

    from asr.data.corpora import prepare_corpus
    from asr.data.manifest import read_manifest, write_manifest

    if args.data:
        train = args.data / "train.jsonl"
    else:
        if not args.source.is_dir():
            sys.exit(f"AN4 not found at {args.source}; pass --source /path/to/an4 (CMU layout)")
        train = prepare_corpus("an4", args.source, args.workdir / "data")["train"]
    if args.limit:
        subset = args.workdir / f"train_first{args.limit}.jsonl"
        write_manifest(subset, list(read_manifest(train))[: args.limit])
        train = subset
    cores = os.cpu_count() or 1
    setups = {
        "cpu_1proc": (1, cores, "cpu", "none", []),
        "cpu_2proc_ddp": (2, max(1, cores // 2), "cpu", "none", []),
        "cpu_1proc_bf16": (1, cores, "cpu", "bf16", []),
        "cpu_2proc_ddp_bf16": (2, max(1, cores // 2), "cpu", "bf16", []),
    }
    if torch.cuda.is_available():
        gpu = [f"train.batch_size={args.gpu_batch_size}"]
        setups["gpu_fp32"] = (1, 0, "cuda", "none", gpu)
        setups["gpu_bf16"] = (1, 0, "cuda", "bf16", gpu)
    results: dict = {}
    for setup, (nproc, threads, device, amp, extra) in setups.items():
        print(f"{setup}:", flush=True)
        for model in MODELS:
            res = run_setup(args, train, model, nproc, threads, device, amp, [*extra, *args.overrides])
            results.setdefault(f"{setup}_audio_s_per_s", {})[model] = round(res["audio_s_per_s"], 2)
            results.setdefault("details", {}).setdefault(setup, {})[model] = res
    summary = {**{k: v for k, v in results.items() if k != "details"},
               "models": {m: o or ["as in the config"] for m, o in MODELS.items()}, "config": args.config, "steps": args.steps, "warmup": args.warmup, "train_manifest": str(train),
               "details": results["details"]}
    if args.no_save:
        print(json.dumps(summary, indent=2))
    else:
        write_result("train_throughput.json", summary)


if __name__ == "__main__":
    main()
