"""make audit: the seeded, stratified sample, the blind page, the TA's sheet and the agreement statistics
(checked against values worked out by hand on a small labelled table, and against the libraries)."""

import copy
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from autograder.results import Results
from autograder.staff import audit

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "sample_results.json").read_text(encoding="utf-8"))

# A small labelled table: the autograder's 2.3 scores and a TA's.
AUTO = [0, 3, 6, 9, 12, 15, 10.6, 4]
TA = [0, 4, 6, 7, 12, 14, 11, 4]


def test_agreement_matches_the_hand_computation():
    result = audit.agreement(AUTO, TA, seed=1, resamples=500)
    # Whole points: auto 0 3 6 9 12 15 11 4, TA 0 4 6 7 12 14 11 4 -> differences 0 1 0 2 0 1 0 0.
    assert result.n == 8 and result.exact == 5 / 8 and result.within_one == 7 / 8
    assert result.mean_abs_diff == pytest.approx((1 + 2 + 1 + 0.4) / 8)  # on the scores as given
    # Quadratic weights: kappa = 1 - mean (a - t)^2 / E[(A - T)^2] with A, T independent draws of the
    # two marginals = 1 - (6/8) / (Var A + Var T + (mean A - mean T)^2) = 1 - 0.75 / (22.75 + 19.6875 + 0.0625).
    assert result.kappa == pytest.approx(1 - 0.75 / 42.5)
    low, high = result.kappa_ci
    assert -1 <= low <= result.kappa <= high <= 1


def test_agreement_against_the_libraries_own_results():
    from scipy.stats import bootstrap
    from sklearn.metrics import cohen_kappa_score

    auto = [round(x) for x in AUTO]
    points = list(range(16))
    assert audit.kappa(AUTO, TA) == pytest.approx(cohen_kappa_score(auto, TA, labels=points, weights="quadratic"))
    # Without the whole scale, scikit-learn weighs by the rank among the scores present, not by points:
    assert cohen_kappa_score(auto, TA, weights="quadratic") != pytest.approx(audit.kappa(AUTO, TA))
    # unweighted, the same table gives a lower agreement: the weights matter
    assert cohen_kappa_score(auto, TA, labels=points) < audit.kappa(AUTO, TA)
    ci = bootstrap((np.array(AUTO, float), np.array(TA, float)), audit.kappa, paired=True, vectorized=False,
                   n_resamples=300, method="percentile", random_state=np.random.default_rng(3)).confidence_interval
    assert audit.agreement(AUTO, TA, seed=3, resamples=300).kappa_ci == (pytest.approx(ci.low), pytest.approx(ci.high))
    # perfect agreement is 1 whatever the spread
    assert audit.kappa([2, 5, 9, 14], [2, 5, 9, 14]) == pytest.approx(1.0)


def _case(ident, score):
    return audit.Case(ident, score, [[0.0] * 200] * 24)


def test_the_sample_is_stratified_and_seeded():
    pool = [_case(f"s{i:02d}", s) for i, s in enumerate([0, 0, 0, 0, 0, 0, 1, 2, 4, 5, 7, 13, 14, 15, 15, 15])]
    chosen = audit.draw(pool, 5, seed=7)
    # bands of 3 points: 8 cases in [0, 3), 2 in [3, 6), 1 in [6, 9), none in [9, 12), 5 in [12, 15]:
    # one from each band in turn, then the next round
    assert sorted(audit.stratum(c.auto) for c in chosen) == [0, 0, 1, 2, 4]
    assert [c.id for c in audit.draw(pool, 5, seed=7)] == [c.id for c in chosen]  # the same seed, the same draw
    assert {tuple(c.id for c in audit.draw(pool, 5, seed=s)) for s in range(6)} != {tuple(c.id for c in chosen)}
    assert len(audit.draw(pool, 50, seed=0)) == len(pool)


def test_make_audit_round_trip(tmp_path, capsys):
    from autograder.cli import main

    out = tmp_path / "grades"
    for ident, score in (("ada", 10.6), ("bob", 2.0), ("cy", 14.0)):
        results = copy.deepcopy(FIXTURE)
        next(t for t in results["tests"] if t["number"] == "2.3")["score"] = score
        Results.from_dict(results).write(out / ident / "results.json")
    Results.from_dict(Results.failed("broke").to_gradescope(leaderboard=False)).write(out / "dan" / "results.json")
    assert main(["audit", "--out", str(out), "--size", "3", "--seed", "0"]) == 0
    assert "3 of 3 submission(s) with 24 airfoils drawn" in capsys.readouterr().out
    page = (out / "audit" / "audit.html").read_text()
    assert page.count('alt="the 24 generated airfoils of') == 3 and "data:image/png;base64," in page
    shown = re.sub(r"data:image/png;base64,[^\"]*", "", page)
    assert "10.6" not in shown and "14" not in shown.replace("24", "")  # the autograder's scores are not shown
    sheet = out / "audit" / "audit_scores.csv"
    with open(sheet, newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["sample", "id", "ta_points", "comment"] and table[1][2] == "15"
    table[2][2], table[3][2], table[4][2] = ({"ada": "11", "bob": "6", "cy": "14"}[line[1]] for line in table[2:])
    table.append(["4", "zed", "3", ""])  # not in the sample: reported, the rest applies
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(table)
    assert main(["audit", "--out", str(out), "--size", "3", "--seed", "0"]) == 0
    printed = capsys.readouterr().out
    assert "audit_scores.csv line 6: no submission has the id 'zed'" in printed
    assert "line 2" not in printed  # the Points Possible line is no submission
    assert "exact agreement 67%, within one point 67%" in printed
    report = (out / "audit" / "audit_report.html").read_text()
    assert "bob" in report and "ada" not in report.split("Disagreements")[1]  # 11 vs 10.6: agree on whole points
