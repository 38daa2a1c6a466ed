#!/usr/bin/env python3
"""Generates the TFLite fixture of tests/unit/formats_tflite_test.cpp and the expected sidecars.

Needs the `flatbuffers` and `tflite` packages (the TFLite schema's generated Python code), which
the test venv does not carry; the C++ tests need neither, since the outputs are committed:

    python3 -m venv /tmp/venv-tflite && /tmp/venv-tflite/bin/pip install flatbuffers tflite numpy
    /tmp/venv-tflite/bin/python tests/formats/gen_tflite.py [--corpus ../shared/corpus]

Writes tests/data/formats/tflite/small.tflite (built with the flatbuffers Builder through the
`tflite` package's builder functions) and, for it and (with --corpus) the corpus's TFLite files,
<name>.json: every tensor that uses a non-empty buffer and every non-empty buffer, as the `tflite`
package reads them: name, type, shape, buffer index, the file offset and size of the data, and the
CRC-32 of its bytes.

Deterministic: fixed values, so re-running gives identical files.
"""
import argparse
import json
import pathlib
import zlib

import flatbuffers
import numpy as np
import tflite

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "formats" / "tflite"
CORPUS_OUT = ROOT / "tests" / "data" / "formats" / "corpus"

TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}


def vector(b, start, items, prepend):
    start(b, len(items))
    for x in reversed(items):
        prepend(x)
    return b.EndVector()


def build(external_offset):
    """The small model. Buffers (index: content):
      0 empty (the usual sentinel)         1 FLOAT32 [2,3] with NaN payloads, -0, subnormals, inf
      2 FLOAT16 [4], also used by subgraph 1   3 BFLOAT16 [3]     4 INT8 [5]
      5 FLOAT16 [2] shared by two FLOAT16 tensors
      6 4 bytes shared by a FLOAT32 and an INT32 tensor (types disagree: bytes)
      7 sparse FLOAT32 [4,4] holding 3 values      8 "min_runtime_version" metadata
      9 FLOAT32 [4] stored after the flatbuffer (Buffer.offset/size, as in models over 2 GB)
     10 used by nothing                            11 INT64 [2] of an unnamed tensor"""
    fp32 = np.array([0x7FC00001, 0x80000000, 0x00000001, 0x7F800000, 0x3F800000, 0xBF000000], np.uint32)
    buffers = [b"", fp32.tobytes(), np.arange(4, dtype=np.float16).tobytes(),
               np.array([0x3F80, 0xC000, 0x7FC1], np.uint16).tobytes(), np.arange(-2, 3, dtype=np.int8).tobytes(),
               np.array([1.5, -0.0], np.float16).tobytes(), np.array([7], np.int32).tobytes(),
               np.array([1.0, 2.0, 3.0], np.float32).tobytes(), b"2.3.0\0\0\0\0\0\0\0\0\0\0\0", None,
               b"unreferenced", np.array([-1, 1 << 40], np.int64).tobytes()]
    T = tflite.TensorType
    # (name, type, shape, buffer, sparse)
    sg0 = [("input", T.FLOAT32, [1, 3], 0, False), ("w_fp32", T.FLOAT32, [2, 3], 1, False),
           ("w_fp16", T.FLOAT16, [4], 2, False), ("w_bf16", T.BFLOAT16, [3], 3, False),
           ("w_int8", T.INT8, [5], 4, False), ("shared_a", T.FLOAT16, [2], 5, False),
           ("shared_b", T.FLOAT16, [2, 1], 5, False), ("mixed_f", T.FLOAT32, [1], 6, False),
           ("mixed_i", T.INT32, [], 6, False), ("sparse_w", T.FLOAT32, [4, 4], 7, True),
           ("external_w", T.FLOAT32, [4], 9, False), ("output", T.FLOAT32, [1, 2], 0, False)]
    sg1 = [("again_fp16", T.FLOAT16, [2, 2], 2, False), ("", T.INT64, [2], 11, False)]

    b = flatbuffers.Builder(1024)
    buf_offsets = []
    for i, data in enumerate(buffers):
        vec = None
        if data:
            b.StartVector(1, len(data), 16)
            for x in reversed(data):
                b.PrependUint8(x)
            vec = b.EndVector()
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        if data is None:
            tflite.BufferAddOffset(b, external_offset)
            tflite.BufferAddSize(b, 16)
        buf_offsets.append(tflite.BufferEnd(b))

    def subgraph(tensors, name):
        offs = []
        for tname, ttype, shape, buf, sparse in tensors:
            n = b.CreateString(tname) if tname else None
            s = vector(b, tflite.TensorStartShapeVector, shape, b.PrependInt32)
            sp = None
            if sparse:
                tflite.SparsityParametersStart(b)
                sp = tflite.SparsityParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, s)
            tflite.TensorAddType(b, ttype)
            tflite.TensorAddBuffer(b, buf)
            if n is not None:
                tflite.TensorAddName(b, n)
            if sp is not None:
                tflite.TensorAddSparsity(b, sp)
            offs.append(tflite.TensorEnd(b))
        tv = vector(b, tflite.SubGraphStartTensorsVector, offs, b.PrependUOffsetTRelative)
        nm = b.CreateString(name)
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tv)
        tflite.SubGraphAddName(b, nm)
        return tflite.SubGraphEnd(b)

    sgs = [subgraph(sg0, "main"), subgraph(sg1, "second")]
    md_name = b.CreateString("min_runtime_version")
    tflite.MetadataStart(b)
    tflite.MetadataAddName(b, md_name)
    tflite.MetadataAddBuffer(b, 8)
    md = tflite.MetadataEnd(b)
    bv = vector(b, tflite.ModelStartBuffersVector, buf_offsets, b.PrependUOffsetTRelative)
    sv = vector(b, tflite.ModelStartSubgraphsVector, sgs, b.PrependUOffsetTRelative)
    mv = vector(b, tflite.ModelStartMetadataVector, [md], b.PrependUOffsetTRelative)
    desc = b.CreateString("tenzip gen_tflite.py fixture")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddSubgraphs(b, sv)
    tflite.ModelAddDescription(b, desc)
    tflite.ModelAddBuffers(b, bv)
    tflite.ModelAddMetadata(b, mv)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def small_model():
    # The external buffer's offset is stored inside the flatbuffer: build once to learn its
    # size (a placeholder offset of the same width), then again with the real offset.
    fb = build(2)
    offset = (len(fb) + 15) // 16 * 16
    fb = build(offset)
    assert (len(fb) + 15) // 16 * 16 == offset
    return fb + bytes(offset - len(fb)) + np.array([0x3F000000, 0xBF800000, 0x7FC00001, 0x00000001], np.uint32).tobytes()


