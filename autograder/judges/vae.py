"""Part 2.1, the VAE: one judge per test, on what the child observed of the model."""

from __future__ import annotations

from autograder.judges.common import Verdict, shape_text
from autograder.judges.probes import VAE_PROBES
from autograder.judges.table import of_part
from hw7core.limits import N_POINTS, TOL, TOL_SAME

# The tests of the Encoder and the Decoder, which run on those classes alone when the VAE cannot be built.
ON_THEIR_OWN = {t.number: t.needs[0] for t in of_part("2.1") if t.needs != ("VAE",)}


def encoder_shapes(e: dict, latent, points: float) -> Verdict:
    """2.1.1: encoder(y) returns (mu, logvar), each (batch, latent_size)."""
    parts = e.get("parts") or []
    want = [VAE_PROBES["encoder_batch"], latent]
    if e.get("error"):
        return 0.0, f"encoder(y) raised {e['error']}"
    if len(parts) != 2:
        return 0.0, f"encoder(y) must return a tuple (mu, logvar), got {shape_text(e.get('describe'))}"
    if not all(p.get("kind") == "tensor" and p.get("shape") == want for p in parts):
        return 0.0, (f"for y of shape ({want[0]}, {N_POINTS}), expected mu and logvar of shape {tuple(want)}, "
                     f"got {shape_text(parts[0])} and {shape_text(parts[1])}")
    return points, "Shapes are right."


def encoder_chunk(e: dict, points: float) -> Verdict:
    """2.1.2: mu and logvar are the two halves of one output layer of 2*latent_size."""
    if not e.get("has_output_layer"):
        return 0.0, "no nn.Linear layer with 2*latent_size outputs found in the encoder"
    if e.get("chunk_diff") is None:
        return 0.0, "could not compare mu and logvar with the output layer (see the encoder test)"
    if e["chunk_diff"] > TOL_SAME:
        return 0.0, ("mu and logvar are not the two halves of the encoder's last layer "
                     "(torch.chunk(out, 2, dim=-1): mu first, then logvar)")
    return points, "mu and logvar are the two halves of the output layer."


def decoder(d: dict, latent, points: float) -> Verdict:
    """2.1.3: decoder(z) has the right shape, is finite, and passes gradients (half the points without)."""
    desc = d.get("describe") or {}
    batch = VAE_PROBES["decoder_batch"]
    if d.get("error"):
        return 0.0, f"decoder(z) raised {d['error']}"
    if desc.get("kind") != "tensor" or desc.get("shape") != [batch, N_POINTS]:
        return 0.0, (f"for z of shape ({batch}, {latent}) expected y_hat of shape ({batch}, {N_POINTS}), "
                     f"got {shape_text(desc)}")
    if not d.get("finite"):
        return 0.0, "decoder(z) returned NaN or inf"
    if not d.get("grad_reaches_params"):
        return points / 2, "Shape is right, but gradients do not reach the decoder's parameters."
    return points, "Shape and gradients are right."


def _forward_problem(f: dict) -> str | None:
    if f.get("error"):
        return f"model(y) raised {f['error']}"
    if len(f.get("parts") or []) != 3:
        return f"model(y) must return (y_hat, mu, logvar), got {shape_text(f.get('describe'))}"
    return None


def forward_shapes(f: dict, latent, points: float) -> Verdict:
    """2.1.5: model(y) returns (y_hat, mu, logvar) with the right shapes."""
    if problem := _forward_problem(f):
        return 0.0, problem
    shapes = [p.get("shape") for p in f["parts"]]
    n = VAE_PROBES["forward_batch"]
    if shapes == [[n, N_POINTS], [n, latent], [n, latent]]:
        return points, "Shapes are right."
    return 0.0, (f"for y of shape ({n}, {N_POINTS}) expected shapes ({n}, {N_POINTS}), ({n}, {latent}), "
                 f"({n}, {latent}); got {', '.join(str(tuple(s or ())) for s in shapes)}")


def reparameterisation(f: dict) -> Verdict:
    """2.1.4 (10 points): eps from randn_like (6, or 3 when eps merely looks standard normal), and
    gradients reaching mu and logvar (4)."""
    if problem := _forward_problem(f):
        return 0.0, problem
    points, notes = 0.0, []
    if f.get("randn_like_calls", 0) == 0:
        notes.append("eps should come from torch.randn_like(...)")
        if f.get("implied_eps_std") is not None and 0.5 < f["implied_eps_std"] < 1.5:
            points += 3.0
    elif f.get("reparam_diff") is not None and f["reparam_diff"] < TOL:
        points += 6.0
    else:
        notes.append("the decoder's input is not mu + exp(0.5 * logvar) * eps")
    if f.get("grad_mu") and f.get("grad_logvar"):
        points += 4.0
    else:
        notes.append("gradients of y_hat must reach both mu and logvar (do not detach them)")
    return points, "; ".join(notes) or "z = mu + exp(0.5 logvar) * eps, and gradients flow."


