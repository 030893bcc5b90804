"""The look-ahead convolution's cost per streaming chunk -> results/lookahead_taps.json.

    python benchmarks/lookahead_taps.py [--lookahead 2] [--hidden 384] [--chunk-frames 6]

Times the taps of ``model.lookahead`` over one chunk (``--chunk-frames`` output frames plus the
waiting ones) on one thread, two ways: ``nn.Conv1d``'s forward (grouped, one group per channel)
and ``AcousticModel._look_ahead``'s shifted products, each with oneDNN on and off (streaming
steps run with it off, see ``asr.streaming._without_onednn``). Median of 7 runs of 500 calls.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.config import FeatureConfig, ModelConfig  # noqa: E402
from asr.model import AcousticModel  # noqa: E402
from asr.text import Vocabulary  # noqa: E402
from benchmarks.common import write_result  # noqa: E402


def per_call_us(fn, calls: int = 500, runs: int = 7) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls * 1e6)
    return round(statistics.median(times), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lookahead", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--chunk-frames", type=int, default=6, help="output frames per chunk (6 = 120 ms at stride 2)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=args.hidden, layers=1, stride=2, bidirectional=False, lookahead=args.lookahead)
    model = AcousticModel(FeatureConfig(), cfg, Vocabulary()).eval()
    torch.nn.init.normal_(model.lookahead.weight, std=0.05)
    x, future = torch.randn(1, args.chunk_frames, args.hidden), torch.randn(1, args.lookahead, args.hidden)
    frames = torch.cat([x, future], dim=1).transpose(1, 2)
    result = {}
    before = torch.backends.mkldnn.enabled
    with torch.inference_mode():
        for onednn in (True, False):
            torch.backends.mkldnn.enabled = onednn
            key = "onednn" if onednn else "no_onednn"
            result[f"conv1d_us_{key}"] = per_call_us(lambda: model.lookahead(frames))
            result[f"shifted_products_us_{key}"] = per_call_us(lambda: model._look_ahead(x, future))
    torch.backends.mkldnn.enabled = before
    print(result)
    write_result("lookahead_taps.json", {**result, "lookahead": args.lookahead, "hidden": args.hidden,
                                         "chunk_frames": args.chunk_frames, "threads": 1})


if __name__ == "__main__":
    main()
