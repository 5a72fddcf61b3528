"""A tf2onnx model in a canonical form, so the same Keras model gives byte-identical `.onnx` files.

tf2onnx (1.17) is not reproducible by itself: it suffixes the nodes and tensors it inserts with a
process-wide counter (`conv1/BiasAdd__38`), and its graph optimizers walk node sets, so the node and
initializer order changes from one conversion to the next (three conversions of one MobileNetV2 in a
process gave three different files). Here the nodes are put in a topological order decided by their
structure alone (op type, attributes, the structure of their inputs), counter-suffixed names are
renumbered in that order (constants several nodes share are numbered in order of first use: tf2onnx merges
equal constants under whichever name it meets first), and initializers and value infos are sorted by
name.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from typing import Any

_COUNTED = re.compile(r"^(.*)__\d+(:\d+)?$")


def canonical(proto: Any) -> Any:
    """`proto` (a ModelProto) in canonical form, in place; returned for chaining."""
    graph = proto.graph
    ordered = _structural_order(graph)
    del graph.node[:]
    graph.node.extend(ordered)
    _renumber(graph)
    for field in (graph.initializer, graph.value_info):
        items = sorted(field, key=lambda item: item.name)
        del field[:]
        field.extend(items)
    return proto


def _structural_order(graph: Any) -> list:
    """The nodes in Kahn's topological order, ready nodes taken by a label computed from structure."""
    label: dict[str, str] = {v.name: "input:" + v.name for v in graph.input}
    for init in graph.initializer:
        unnamed = type(init)()
        unnamed.CopyFrom(init)
        unnamed.name = ""
        label[init.name] = "const:" + hashlib.sha256(unnamed.SerializeToString(deterministic=True)).hexdigest()
    producers = {out: i for i, node in enumerate(graph.node) for out in node.output}
    waiting = {i: {name for name in node.input if name in producers} for i, node in enumerate(graph.node)}
    readers: dict[str, list[int]] = {}
    for i, node in enumerate(graph.node):
        for name in node.input:
            readers.setdefault(name, []).append(i)
    node_label: dict[int, str] = {}

    def labelled(i: int) -> tuple[str, str, int]:
        """(structure hash, name without counters, original index): the last two only break ties
        between structurally identical nodes."""
        node = graph.node[i]
        attrs = b"".join(a.SerializeToString(deterministic=True) for a in sorted(node.attribute, key=lambda a: a.name))
        key = "|".join([node.op_type, node.domain, hashlib.sha256(attrs).hexdigest(),
                        *(label.get(name, "") for name in node.input)])
        node_label[i] = hashlib.sha256(key.encode()).hexdigest()
        return node_label[i], re.sub(r"__\d+", "", node.name), i

    ready = [labelled(i) for i, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered = []
    while ready:
        *_, i = heapq.heappop(ready)
        node = type(graph.node[i])()
        node.CopyFrom(graph.node[i])
        ordered.append(node)
        for k, out in enumerate(node.output):
            label[out] = f"{node_label[i]}:{k}"
            for reader in readers.get(out, ()):
                waiting[reader].discard(out)
                if not waiting[reader] and reader not in node_label:
                    heapq.heappush(ready, labelled(reader))
    return ordered


def _renumber(graph: Any) -> None:
    """Counter-suffixed names renumbered in node order; constants several nodes read become `shared_const__N`
    in order of first use (tf2onnx merges equal constants under whichever of their names it meets first)."""
    renamed: dict[str, str] = {}
    reads: dict[str, int] = {}
    for node in graph.node:
        for n in node.input:
            reads[n] = reads.get(n, 0) + 1
    shared = {init.name for init in graph.initializer if reads.get(init.name, 0) > 1}

    def name(old: str) -> str:
        found = _COUNTED.match(old)
        if old in shared and old not in renamed:
            renamed[old] = f"shared_const__{len(renamed) + 1}"
        if not found and old not in renamed:
            return old
        if old not in renamed:
            renamed[old] = f"{found.group(1)}__{len(renamed) + 1}{found.group(2) or ''}"
        return renamed[old]

    for node in graph.node:
        node.name = name(node.name)
        node.input[:] = [name(n) for n in node.input]
        node.output[:] = [name(n) for n in node.output]
    for tensor in graph.initializer:
        tensor.name = name(tensor.name)
    for value in list(graph.value_info) + list(graph.input) + list(graph.output):
        value.name = name(value.name)
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.dim_param = name(dim.dim_param)
