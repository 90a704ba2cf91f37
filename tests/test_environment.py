"""The pinned environment: requirements.txt is installed with --no-deps, so it must hold every dependency
of everything it pins (the requested extras' too), at versions those dependencies accept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# Left out on purpose (requirements.txt's header): jsonschema's optional IRI format check, which compiles a
# lark grammar whenever jsonschema is imported, i.e. in every process that reads a notebook with nbformat.
LEFT_OUT = {"rfc3987-syntax"}
INSTALLS = {"Makefile": r"pip install [^\n]*-r requirements\.txt", "gradescope/setup.sh": r"pip\" install [^\n]*-r requirements\.txt"}


def pins() -> dict[str, Version]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            found[canonicalize_name(name)] = Version(version)
    return found


def missing_or_refused(pinned: dict[str, Version], requires: dict[str, list[str]]) -> list[str]:
    """Each dependency (with the extras that are asked for, followed) that the pins lack or pin at a version
    its requirement refuses; ``requires`` maps a pinned name to its metadata's Requires-Dist lines."""
    problems, todo, seen = [], [(name, "") for name in pinned], set()
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for line in requires.get(name, []):
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": extra}):
                continue
            dep = canonicalize_name(req.name)
            if dep in LEFT_OUT:
                continue
            if dep not in pinned:
                problems.append(f"{name}{f'[{extra}]' if extra else ''} needs {req}, which requirements.txt lacks")
            elif not req.specifier.contains(pinned[dep], prereleases=True):
                problems.append(f"{name} needs {req}, requirements.txt pins {dep}=={pinned[dep]}")
            else:
                todo += [(dep, e) for e in req.extras]
    return problems


def test_the_closure_check_finds_a_missing_dependency_and_a_refused_version():
    pinned = {"a": Version("1.0"), "b": Version("2.0")}
    assert missing_or_refused(pinned, {"a": ["b>=1", "c ; extra == 'x'"], "b": []}) == []
    assert missing_or_refused(pinned, {"a": ["b[x]>=1"], "b": ["c ; extra == 'x'"]}) == [
        "b[x] needs c; extra == \"x\", which requirements.txt lacks"]
    assert missing_or_refused(pinned, {"a": ["b>=3"]}) == ["a needs b>=3, requirements.txt pins b==2.0"]


def test_requirements_pin_every_dependency_of_what_they_pin():
    pinned = pins()
    requires = {}
    for name, version in pinned.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is pinned but not installed: run make setup")
        assert Version(dist.version.split("+")[0]) == version, f"{name} {dist.version} installed, {version} pinned"
        requires[name] = dist.requires or []
    assert missing_or_refused(pinned, requires) == []
    assert not LEFT_OUT & set(pinned)


def test_both_installs_take_the_pins_alone():
    for path, pattern in INSTALLS.items():
        commands = re.findall(pattern, (ROOT / path).read_text())
        assert commands and all("--no-deps" in c for c in commands), (path, commands)


def test_pip_takes_torch_and_uv_by_their_pins_before_uv_takes_the_rest():
    # torch's CPU build is found only by pip on these machines; the Makefile picks the two lines by a pattern.
    makefile = (ROOT / "Makefile").read_text()
    patterns = re.findall(r"pip install [^\n]*\$\$\(grep -E '([^']+)' requirements\.txt\)", makefile)
    picked = [line for pattern in patterns for line in (ROOT / "requirements.txt").read_text().splitlines()
              if re.search(pattern, line)]
    assert [line.split("==")[0] for line in picked] == ["torch", "uv"]
    assert re.search(r"uv pip install [^\n]*--no-deps [^\n]*-r requirements\.txt \\\n\s*\|\| \$\(PY\) -m pip install",
                     makefile), "uv installs the rest, and pip does it all where uv cannot"


def test_reading_a_notebook_compiles_no_grammar():
    code = ("import sys, nbformat; nbformat.read(sys.argv[1], as_version=4); "
            "print(sorted({'lark', 'rfc3987_syntax'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "notebooks" / "HW7.ipynb")],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- a torch that cannot be imported (PyPI's CUDA build without its NVIDIA libraries, seen as a TA) ---------------
def test_a_torch_without_its_nvidia_libraries_is_explained_with_the_fix(tmp_path):
    from autograder.run import preflight

    (tmp_path / "requirements.txt").write_text("numpy==2.0\ntorch==9.9.9\n")
    assert preflight.pinned_torch(tmp_path) == "torch==9.9.9" and preflight.pinned_torch(tmp_path / "no") == "torch"
    cuda = ImportError("libcudnn.so.9: cannot open shared object file: No such file or directory")
    message = preflight.explain(cuda, python="/kit/.venv/bin/python", pin="torch==9.9.9")
    assert "PyPI's CUDA build of torch" in message and "libcudnn.so.9" in message
    assert ("/kit/.venv/bin/python -m pip install --force-reinstall --no-deps torch==9.9.9 --index-url "
            "https://download.pytorch.org/whl/cpu") in message and "make setup" in message
    other = preflight.explain(ModuleNotFoundError("No module named 'torch'"), python="py", pin="torch==1")
    assert "CUDA" not in other and "No module named 'torch'" in other and "--index-url" in other


def test_grading_without_a_working_torch_stops_before_grading_anything(tmp_path):
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("libcudnn.so.9: cannot open shared object file")\n')
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    subs = ROOT / "examples" / "submissions"
    for args, code in [(["-m", "autograder", "grade-all", str(subs), "--out", str(tmp_path / "all")], 2),
                       (["-m", "autograder", "grade", str(subs / "reference.zip"), "--out", str(tmp_path / "one")], 2),
                       (["-m", "autograder.run.preflight"], 1)]:
        run = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT)
        assert run.returncode == code, run.stderr
        assert "error: torch cannot be imported" in run.stderr and "Traceback" not in run.stderr
        assert "--index-url https://download.pytorch.org/whl/cpu" in run.stderr
    assert not (tmp_path / "all").exists() or not list((tmp_path / "all").glob("*/results.json"))
    assert not (tmp_path / "one" / "results.json").exists()


def test_setup_offers_the_cpu_build_on_linux_and_checks_that_torch_imports():
    makefile = (ROOT / "Makefile").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in makefile
    recipe = makefile.split("$(STAMP): requirements.txt", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("$(PY) -m autograder.run.preflight") < recipe.index("touch $@")  # no stamp on a broken torch


def test_the_conda_environment_offers_the_cpu_build_and_takes_the_pins():
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item)
    assert pip == ["--extra-index-url https://download.pytorch.org/whl/cpu", "-r requirements.txt"]
