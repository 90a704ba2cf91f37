"""The course secret: the one input of a grading that a submission which has read the whole kit cannot know.

Hidden-test inputs, seeds and part 2.3's latent vectors are derived from it and from the submission's own
content (HMAC-SHA256), so that
- the same submission regraded gets the same inputs (grades are reproducible and the outcome cache works);
- observations recorded from another submission, or precomputed from the kit's source, do not match.

The secret is created on first use (32 random bytes, mode 0600) in ``secret/course_secret`` beside the kit
(git-ignored: a shared kit's repository never holds it), or at ``$HW7_SECRET_FILE``.  Every machine that
grades the course must hold the same one: `make gradescope` puts it into the autograder zip (else each
Gradescope container would make its own, and a regrade there would draw other inputs), and a Dask worker
whose secret differs from the grading machine's is refused before anything is graded (its
:func:`fingerprint` is compared, never the secret).  The handout and the sandboxes never see it: children
get derived numbers only.  Keep it with the course's other private files: a new secret gives new hidden
inputs (a correct submission keeps its grade; a noisy model's 2.3 score can move, and a regrade is no
longer byte-identical).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from pathlib import Path

from autograder import KIT_ROOT

ENV_FILE = "HW7_SECRET_FILE"
DEFAULT_FILE = KIT_ROOT / "secret" / "course_secret"
SECRET_BYTES = 32
# The parts of one grading (and the gradings of a batch) ask for the secret from several threads at once:
# the first creation in a fresh kit must happen once per process.
_CREATING = threading.Lock()


def secret_file() -> Path:
    return Path(os.environ.get(ENV_FILE) or DEFAULT_FILE)


class SecretError(ValueError):
    """The course secret exists but cannot serve: the message names the file and the fix."""


def course_secret(path: Path | None = None) -> bytes:
    """The course's secret, created (atomically, 0600) the first time it is asked for."""
    path = path or secret_file()
    try:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            with _CREATING:
                _create(path)
            data = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"cannot read or make the course secret {path} ({exc.strerror or exc}): let this user "
                          f"read it, or set {ENV_FILE} to a readable copy") from None
    if len(data) < 16:
        raise SecretError(f"the course secret {path} is damaged ({len(data)} bytes, at least 16 expected): put "
                          "the course's copy back (the zip of make gradescope holds one), or delete the file to "
                          "make a new secret (the hidden inputs then change)")
    return data


def fingerprint(data: bytes) -> str:
    """A short name for a secret that tells two secrets apart and gives nothing of them away."""
    return hashlib.sha256(b"hw7 course secret fingerprint\0" + data).hexdigest()[:16]


def fingerprint_if_present(path: Path | None = None) -> str:
    """The fingerprint of the secret this machine would grade with, or "" when it has none yet (nothing
    is created: a machine that made its own would grade with another secret)."""
    try:
        return fingerprint((path or secret_file()).read_bytes())
    except OSError:
        return ""


def _create(path: Path) -> None:
    """Write a new secret at ``path`` unless another thread or process has: the random bytes go to a
    private temporary file (its name unique to this process and thread), then are linked into place, which
    never replaces a secret that appeared meanwhile."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(SECRET_BYTES))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink()


def submission_key(content: object) -> bytes:
    """A digest of what the student submitted (e.g. the graded cells' sources and the configs): any
    JSON-able value, canonicalised, so the same submission always gives the same key."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).digest()


def derive(purpose: str, key: bytes, secret: bytes | None = None) -> int:
    """A 63-bit seed for one purpose (e.g. "2.1 probes", "2.3 latents") of one submission."""
    mac = hmac.new(secret if secret is not None else course_secret(), purpose.encode() + b"\0" + key,
                   hashlib.sha256)
    return int.from_bytes(mac.digest()[:8], "big") >> 1
