"""Which parts of a submission can be graded, and why not: one rule for the grader and the handout.

It is part of hw7core, which the student handout ships whole, so the student's check gives the very
verdict the grader would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cells, intake, parts


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
        ready.blocked = dict.fromkeys(parts.NUMBERS, problem)
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
    for part in parts.PARTS:  # VAE(**model_config) is built in 2.1's tests and trained in the re-training
        if sub.model_config is None and (part.retrains or "VAE" in part.names):
            blocked[part.number] = sub.problems["model_config"]
        if sub.train_config is None and part.retrains:
            blocked[part.number] = blocked.get(part.number) or sub.problems["train_config"]
    for part in parts.PARTS:
        names = part.also_needs if part.retrains else part.names
        missing = [n for n in names if n not in code.where]
        if not missing or part.number in blocked:
            continue
        if part.credit_by_names and len(missing) < len(part.names):
            ready.partly_missing[part.number] = _missing_message(missing, code)
        else:
            blocked[part.number] = _missing_message(missing, code)
    return ready
