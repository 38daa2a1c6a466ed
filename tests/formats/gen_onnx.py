#!/usr/bin/env python3
"""Generates the ONNX fixtures of tests/unit/formats_onnx_test.cpp and their expected sidecars.

    ~/.cache/tenzip/test-venv/bin/python tests/formats/gen_onnx.py [--corpus ../shared/corpus]

Writes tests/data/formats/onnx/<name>.onnx, each with <name>.expected.json and
<name>.expected.bin: every TensorProto in the file, in file (serialization) order, as the
reference loader sees it (onnx.load + onnx.numpy_helper.to_array): name, ONNX dtype, dims, where
its values are stored, and its little-endian bytes concatenated into the .bin (sub-byte types
packed as ONNX packs them). With --corpus it also writes tests/data/formats/corpus/<file>.json
for the corpus's ONNX files (CRC-32 of each tensor's bytes instead of the bytes).

Deterministic: fixed values and seeds, so re-running gives identical files.

Tensor names follow the parser's rule for TensorProtos that have none: a Constant node's
`value` is named after the node's first output; any other attribute tensor
"<node name, else first output, else op_type#index>:<attribute>[<list index>]"; sparse
indices "<values name>:indices"; unnamed initializers "<graph name>:initializer[<i>]".
"""
import argparse
import json
import pathlib
import zlib

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "formats" / "onnx"
CORPUS_OUT = ROOT / "tests" / "data" / "formats" / "corpus"

# Where a TensorProto keeps its values; the parser finds the first three as byte ranges.
CONTIGUOUS = ("raw_data", "float_data", "double_data")


def storage(t):
    if t.data_location == TensorProto.EXTERNAL:
        return "external"
    if t.HasField("raw_data"):
        return "raw_data"
    for field in ("float_data", "double_data", "int32_data", "int64_data", "uint64_data", "string_data"):
        if len(getattr(t, field)):
            return field
    return "none"


def packed_bytes(t):
    """The tensor's values as the reference loader returns them, as file bytes (LE, packed)."""
    a = numpy_helper.to_array(t)
    bits = {TensorProto.UINT4: 4, TensorProto.INT4: 4, TensorProto.FLOAT4E2M1: 4,
            TensorProto.UINT2: 2, TensorProto.INT2: 2}.get(t.data_type)
    if bits is None:
        return np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    v = a.reshape(-1).view(np.uint8) & ((1 << bits) - 1)
    per = 8 // bits
    v = np.concatenate([v, np.zeros((-len(v)) % per, np.uint8)]).reshape(-1, per)
    return bytes(np.bitwise_or.reduce(v << (np.arange(per, dtype=np.uint8) * bits), axis=1).astype(np.uint8))


def walk(model):
    """Every TensorProto as (tensor, name), in serialization (field-number) order."""
    out = []

    def tensor(t, fallback):
        out.append((t, t.name or fallback))
        return out[-1][1]

    def sparse(s, fallback):
        values_name = tensor(s.values, fallback) if s.HasField("values") else fallback
        if s.HasField("indices"):
            tensor(s.indices, values_name + ":indices")

    def graph(g):
        for i, n in enumerate(g.node):  # field 1
            node(n, i, None)
        for i, t in enumerate(g.initializer):  # field 5
            tensor(t, f"{g.name}:initializer[{i}]" if g.name else f"initializer[{i}]")
        for i, s in enumerate(g.sparse_initializer):  # field 15
            sparse(s, f"{g.name}:sparse_initializer[{i}]" if g.name else f"sparse_initializer[{i}]")

    def node(n, index, _):
        output0 = n.output[0] if len(n.output) else ""
        label = n.name or output0 or f"{n.op_type or 'node'}#{index}"
        constant = n.op_type == "Constant" and n.domain in ("", "ai.onnx") and output0
        for a in n.attribute:
            attribute(a, label, output0 if constant else "")

    def attribute(a, label, constant_output):
        if a.HasField("t"):  # field 5
            tensor(a.t, constant_output if constant_output and a.name == "value" else f"{label}:{a.name}")
        if a.HasField("g"):  # 6
            graph(a.g)
        for k, t in enumerate(a.tensors):  # 10
            tensor(t, f"{label}:{a.name}[{k}]")
        for g in a.graphs:  # 11
            graph(g)
        if a.HasField("sparse_tensor"):  # 22
            sparse(a.sparse_tensor, f"{label}:{a.name}")
        for k, s in enumerate(a.sparse_tensors):  # 23
            sparse(s, f"{label}:{a.name}[{k}]")

    graph(model.graph)  # ModelProto field 7
    for ti in model.training_info:  # 20
        if ti.HasField("initialization"):
            graph(ti.initialization)
        if ti.HasField("algorithm"):
            graph(ti.algorithm)
    for f in model.functions:  # 25
        for i, n in enumerate(f.node):
            node(n, i, None)
        for a in f.attribute_proto:
            attribute(a, f.name, "")
    return out


