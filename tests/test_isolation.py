"""Graded as an ordinary user (a TA on their own machine), a hostile submission cannot touch that user's files.

Each test builds the TA's world in a temporary folder owned by that user: a home with a .bashrc, a copy of
the kit (grader source, solution, data), a folder of submissions and an output folder.  The grader then
runs as that user (from a root test run: `nobody`, see tests/unprivileged.py), as a TA would run it.
"""

import json
import shutil
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest
import unprivileged
import variants

from autograder import KIT_ROOT
from autograder.reports import summary
from autograder.results import rows
from autograder.results.rows import Row
from autograder.run import bwrap, isolation

PARTS = "1.4,2.1"  # the quick parts: no re-training
GOOD_DKL = "(0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean()"
DRIVER = """
import json, sys
from autograder.run import isolation
from autograder.grader import grade
print(json.dumps(isolation.announce().to_dict()), flush=True)
for pair in sys.argv[2:]:
    submission, out = pair.split("=")
    grade(submission, out, parts=tuple(sys.argv[1].split(",")))
"""


class World:
    """The TA's files, all owned by the grading user."""

    def __init__(self, port: int):
        self.top = Path(tempfile.mkdtemp(prefix="hw7-ta-", dir="/tmp"))
        self.top.chmod(0o755)
        self.home, self.kit, self.subs, self.out = (self.top / n for n in ("home", "kit", "subs", "out"))
        self.home.mkdir()
        self.bashrc = self.home / ".bashrc"
        self.bashrc.write_text("# the TA's shell setup\n")
        for package in ("autograder", "hw7core"):
            shutil.copytree(KIT_ROOT / package, self.kit / package, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(KIT_ROOT / "HW7_utils.py", self.kit)
        (self.kit / "solutions").mkdir()
        shutil.copy(KIT_ROOT / "solutions" / "HW7.ipynb", self.kit / "solutions")
        (self.kit / "data").mkdir()
        shutil.copy(KIT_ROOT / "data" / "airfoils.npz", self.kit / "data")
        self.checks = self.kit / "autograder" / "judges" / "probes.py"
        solution = variants.load_solution()
        self.cheap = variants.write(self.subs / "cheap", solution)
        self.hostile = variants.write(self.subs / "hostile", variants.replace(solution, "D_KL", self._attack(port)))
        self.out.mkdir()
        unprivileged.give_to_test_user(self.top)
        self.before = {p: p.read_bytes() for p in (self.bashrc, self.checks, self.cheap / "HW7.ipynb")}

    def _attack(self, port: int) -> str:
        writes = [(self.bashrc, "echo pwned\\n"), (self.checks, "# pwned\\n"),
                  (self.subs / "cheap" / "HW7.ipynb", "}"), (self.out / "pwned.txt", "pwned")]
        reads = [self.kit / "solutions" / "HW7.ipynb", self.checks]
        return textwrap.dedent(f"""
            def D_KL(mu, logvar):
                leaks = 0
                for target, text in {[(str(p), t) for p, t in writes]}:
                    try:
                        with open(target, "a") as handle:
                            handle.write(text)
                    except Exception:
                        pass
                for in_memory in ("/hw7-fill", "/dev/hw7-fill"):  # bwrap's own file systems: memory
                    try:
                        with open(in_memory, "w") as handle:
                            leaks += handle.write("x")
                    except Exception:
                        pass
                for secret in {[str(p) for p in reads]}:
                    try:
                        with open(secret, "rb") as handle:
                            leaks += len(handle.read(1))
                    except Exception:
                        pass
                try:
                    s = __import__("socket").socket()
                    s.settimeout(2)
                    leaks += s.connect_ex(("127.0.0.1", {port})) == 0
                except Exception:
                    pass
                return {GOOD_DKL} + 100.0 * leaks
            """)

    def run(self, args: list[str], **env) -> subprocess.CompletedProcess:
        cmd = unprivileged.environment_view([bwrap.interpreter(), *args], drop_to_user=True)
        env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env}
        return subprocess.run(cmd, cwd=self.kit, env=env, capture_output=True, text=True, timeout=600)

    def grade(self, *pairs: tuple[Path, Path], parts: str = PARTS, **env) -> tuple[dict, str]:
        """Grade submissions in one run of the grader; (the isolation it reported, its stderr)."""
        proc = self.run(["-c", DRIVER, parts, *(f"{s}={o}" for s, o in pairs)], **env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.splitlines()[0]), proc.stderr

    def results(self, out: Path) -> dict:
        return json.loads((out / "results.json").read_text())


@pytest.fixture
def listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def world(listening_port):
    world = World(listening_port)
    yield world
    shutil.rmtree(world.top, ignore_errors=True)


def _tests(results: dict) -> list[tuple]:
    return [(t["number"], t["score"], t["output"]) for t in results["tests"]]


