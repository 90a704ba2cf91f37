"""The child/judge protocol as typed data: what a quick part's child gets (its inputs) and what it sends back
(its observations).  One definition, imported by both sides: the child (copied into the sandbox as
``autograder/run/child/protocol.py``) fills these dataclasses in; the parent (autograder/judges) reads them back with
:func:`load`, which keeps only the fields declared here, of the declared types.

What an observation may hold (issue 21): raw outputs of the student's functions on the parent's inputs
(:class:`Call`: the returned value's type, and each returned tensor's shape and values), never a verdict.
The few fields that are the child's own report of *how* the code ran (hooks, spies, counters) say so in
their comment; the judges give them few points, and autograder/judges/table.py marks the tests that rest on them.

Standard library only: the child imports it before any student code runs, and the parent imports it
without torch.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field


# --- what every observation is made of --------------------------------------------------------------------
@dataclass
class Tensor:
    """One tensor the student's code returned: its form and (the first ``limit``) values, as float64."""

    shape: list[int] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)  # flattened; NaN and inf sent as None
    requires_grad: bool = False
    device: str = "cpu"


@dataclass
class Call:
    """One call of a student's function: the error it raised, or what it returned."""

    error: str | None = None
    kind: str = ""  # the returned value's type name ("Tensor", "tuple", ...)
    length: int | None = None  # for a tuple or list
    items: list[Tensor | None] = field(default_factory=list)  # the tensor, or each element of the tuple

    def tensor(self, i: int = 0) -> Tensor | None:
        return self.items[i] if self.error is None and i < len(self.items) else None


# --- the inputs: parent -> child (derived per grading from the course secret; never the secret) -----------
@dataclass
class DklCase:
    seed: int  # mu, then logvar: torch.randn(*shape) each, right after torch.manual_seed(seed)
    shape: list[int]


@dataclass
class DklInputs:
    cases: list[DklCase]


@dataclass
class VaeInputs:
    encoder_batch: int
    decoder_batch: int
    forward_batch: int
    n_samples: int
    device_samples: int
    z_stats_samples: int
    encoder_seed: int  # y for the encoder
    decoder_seed: int  # z for the decoder
    forward_seed: int  # y for forward
    eps_seed: int  # the eps that torch.randn_like hands forward
    generate_seeds: list[int]  # generate(n, seed) with the first twice, then with the second


@dataclass
class LoopProbe:
    """One run of the student's train_VAE on a small dataset, with a spy scheduler of this kind."""

    scheduler: str  # "StepLR" (stepped without arguments) or "Plateau" (stepped with the running mean)
    n_iters: int
    beta: float
    window: int  # running_avg_window
    batch_size: int


@dataclass
class LoopInputs:
    probes: list[LoopProbe]
    model_seed: int  # the initial weights of the grader's probe model
    data_seed: int  # which airfoils make up the probe's dataset
    dataset_size: int


# --- the observations: child -> parent --------------------------------------------------------------------
@dataclass
class DklSeen:
    missing: list[str] = field(default_factory=list)
    cases: list[Call] = field(default_factory=list)  # D_KL(mu, logvar) per case, in the inputs' order


@dataclass
class EncoderSeen:
    call: Call = field(default_factory=Call)  # encoder(y)
    layer_found: bool = False  # the child's report: an nn.Linear with 2*latent_size outputs exists
    layer_out: Tensor | None = None  # the child's report: that layer's output during the call (a hook)


@dataclass
class DecoderSeen:
    call: Call = field(default_factory=Call)  # decoder(z)
    grad_reaches_params: bool | None = None  # the child's report: backward() gave the parameters gradients


@dataclass
class ForwardSeen:
    call: Call = field(default_factory=Call)  # model(y): (y_hat, mu, logvar)
    randn_like_calls: int = 0  # the child's report: how often forward drew eps from torch.randn_like
    z: Tensor | None = None  # the child's report: the decoder's input (a pre-hook)
    grad_mu: Tensor | None = None  # d sum(y_hat) / d mu
    grad_logvar: Tensor | None = None  # d sum(y_hat) / d logvar
    grad_error: str | None = None


