#!/usr/bin/env python3
"""Checks that bench/report.py computes the targets from the rows it is given.
Standard library only: python3 bench/test_report.py"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

META = {"kind": "meta", "date": "2000-01-01T00:00:00+00:00", "command": "bench/run_bench.sh", "nproc": 2,
        "cpu_model": "test cpu", "python": "3", "platform": "test", "versions": {}, "min_time": 1,
        "min_time_file": 0.5}


def row(peer, dtype, file, threads, size, csize, c, d, verified=True):
    return {"kind": "result", "peer": peer, "dtype": dtype, "file": file, "threads": threads, "size": size,
            "compressed_size": csize, "ratio": csize / size, "compress_MBps": c, "decompress_MBps": d,
            "verified": verified, "elements": size // 2, "source": file, "derived": dtype == "bf16"}


def rows(tz_a=60, tz_b=35, tz_c1=1000, tz_d1=3000, tz_c2=1800, tz_d2=5200, tz_ok=True):
    out = []
    for t, (c, d) in ((1, (tz_c1, tz_d1)), (2, (tz_c2, tz_d2))):
        out += [row("tenzip", "bf16", "a", t, 100, tz_a, c, d, tz_ok), row("tenzip", "bf16", "b", t, 50, tz_b, c, d),
                row("tenzip", "bf16", "ALL", t, 150, tz_a + tz_b, c, d)]
        out += [row("zipnn", "bf16", "a", t, 100, 64, 400, 1400), row("zipnn", "bf16", "b", t, 50, 36, 400, 1400),
                row("zipnn", "bf16", "ALL", t, 150, 100, 400, 1400)]
    return out


class Targets(unittest.TestCase):
    def targets(self, rs):
        text = report.render(META, rs, None, "x.jsonl")
        found = {}
        for line in text.splitlines():
            if line.startswith(("| size", "| 1-thread", "| 2 threads")):
                cols = [c.strip() for c in line.split("|")]
                found["/".join(cols[1:4])] = cols[-2]
        return found, text

    def test_met(self):
        t, text = self.targets(rows())
        self.assertIn("0.9500×", text)  # (60+35)/(64+36)
        self.assertEqual(t["size ≤ 0.98× ZipNN/bf16/0.6333"], "✅ yes")
        self.assertTrue(all(v.startswith("✅") for v in t.values()), t)

    def test_not_met(self):
        t, _ = self.targets(rows(tz_a=64, tz_c1=700, tz_c2=1000))
        self.assertTrue(any(v.startswith("❌") for v in t.values()))
        self.assertEqual(sum(v.startswith("❌") for v in t.values()), 3)  # size, compress x ZipNN, compress scaling

    def test_failed_round_trip_is_never_met(self):
        _, text = self.targets(rows(tz_ok=False))
        self.assertIn("round trip(s) failed", text)
        self.assertIn("✗", text)

    def test_lanes_rows_have_their_own_table(self):
        rs = rows()
        for t in (1, 2):
            rs += [row("tenzip-lanes", "bf16", "a", t, 100, 61, 500, 3100), row("tenzip-lanes", "bf16", "b", t, 50, 35, 500, 3100),
                   row("tenzip-lanes", "bf16", "ALL", t, 150, 96, 500, 3100)]
        _, text = self.targets(rs)
        section = text.split("With `--lanes`")[1].split("\n\n")[1]  # the table after the heading line
        self.assertIn("| 1-thread compress ≥ 2.0× ZipNN MB/s | bf16 ALL | 500", section)
        self.assertIn("1.25× | ❌ no", section)  # 500 / 400
        self.assertIn("2.21× | ✅ yes", section)  # 3100 / 1400
        self.assertIn("tenzip --lanes", text)
        self.assertNotIn("With `-l 2`", text)  # no rows, no table

    def test_each_variant_has_its_own_table(self):
        rs = rows()
        for t in (1, 2):
            for peer, c, d in (("tenzip-lanes", 500, 3100), ("tenzip-l2", 900, 2000), ("tenzip-l2-lanes", 700, 4300)):
                rs += [row(peer, "bf16", "a", t, 100, 62, c, d), row(peer, "bf16", "b", t, 50, 36, c, d),
                       row(peer, "bf16", "ALL", t, 150, 98, c, d)]
        _, text = self.targets(rs)
        lanes = text.split("With `--lanes`")[1].split("\n\n")[1]
        l2 = text.split("With `-l 2`")[1].split("\n\n")[1]
        self.assertIn("| tenzip -l 2 / ZipNN |", l2)
        self.assertIn("| size ≤ 0.98× ZipNN | bf16 | 0.6533 | 0.6667 | 0.9800× | ✅ yes |", l2)  # 98/150 vs 100/150
        self.assertIn("2.25× | ✅ yes", l2)  # 900 / 400
        self.assertIn("1.43× | ❌ no", l2)  # 2000 / 1400
        self.assertIn("1.25× | ❌ no", lanes)  # 500 / 400, not l2's figures
        self.assertNotIn("2.25×", lanes)
        both = text.split("With `-l 2 --lanes`")[1].split("\n\n")[1]
        self.assertIn("| tenzip -l 2 --lanes / ZipNN |", both)
        self.assertIn("1.75× | ❌ no", both)  # 700 / 400
        self.assertIn("3.07× | ✅ yes", both)  # 4300 / 1400
        self.assertNotIn("2.25×", both)


if __name__ == "__main__":
    unittest.main()
