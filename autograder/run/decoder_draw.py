"""Part 2.3's samples, drawn by the grader from the re-trained decoder (issue 21).

The child that re-trains the student's model sends its decoder back as data, an ONNX graph with its
weights.  Here, after the child has ended (the model is fixed), the grader picks 5 x 24 latent vectors the
child could not know (derived from the course secret and the submission's content, `autograder.secret`)
and runs the graph on them in a process of its own (`autograder.run.onnx_eval`: no student code, operators
from a fixed list, limits on time, memory and size).  The same submission always gets the same latents,
so a regrade from the outcome cache (which holds the graph) draws the very same samples.

When there is no usable graph, :func:`draw` says why; 2.3 is then scored from the samples the child's
own ``generate`` returned, marked "unverified" (retrain.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from autograder import secret
from autograder.run import isolation
from hw7core import limits

EVALUATOR = Path(__file__).with_name("onnx_eval.py")
PURPOSE = "2.3 latents"
# One set of latents for the whole course (from its secret alone): two submissions with the same model get
# the same samples and the same score, whatever else their code says.  The child never sees them (nothing
# the secret decides enters a sandbox) and they are drawn after each model is fixed, so no model can be
# fitted to them.  (Hidden test inputs differ per submission instead: there a replayed report is the threat.)
COURSE_KEY = b"every submission of the course"
N_DRAWS = 5  # sets of 24: 2.3 scores the median one (retrain.median_draw)
GRAPH_MAX_BYTES = 3 * 2**20  # the child's limit too (child/retraining.py): a 750k-parameter decoder
DRAW_WALL_S = 60.0
DRAW_MEMORY = 2 * 2**30
ANSWER_MAX_BYTES = 2**20
GRAPH_REFUSED = "the decoder's graph could not be evaluated"


@dataclass
class Draw:
    """The evaluator's answer: 24 samples from the graph, or why there are none (then "unverified")."""

    samples: list[list[float]] | None = None  # N_DRAWS * 24 rows, 24 per draw
    why: str = ""  # why the samples could not be drawn from the graph
    layers: list[list[int]] = field(default_factory=list)  # each weight matrix's (in, out): the structure

    @property
    def verified(self) -> bool:
        return self.samples is not None


def latent_size(model_config: Any) -> int:
    size = model_config.get("latent_size") if isinstance(model_config, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= 4096 else limits.LATENT_SIZE


def latents(key: bytes, latent: int) -> np.ndarray:
    """N_DRAWS x N_SAMPLES latent vectors: N(0, I) draws from a seed derived from the course secret (``key``:
    COURSE_KEY when grading)."""
    rng = np.random.default_rng(secret.derive(PURPOSE, key))
    return rng.standard_normal((N_DRAWS * limits.N_SAMPLES, latent)).astype(np.float32)


def _limit() -> None:  # in the evaluator process, between fork and exec
    cpu = int(DRAW_WALL_S)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (DRAW_MEMORY, DRAW_MEMORY))
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def decode_graph(encoded: Any) -> tuple[bytes | None, str]:
    if not isinstance(encoded, str):
        return None, "the re-training sent no decoder graph"
    if len(encoded) > GRAPH_MAX_BYTES * 4 // 3 + 4:
        return None, f"the decoder's graph is larger than {GRAPH_MAX_BYTES / 2**20:g} MB"
    try:
        return base64.b64decode(encoded, validate=True), ""
    except (binascii.Error, ValueError):
        return None, "the decoder's graph was not readable"


def draw(encoded_graph: Any, z: np.ndarray, store: Any = None) -> Draw:
    """Run the graph (base64 ONNX, as the child sent it) on ``z`` in a limited process of its own.

    ``store`` (a cache.Store): a regrade reuses the draw of the same graph on the same latents by the
    same evaluator, as it reuses the child's outcome (the evaluator's start is most of a regrade's cost)."""
    graph, why = decode_graph(encoded_graph)
    if graph is None:
        return Draw(why=why)
    if store is None:
        return _evaluate(graph, z)
    from autograder.run.cache import file_digest
    from autograder.run.sandbox import Outcome

    job = {"part": "2.3 draw", "graph": hashlib.sha256(graph).hexdigest(), "z": hashlib.sha256(z.tobytes()).hexdigest(),
           "shape": list(z.shape), "evaluator": file_digest(EVALUATOR), "onnxruntime": _version("onnxruntime")}
    stored = store.get(job, DRAW_WALL_S)
    if stored is not None:
        return Draw(stored.payload.get("samples"), str(stored.payload.get("why") or ""), stored.payload.get("layers") or [])
    fresh = _evaluate(graph, z)
    if fresh.verified or fresh.why.startswith(GRAPH_REFUSED):  # never a timeout: a busy machine's, not the graph's
        store.put(job, DRAW_WALL_S, Outcome(True, asdict(fresh)))
    return fresh


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _evaluate(graph: bytes, z: np.ndarray) -> Draw:
    with tempfile.TemporaryDirectory(prefix="hw7-draw-") as tmp:
        folder = Path(tmp)
        (folder / "graph.onnx").write_bytes(graph)
        np.save(folder / "latents.npy", z)
        uid = isolation.allocate_uid()  # a user of its own when the grader is root (None otherwise)
        for path in (folder, *folder.iterdir()):  # private to the evaluator's user
            if uid is not None:
                os.chown(path, uid, uid)
            path.chmod(0o700 if path.is_dir() else 0o600)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "HOME": tmp}
        cmd = [*isolation.namespace_prefix(), *isolation.user_prefix(uid), sys.executable, "-I", str(EVALUATOR), tmp]
        prlimit = shutil.which("prlimit")
        if prlimit:  # as sandbox.py: a wrapper sets the limits (preexec_fn is unsafe beside other threads)
            cpu = int(DRAW_WALL_S)
            cmd = [prlimit, f"--cpu={cpu}:{cpu + 1}", f"--as={DRAW_MEMORY}", "--fsize=1048576", "--core=0", "--", *cmd]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=DRAW_WALL_S, env=env, cwd=tmp,
                                  preexec_fn=None if prlimit else _limit, start_new_session=True)
        except subprocess.TimeoutExpired:
            return Draw(why=f"evaluating the decoder's graph took longer than {DRAW_WALL_S:g} s")
        finally:  # the evaluator runs no student code: nothing of that user outlives subprocess.run
            isolation.release_uid(uid)
    return _answer(proc.stdout[:ANSWER_MAX_BYTES], proc.returncode)


def _answer(stdout: bytes, code: int) -> Draw:
    try:
        answer = json.loads(stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Draw(why=f"the evaluator gave no answer (exit code {code})")
    if not isinstance(answer, dict):
        return Draw(why="the evaluator's answer was malformed")
    if isinstance(answer.get("error"), str):
        return Draw(why=f"{GRAPH_REFUSED}: {answer['error']}")
    try:
        samples = np.asarray(answer.get("samples"), dtype=float)  # None (not finite) becomes nan
    except (TypeError, ValueError):
        samples = np.zeros(0)
    layers = answer.get("layers") if isinstance(answer.get("layers"), list) else []
    if samples.ndim != 2 or samples.shape[1] != limits.N_POINTS or len(samples) % limits.N_SAMPLES or not len(samples):
        return Draw(why="the evaluator's answer was malformed")
    return Draw(samples=samples.tolist(), layers=layers)
