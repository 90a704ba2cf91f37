"""Write the example submissions that `make grade` grades by default (examples/submissions/).

Each one is made from the solution or the student notebook, so they follow any change to them:
    reference        the solution as it stands (full marks)
    untouched        the student notebook as handed out (stubs only: 0)
    collapsed        the solution with beta far too large: the 24 samples all look alike
    undertrained     the solution with too few iterations: the samples are noisy
    wrong_kl         the solution with a sign error in D_KL
    hangs            the solution with an endless loop in train_VAE
    original_template  correct code written for the original template: `hidden_dims` arguments, the KL
                     summed over the latent dimensions inline in the loop with its own beta (full marks)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import variants  # noqa: E402

ROOT = variants.ROOT
OUT = ROOT / "examples" / "submissions"


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else OUT
    solution = variants.load_solution()
    model, train = variants.configs(solution)
    student = nbformat.read(str(ROOT / "notebooks" / "HW7.ipynb"), as_version=4)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    examples = {
        "reference": (solution, train),
        "untouched": (student, train),
        "collapsed": (solution, {**train, "beta": 1.0, "n_iters": 3000}),
        "undertrained": (solution, {**train, "n_iters": 300}),
        "wrong_kl": (variants.replace(solution, "D_KL", "def D_KL(mu, logvar):\n"
                                      "    return (0.5 * (mu.pow(2) + logvar.exp() - 1 + logvar)).mean()\n"),
                     {**train, "n_iters": 3000}),
        "hangs": (variants.replace(solution, "train_VAE", "def train_VAE(model, train_dataset, **kwargs):\n"
                                   "    while True:\n        pass\n"), {**train, "n_iters": 3000}),
    }
    models = {"original_template": variants.ORIGINAL_TEMPLATE_MODEL}
    examples["original_template"] = (variants.original_template(solution),
                                     {**train, "beta": variants.ORIGINAL_TEMPLATE_BETA})
    for name, (nb, train_config) in examples.items():
        path = variants.write(out / name, nb, models.get(name, model), train_config, as_zip=True)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
