"""The ONNX graph of a BERT encoder built straight from its safetensors weights and
config.json, with `onnx.helper`: no torch. The packaged all-MiniLM-L6-v2 is such a model;
its graph is the embedder's (`rag.nlp.embeddings`), checked against sentence-transformers by
the tests (cosine >= 0.9999).

The graph is BERT's forward pass as transformers computes it: word, position and token-type
embeddings with a layer norm, then per layer self-attention (a padding mask of the dtype's
minimum, softmax over scaled scores), a dense projection with the residual and a layer norm,
a GELU feed-forward (the exact, erf form) with the residual and a layer norm. Inputs
`input_ids`, `attention_mask` and `token_type_ids` ([batch, tokens], int64); output
`last_hidden_state` ([batch, tokens, hidden]). Pooling stays outside, as in
sentence-transformers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17  # LayerNormalization


class _Graph:
    """Nodes and initialisers being collected, with fresh names."""

    def __init__(self) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def weight(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, kind: str, inputs: list[str], **attributes: Any) -> str:
        out = self.name(kind.lower())
        self.nodes.append(self.helper.make_node(kind, inputs, [out], **attributes))
        return out

    def linear(self, x: str, weights: dict[str, np.ndarray], prefix: str) -> str:
        """x @ W.T + b, W as torch's Linear stores it ([out, in])."""
        w = self.weight(f"{prefix}.weight.T", weights[f"{prefix}.weight"].T)
        b = self.weight(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, w]), b])

    def heads(
        self, x: str, weights: dict[str, np.ndarray], prefix: str, split: str, perm: list[int]
    ) -> str:
        """A projection of x cut into attention heads ([batch, tokens, heads, head]), the
        axes then in the order `perm`."""
        projected = self.linear(x, weights, prefix)
        return self.op("Transpose", [self.op("Reshape", [projected, split])], perm=perm)

    def layer_norm(self, x: str, weights: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        gamma = self.weight(f"{prefix}.weight", weights[f"{prefix}.weight"])
        beta = self.weight(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)


def build(model_dir: Path) -> Any:
    """The `onnx.ModelProto` of the BERT encoder whose weights and config are in
    `model_dir` (model.safetensors, config.json)."""
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    weights = load_file(str(model_dir / "model.safetensors"))
    weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    head = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    g = _Graph()
    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"

    # embeddings: word + position (0 .. tokens-1) + token type, then a layer norm
    zero, one = g.weight("zero", np.array(0, np.int64)), g.weight("one", np.array(1, np.int64))
    tokens = g.op("Gather", [g.op("Shape", [ids]), one], axis=0)
    positions = g.op("Unsqueeze", [g.op("Range", [zero, tokens, one]), zero])
    table = "embeddings.{}_embeddings.weight"
    summed = g.op(
        "Add",
        [
            g.op(
                "Add",
                [
                    g.op("Gather", [g.weight("word", weights[table.format("word")]), ids]),
                    g.op(
                        "Gather",
                        [g.weight("position", weights[table.format("position")]), positions],
                    ),
                ],
            ),
            g.op("Gather", [g.weight("token_type", weights[table.format("token_type")]), types]),
        ],
    )
    x = g.layer_norm(summed, weights, "embeddings.LayerNorm", eps)

    # the padding mask, [batch, 1, 1, tokens]: 0 where a token is, the dtype's minimum where not
    present = g.op("Cast", [mask], to=TensorProto.FLOAT)
    one_f = g.weight("one_f", np.array(1.0, np.float32))
    absent = g.op("Sub", [one_f, present])
    minimum = g.weight("minimum", np.array(np.finfo(np.float32).min, np.float32))
    axes = g.weight("mask_axes", np.array([1, 2], np.int64))
    bias = g.op("Unsqueeze", [g.op("Mul", [absent, minimum]), axes])

    split = g.weight("split_heads", np.array([0, 0, heads, head], np.int64))
    merge = g.weight("merge_heads", np.array([0, 0, hidden], np.int64))
    scale = g.weight("scale", np.array(1.0 / math.sqrt(head), np.float32))
    half = g.weight("half", np.array(0.5, np.float32))
    root2 = g.weight("sqrt2", np.array(math.sqrt(2.0), np.float32))
    for i in range(int(config["num_hidden_layers"])):
        layer = f"encoder.layer.{i}"
        attention = f"{layer}.attention.self"
        q = g.heads(x, weights, f"{attention}.query", split, [0, 2, 1, 3])  # [b, h, t, d]
        k = g.heads(x, weights, f"{attention}.key", split, [0, 2, 3, 1])  # [b, h, d, t]
        v = g.heads(x, weights, f"{attention}.value", split, [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])
        attended = g.linear(context, weights, f"{layer}.attention.output.dense")
        x = g.layer_norm(
            g.op("Add", [attended, x]), weights, f"{layer}.attention.output.LayerNorm", eps
        )
        inner = g.linear(x, weights, f"{layer}.intermediate.dense")
        erf = g.op("Erf", [g.op("Div", [inner, root2])])
        gelu = g.op("Mul", [g.op("Mul", [inner, half]), g.op("Add", [erf, one_f])])
        out = g.linear(gelu, weights, f"{layer}.output.dense")
        x = g.layer_norm(g.op("Add", [out, x]), weights, f"{layer}.output.LayerNorm", eps)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))

    batch_tokens = ["batch", "tokens"]
    graph = helper.make_graph(
        g.nodes,
        "bert",
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, batch_tokens)
            for n in (ids, mask, types)
        ],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, [*batch_tokens, hidden]
            )
        ],
        g.weights,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="news-rag"
    )


def write(model_dir: Path, target: Path) -> Path:
    """Build the graph of the model in `model_dir` and save it to `target`."""
    import onnx

    model = build(model_dir)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return target