@dataclass
class GenerateSeen:
    first: Call = field(default_factory=Call)  # generate(n, seed=generate_seeds[0])
    again: Call = field(default_factory=Call)  # the same call again
    other: Call = field(default_factory=Call)  # generate(n, seed=generate_seeds[1])
    decoded_eval: Call = field(default_factory=Call)  # the student's decoder, eval mode, on the prior's z
    decoded_train: Call = field(default_factory=Call)  # the same in train mode (a generate without eval())
    decoded_seen: Call = field(default_factory=Call)  # the decoder on the z it got in the first call, same mode
    z: Tensor | None = None  # the child's report: the decoder's input during the first call (a pre-hook)
    z_stats: list[float] | None = None  # the child's report: mean and std of z over z_stats_samples draws
    decoder_training: bool | None = None  # the child's report: the decoder's mode during the first call
    encoder_calls: int = 0  # the child's report
    device: Call = field(default_factory=Call)  # generate(device_samples, seed, device="cpu")


@dataclass
class VaeSeen:
    missing: list[str] = field(default_factory=list)
    build_error: str | None = None
    latent_size: int | None = None
    standalone: dict[str, str] | None = None  # the VAE failed: how Encoder and Decoder were built alone
    has: dict[str, bool] = field(default_factory=dict)  # the VAE's attributes encoder, decoder, latent_size
    encoder: EncoderSeen | None = None
    decoder: DecoderSeen | None = None
    forward: ForwardSeen | None = None
    generate: GenerateSeen | None = None


@dataclass
class TrackerSeen:
    n_iters: int | None = None
    rec: list[float | None] = field(default_factory=list)
    prior: list[float | None] = field(default_factory=list)
    total: list[float | None] = field(default_factory=list)


@dataclass
class LoopRun:
    error: str | None = None
    rows: list[list[int]] = field(default_factory=list)  # each forward pass's batch: rows of the probe's data
    tracker: TrackerSeen | None = None  # the values train_VAE gave the tracker
    trackers: int = 0  # the child's report: VAE_Trackers made
    training_flags: list[bool] = field(default_factory=list)  # the child's report: model.training per forward
    steps: int = 0  # the child's report: optimizer.step() calls
    grad_at_step: list[float | None] = field(default_factory=list)  # the spy's reading of logvar's grad at step
    hook_grads: list[float] = field(default_factory=list)  # the child's report: each backward's logvar grad
    scheduler_calls: list = field(default_factory=list)  # the child's report: arguments (StepLR) or values


@dataclass
class LoopSeen:
    missing: list[str] = field(default_factory=list)
    runs: list[LoopRun] = field(default_factory=list)  # one per probe, in the inputs' order


# Part -> (its inputs, its observations): the child package cannot import hw7core/parts.py, so the
# parent checks that these keys are parts.QUICK (tests/test_judges.py).
INPUTS = {"1.4": DklInputs, "2.1": VaeInputs, "2.2": LoopInputs}
SEEN = {"1.4": DklSeen, "2.1": VaeSeen, "2.2": LoopSeen}


# --- reading back -----------------------------------------------------------------------------------------
def load(cls, data):
    """``data`` (parsed JSON) as an instance of dataclass ``cls``: unknown keys dropped, a value of the
    wrong type replaced by the field's default (a student's forged or broken message cannot smuggle in
    other types or crash a judge)."""
    if not isinstance(data, dict):
        data = {}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            ok, value = _convert(hints[f.name], data[f.name])
            if ok:
                kwargs[f.name] = value
                continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{cls.__name__}.{f.name} is missing")
    return cls(**kwargs)


def _convert(hint, value):
    """(True, value as ``hint``) or (False, None)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            ok, converted = _convert(arg, value)
            if ok:
                return True, converted
        return False, None
    if hint is type(None):
        return value is None, None
    if dataclasses.is_dataclass(hint):
        return (True, load(hint, value)) if isinstance(value, dict) else (False, None)
    if origin is list or hint is list:
        if not isinstance(value, list):
            return False, None
        if not args:
            return True, value
        out = [_convert(args[0], v) for v in value]
        return (True, [v for _, v in out]) if all(ok for ok, _ in out) else (False, None)
    if origin is dict:
        if not isinstance(value, dict):
            return False, None
        out = {k: _convert(args[1], v) for k, v in value.items() if isinstance(k, str)}
        return (True, {k: v for k, (_, v) in out.items()}) if all(ok for ok, _ in out.values()) else (False, None)
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return ok, float(value) if ok else None
    if hint is str:
        return isinstance(value, str), value
    return False, None


def dump(obj) -> dict:
    """A dataclass as plain JSON-able data (the child sends this)."""
    return dataclasses.asdict(obj)
