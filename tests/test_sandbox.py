"""The child process cannot hurt the grader: processes, output, signals, network, files."""

import socket
import textwrap

import pytest
import variants

from autograder.grader import grade
from autograder.run import isolation

NAMESPACES = isolation.uses_bwrap() or bool(isolation.namespace_prefix())
GOOD_DKL = "(0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean()"


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


def grade_dkl(solution, tmp_path, body: str, parts=("1.4", "2.1")):
    nb = variants.replace(solution, "D_KL", "def D_KL(mu, logvar):\n" + textwrap.indent(textwrap.dedent(body), "    "))
    return grade(variants.write(tmp_path / "s", nb), tmp_path / "out", parts=parts)


def test_fork_bomb_is_contained(solution, tmp_path):
    results = grade_dkl(solution, tmp_path, """
        os = __import__("os")
        while True:
            os.fork()
        """)
    parts = results.part_scores()
    assert parts["1.4"] == 0 and parts["2.1"] == 50
    assert (tmp_path / "out" / "results.json").is_file()


def test_output_flood_is_stopped(solution, tmp_path):
    results = grade_dkl(solution, tmp_path, """
        while True:
            print("x" * 1_000_000)
        """)
    assert results.part_scores()["1.4"] == 0
    assert "wrote more than 20 MB" in results.tests[0].output
    assert results.part_scores()["2.1"] == 50


def test_killing_the_parent_does_not_stop_grading(solution, tmp_path):
    results = grade_dkl(solution, tmp_path, """
        os = __import__("os")
        os.kill(os.getppid(), 9)
        os.kill(0, 9)
        """)
    assert results.part_scores()["1.4"] == 0 and results.part_scores()["2.1"] == 50


@pytest.mark.skipif(not NAMESPACES, reason="no PID namespace here: kill(-1) would reach the test runner")
def test_kill_everything_reaches_only_the_child(solution, tmp_path):
    results = grade_dkl(solution, tmp_path, """
        __import__("os").kill(-1, 9)
        """)
    assert results.part_scores()["1.4"] == 0 and results.part_scores()["2.1"] == 50


@pytest.mark.skipif(not NAMESPACES, reason="no network namespace on this platform")
def test_no_network(solution, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        results = grade_dkl(solution, tmp_path, f"""
            s = __import__("socket").socket()
            s.settimeout(2)
            reached = s.connect_ex(("127.0.0.1", {port})) == 0
            return {GOOD_DKL} + (100.0 if reached else 0.0)
            """, parts=("1.4",))
    finally:
        server.close()
    assert results.part_scores()["1.4"] == 5, results.tests[0].output


def test_scratch_folder_is_private_and_fresh(solution, tmp_path):
    # Deleting everything in the working directory harms nothing: the next part gets a fresh one.
    # (In the bubblewrap sandbox the kit's files there are read-only: deleting them fails.)
    results = grade_dkl(solution, tmp_path, f"""
        shutil = __import__("shutil")
        for p in __import__("pathlib").Path(".").iterdir():
            try:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
            except OSError:
                pass
        return {GOOD_DKL}
        """)
    assert results.part_scores() == {"1.4": 5, "2.1": 50, "2.2": 0, "2.3": 0}


def test_environment_is_scrubbed(solution, tmp_path, monkeypatch):
    monkeypatch.setenv("HW7_SECRET_TOKEN", "do-not-leak")
    results = grade_dkl(solution, tmp_path, f"""
        leaked = "HW7_SECRET_TOKEN" in __import__("os").environ
        return {GOOD_DKL} + (100.0 if leaked else 0.0)
        """, parts=("1.4",))
    assert results.part_scores()["1.4"] == 5


def test_children_train_with_avx2_kernels_on_every_cpu_that_has_them(solution, tmp_path):
    # So that an AVX-512 machine (Gradescope's, say) and a TA's AVX2 laptop grade alike: see
    # sandbox.same_kernels_everywhere.  The capability is read inside a real child, by the student's code.
    import torch

    from autograder.run import sandbox

    if torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        assert sandbox.same_kernels_everywhere() == {}
        pytest.skip("this CPU has no AVX2: its children keep torch's own choice")
    assert sandbox.same_kernels_everywhere() == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}
    results = grade_dkl(solution, tmp_path, f"""
        other = __import__("torch").backends.cpu.get_cpu_capability() != "AVX2"
        return {GOOD_DKL} + (100.0 if other else 0.0)
        """, parts=("1.4",))
    assert results.part_scores()["1.4"] == 5


def test_a_part_stopped_by_the_wall_clock_backstop_says_so_and_is_not_cached():
    from autograder.run import cache, sandbox

    budget = sandbox.Budget(wall_s=20.0)
    assert sandbox.backstop_s(budget) == 60.0 and sandbox.backstop_s(sandbox.Budget(wall_s=600.0)) == 660.0
    text = sandbox._describe_death(-9, True, budget, waited=15.25)
    assert "time budget of 20 s" in text and "15.2 s" in text and sandbox.WAITED in text
    assert not cache.worth_keeping(sandbox.Outcome(False, {}, text, 60.0, not_the_students=True))
    spun = sandbox._describe_death(-9, True, budget)  # the CPU budget itself ran out: the student's, kept
    assert "time budget of 20 s" in spun and cache.worth_keeping(sandbox.Outcome(False, {}, spun, 20.0))
