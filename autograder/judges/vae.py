"""Part 2.1, the VAE: one judge per test, on the raw outputs of the student's model on this grading's inputs.

Values are checked against what the parent computes itself (the eps it chose, the prior's z for the seed it
chose) and against each other (generate's samples must be the student's own decoder on that z).  The
sub-points of 2.1.4 and 2.1.6 are shares of the row's points (judges/table.py), never fixed numbers.
"""

from __future__ import annotations

from autograder.judges.common import Trial, Verdict, all_close, as_torch, scaled, shape_of, shape_text
from autograder.judges.table import of_part
from autograder.run.child.protocol import DecoderSeen, EncoderSeen, ForwardSeen, GenerateSeen, VaeInputs
from hw7core.limits import N_POINTS, TOL, TOL_SAME

PART = "2.1"
# The tests of the Encoder and the Decoder, which run on those classes alone when the VAE cannot be built.
ON_THEIR_OWN = {t.number: t.needs[0] for t in of_part(PART) if t.needs != ("VAE",)}
# Shares of 2.1.4, in tenths of the row's points: eps from randn_like (or half of it when eps merely looks
# standard normal); gradients.  (Whole tenths, so that 9 of 10 is 9.0, not 9.000000000000002.)
REPARAM_SHARES = {"eps": 6, "grads": 4}
# Shares of 2.1.6, in tenths (the notebook's 10 points: 2, 2, 2, 1, 1, 2).
GENERATE_SHARES = {"shape": 2, "seeded": 2, "prior": 2, "eval": 1, "no_grad": 1, "device": 2}


def drawn(seed: int, *shape: int):
    """What the child's ``drawn`` gives: torch.randn(*shape) from a generator of its own (float32)."""
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).double()


def encoder_shapes(e: EncoderSeen, latent, batch: int, points: float) -> Verdict:
    """2.1.1: encoder(y) returns (mu, logvar), each (batch, latent_size)."""
    want = [batch, latent]
    if e.call.error:
        return 0.0, f"encoder(y) raised {e.call.error}"
    if e.call.length != 2:
        return 0.0, f"encoder(y) must return a tuple (mu, logvar), got {shape_text(e.call)}"
    if not (shape_of(e.call, 0) == want and shape_of(e.call, 1) == want):
        return 0.0, (f"for y of shape ({batch}, {N_POINTS}), expected mu and logvar of shape {tuple(want)}, "
                     f"got {shape_text(e.call, 0)} and {shape_text(e.call, 1)}")
    return points, "Shapes are right."


def encoder_chunk(e: EncoderSeen, latent, batch: int, points: float) -> Verdict:
    """2.1.2: mu and logvar are the two halves of one output layer of 2*latent_size (the layer's output is
    the child's report, from a hook; the comparison is made here)."""
    if not e.layer_found:
        return 0.0, "no nn.Linear layer with 2*latent_size outputs found in the encoder"
    out, mu, logvar = as_torch(e.layer_out), as_torch(e.call.tensor(0)), as_torch(e.call.tensor(1))
    if encoder_shapes(e, latent, batch, 1.0)[0] == 0 or out is None or list(out.shape) != [batch, 2 * latent]:
        return 0.0, "could not compare mu and logvar with the output layer (see the encoder test)"
    if not (all_close(mu, out[:, :latent], TOL_SAME) and all_close(logvar, out[:, latent:], TOL_SAME)):
        return 0.0, ("mu and logvar are not the two halves of the encoder's last layer "
                     "(torch.chunk(out, 2, dim=-1): mu first, then logvar)")
    return points, "mu and logvar are the two halves of the output layer."


def decoder(d: DecoderSeen, latent, batch: int, points: float) -> Verdict:
    """2.1.3: decoder(z) has the right shape, is finite, and passes gradients (half the points without)."""
    if d.call.error:
        return 0.0, f"decoder(z) raised {d.call.error}"
    if d.call.kind != "Tensor" or shape_of(d.call) != [batch, N_POINTS]:
        return 0.0, (f"for z of shape ({batch}, {latent}) expected y_hat of shape ({batch}, {N_POINTS}), "
                     f"got {shape_text(d.call)}")
    if any(v is None for v in d.call.tensor().values):
        return 0.0, "decoder(z) returned NaN or inf"
    if not d.grad_reaches_params:
        return points / 2, "Shape is right, but gradients do not reach the decoder's parameters."
    return points, "Shape and gradients are right."


