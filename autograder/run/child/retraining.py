"""Part 2.3 in the child: re-train the student's model from the configs, export its decoder as data
(an ONNX graph with its weights) and draw its own 24 samples (the fallback when the export fails).

The grader's reference loop and KL are not in this package: the sandbox adds ``reference_training.py``
to it only for the job that trains with them (``use_reference_loop``), never for the student's own run.
"""

import base64
import io
import time
import warnings

from HW7_utils import N_POINTS, N_SAMPLES  # (HW7_utils imports no heavy module at the top)

from .model import build_model
from .runtime import JOB, attempt, describe, seed_everything

# The graph travels in the report: past this size it is not sent and 2.3 falls back to the child's samples.
GRAPH_MAX_BYTES = 3 * 2**20


def latent_size(model):
    """The latent size the decoder takes: model_config's ``latent_size``, else the model's own attribute."""
    config = JOB.get("model_config") or {}
    size = config.get("latent_size") if isinstance(config, dict) else None
    if not isinstance(size, int):
        size = getattr(model, "latent_size", None)
    return size if isinstance(size, int) and size > 0 else None


def find_decoder(model, latent):
    """``model.decoder``, or else the one sub-module (``self.dec``, say) that maps (24, latent) to (24, 200)."""
    import torch

    decoder = getattr(model, "decoder", None)
    if isinstance(decoder, torch.nn.Module):
        return decoder
    found = []
    for module in model.children():
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = module(torch.zeros(N_SAMPLES, latent))
            if isinstance(out, torch.Tensor) and tuple(out.shape) == (N_SAMPLES, N_POINTS):
                found.append(module)
        except Exception:  # noqa: BLE001 (the encoder, say, refuses a latent-sized input)
            pass
        finally:
            module.train(was_training)
    if len(found) != 1:
        raise TypeError("the model has no decoder attribute, and no single sub-module maps latent vectors to 200 values")
    return found[0]


def export_decoder(model):
    """The trained decoder in eval mode as ONNX bytes for a (24, latent) input (the parent checks them).

    TorchScript's exporter first (about 0.1 s once imported); torch.export's (``dynamo=True``, several
    seconds) for a decoder that tracing cannot handle."""
    import torch

    latent = latent_size(model)
    if latent is None:
        raise ValueError("no latent_size in model_config or on the model")
    decoder = find_decoder(model, latent)
    was_training = decoder.training
    decoder.eval()
    z = torch.zeros(N_SAMPLES, latent)
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(decoder, (z,), buffer, dynamo=False, input_names=["z"], output_names=["y"])
            except Exception:  # noqa: BLE001 (any tracing failure: try the other exporter)
                buffer = io.BytesIO()
                torch.onnx.export(decoder, (z,), dynamo=True, optimize=True, verbose=False).save(buffer)
    finally:
        decoder.train(was_training)
    return buffer.getvalue()


def _exported(model):
    """{"decoder_onnx": base64} or {"export_error": why}: the parent's evaluator draws from the former."""
    start = time.perf_counter()
    graph, err = attempt(export_decoder, model)
    obs = {"export_seconds": time.perf_counter() - start}
    if err is not None:
        return {**obs, "export_error": err}
    if len(graph) > GRAPH_MAX_BYTES:
        return {**obs, "export_error": f"the decoder's graph is {len(graph) / 2**20:.1f} MB, larger than "
                                       f"the {GRAPH_MAX_BYTES / 2**20:g} MB the grader accepts"}
    return {**obs, "decoder_onnx": base64.b64encode(graph).decode("ascii")}


def _train(ns, model, dataset, tracker_cls, train_config):
    if JOB.get("use_reference_loop"):
        from . import reference_training  # present only in this job's sandbox

        ns["D_KL"] = reference_training.reference_dkl
        return attempt(reference_training.reference_train, model, dataset, tracker_cls=tracker_cls,
                       **train_config)
    return attempt(ns["train_VAE"], model, dataset, device="cpu", plot_freq=0, **train_config)


def retrain(ns):
    import torch

    from HW7_utils import AirfoilDataset

    use_reference = bool(JOB.get("use_reference_loop"))
    # The student's own run trains with the student's own code only: a missing train_VAE leaves no model
    # (the parent then runs the reference job); a missing D_KL fails inside their loop if it uses it.
    needed = [n for n in ("VAE", *(() if use_reference else ("train_VAE",))) if not callable(ns.get(n))]
    if needed:
        return {"missing": needed}
    train_config = JOB.get("train_config")
    if train_config is None:
        train_config = ns.get("train_config")
    if not isinstance(train_config, dict):
        return {"build_error": "no train_config to train with"}
    built, err = attempt(build_model, ns)
    if err is not None:
        return {"build_error": err}
    model, source = built
    trackers = []

    class RecordingTracker(ns["VAE_Tracker"]):
        def __init__(self, *args, **kwargs):
            kwargs["live"] = False
            super().__init__(*args, **kwargs)
            trackers.append(self)

    ns["VAE_Tracker"] = RecordingTracker
    dataset = AirfoilDataset()
    seed_everything(0)
    start = time.perf_counter()
    _, err = _train(ns, model, dataset, RecordingTracker, train_config)
    seconds = time.perf_counter() - start
    obs = {"config_source": source, "loop": "reference" if use_reference else "student",
           "dkl": "reference" if use_reference else "student", "train_error": err, "train_seconds": seconds}
    if trackers:
        t = trackers[-1]
        step = max(1, len(t.total_losses) // 400)
        obs["curves"] = {"rec": t.rec_losses[::step], "prior": t.prior_losses[::step],
                         "total": t.total_losses[::step], "every": step, "n": len(t.total_losses)}
    if err is not None:
        return obs
    samples, err = attempt(model.generate, n_samples=N_SAMPLES, seed=0)
    obs["generate_error"] = err
    if err is None:
        obs["describe"] = describe(samples)
        if isinstance(samples, torch.Tensor) and samples.numel() <= N_SAMPLES * N_POINTS * 4:
            obs["samples"] = samples.detach().to("cpu", torch.float64).tolist()
    obs.update(_exported(model))  # after generate: its samples are the fallback if the export fails
    return obs
