#!/usr/bin/env bash
# Gradescope runs this once, as root, on Ubuntu 22.04, in /autograder/source.
# It installs Python 3.11 and the pinned environment OUTSIDE the source folder (the source folder is
# closed to student code, the environment must stay readable: student code runs as a user id of its own per
# child, with no account), builds the dataset, and installs bubblewrap: where Gradescope's container allows
# user namespaces, each child also runs in a bwrap sandbox (the grader checks and records which).
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv util-linux bubblewrap >/dev/null
VENV=/opt/hw7-venv
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
# The CPU build of torch first (the default Linux wheel pulls several GB of CUDA libraries).
"$VENV/bin/pip" install --quiet torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
# The rest with --no-deps, as the Makefile does: the file pins the whole environment (its header says why).
"$VENV/bin/pip" install --quiet --no-deps -r requirements.txt
"$VENV/bin/python" scripts/build_dataset.py
chmod -R a+rX "$VENV"
