"""The adversarial corpus: broken and hostile submissions, each with its expected outcome per part.

Every case is generated from the solution (or the student notebook) by replacing graded cells or
packing files in a hostile way; nothing is hand-edited.  `tests/test_corpus.py` grades them all and
checks the outcomes; `python scripts/make_corpus.py DIR` writes them out for a look (or for
`make grade SUBMISSIONS=DIR`).

An expectation per part is one of:
    int/float      that exact score
    (score, TEXT)  that exact score and TEXT in the part's messages
    "zero:TEXT"    0 points and TEXT in the part's messages (the cause, in the student's terms)
    "base"         the same score as the unmodified solution with the same configs

A case grades only the parts whose children run the attacked code: a D_KL's body runs only in 1.4's
child (2.2's loop is run with the grader's KL), VAE's and generate only in 2.1's (and 2.3's re-training),
train_VAE only in 2.2's; the other children merely define them, so a "base" there would prove nothing.
The attacks on what children share (memory, processes, CPU, output, disk, the folder, signals) and on
the cells themselves keep the parts that run beside the attacked one: they must not be slowed or starved.
"""

from __future__ import annotations

import copy
import stat
import sys
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import variants  # noqa: E402

from hw7core import parts  # noqa: E402

QUICK = parts.QUICK
ALL = parts.NUMBERS
N_ITERS = 40  # re-training in the corpus is short: 2.3 is compared with the same short baseline
GOOD_DKL = "(0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean()"


@dataclass
class Case:
    name: str
    what: str
    make: Callable[[Path], Path]  # writes the submission under the given folder, returns its path
    expect: dict[str, object]
    parts: tuple[str, ...] = ()  # the parts graded; by default those with an expectation
    notes: list[str] = field(default_factory=list)  # substrings of the top-level output
    absent: list[str] = field(default_factory=list)  # strings that must not appear in results.json

    def __post_init__(self):
        self.parts = self.parts or tuple(p for p in ALL if p in self.expect)


def _solution():
    return variants.load_solution()


def _configs():
    model, train = variants.configs(_solution())
    return model, {**train, "n_iters": N_ITERS}


def _with(name: str, source: str, *, model=None, train=None, base=None):
    def make(folder: Path) -> Path:
        nb = variants.replace(base or _solution(), name, textwrap.dedent(source))
        m, t = _configs()
        return variants.write(folder / "case", nb, model or m, train or t)
    return make


def _dkl(body: str):
    return _with("D_KL", "def D_KL(mu, logvar):\n" + textwrap.indent(textwrap.dedent(body), "    "))


def _generate_returns(expression: str):
    """The solution's VAE, except that generate returns ``expression``."""
    return _with("VAE", f"""
        class VAE(nn.Module):
            def __init__(self, input_size, hidden_sizes, latent_size):
                super().__init__()
                self.latent_size = latent_size
                self.encoder = Encoder(input_size, hidden_sizes, latent_size)
                self.decoder = Decoder(latent_size, hidden_sizes[::-1], input_size)
            def forward(self, y):
                mu, logvar = self.encoder(y)
                z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
                return self.decoder(z), mu, logvar
            def generate(self, n_samples, seed=0, device=Device):
                return {expression}
        """)


def _files(files: Callable[[], dict[str, bytes]], *, zip_links=(), raw_names=()):
    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "case.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in files().items():
                zf.writestr(name, data)
            for name in zip_links:
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, "/etc/passwd")
            for raw in raw_names:  # a member name that is not valid UTF-8 (flag bit 11 unset)
                info = zipfile.ZipInfo(raw.decode("cp437"))
                zf.writestr(info, b"x: 1\n")
        return path
    return make


def _good_files(nb=None, model=None, train=None) -> dict[str, bytes]:
    m, t = _configs()
    # In memory: tests/test_corpus.py makes two cases at a time, in threads (a folder they shared let one
    # case read another's half-written files).
    return variants.submission_files(nb or _solution(), model or m, train or t)


def _notebook_edit(edit: Callable, configs=True):
    def make(folder: Path) -> Path:
        nb = edit(copy.deepcopy(_solution()))
        m, t = _configs()
        if configs:
            return variants.write(folder / "case", nb, m, t)
        return variants.write(folder / "case", nb, m, t, omit=("model_config.yaml", "train_config.yaml"))
    return make


