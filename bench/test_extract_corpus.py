#!/usr/bin/env python3
"""Self-check of bench/extract_corpus.py against the counts in shared/corpus/MANIFEST.md.

Standard library only. Run: python3 bench/test_extract_corpus.py [-v]
The corpus is found at $TENZIP_CORPUS_DIR, else ../shared/corpus beside the repository.
"""

import json
import os
import random
import struct
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import extract_corpus as ec  # noqa: E402

CORPUS = os.environ.get("TENZIP_CORPUS_DIR") or os.path.join(HERE, "..", "..", "shared", "corpus")


@unittest.skipUnless(os.path.isdir(CORPUS), f"corpus not found at {CORPUS}")
class CorpusCounts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = cls.tmp.name
        cls.manifest = ec.extract(CORPUS, cls.out, log=lambda *_: None)
        cls.src = {s["file"]: s for s in cls.manifest["sources"]}
        cls.outs = {o["path"]: o for o in cls.manifest["outputs"]}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def counts(self, file, dtype):
        s = self.src[file]
        return s["tensors"][dtype], s["bytes"][dtype]

    def test_every_model_is_extracted(self):
        self.assertEqual(len(self.src), 15)  # 17 files; the two TFJS .bin shards belong to their model.json

    def test_llama2c(self):
        t, b = self.counts("llm/stories260K.bin", "fp32")
        self.assertEqual(b // 4, 264_128)
        self.assertEqual(b + 28, 1_056_540)

    def test_rwkv(self):
        self.assertEqual(self.counts("llm/tiny-rwkv-7v0-834K-FP32.bin", "fp32")[0], 339)
        self.assertEqual(self.counts("llm/tiny-rwkv-7v0-834K-FP32.bin", "fp16"), (0, 0))
        self.assertEqual(self.counts("llm/tiny-rwkv-7v0-834K-FP16.bin", "fp16"), (168, 1_630_208))
        self.assertEqual(self.counts("llm/tiny-rwkv-7v0-834K-FP16.bin", "fp32"), (171, 59_136))
        self.assertEqual(self.counts("llm/tiny-rwkv-6v0-1m-FP16.bin", "fp16"), (98, 1_343_488))
        self.assertEqual(self.counts("llm/tiny-rwkv-6v0-1m-FP16.bin", "fp32"), (244, 1_426_432))

    def test_ct2(self):
        s = self.src["llm/opennmt_test_model_lm_ct2.bin"]
        self.assertEqual(s["tensors"], {"fp32": 10, "fp16": 20})
        self.assertEqual(s["skipped"]["i8"]["tensors"], 16)

    def test_safetensors(self):
        self.assertEqual(self.counts("audio/silero_vad_16k.safetensors", "fp32"), (15, 1_238_532))
        self.assertEqual(self.counts("llm/tl_reverse_model.safetensors", "fp32")[0], 38)

    def test_onnx(self):
        self.assertEqual(self.counts("audio/silero_vad.onnx", "fp32")[1], 2_181_152)
        self.assertGreater(self.src["audio/silero_vad.onnx"]["notes"]["subgraphs"], 0)  # weights live in If branches
        self.assertEqual(self.counts("hybrid/ch_PP-OCRv4_rec_infer.onnx", "fp32"), (309, 10_761_184))
        self.assertEqual(self.src["hybrid/ch_PP-OCRv4_rec_infer.onnx"]["skipped"]["INT32"]["tensors"], 15)

    def test_torchscript(self):
        s = self.src["audio/silero_vad.jit"]
        self.assertEqual(s["notes"]["storages"]["data"], 32)
        self.assertEqual(s["bytes"]["fp32"], 2_181_128)

    def test_tflite(self):
        self.assertEqual(self.counts("cnn/hand_landmark_full.tflite", "fp16"), (102, 5_431_360))
        self.assertEqual(self.counts("cnn/face_detection_full_range.tflite", "fp16"), (178, 1_028_138))
        self.assertEqual(self.src["cnn/face_detection_full_range.tflite"]["skipped"]["i32"]["tensors"], 11)

    def test_tfjs(self):
        self.assertEqual(self.counts("cnn/mobilefacenet.json", "fp32"), (138, 5_171_972))
        self.assertEqual(self.counts("cnn/movenet-lightning.json", "fp16"), (149, 4_649_792))
        self.assertEqual(self.src["cnn/movenet-lightning.json"]["skipped"]["int32"]["tensors"], 31)

    def test_gnubg(self):
        t, b = self.counts("mlp/gnubg.wd", "fp32")
        self.assertEqual(b // 4, 101_966)

    def test_outputs_match_manifest(self):
        for d in ("fp32", "fp16", "bf16"):
            parts = [o for o in self.manifest["outputs"] if o["dtype"] == d and o["source"] != "ALL"]
            all_ = self.outs[f"{d}/ALL.raw"]
            self.assertEqual(all_["bytes"], sum(o["bytes"] for o in parts))
        for o in self.manifest["outputs"]:
            self.assertEqual(os.path.getsize(os.path.join(self.out, o["path"])), o["bytes"], o["path"])
        self.assertEqual(self.outs["fp32/llm__stories260K.bin.raw"]["elements"], 264_128)

    def test_bf16_is_derived_and_half_size(self):
        for o in self.manifest["outputs"]:
            if o["dtype"] == "bf16":
                self.assertTrue(o["derived"])
                self.assertEqual(o["bytes"] * 2, self.outs["fp32/" + o["path"][5:]]["bytes"])
            else:
                self.assertIsNone(o["derived"])

    def test_stories_first_floats_are_the_token_embedding(self):
        with open(os.path.join(CORPUS, "llm/stories260K.bin"), "rb") as f:
            f.seek(28)
            head = f.read(4096)
        with open(os.path.join(self.out, "fp32/llm__stories260K.bin.raw"), "rb") as f:
            self.assertEqual(f.read(4096), head)

    def test_up_to_date_skip(self):
        self.assertTrue(ec.up_to_date(CORPUS, self.out))


class Bf16Rounding(unittest.TestCase):
    def check(self, words):
        buf = struct.pack(f"<{len(words)}I", *words)
        self.assertEqual(ec.fp32_to_bf16(buf), ec.fp32_to_bf16_reference(buf))
        return struct.unpack(f"<{len(words)}H", ec.fp32_to_bf16(buf))

    def test_edges(self):
        got = self.check([
            0x3F800000,  # 1.0
            0x3F808000,  # tie, even -> down
            0x3F818000,  # tie, odd -> up
            0x3F808001,  # above tie -> up
            0x7F7FFFFF,  # max finite -> inf
            0xFF7FFFFF,  # -max finite -> -inf
            0x7F800000,  # inf
            0x7FC00001,  # quiet NaN, payload only in low bits
            0xFF800001,  # negative signalling NaN -> quiet, sign kept
            0x7FFFFFFF,  # NaN that would carry into the next lane
            0x00000001,  # smallest subnormal -> 0
            0x80000000,  # -0
        ])
        self.assertEqual(got, (0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x7F80, 0xFF80, 0x7F80,
                               0x7FC0, 0xFFC0, 0x7FFF, 0x0000, 0x8000))

    def test_random(self):
        rng = random.Random(1)
        words = [rng.getrandbits(32) for _ in range(20000)]
        self.check(words)

    def test_empty(self):
        self.assertEqual(ec.fp32_to_bf16(b""), b"")


class Malformed(unittest.TestCase):
    @unittest.skipUnless(os.path.isdir(CORPUS), "corpus not found")
    def test_truncated_corpus_file_exits_nonzero(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "corpus", "mlp"))
            with open(os.path.join(CORPUS, "mlp", "gnubg.wd"), "rb") as f:
                blob = f.read()
            with open(os.path.join(tmp, "corpus", "mlp", "gnubg.wd"), "wb") as f:
                f.write(blob[:-4])  # one weight short
            import contextlib
            import io
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rc = ec.main(["--corpus", os.path.join(tmp, "corpus"), "--out", os.path.join(tmp, "out")])
            self.assertEqual(rc, 2)
            self.assertIn("mlp/gnubg.wd", err.getvalue())
            self.assertFalse(os.path.exists(os.path.join(tmp, "out", "manifest.json")))

    def test_unknown_file_is_an_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "weights.xyz"), "wb") as f:
                f.write(b"not a model")
            with self.assertRaises(ec.CorpusError):
                ec.extract(tmp, os.path.join(tmp, "out"), log=lambda *_: None)

    def test_truncated_llama2c(self):
        hdr = struct.pack("<7i", 8, 16, 1, 2, 2, 4, 4)
        with self.assertRaises(ec.CorpusError):
            ec.parse_llama2c("x.bin", hdr + b"\0" * 40)

    def test_safetensors_hole(self):
        header = json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}).encode()
        blob = struct.pack("<Q", len(header)) + header + b"\0" * 8
        with self.assertRaises(ec.CorpusError):
            ec.parse_safetensors("x.safetensors", blob)

    def test_gnubg_bad_magic(self):
        with self.assertRaises(ec.CorpusError):
            ec.parse_gnubg("x.wd", struct.pack("<2f", 1.0, 1.0) + b"\0" * 24)


if __name__ == "__main__":
    unittest.main()