def expected(model):
    entries, blob = [], bytearray()
    for t, name in walk(model):
        e = {"name": name, "dtype": TensorProto.DataType.Name(t.data_type), "dims": list(t.dims),
             "storage": storage(t)}
        # External data is in another file; strings are Python objects, not bytes.
        if e["storage"] != "external" and t.data_type != TensorProto.STRING:
            data = packed_bytes(t)
            e["offset"], e["size"] = len(blob), len(data)
            e["crc32"] = zlib.crc32(data)
            blob += data
        entries.append(e)
    return entries, bytes(blob)


# ---------------------------------------------------------------- values
def fp32_special(n, seed):
    """fp32 bit patterns with NaN payloads, -0, subnormals and infinities mixed in."""
    rng = np.random.default_rng(seed)
    bits = (rng.integers(118, 128, n, dtype=np.uint32) << 23) | rng.integers(0, 1 << 23, n, dtype=np.uint32)
    bits |= rng.integers(0, 2, n, dtype=np.uint32) << 31
    special = np.array([0x7FC00001, 0xFFC12345, 0x80000000, 0x00000001, 0x807FFFFF, 0x7F800000, 0xFF800000],
                       np.uint32)
    bits[: len(special)] = special
    return bits.view(np.float32)


def floats(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32).astype(dtype)


def ints(shape, seed, dtype, lo=-100, hi=100):
    return np.random.default_rng(seed).integers(lo, hi, shape).astype(dtype)


def arr(name, a):
    return numpy_helper.from_array(a, name)


def save(model, name):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.onnx"
    data = model.SerializeToString()
    path.write_bytes(data)
    reloaded = onnx.load(str(path), load_external_data=False)
    entries, blob = expected(reloaded)
    (OUT / f"{name}.expected.json").write_text(json.dumps({"file": path.name, "tensors": entries}, indent=1) + "\n")
    (OUT / f"{name}.expected.bin").write_bytes(blob)
    print(f"{path.relative_to(ROOT)}: {len(data)} bytes, {len(entries)} tensors")


def model_of(graph, **kw):
    m = helper.make_model(graph, producer_name="tenzip-gen_onnx", opset_imports=[helper.make_opsetid("", 17)], **kw)
    m.ir_version = 8
    return m


# ---------------------------------------------------------------- fixtures
def dtypes_fixture():
    """One initializer per dtype, all in raw_data, plus a scalar and a zero-size tensor."""
    inits = [
        arr("w_fp32_special", fp32_special(64, 1).reshape(8, 8)),
        arr("w_fp16", floats((4, 6), 2, np.float16)),
        arr("w_bf16", floats((3, 5), 3, ml_dtypes.bfloat16)),
        arr("w_fp8_e4m3fn", floats((16,), 4, ml_dtypes.float8_e4m3fn)),
        arr("w_fp8_e5m2", floats((2, 8), 5, ml_dtypes.float8_e5m2)),
        arr("w_fp8_e4m3fnuz", floats((7,), 6, ml_dtypes.float8_e4m3fnuz)),
        arr("w_fp8_e5m2fnuz", floats((9,), 7, ml_dtypes.float8_e5m2fnuz)),
        arr("w_double", floats((5,), 8, np.float64)),
        arr("w_int8", ints((11,), 9, np.int8)),
        arr("w_uint8", ints((13,), 10, np.uint8, 0, 255)),
        arr("w_int16", ints((3, 3), 11, np.int16)),
        arr("w_int32", ints((6,), 12, np.int32)),
        arr("w_int64", ints((2, 2), 13, np.int64)),
        arr("w_bool", ints((10,), 14, np.bool_, 0, 2)),
        arr("w_int4_odd", ints((5,), 15, ml_dtypes.int4, -8, 8)),
        arr("scalar_fp32", np.array(3.5, np.float32)),
        arr("empty_fp32", np.zeros((0, 3), np.float32)),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 8])
    g = helper.make_graph([helper.make_node("Add", ["x", "w_fp32_special"], ["y"], name="add")], "dtypes", [x], [y],
                          initializer=inits)
    save(model_of(g), "dtypes")


