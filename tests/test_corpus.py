"""The adversarial corpus (scripts/make_corpus.py): every case gets a valid results.json, the parts
under attack score 0 with the cause named, and every other part scores exactly what the unmodified
solution scores with the same configs."""

import json
from concurrent.futures import ThreadPoolExecutor

import make_corpus
import pytest

from autograder.grader import grade
from hw7core import limits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        # A part's budget is CPU time with its imports not counted (a loaded machine does not eat it): the
        # correct parts use well under a second of it (the training parts import torch._dynamo before they
        # read their job: child/runtime.py), so 3 s is ample, and the endless loops need not spin for 30.
        patch.setattr(limits, "TEST_WALL_S", 3.0)
        # The loop in a class body spins in each of the three quick children until CELL_S (a clock alarm):
        # defining a cell takes milliseconds, so 2 s is still ample.
        patch.setattr(limits, "CELL_S", 2)
        yield _grade_corpus(tmp_path_factory)


def _grade_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    base = make_corpus.baseline(folder)
    # One outcome cache for the corpus, as a batch has: the many cases that attack the intake carry the
    # solution's code unchanged, and its children's outcomes are reused (the judging is redone each time).
    cache_dir = folder / "cache"

    def run(case):
        path = case.make(folder / case.name)
        out = folder / "out" / case.name
        return case.name, grade(path, out, parts=case.parts, cache_dir=cache_dir), out / "results.json"

    with ThreadPoolExecutor(max_workers=2) as pool:  # the baseline is graded beside the cases, not after them
        baseline = pool.submit(grade, base, parts=make_corpus.ALL, cache_dir=cache_dir)
        results = dict((name, (res, path)) for name, res, path in pool.map(run, make_corpus.CASES))
        return baseline.result(), results


def test_corpus_is_large_enough():
    assert len(make_corpus.CASES) >= 30
    assert len({c.name for c in make_corpus.CASES}) == len(make_corpus.CASES)


@pytest.mark.parametrize("case", make_corpus.CASES, ids=lambda c: c.name)
def test_case(graded, case):
    baseline, results = graded
    res, path = results[case.name]
    written = json.loads(path.read_text())  # valid JSON, Gradescope's fields
    assert isinstance(written["score"], (int, float)) and written["tests"]
    assert written["score"] == pytest.approx(res.score)
    assert {t["number"].split(".")[0] + "." + t["number"].split(".")[1] for t in written["tests"]} == set(case.parts)
    got, base = res.part_scores(), baseline.part_scores()
    for part, want in case.expect.items():
        messages = "\n".join(t.output for t in res.tests if t.part == part)
        if want == "base":
            assert got[part] == base[part], f"{part}: {got[part]} != baseline {base[part]}\n{messages}"
        elif isinstance(want, tuple):
            assert got[part] == want[0] and want[1] in messages, f"{part} scored {got[part]}\n{messages}"
        elif isinstance(want, str):
            assert got[part] == 0, f"{part} scored {got[part]}\n{messages}"
            assert want.removeprefix("zero:") in messages, messages
        else:
            assert got[part] == want, f"{part}: {got[part]} != {want}\n{messages}"
    notes = "\n".join(res.notes)
    for text in case.notes:
        assert text in notes, notes
    raw = path.read_text()
    for text in case.absent:
        assert text not in raw


def test_cases_made_side_by_side_get_their_own_files():
    """The corpus makes two cases at a time, in threads: each must read back its own configs, never another's."""
    import yaml

    solution = make_corpus._solution()
    model, train = make_corpus._configs()

    def made(n_iters):
        files = make_corpus._good_files(solution, model, {**train, "n_iters": n_iters})
        return n_iters, yaml.safe_load(files["train_config.yaml"])["n_iters"], sorted(files)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for asked, got, names in pool.map(made, range(1, 41)):
            assert got == asked and names == ["HW7.ipynb", "model_config.yaml", "train_config.yaml"]