def _forward_problem(f: ForwardSeen) -> str | None:
    if f.call.error:
        return f"model(y) raised {f.call.error}"
    if f.call.length != 3:
        return f"model(y) must return (y_hat, mu, logvar), got {shape_text(f.call)}"
    return None


def forward_shapes(f: ForwardSeen, latent, batch: int, points: float) -> Verdict:
    """2.1.5: model(y) returns (y_hat, mu, logvar) with the right shapes."""
    if problem := _forward_problem(f):
        return 0.0, problem
    shapes = [shape_of(f.call, i) for i in range(3)]
    if shapes == [[batch, N_POINTS], [batch, latent], [batch, latent]]:
        return points, "Shapes are right."
    return 0.0, (f"for y of shape ({batch}, {N_POINTS}) expected shapes ({batch}, {N_POINTS}), "
                 f"({batch}, {latent}), ({batch}, {latent}); got {', '.join(str(tuple(s or ())) for s in shapes)}")


def reparameterisation(f: ForwardSeen, inputs: VaeInputs, points: float) -> Verdict:
    """2.1.4: the decoder's input is mu + exp(0.5 logvar) * eps for the eps this grading handed to
    torch.randn_like (a share; half of it when eps merely looks standard normal), and the gradients of
    y_hat reach mu and logvar as the formula says: d/dlogvar = d/dmu * 0.5 * exp(0.5 logvar) * eps."""
    import torch

    if problem := _forward_problem(f):
        return 0.0, problem
    mu, logvar, z = as_torch(f.call.tensor(1)), as_torch(f.call.tensor(2)), as_torch(f.z)
    if mu is None or mu.dim() != 2 or mu.shape[0] != inputs.forward_batch or logvar is None \
            or logvar.shape != mu.shape or z is None or z.shape != mu.shape:
        return 0.0, "the decoder's input, mu and logvar must all have the shape (batch, latent_size)"
    sigma, eps = torch.exp(0.5 * logvar), drawn(inputs.eps_seed, *mu.shape)
    eps_used = (z - mu) / sigma  # the eps forward used (imprecise where sigma is tiny: the parent's when right)
    share, notes = 0, []
    if f.randn_like_calls == 0:
        notes.append("eps should come from torch.randn_like(...)")
        if eps_used.numel() > 1 and bool(torch.isfinite(eps_used).all()) and 0.5 < float(eps_used.std()) < 1.5:
            share += REPARAM_SHARES["eps"] // 2
    elif all_close(z, mu + sigma * eps, TOL):
        share += REPARAM_SHARES["eps"]
        eps_used = eps
    else:
        notes.append("the decoder's input is not mu + exp(0.5 * logvar) * eps")
    g_mu, g_logvar = as_torch(f.grad_mu), as_torch(f.grad_logvar)
    if (g_mu is not None and g_logvar is not None and bool(g_mu.abs().sum() > 0) and bool(g_logvar.abs().sum() > 0)
            and all_close(g_logvar, g_mu * 0.5 * sigma * eps_used, 1e-3)):
        share += REPARAM_SHARES["grads"]
    else:
        notes.append("gradients of y_hat must reach both mu and logvar (do not detach them)")
    return scaled(share / 10, points), "; ".join(notes) or "z = mu + exp(0.5 logvar) * eps, and gradients flow."


def _samples(call):
    t = as_torch(call.tensor()) if call.error is None and call.kind == "Tensor" else None
    return t