def describe(data):
    """What the `tflite` package reads: tensors with non-empty buffers, and non-empty buffers."""
    m = tflite.Model.GetRootAsModel(data, 0)
    assert tflite.Model.ModelBufferHasIdentifier(data, 0)

    def where(i):
        buf = m.Buffers(i)
        if buf.Offset() > 1:
            return buf.Offset(), buf.Size()
        if buf.DataLength() == 0:
            return 0, 0
        return buf._tab.Vector(buf._tab.Offset(4)), buf.DataLength()

    buffers = []
    for i in range(m.BuffersLength()):
        off, size = where(i)
        if size:
            buffers.append({"buffer": i, "offset": off, "size": size, "crc32": zlib.crc32(data[off:off + size])})
    tensors = []
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            off, size = where(t.Buffer())
            if not size:
                continue
            name = t.Name().decode() if t.Name() else f"subgraph {s} tensor {i}"
            tensors.append({"name": name, "dtype": TYPE_NAMES[t.Type()],
                            "shape": [int(x) for x in t.ShapeAsNumpy()] if t.ShapeLength() else [],
                            "buffer": t.Buffer(), "size": size, "crc32": zlib.crc32(data[off:off + size])})
    return {"buffers": buffers, "tensors": tensors}


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=0) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(obj['tensors'])} tensors, {len(obj['buffers'])} buffers")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", help="shared/corpus directory: also write the corpus sidecars")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = small_model()
    (OUT / "small.tflite").write_bytes(data)
    write_json(OUT / "small.json", {"file": "small.tflite", **describe(data)})
    if args.corpus:
        CORPUS_OUT.mkdir(parents=True, exist_ok=True)
        for rel in ("cnn/hand_landmark_full.tflite", "cnn/face_detection_full_range.tflite"):
            d = (pathlib.Path(args.corpus) / rel).read_bytes()
            write_json(CORPUS_OUT / (pathlib.Path(rel).name + ".json"), {"file": rel, **describe(d)})


if __name__ == "__main__":
    main()
