"""Which parts of a submission can be graded, and why not: one rule for the grader and the handout.

It is part of hw7core, which the student handout ships whole, so the student's check gives the very
verdict the grader would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cells, configs, intake, parts


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


def describe(sub: intake.Submission, code: cells.GradedCode, from_notebook: list[str]) -> str:
    """cells.describe, but the configs' line says where the re-trained configs come from: the YAML files
    when they are in the submission (a config cell the notebook builds from other variables is then not
    "missing": the grader never reads it)."""
    lines = cells.describe(code).splitlines()
    for part in parts.PARTS:
        if not part.retrains:
            continue
        sources = []
        for key in part.names:
            if key in from_notebook:
                sources.append(f"{key} from the notebook (cell {code.where[key] + 1})" if key in code.where
                               else f"{key} from the notebook")
            elif getattr(sub, key) is not None:
                sources.append(f"{key} from {key}.yaml")
            else:
                sources.append(f"{key}: none usable")
        lines = [f"{part.number}: " + ", ".join(sources) if line.startswith(f"{part.number}:") else line
                 for line in lines]
    return "\n".join(lines)


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
    found_at = len(ready.notes)  # the list of what was found comes first; its configs line needs the loop below
    ready.notes += code.notes + code.forbidden_imports
    refused: dict[str, str] = {}  # configs written in the notebook that are not small literals, and why
    nb_configs = cells.notebook_configs(code, refused)
    from_notebook = []
    for key, validate in (("model_config", configs.validate_model_config),
                          ("train_config", configs.validate_train_config)):
        if getattr(sub, key) is not None:
            continue
        # Only an absent file is made up for from the notebook: one that is there but invalid is what the
        # student handed in, and the notebook may hold another model.
        if key in sub.absent and key in nb_configs and not validate(nb_configs[key]):
            setattr(sub, key, nb_configs[key])
            from_notebook.append(key)
            ready.notes.append(f"{key}.yaml is missing; used the {key} written in the notebook instead.")
        else:
            ready.notes.append(sub.problems[key])
            if key in refused:  # the notebook held one, but not one the parent may read
                ready.notes.append(refused[key] + ".")
    ready.notes.insert(found_at, "Graded cells found:\n" + describe(sub, code, from_notebook))
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