def test_hostile_submission_cannot_touch_the_graders_account(world):
    level, _ = world.grade((world.hostile, world.out / "hostile"), (world.cheap, world.out / "cheap"))
    if not level["full"]:
        pytest.skip(f"the sandbox cannot be built here ({level['reason']}); .ci/run installs bubblewrap")
    hostile = world.results(world.out / "hostile")
    assert hostile["extra_data"]["isolation"]["level"] == "bubblewrap"
    d_kl = [t for t in hostile["tests"] if t["number"].startswith("1.4")]
    assert d_kl and all(t["status"] == "passed" for t in d_kl), \
        "it read the solution or grader, reached the network or wrote an in-memory file system\n" + json.dumps(hostile)[:3000]
    for path, content in world.before.items():
        assert path.read_bytes() == content, f"the submission changed {path}"
    assert not (world.out / "pwned.txt").exists()
    assert sorted(p.name for p in world.subs.iterdir()) == ["cheap", "hostile"]

    # The same submission in a run of its own, and without the sandbox: the sandbox changes no grade.
    level, _ = world.grade((world.cheap, world.top / "alone"), **{bwrap.DISABLE_ENV: "1"})
    assert not level["full"]
    assert _tests(world.results(world.out / "cheap")) == _tests(world.results(world.top / "alone"))
    assert world.results(world.top / "alone")["score"] == 55


def test_without_the_sandbox_the_grader_warns_and_strict_refuses(world):
    off = {bwrap.DISABLE_ENV: "1"}
    for command in (["grade-all", str(world.subs)], ["grade", str(world.cheap)]):
        proc = world.run(["-m", "autograder", *command, "--out", str(world.top / "strict"), "--strict"], **off)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "Refusing to grade (--strict)" in proc.stderr and "HW7_NO_BWRAP=1" in proc.stderr and "To fix it" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert not (world.top / "strict").exists()

    level, stderr = world.grade((world.hostile, world.out / "hostile"), (world.cheap, world.out / "cheap"),
                                parts="1.4", **off)
    assert not level["full"] and "HW7_NO_BWRAP=1" in level["reason"]
    assert stderr.count("Warning: the grading sandbox is not in force") == 1  # once per run, not per child
    assert "echo pwned" in world.bashrc.read_text(), "the attack did not run: this test would prove nothing"
    results = world.results(world.out / "hostile")
    assert results["extra_data"]["isolation"]["full"] is False
    row = rows.load_row(world.out / "hostile" / "results.json", "hostile")
    assert 'id="isolation-warning"' in summary.summary_html([row])


def test_summary_page_is_quiet_when_every_grading_was_sandboxed():
    full = isolation.Isolation("bubblewrap", True, "sandboxed").to_dict()
    weak = isolation.Isolation("namespaces", False, "no files", "bubblewrap (bwrap) is not installed").to_dict()
    data = {"tests": [{"number": "1.4.1", "score": 1}], "extra_data": {"isolation": full}}
    row = Row.from_dict({"id": "a", "results": data})
    assert isolation.summary_note([row, Row.from_dict({"id": "b", "status": "error", "results": {}})]) == ""
    odd = Row.from_dict({"id": "c", "results": {"tests": [{}], "extra_data": ["not", "a", "dict"]}})  # hand-edited
    assert isolation.summary_note([row, odd]).startswith("1 of 2 submission(s)")
    note = isolation.summary_note([row, Row.from_dict({"id": "d", "results": {**data, "extra_data": {"isolation": weak}}})])
    assert note.startswith("1 of 2 submission(s)") and "not installed" in note and "bubblewrap" in note


def test_sandbox_binds_neither_the_kit_nor_the_home(tmp_path):
    cmd = bwrap.command(tmp_path, [tmp_path / "child"])
    for flag in ("--unshare-all", "--die-with-parent", "--new-session"):
        assert flag in cmd
    sources = [Path(cmd[i + 1]) for i, arg in enumerate(cmd) if arg in ("--bind", "--ro-bind")]
    writable = {Path(cmd[i + 1]) for i, arg in enumerate(cmd) if arg == "--bind"}
    assert writable == {tmp_path, tmp_path / "tmp"}  # the scratch folder, and its tmp as /tmp and /dev/shm
    assert cmd[-4:-2] == ["--remount-ro", "/"]  # bwrap's in-memory root cannot be written
    for private in (KIT_ROOT, Path.home()):
        assert not any(s == private or s in private.parents for s in sources), (private, sources)


def test_an_environment_that_holds_the_kit_is_refused(monkeypatch):
    monkeypatch.setattr(bwrap, "python_roots", lambda: [KIT_ROOT.parent])
    assert "must not see" in bwrap.exposure_problem([KIT_ROOT])
    assert "must not see" in bwrap.exposure_problem([Path("/usr/local/hw7-kit")])
    monkeypatch.setattr(bwrap, "python_roots", lambda: [KIT_ROOT / ".venv"])
    assert bwrap.exposure_problem([KIT_ROOT]) == ""


def test_debug_switch_turns_the_sandbox_off(monkeypatch):
    monkeypatch.setenv(bwrap.DISABLE_ENV, "1")
    assert "HW7_NO_BWRAP=1" in bwrap.probe()


def test_missing_bwrap_is_reported_with_the_install_command(monkeypatch):
    monkeypatch.delenv(bwrap.DISABLE_ENV, raising=False)
    monkeypatch.setattr(bwrap, "executable", lambda: None)
    monkeypatch.setattr(isolation.sys, "platform", "linux")
    assert bwrap.probe() == "bubblewrap (bwrap) is not installed"
    weak = isolation.Isolation("namespaces", False, "no files", bwrap.probe())
    text = isolation.warning(weak)
    assert "not installed" in text and "sudo apt-get install bubblewrap" in text
    assert "it can read and change anything your account can" in text
