"""Part 2.3's evaluator: run a re-trained decoder, received as an ONNX graph, on the grader's latents.

Run as ``python -I onnx_eval.py FOLDER`` by ``autograder.run.decoder_draw`` in a process of its own, with
limits: the graph comes from the student's sandbox, so it is untrusted *data*.  This process runs no
student code (an ONNX graph is a list of operators from a fixed set, and only the allowed ones pass)
and imports only numpy, onnxruntime and onnx's protobuf messages.  FOLDER holds ``graph.onnx`` and ``latents.npy`` (k x 24 rows: the graph takes 24 at a time); the
answer is one JSON line on stdout: ``{"samples": [[...]], "layers": [[in, out], ...]}`` or ``{"error": why}``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

N_SAMPLES, N_POINTS = 24, 200
MAX_NODES = 2000
MAX_PARAMETERS = 20_000_000
# What a decoder built from torch layers exports to (Linear, activations, norms, reshapes); nothing
# that branches, loops, sorts, samples or indexes a table by value (If, Loop, ArgMax, TopK, Gather,
# RandomNormal, ...).  An honest decoder that needs more is scored from the child's samples, "unverified".
ALLOWED_OPS = frozenset({
    "Add", "BatchNormalization", "Cast", "Celu", "Clip", "Concat", "Constant", "Div", "Dropout", "Elu", "Erf",
    "Exp", "Flatten", "Gelu", "Gemm", "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization",
    "LayerNormalization", "LeakyRelu", "Log", "MatMul", "Mish", "Mul", "Neg", "Pow", "PRelu", "Reciprocal",
    "Relu", "Reshape", "Selu", "Sigmoid", "Softplus", "Softsign", "Sqrt", "Squeeze", "Sub", "Tanh",
    "Transpose", "Unsqueeze",
})
DOMAINS = ("", "ai.onnx")


def onnx_messages():
    """onnx's generated protobuf module (ModelProto, ...), loaded from its file: ``import onnx`` also starts
    ml_dtypes, 1.5-7 s of CPU on a loaded machine, and the evaluator needs only the message classes."""
    if "onnx_ml_pb2" in sys.modules:
        return sys.modules["onnx_ml_pb2"]
    spec = importlib.util.find_spec("onnx")  # locates the package without running its __init__
    path = Path(spec.origin).with_name("onnx_ml_pb2.py")
    module_spec = importlib.util.spec_from_file_location("onnx_ml_pb2", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    sys.modules["onnx_ml_pb2"] = module
    return module


def _dims(value_info) -> list:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def check_graph(model, latent: int) -> tuple[list[str], list[list[int]]]:
    """(problems, layers): why this graph may not run here, and the (in, out) size of each weight matrix."""
    onnx = onnx_messages()
    problems, graph = [], model.graph
    if model.functions or model.training_info:
        problems.append("it defines local functions or training graphs")
    if len(graph.node) > MAX_NODES:
        problems.append(f"it has {len(graph.node)} operators, more than {MAX_NODES}")
    bad_ops = sorted({f"{n.domain}:{n.op_type}" if n.domain not in DOMAINS else n.op_type
                      for n in graph.node if n.domain not in DOMAINS or n.op_type not in ALLOWED_OPS})
    if bad_ops:
        problems.append(f"it uses operators the evaluator does not run: {', '.join(bad_ops[:8])}")
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        problems.append("it holds sub-graphs")
    tensors = [*graph.initializer, *(a.t for n in graph.node for a in n.attribute if a.type == onnx.AttributeProto.TENSOR)]
    if graph.sparse_initializer or any(t.data_location == onnx.TensorProto.EXTERNAL or t.external_data
                                       for t in tensors):
        problems.append("it refers to weights in external files")
    n_params = sum(int(_size(t.dims)) for t in tensors)
    if n_params > MAX_PARAMETERS:
        problems.append(f"it holds {n_params:,} numbers, more than {MAX_PARAMETERS:,}")
    inputs = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    if len(inputs) != 1 or len(graph.output) != 1:
        problems.append(f"it has {len(inputs)} inputs and {len(graph.output)} outputs, not one of each")
    else:
        want_in = [N_SAMPLES, latent]
        if _dims(inputs[0]) != want_in:
            problems.append(f"its input has shape {_dims(inputs[0])}, not {want_in} (model_config's latent_size)")
        if _dims(graph.output[0]) not in ([N_SAMPLES, N_POINTS], [None, N_POINTS]):
            problems.append(f"its output has shape {_dims(graph.output[0])}, not [{N_SAMPLES}, {N_POINTS}]")
    if problems:
        return problems, []
    weights = {t.name: t for t in graph.initializer}
    layers = []
    for node in graph.node:
        if node.op_type in ("Gemm", "MatMul") and len(node.input) > 1 and node.input[1] in weights:
            dims = list(weights[node.input[1]].dims)
            if len(dims) == 2:
                trans = node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute)
                layers.append(dims[::-1] if trans else dims)
    return problems, layers


def _size(dims) -> int:
    total = 1
    for d in dims:
        total *= max(int(d), 0)
    return total


def evaluate(folder: Path) -> dict:
    import numpy as np
    import onnxruntime as ort

    z = np.load(folder / "latents.npy", allow_pickle=False).astype(np.float32)  # draws of 24, one after another
    try:
        model = onnx_messages().ModelProto.FromString((folder / "graph.onnx").read_bytes())
    except Exception as exc:  # noqa: BLE001 (any malformed graph)
        return {"error": f"it is not a valid ONNX graph ({type(exc).__name__}: {str(exc)[:200]})"}
    problems, layers = check_graph(model, int(z.shape[1]))
    if problems:
        return {"error": "; ".join(problems)}
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # one thread: the same numbers every time
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        outs = [np.asarray(session.run(None, {name: z[i:i + N_SAMPLES]})[0]) for i in range(0, len(z), N_SAMPLES)]
    except Exception as exc:  # noqa: BLE001
        return {"error": f"onnxruntime could not run it ({type(exc).__name__}: {str(exc)[:200]})"}
    bad = [list(o.shape) for o in outs if o.shape != (N_SAMPLES, N_POINTS)]
    if bad:
        return {"error": f"it returned shape {bad[0]}, not [{N_SAMPLES}, {N_POINTS}]"}
    out = np.concatenate(outs)
    samples = [[v if np.isfinite(v) else None for v in row] for row in out.astype(np.float64).tolist()]
    return {"samples": samples, "layers": layers}


if __name__ == "__main__":
    try:
        answer = evaluate(Path(sys.argv[1]))
    except MemoryError:
        answer = {"error": "evaluating it ran out of memory"}
    except Exception as exc:  # noqa: BLE001 (still one answer, never a traceback)
        answer = {"error": f"the evaluator failed ({type(exc).__name__}: {str(exc)[:200]})"}
    sys.stdout.write(json.dumps(answer) + "\n")
