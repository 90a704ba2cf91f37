"""The similarity report: disguised copies are flagged, independent work is not, odd batches never crash."""

import csv
import itertools
import json
import os
import subprocess
import sys

import code_variants
import nbformat
import pytest
import variants

from autograder.staff import similarity

THRESHOLD = 0.5  # grading.yaml's default


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


@pytest.fixture(scope="module")
def starter_code():
    return similarity.starter_code()


@pytest.fixture(scope="module")
def notebooks(solution):
    return {"solution": solution, "disguised": code_variants.disguise(solution),
            **{f"student_{n}": code_variants.independent(n) for n in code_variants.INDEPENDENT}}


@pytest.fixture(scope="module")
def pairs(notebooks, starter_code):
    codes = {name: similarity.graded_code(nb) for name, nb in notebooks.items()}
    return {(p.a, p.b): p for p in similarity.compare(similarity.fingerprints(codes, starter_code))}


def test_graded_code_drops_comments_docstrings_and_formatting(solution, notebooks):
    original = similarity.graded_code(solution)
    assert "class Encoder" in original and "def train_VAE" in original
    assert '"""' not in original and "#" not in original and "model_config" not in original
    disguised = similarity.graded_code(notebooks["disguised"])
    assert "my own" not in disguised and "fan_in" in disguised  # comments gone, renames kept


def test_disguised_copy_is_flagged_against_its_original(pairs):
    pair = pairs[("disguised", "solution")]
    assert pair.score >= 0.95 and pair.share_a >= 0.95 and pair.share_b >= 0.95


def test_independent_implementations_are_not_flagged(pairs):
    independent = [f"student_{n}" for n in code_variants.INDEPENDENT] + ["solution"]
    for a, b in itertools.combinations(sorted(independent), 2):
        pair = pairs.get((a, b))
        assert pair is None or pair.score < THRESHOLD - 0.1, (a, b, pair and pair.score)


def test_a_line_or_two_in_common_is_never_listed(starter_code, solution):
    kl = "def D_KL(mu, logvar):\n    return torch.mean(0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar))\n"
    only_kl = similarity.graded_code(variants.replace(code_variants.starter(), "D_KL", kl))
    found = similarity.compare(similarity.fingerprints(
        {"kl_1": only_kl, "kl_2": only_kl, "solution": similarity.graded_code(solution)}, starter_code))
    assert [(p.a, p.b, p.score) for p in found] == [("kl_1", "kl_2", 1.0), ("kl_1", "solution", 1.0),
                                                    ("kl_2", "solution", 1.0)]
    assert not any(p.listed(THRESHOLD) for p in found)  # the one obvious line: no one to talk to


def test_starter_code_is_boilerplate(starter_code):
    untouched = similarity.graded_code(code_variants.starter())
    prints = similarity.fingerprints({"untouched": untouched, "again": untouched}, starter_code)
    assert prints == {}  # nothing of their own: they are not compared, so never flagged
    assert similarity.fingerprints({"untouched": untouched}, "")  # without the starter, it would count


def test_scores_do_not_depend_on_the_process_hash_seed(tmp_path, notebooks, root):
    for name in ("solution", "student_a", "student_b"):
        nbformat.write(notebooks[name], str(tmp_path / f"{name}.ipynb"))
    script = ("import json, sys, nbformat, pathlib; from autograder.staff import similarity as s\n"
              "codes = {p.stem: s.graded_code(nbformat.read(str(p), as_version=4)) for p in "
              "sorted(pathlib.Path(sys.argv[1]).glob('*.ipynb'))}\n"
              "print(json.dumps([[p.a, p.b, p.score, p.shared] for p in "
              "s.compare(s.fingerprints(codes, s.starter_code()))]))")
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout))
    assert runs[0] == runs[1] and runs[0]


def test_report_lists_the_pair_side_by_side_and_says_it_is_no_grade(tmp_path, notebooks):
    html_path, csv_path, found = similarity.write_report({**notebooks, "no_notebook": None}, tmp_path, THRESHOLD)
    page = html_path.read_text(encoding="utf-8")
    assert "never a grade" in page and "Not a grade." in page
    assert page.count('<details id="pair-') == 1 and "<mark>" in page
    assert "No graded code of their own (not compared): no_notebook" in page
    with open(csv_path, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert tuple(table[0]) == similarity.CSV_COLUMNS
    assert [(r["submission_a"], r["submission_b"]) for r in table if r["listed"] == "yes"] == [("disguised", "solution")]
    assert len(table) == len(found)


@pytest.mark.parametrize("batch", [{}, {"only": "solution"}, {"one": "solution", "empty": None}])
def test_small_or_empty_batches_give_an_empty_report(tmp_path, solution, batch):
    notebooks = {name: (solution if nb == "solution" else None) for name, nb in batch.items()}
    html_path, csv_path, found = similarity.write_report(notebooks, tmp_path, THRESHOLD)
    assert found == []
    assert "Nothing to compare" in html_path.read_text(encoding="utf-8")
    assert csv_path.read_text(encoding="utf-8").splitlines() == [",".join(similarity.CSV_COLUMNS)]


def test_a_notebook_with_broken_graded_cells_is_left_out(tmp_path, solution):
    broken = variants.replace(solution, "D_KL", "def D_KL(mu, logvar:\n    return 0\n")
    html_path, _, found = similarity.write_report({"a": broken, "b": solution, "c": {"cells": "junk"}},
                                                  tmp_path, THRESHOLD)
    assert [(p.a, p.b) for p in found] == [("a", "b")]  # the rest of a's code still compares
    assert "not compared): c" in html_path.read_text(encoding="utf-8")
