#!/usr/bin/env bash
# Install everything on a fresh Debian/Ubuntu machine with Python 3.11:
# system packages, a virtual environment in .venv, CPU torch 2.13.0 first, then this package.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# espeak-ng: synthetic speech (demo, tests); ffmpeg: audio formats libsndfile cannot read (m4a,
# mp4, webm, ...); pulseaudio + alsa plugins + portaudio: microphone capture, and the virtual
# microphone the live tests speak into.
APT_PACKAGES="espeak-ng ffmpeg libsndfile1 python3-venv pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "== apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
# torch first and pinned: a bare "torch" requirement would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
echo "== installed: $(.venv/bin/python -c 'import torch, asr; print("torch", torch.__version__, "asr", asr.__version__)')"
