"""bench/bench_suite.py's arithmetic: the busy CPU read from /proc/stat and the per-file sums."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import bench_suite  # noqa: E402


def test_busy_cpu_leaves_out_idle_and_iowait(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_suite.os, "sysconf", lambda name: 100)
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal
    stat.write_text("cpu  100 5 50 9000 300 1 2 40 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    assert bench_suite.busy_cpu_seconds(str(stat)) == (100 + 5 + 50 + 1 + 2 + 40) / 100


def test_cpu_model_is_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nflags\t: avx2\n")
    assert bench_suite.cpu_model(str(info)) == "Some CPU @ 2.0GHz"


def test_summary_sums_per_file_largest_first_and_keeps_the_costliest_tests():
    records = [
        {"test": "tests/test_a.py::one", "cpu_s": 1.0, "wall_s": 1.5, "children": 1},
        {"test": "tests/test_b.py::two", "cpu_s": 5.0, "wall_s": 4.0, "children": 3},
        {"test": "tests/test_a.py::three", "cpu_s": 2.5, "wall_s": 2.0, "children": 0},
    ]
    summary = bench_suite.summarise(records, top=2)
    assert list(summary["files"]) == ["tests/test_b.py", "tests/test_a.py"]
    assert summary["files"]["tests/test_a.py"] == {"cpu_s": 3.5, "wall_s": 3.5, "children": 1, "tests": 2}
    assert (summary["tests"], summary["cpu_s"], summary["children"]) == (3, 8.5, 4)
    assert [r["test"] for r in summary["top"]] == ["tests/test_b.py::two", "tests/test_a.py::three"]
    text = bench_suite.table(summary)
    assert "| tests/test_b.py | 1 | 5 | 4 | 3 |" in text and "| all | 3 | 8 | 8 | 4 |" in text