def generate(g: dict) -> Verdict:
    """2.1.6 (10 points): shape (2), seeding (2), z from the prior (2, or 1 when only close), eval mode
    (1), no gradients and no encoder (1), the device argument (2)."""
    gdesc = g.get("describe") or {}
    n, small = VAE_PROBES["n_samples"], VAE_PROBES["device_samples"]
    if g.get("error"):
        return 0.0, f"model.generate(n_samples={n}, seed=0) raised {g['error']}"
    if gdesc.get("kind") != "tensor" or gdesc.get("shape") != [n, N_POINTS]:
        return 0.0, f"generate(n_samples={n}) must return a ({n}, {N_POINTS}) tensor, got {shape_text(gdesc)}"
    points, notes = 2.0, []
    if g.get("same_seed_diff") == 0.0 and (g.get("other_seed_diff") or 0) > 0:
        points += 2.0
    else:
        notes.append("the same seed must give the same samples, another seed other samples "
                     "(call torch.manual_seed(seed) first)")
    if g.get("z_diff") is not None and g["z_diff"] < TOL_SAME:
        points += 2.0
    elif (g.get("z_mean") is not None and abs(g["z_mean"]) < 0.1 and g.get("z_std")
          and abs(g["z_std"] - 1) < 0.1):
        points += 1.0
        notes.append("z looks standard normal, but is not torch.randn(n_samples, latent_size) right "
                     "after torch.manual_seed(seed)")
    else:
        notes.append("z must be drawn from the prior N(0, I), shape (n_samples, latent_size)")
    if g.get("decoder_training") is False:
        points += 1.0
    else:
        notes.append("put the decoder in eval mode before decoding")
    if not gdesc.get("requires_grad") and g.get("encoder_calls") == 0:
        points += 1.0
    else:
        notes.append("generate should run under torch.inference_mode() and use only the decoder")
    ddesc = g.get("device_describe") or {}
    if g.get("device_error") is None and ddesc.get("device") == "cpu" and ddesc.get("shape") == [small, N_POINTS]:
        points += 2.0
    else:
        notes.append(f"generate(n_samples={small}, seed=0, device='cpu') must return a ({small}, {N_POINTS}) "
                     "tensor on that device")
    return points, "; ".join(notes) or "generate behaves as specified."


def vae_problem(obs: dict) -> str | None:
    """Why the VAE itself could not be tested (not defined, or VAE(**model_config) failed)."""
    if obs.get("missing"):
        return f"No `{', '.join(obs['missing'])}` found in the graded cells."
    if obs.get("build_error"):
        return f"VAE(**model_config) failed: {obs['build_error']}"
    return None


def standalone_note(verdict: Verdict, problem: str, name: str, how: str) -> Verdict:
    """An Encoder or Decoder test run on the class alone, because the VAE could not be built."""
    score, output = verdict
    if how.startswith("not tested"):
        return score, f"{problem}\n`{name}` on its own: {how}."
    return score, f"{output}\n(The VAE could not be built, so `{name}` was built on its own with {how}.)"


def judge(obs: dict, points: dict[str, float]) -> dict[str, Verdict]:
    problem, standalone = vae_problem(obs), obs.get("standalone")
    if problem and not isinstance(standalone, dict):
        return dict.fromkeys(points, (0.0, problem))
    if not problem:
        lacking = [k for k, v in (obs.get("has") or {}).items() if not v]
        if lacking:
            return dict.fromkeys(points, (0.0, f"The VAE must have the attributes {', '.join(lacking)} "
                                                "(self.encoder, self.decoder, self.latent_size)."))
    latent, enc = obs.get("latent_size"), obs.get("encoder") or {}
    verdicts = {"2.1.1": encoder_shapes(enc, latent, points["2.1.1"]),
                "2.1.2": encoder_chunk(enc, points["2.1.2"]),
                "2.1.3": decoder(obs.get("decoder") or {}, latent, points["2.1.3"])}
    if problem:  # the VAE's tests fail; the Encoder's and the Decoder's ran on the classes alone
        for number, name in ON_THEIR_OWN.items():
            how = str(standalone.get(name, "not tested: no model_config to build it from"))
            verdicts[number] = standalone_note(verdicts[number], problem, name, how)
        return {number: verdicts.get(number, (0.0, problem)) for number in points}
    forward = obs.get("forward") or {}
    return {**verdicts, "2.1.4": reparameterisation(forward), "2.1.5": forward_shapes(forward, latent, points["2.1.5"]),
            "2.1.6": generate(obs.get("generate") or {})}