def _split(nb):
    i = variants.cell_defining(nb, "Encoder")
    cell = nb.cells[i]
    head, _, rest = cell.source.partition("\nclass Encoder")
    nb.cells[i].source = head + "\n"
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell("# AUTOGRADED\nclass Encoder" + rest))
    return nb


def _merged(nb):
    graded = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# AUTOGRADED")]
    merged = "# AUTOGRADED (80)\n" + "\n\n".join(c.source.split("\n", 1)[1] for c in graded)
    first = nb.cells.index(graded[0])
    nb.cells = [c for c in nb.cells if c not in graded]
    nb.cells.insert(first, nbformat.v4.new_code_cell(merged))
    return nb


def _duplicated(nb):
    i = variants.cell_defining(nb, "D_KL")
    wrong = nbformat.v4.new_code_cell("# AUTOGRADED (5)\ndef D_KL(mu, logvar):\n    return mu.mean()\n")
    nb.cells.insert(i + 1, wrong)
    return nb


def _retag(tag: str):
    def edit(nb):
        cell = nb.cells[variants.cell_defining(nb, "D_KL")]
        cell.source = tag + cell.source.split("\n", 1)[1]
        return nb
    return edit


def _v3(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = _good_files()
    nb = nbformat.reads(files["HW7.ipynb"].decode(), as_version=4)
    files["HW7.ipynb"] = nbformat.writes(nbformat.convert(nb, 3), version=3).encode()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _bomb() -> dict[str, bytes]:
    return {**_good_files(), "padding.bin": b"\0" * (80 * 2**20)}


CASES: list[Case] = [
    # Endless loops, in each graded cell and while a cell is being defined.
    Case("loop_dkl", "endless loop in D_KL", _dkl("while True:\n    pass\n"),
         {"1.4": "zero:time budget", "2.1": "base", "2.2": "base"}),
    Case("loop_vae", "endless loop in VAE.__init__", _with("VAE", """
        class VAE(nn.Module):
            def __init__(self, *args, **kwargs):
                super().__init__()
                while True:
                    pass
        """), {"2.1": "zero:time budget"}),
    Case("loop_train", "endless loop in train_VAE", _with("train_VAE", """
        def train_VAE(model, train_dataset, **kwargs):
            while True:
                pass
        """), {"2.2": "zero:time budget"}),
    Case("loop_at_definition", "endless loop at the top level of a class body", _with("Decoder", """
        class Decoder(nn.Module):
            while True:
                pass
        """), {"1.4": "base", "2.1": (15, "took more than"), "2.2": "base"}),  # the Encoder's 15 points stay
    # Resources.
    # bytes(n) takes fresh zero pages without writing them, so the address-space limit answers at once.  A hog
    # that writes its pages (bytearray) is stopped too, but on a slow machine its page faults can outlast the
    # time budget first (3.4 GiB took 10.9 s of system time on one of ours): a zero either way, yet another message.
    Case("memory_bomb", "allocates without end in D_KL", _dkl("""
        hog = []
        while True:
            hog.append(bytes(2**27))
        """), {"1.4": "zero:memory", "2.1": "base", "2.2": "base"}),
    Case("fork_bomb", "forks without end in D_KL", _dkl("""
        os = __import__("os")
        while True:
            os.fork()
        """), {"1.4": "zero:", "2.1": "base", "2.2": "base"}),
    Case("output_flood", "prints 100 MB", _dkl("""
        for _ in range(100):
            print("x" * 2**20)
        return """ + GOOD_DKL + "\n"), {"1.4": "zero:more than 20 MB", "2.1": "base"}),
    Case("fill_disk", "writes a 1 GB file into its folder", _dkl("""
        with open("big.bin", "wb") as f:
            for _ in range(1024):
                f.write(b"0" * 2**20)
        return """ + GOOD_DKL + "\n"), {"1.4": "zero:more than 20 MB", "2.1": "base"}),
    # Leaving early.
    Case("sys_exit", "exit(0) in D_KL (the builtin a student types; sys.exit raises the same)", _dkl("exit(0)\n"),
         {"1.4": "zero:SystemExit"}),
    Case("os_exit", "os._exit(0) in VAE.forward", _with("Encoder", """
        class Encoder(nn.Module):
            def __init__(self, input_size, hidden_sizes, latent_size):
                super().__init__()
                self.out = nn.Linear(input_size, 2 * latent_size)
            def forward(self, y):
                __import__("os")._exit(0)
        """), {"2.1": "zero:exit code 0"}),
    Case("kill_parent", "os.kill of its parent and its group in train_VAE", _with("train_VAE", """
        def train_VAE(*args, **kwargs):
            os = __import__("os")
            os.kill(os.getppid(), 9)
            os.kill(0, 9)
        """), {"1.4": "base", "2.1": "base", "2.2": "zero:"}),
    # Changing its own score.
    Case("fake_results", "writes results.json everywhere and prints a fake result", _dkl("""
        import json, pathlib
        fake = json.dumps({"score": 80, "tests": [{"name": "x", "score": 80, "max_score": 80}]})
        for place in ["results.json", "../results.json", "../../results.json",
                      "/autograder/results/results.json", "/tmp/results.json"]:
            try:
                pathlib.Path(place).write_text(fake)
            except Exception:
                pass
        print(fake)
        return mu.sum()
        """), {"1.4": "zero:"}),
    Case("patch_testing", "monkeypatches torch.testing and numpy.testing", _dkl("""
        torch.testing.assert_close = lambda *a, **k: None
        np.testing.assert_allclose = lambda *a, **k: None
        np.allclose = lambda *a, **k: True
        torch.allclose = lambda *a, **k: True
        return mu.sum()
        """), {"1.4": "zero:"}),
    Case("patch_builtins", "monkeypatches builtins (float, isinstance, abs, print)", _dkl("""
        import builtins
        builtins.float = lambda *a: 0.0
        builtins.isinstance = lambda *a: True
        builtins.abs = lambda x: 0
        builtins.print = lambda *a, **k: None
        return mu.sum()
        """), {"1.4": "zero:"}),
    Case("patch_grader", "replaces the child's send, json.dumps and os.write", _dkl("""
        import json, sys
        runtime = sys.modules["child.runtime"]
        runtime.send = lambda *a, **k: None
        sys.modules["__main__"].OBSERVERS = {}
        json.dumps = lambda *a, **k: '{"observations": {}}'
        __import__("os").write = lambda *a: 0
        return mu.sum()
        """), {"1.4": "zero:"}),
    # Reading what it should not, and the network.
    Case("read_secrets", "reads and prints the solution and the grader's checks", _dkl("""
        import pathlib
        for root in ["/work", "/autograder/source", "../..", "../../.."]:
            for name in ["solutions/HW7.ipynb", "autograder/judges/probes.py"]:
                try:
                    print(pathlib.Path(root, name).read_text()[:5000])
                except Exception:
                    pass
        return """ + GOOD_DKL + "\n"), {"1.4": 5}, absent=["PUBLIC_DKL", "BEGIN SOLUTION"]),
    Case("network", "opens connections to the internet and to loopback", _dkl("""
        socket = __import__("socket")
        reached = False
        for host, port in [("pypi.org", 443), ("1.1.1.1", 53), ("127.0.0.1", 22)]:
            try:
                s = socket.create_connection((host, port), timeout=2)
                reached = True
                s.close()
            except OSError:
                pass
        return """ + GOOD_DKL + " + (100.0 if reached else 0.0)\n"), {"1.4": 5}),
    Case("delete_workdir", "deletes everything in its working folder", _dkl("""
        import pathlib, shutil
        for p in pathlib.Path(".").iterdir():
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
        return """ + GOOD_DKL + "\n"), {"1.4": 5, "2.1": "base", "2.2": "base"}),
    # Bad values.
    Case("nan_outputs", "D_KL returns NaN", _dkl("return torch.tensor(float('nan'))\n"),
         {"1.4": "zero:expected 0.93"}),
    # 2.3's samples are drawn by the grader from the exported decoder (issue 21), not taken from generate: a
    # broken generate costs 2.1.6's points once, and the same model scores as the baseline's.
    Case("inf_samples", "generate returns inf", _generate_returns('torch.full((n_samples, 200), float("inf"))'),
         {"2.3": "base"}, parts=("2.1", "2.3")),
    Case("wrong_device", "generate returns a tensor on the meta device",
         _generate_returns('torch.zeros(n_samples, 200, device="meta")'),
         {"2.3": "zero:"}, parts=("2.1", "2.3")),
    Case("wrong_dtype", "D_KL returns a Python float and the wrong dtype", _dkl(
        "return float(" + GOOD_DKL + ")\n"), {"1.4": "zero:0-dim tensor"}),
    # Notebooks.
    Case("not_json", "the notebook is not JSON", _files(lambda: {**_good_files(), "HW7.ipynb": b"{oops"}),
         {"1.4": "zero:not a readable Jupyter notebook", "2.1": "zero:not a readable", "2.2": "zero:not a readable"}),
    Case("nbformat_v3", "the notebook is in nbformat 3", _v3, {"1.4": 5, "2.1": 50, "2.2": 10}),
    Case("cells_split", "the Encoder's cell split in two", _notebook_edit(_split), {"1.4": 5, "2.1": 50, "2.2": 10}),
    Case("cells_merged", "all graded code in one cell", _notebook_edit(_merged), {"1.4": 5, "2.1": 50, "2.2": 10}),
    Case("cells_duplicated", "a second, wrong D_KL cell after the first", _notebook_edit(_duplicated),
         {"1.4": "zero:", "2.1": 50, "2.2": 10}, notes=["is defined in cells"]),
    Case("tag_removed", "the AUTOGRADED line of D_KL deleted", _notebook_edit(_retag("")),
         {"1.4": "zero:No graded cell defines `D_KL`", "2.1": 50},
         notes=["does not start with `# AUTOGRADED`"]),
    Case("tag_retyped", "the tag retyped as '#autograded(5)'", _notebook_edit(_retag("#autograded(5)\n")),
         {"1.4": 5, "2.1": 50}),
    # Configs.
    Case("yaml_missing", "no YAML files: the notebook's configs are used", _notebook_edit(lambda nb: nb, configs=False),
         {"1.4": 5, "2.1": 50}, notes=["model_config.yaml is missing; used the model_config written in the notebook"]),
    Case("yaml_empty", "train_config.yaml is empty", _files(lambda: {**_good_files(), "train_config.yaml": b""}),
         {"1.4": 5, "2.3": "zero:it must be a mapping"}, parts=("1.4", "2.3")),
    Case("yaml_huge", "train_config.yaml of 1 MB", _files(lambda: {
        **_good_files(), "train_config.yaml": b"beta: 0.01\n" + b"#" * 2**20}),
         {"1.4": 5, "2.3": "zero:larger than 64 KB"}, parts=("1.4", "2.3")),
    Case("yaml_unsafe", "model_config.yaml with !!python/object", _files(lambda: {
        **_good_files(), "model_config.yaml": b"x: !!python/object/apply:os.system ['touch /tmp/pwned']\n"}),
         {"1.4": 5, "2.1": "zero:tags that are not allowed", "2.3": "zero:tags that are not allowed"}),
    Case("n_iters_huge", "n_iters = 10**9", lambda folder: variants.write(
        folder / "case", _solution(), _configs()[0], {**_configs()[1], "n_iters": 10**9}),
         {"1.4": 5, "2.3": "zero:n_iters must be a whole number between 1 and 20000"}, parts=("1.4", "2.3")),
    # Zips.
    Case("zip_parent_paths", "members with ../ paths", _files(lambda: {**_good_files(), "../../evil.py": b"x"}),
         {"1.4": 5, "2.1": 50}),
    Case("zip_absolute_paths", "members with absolute paths", _files(lambda: {**_good_files(), "/tmp/evil.py": b"x"}),
         {"1.4": 5, "2.1": 50}),
    Case("zip_symlink", "a symbolic link in the zip", _files(_good_files, zip_links=["link.txt"]), {"1.4": 5}),
    Case("zip_bomb", "80 MB of zeros in a small zip", _files(_bomb),
         {"1.4": "zero:unpacks to more than", "2.1": "zero:unpacks to more than"}),
    Case("zip_non_utf8", "a member name that is not UTF-8", _files(_good_files, raw_names=[b"caf\xe9.yaml"]),
         {"1.4": 5, "2.1": 50}),
    Case("zip_two_notebooks", "a second, broken notebook beside HW7.ipynb", _files(lambda: {
        **_good_files(), "HW7-copy.ipynb": b"{}"}), {"1.4": 5, "2.1": 50}),
    Case("zip_only_pdf", "nothing but a PDF", _files(lambda: {"HW7.pdf": b"%PDF-1.4\n"}),
         {"1.4": "zero:No notebook found", "2.1": "zero:No notebook found"}),
]


def baseline(folder: Path) -> Path:
    m, t = _configs()
    return variants.write(folder / "baseline", _solution(), m, t)


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:] or ["build/corpus"])[0])
    for case in CASES:
        path = case.make(out / case.name)
        print(f"{case.name:<22} {case.what}  ->  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