def typed_fields_fixture():
    """Values outside raw_data: packed float_data/double_data (byte ranges), int32_data holding
    fp16 bits, int64_data and string_data (varints and strings: gaps), and EXTERNAL data."""
    inits = [
        helper.make_tensor("f_float_data", TensorProto.FLOAT, [2, 3], [1.0, -2.5, 0.0, -0.0, float("inf"), 7.25]),
        helper.make_tensor("f_complex64", TensorProto.COMPLEX64, [2], [1 + 2j, -3.5 + 0j]),
        helper.make_tensor("f_double_data", TensorProto.DOUBLE, [3], [1.0, 1e-300, -2.0]),
        helper.make_tensor("f_fp16_int32_data", TensorProto.FLOAT16, [4], floats((4,), 20, np.float16)),
        helper.make_tensor("f_int64_data", TensorProto.INT64, [3], [1, -2, 1 << 40]),
        helper.make_tensor("f_strings", TensorProto.STRING, [2], [b"ab", b"cde"]),
        arr("f_raw_after", floats((3,), 21)),
    ]
    ext = TensorProto(name="f_external", data_type=TensorProto.FLOAT, dims=[1000])
    ext.data_location = TensorProto.EXTERNAL
    ext.external_data.add(key="location", value="weights.bin")
    ext.external_data.add(key="offset", value="0")
    ext.external_data.add(key="length", value="4000")
    inits.append(ext)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "typed", [x],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], initializer=inits)
    save(model_of(g), "typed_fields")


def constant(output, value, name=""):
    return helper.make_node("Constant", [], [output], name=name, value=value)


