"""Which parts of a submission can be graded, and why not: one rule for the grader and the handout.

The student's check (handout/hw7_check) carries this file byte for byte, so a student sees the very
verdict the grader would give.  Relative imports only: in the handout it lives in its own package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cells, intake

PARTS = ("1.4", "2.1", "2.2", "2.3")
RETRAIN_NEEDS = ("VAE",)  # part 2.3 builds VAE(**model_config); the loop and D_KL have fallbacks


@dataclass
class Readiness:
    blocked: dict[str, str] = field(default_factory=dict)  # part -> why none of its tests can run
    partly_missing: dict[str, str] = field(default_factory=dict)  # part -> why some tests cannot pass
    notes: list[str] = field(default_factory=list)  # for the feedback: what was found, what was used


def _missing_message(missing: list[str], code: cells.GradedCode) -> str:
    syntax = [c.error for c in code.cells if c.error]
    return (f"No graded cell defines {', '.join('`' + m + '`' for m in missing)}. " + (
        f"Probably because {'; '.join(syntax)}." if syntax else
        "Check that the cell that defines it starts with `# AUTOGRADED`."))


def assess(sub: intake.Submission, code: cells.GradedCode | None) -> Readiness:
    """The parts that cannot run (or only in part), with the notes the feedback shows.

    A config file that is missing but written in the notebook is taken from there: ``sub`` is
    updated in place, so what the grader runs is what the notes say.
    """
    ready = Readiness(notes=list(sub.notes))
    if sub.problems.get("notebook") or code is None:
        problem = sub.problems.get("notebook") or "the notebook could not be read"
        ready.blocked = dict.fromkeys(PARTS, problem)
        return ready
    ready.notes.append("Graded cells found:\n" + cells.describe(code))
    ready.notes += code.notes + code.forbidden_imports
    nb_configs = cells.notebook_configs(code)
    for key, validate in (("model_config", intake.validate_model_config),
                          ("train_config", intake.validate_train_config)):
        if getattr(sub, key) is not None:
            continue
        problem = sub.problems[key]
        if "missing" in problem and key in nb_configs and not validate(nb_configs[key]):
            setattr(sub, key, nb_configs[key])
            ready.notes.append(f"{key}.yaml is missing; used the {key} written in the notebook instead.")
        else:
            ready.notes.append(problem)
    blocked = ready.blocked
    if sub.model_config is None:
        blocked["2.1"] = blocked["2.3"] = sub.problems["model_config"]
    if sub.train_config is None:
        blocked["2.3"] = blocked.get("2.3") or sub.problems["train_config"]
    for part in PARTS:
        missing = ([n for n in RETRAIN_NEEDS if n in code.missing("2.1")] if part == "2.3"
                   else code.missing(part))
        if not missing or part in blocked:
            continue
        if part == "2.1" and len(missing) < len(cells.NAMES_BY_PART[part]):
            ready.partly_missing[part] = _missing_message(missing, code)  # each test needs only some names
        else:
            blocked[part] = _missing_message(missing, code)
    return ready