def generate(g: GenerateSeen, inputs: VaeInputs, latent, points: float) -> Verdict:
    """2.1.6: shape, seeding, z from the prior (the seed's z, computed here), eval mode and no encoder (the
    child's report), the device argument; each a share of the row's points.  Samples that are not the
    student's own decoder's output on the prior's z earn the shape's share only."""
    n, small = inputs.n_samples, inputs.device_samples
    if g.first.error:
        return 0.0, f"model.generate(n_samples={n}, seed=...) raised {g.first.error}"
    first = _samples(g.first)
    if first is None or list(first.shape) != [n, N_POINTS]:
        return 0.0, f"generate(n_samples={n}) must return a ({n}, {N_POINTS}) tensor, got {shape_text(g.first)}"
    share, notes = GENERATE_SHARES["shape"], []
    decoded = [_samples(c) for c in (g.decoded_eval, g.decoded_train, g.decoded_seen)]
    if not any(all_close(first, d, TOL) for d in decoded):
        return scaled(share / 10, points), ("the samples are not your decoder's output on z drawn from the prior: "
                                       "generate must return self.decoder(z) for z = torch.randn(n_samples, "
                                       "latent_size) drawn right after torch.manual_seed(seed)")
    again, other = _samples(g.again), _samples(g.other)
    if all_close(first, again, 0.0) and other is not None and other.shape == first.shape \
            and not all_close(first, other, TOL_SAME):
        share += GENERATE_SHARES["seeded"]
    else:
        notes.append("the same seed must give the same samples, another seed other samples "
                     "(call torch.manual_seed(seed) first)")
    z = as_torch(g.z)
    if z is not None and all_close(z, drawn(inputs.generate_seeds[0], n, latent), TOL_SAME):
        share += GENERATE_SHARES["prior"]
    elif g.z_stats and abs(g.z_stats[0]) < 0.1 and abs(g.z_stats[1] - 1) < 0.1:
        share += GENERATE_SHARES["prior"] // 2
        notes.append("z looks standard normal, but is not torch.randn(n_samples, latent_size) right "
                     "after torch.manual_seed(seed)")
    else:
        notes.append("z must be drawn from the prior N(0, I), shape (n_samples, latent_size)")
    if g.decoder_training is False:
        share += GENERATE_SHARES["eval"]
    else:
        notes.append("put the decoder in eval mode before decoding")
    if not g.first.tensor().requires_grad and g.encoder_calls == 0:
        share += GENERATE_SHARES["no_grad"]
    else:
        notes.append("generate should run under torch.inference_mode() and use only the decoder")
    device = g.device.tensor()
    if g.device.error is None and device is not None and device.device == "cpu" and device.shape == [small, N_POINTS]:
        share += GENERATE_SHARES["device"]
    else:
        notes.append(f"generate(n_samples={small}, seed=..., device='cpu') must return a ({small}, {N_POINTS}) "
                     "tensor on that device")
    return scaled(share / 10, points), "; ".join(notes) or "generate behaves as specified."


def vae_problem(seen) -> str | None:
    """Why the VAE itself could not be tested (not defined, or VAE(**model_config) failed)."""
    if seen.missing:
        return f"No `{', '.join(seen.missing)}` found in the graded cells."
    if seen.build_error:
        return f"VAE(**model_config) failed: {seen.build_error}"
    return None


def standalone_note(verdict: Verdict, problem: str, name: str, how: str) -> Verdict:
    """An Encoder or Decoder test run on the class alone, because the VAE could not be built."""
    score, output = verdict
    if how.startswith("not tested"):
        return score, f"{problem}\n`{name}` on its own: {how}."
    return score, f"{output}\n(The VAE could not be built, so `{name}` was built on its own with {how}.)"


def judge(trial: Trial, points: dict[str, float]) -> dict[str, Verdict]:
    seen, inputs = trial.seen, trial.inputs
    problem, standalone = vae_problem(seen), seen.standalone
    if problem and standalone is None:
        return dict.fromkeys(points, (0.0, problem))
    if not problem:
        lacking = [k for k, v in seen.has.items() if not v]
        if lacking or not seen.has:
            return dict.fromkeys(points, (0.0, f"The VAE must have the attributes {', '.join(lacking)} "
                                                "(self.encoder, self.decoder, self.latent_size)."))
    latent, enc = seen.latent_size, seen.encoder or EncoderSeen()
    verdicts = {"2.1.1": encoder_shapes(enc, latent, inputs.encoder_batch, points["2.1.1"]),
                "2.1.2": encoder_chunk(enc, latent, inputs.encoder_batch, points["2.1.2"]),
                "2.1.3": decoder(seen.decoder or DecoderSeen(), latent, inputs.decoder_batch, points["2.1.3"])}
    if problem:  # the VAE's tests fail; the Encoder's and the Decoder's ran on the classes alone
        for number, name in ON_THEIR_OWN.items():
            how = str(standalone.get(name, "not tested: no model_config to build it from"))
            verdicts[number] = standalone_note(verdicts[number], problem, name, how)
        return {number: verdicts.get(number, (0.0, problem)) for number in points}
    forward = seen.forward or ForwardSeen()
    return {**verdicts, "2.1.4": reparameterisation(forward, inputs, points["2.1.4"]),
            "2.1.5": forward_shapes(forward, latent, inputs.forward_batch, points["2.1.5"]),
            "2.1.6": generate(seen.generate or GenerateSeen(), inputs, latent, points["2.1.6"])}