def subgraphs_fixture():
    """Weights in Constant nodes (unnamed tensors, named after the node output), in If branches,
    in a Loop body with an If inside, in a tensors-list attribute, a sparse initializer and a
    sparse Constant, a model-local function and a training initialization graph."""
    def branch(tag, seed):
        w = TensorProto()
        w.CopyFrom(arr("", floats((4, 4), seed)))  # unnamed: takes the output name
        b = arr(f"{tag}.bias", floats((4,), seed + 1, np.float16))
        return helper.make_graph(
            [constant(f"{tag}_w", w), constant(f"{tag}_b", b, name=f"{tag}_bias_node"),
             helper.make_node("Cast", [f"{tag}_b"], [f"{tag}_b32"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", [f"{tag}_w", f"{tag}_b32"], [f"{tag}_out"])],
            f"{tag}_graph", [], [helper.make_tensor_value_info(f"{tag}_out", TensorProto.FLOAT, [4])])

    if_node = helper.make_node("If", ["cond"], ["if_out"], name="if_16k", then_branch=branch("then", 30),
                               else_branch=branch("else", 40))
    # Loop body: iteration, cond, carried -> cond, carried, with an If nested inside.
    inner_if = helper.make_node("If", ["c_in"], ["inner_out"], name="inner_if",
                                then_branch=branch("inner_then", 50), else_branch=branch("inner_else", 60))
    body = helper.make_graph(
        [inner_if, helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Add", ["v_in", "inner_out"], ["v_out"]),
         helper.make_node("ConstantOfShape", ["shape"], ["filled"], value=arr("", np.array([0.5], np.float32)))],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [4])],
        initializer=[arr("shape", np.array([2], np.int64))])
    loop = helper.make_node("Loop", ["trip", "cond", "if_out"], ["loop_out"], body=body)
    # A custom op with a list of tensors (one named, one not) and a list of sparse tensors.
    custom = helper.make_node("Pack", ["loop_out"], ["packed"], domain="tenzip.test",
                              tables=[arr("table0", ints((8,), 70, np.int32)), arr("", floats((3,), 71, np.float16))])
    sparse_vals = arr("sp_const", floats((3,), 72))
    sparse_idx = arr("", np.array([1, 5, 9], np.int64))
    sparse_const = helper.make_node("Constant", [], ["sp_const_out"],
                                    sparse_value=helper.make_sparse_tensor(sparse_vals, sparse_idx, [12]))
    named_const = constant("named_out", arr("explicit_name", ints((2, 3), 73, np.int64)))
    fn_call = helper.make_node("AddBias", ["packed"], ["fn_out"], domain="tenzip.fn")
    nodes = [constant("trip", arr("", np.array(2, np.int64))), constant("cond", arr("", np.array(True))), if_node,
             loop, custom, sparse_const, named_const, fn_call]
    sp_init = helper.make_sparse_tensor(arr("sparse_w", floats((4,), 80)), arr("", np.array([0, 3, 6, 7], np.int64)),
                                        [3, 3])
    g = helper.make_graph(nodes, "main", [], [helper.make_tensor_value_info("fn_out", TensorProto.FLOAT, [4])],
                          initializer=[arr("init_bf16", floats((2, 2), 81, ml_dtypes.bfloat16))],
                          sparse_initializer=[sp_init])
    fn = helper.make_function("tenzip.fn", "AddBias", ["x"], ["y"],
                              [constant("fn_bias", arr("", floats((4,), 90))),
                               helper.make_node("Add", ["x", "fn_bias"], ["y"])],
                              [helper.make_opsetid("", 17)])
    m = model_of(g, functions=[fn])
    m.opset_import.extend([helper.make_opsetid("tenzip.fn", 1), helper.make_opsetid("tenzip.test", 1)])
    ti = m.training_info.add()
    ti.initialization.CopyFrom(helper.make_graph([], "init_graph", [], [],
                                                 initializer=[arr("train_state", floats((5,), 91))]))
    save(m, "subgraphs")


def torch_fixture():
    """A small model exported by torch.onnx (libprotobuf's writer, initializers in raw_data)."""
    try:
        import torch
    except ImportError:
        print("torch not installed: skipping torch_mlp.onnx")
        return
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6, 5)).eval()
    path = OUT / "torch_mlp.onnx"
    torch.onnx.export(net, (torch.zeros(1, 2, 8),), str(path), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"])
    model = onnx.load(str(path), load_external_data=False)
    entries, blob = expected(model)
    (OUT / "torch_mlp.expected.json").write_text(json.dumps({"file": path.name, "tensors": entries}, indent=1) + "\n")
    (OUT / "torch_mlp.expected.bin").write_bytes(blob)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes, {len(entries)} tensors")


def corpus_sidecars(corpus):
    CORPUS_OUT.mkdir(parents=True, exist_ok=True)
    for rel in ("audio/silero_vad.onnx", "hybrid/ch_PP-OCRv4_rec_infer.onnx"):
        model = onnx.load(str(pathlib.Path(corpus) / rel), load_external_data=False)
        entries, _ = expected(model)
        for e in entries:
            e.pop("offset", None)
        out = CORPUS_OUT / (pathlib.Path(rel).name + ".json")
        out.write_text(json.dumps({"file": rel, "tensors": entries}, indent=0) + "\n")
        print(f"{out.relative_to(ROOT)}: {len(entries)} tensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", help="shared/corpus directory: also write the corpus sidecars")
    args = ap.parse_args()
    dtypes_fixture()
    typed_fields_fixture()
    subgraphs_fixture()
    torch_fixture()
    if args.corpus:
        corpus_sidecars(args.corpus)


if __name__ == "__main__":
    main()
