#!/usr/bin/env python3
"""qlaster-bench as a user drives it: every scenario runs (--quick: tiny counts, so the
numbers mean nothing and nothing here compares them), the JSON has the documented fields
and the baselines of the same run, the plot is drawn, and usage errors exit 64 with a
message that names the problem.

Usage: bench_cli_test.py PATH/TO/qlaster-bench
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BENCH = sys.argv[1] if len(sys.argv) > 1 else "qlaster-bench"
TIMEOUT = 600  # seconds: a hang fails the test rather than the whole suite


def run(*args):
    return subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=TIMEOUT)


class BenchCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="qlaster-bench-test-")
        cls.json_path = os.path.join(cls.dir, "all.json")
        cls.plot_path = os.path.join(cls.dir, "all.png")
        args = ["all", "--quick", "--json", cls.json_path]
        cls.has_gnuplot = shutil.which("gnuplot") is not None
        if cls.has_gnuplot:
            args += ["--plot", cls.plot_path]
        cls.proc = run(*args)
        cls.results = None
        if os.path.exists(cls.json_path):
            with open(cls.json_path) as f:
                cls.results = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_all_scenarios_succeed(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        for scenario in ("latency", "throughput", "fanout", "filter", "e2e", "ingest", "replay", "commitment",
                         "netbaseline", "relay", "grpc"):
            self.assertIn("== " + scenario, self.proc.stdout)

    def run_json(self, filename, *args):
        """Runs qlaster-bench with --json into the test's folder; the process and the rows."""
        path = os.path.join(self.dir, filename)
        p = run(*args, "--json", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(path) as f:
            return p, json.load(f)

    def by(self, scenario):
        self.assertIsNotNone(self.results, self.proc.stderr)
        return [r for r in self.results if r["scenario"] == scenario]

    def test_latency_results_have_percentiles_and_baselines(self):
        rows = self.by("latency")
        modes = {r["mode"] for r in rows}
        self.assertEqual(modes, {"spin", "hybrid", "sleep"})
        self.assertEqual({r["size"] for r in rows}, {32, 256, 4096})
        self.assertEqual({r["subject"] for r in rows}, {"qlaster", "ring"})
        for r in rows:
            for field in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns"):
                self.assertGreater(r[field], 0, (field, r))
            self.assertLessEqual(r["p50_ns"], r["p99_ns"])
            self.assertLessEqual(r["p99_ns"], r["max_ns"])
            self.assertEqual(r["samples"], 1000)
            names = {b["subject"] for b in r["baseline"]}
            self.assertEqual(names, {"cacheline", "eventfd", "unix_socket"})
            for b in r["baseline"]:
                self.assertGreater(b["p50_ns"], 0)

    def test_netbaseline_has_udp_and_tcp_latency_per_size(self):
        rows = self.by("netbaseline")
        self.assertEqual(sorted((r["subject"], r["size"]) for r in rows),
                         sorted((s, n) for s in ("udp", "tcp") for n in (165, 3762)))
        for r in rows:
            self.assertEqual(r["samples"], 1000)  # two halves of 500
            for field in ("p50_ns", "p99_ns", "p999_ns", "max_ns"):
                self.assertGreater(r[field], 0, (field, r))
            self.assertLessEqual(r["p50_ns"], r["p99_ns"])
            self.assertLessEqual(r["p99_ns"], r["p999_ns"])
            self.assertLessEqual(r["p999_ns"], r["max_ns"])

    def test_relay_has_latency_beside_udp_and_tcp_and_accounts_for_every_update(self):
        rows = self.by("relay")
        latency = [r for r in rows if r["measure"] == "latency"]
        self.assertEqual(len(latency), 1)
        self.assertEqual(latency[0]["samples"], 500)
        self.assertEqual(sorted(b["subject"] for b in latency[0]["baseline"]), ["tcp", "udp"])
        for b in latency[0]["baseline"]:
            self.assertEqual(b["samples"], 1000)  # two halves of 500
        throughput = [r for r in rows if r["measure"] == "throughput"]
        self.assertEqual(sorted(r["size"] for r in throughput), [165, 3762, 1048576])
        mainnet = [r for r in rows if r["measure"] == "mainnet"]
        self.assertEqual(sorted(r["path"] for r in mainnet),
                         ["direct", "proxy", "proxy, 1% loss, 20 ms delay"])
        for r in throughput + mainnet:
            # Every update written arrived once or was reported missed, with its count.
            self.assertEqual(r["received"] + r["dropped"], r["written"], r)
            self.assertGreater(r["received"], 0, r)
            self.assertGreater(r["records_per_s"], 0, r)
            self.assertGreaterEqual(r["relay_cpu_ns_per_update"], 0, r)  # 10 ms ticks
        for r in mainnet:
            self.assertEqual(r["samples"], r["received"], r)

    def test_grpc_has_every_stream_count_and_rate_beside_shared_memory(self):
        rows = [r for r in self.by("grpc") if r["subject"] == "qlaster-grpc"]
        self.assertEqual(sorted((r["streams"], r["rate"]) for r in rows),
                         sorted((n, rate) for n in (1, 2) for rate in ("1x mainnet", "max")))
        for r in rows:
            self.assertEqual(r["subject"], "qlaster-grpc")
            # Every update a client received has its latency sample.
            self.assertEqual(r["samples"], r["updates_received"], r)
            self.assertGreater(r["records_per_s"], 0, r)
            self.assertLessEqual(r["p50_ns"], r["p99_ns"], r)
            self.assertEqual(r["streams_ended"], 0, r)  # --overflow=drop: streams drop, never end
            self.assertGreater(r["grpc_rss_mib_idle"], 0, r)
            self.assertEqual([b["subject"] for b in r["baseline"]], ["shared_memory"])
            shm = r["baseline"][0]
            self.assertGreater(shm["samples"], 0, r)
            self.assertEqual(shm["gaps"], 0, r)  # a slow gRPC stream never costs another consumer

    def test_grpc_measures_the_yellowstone_source_without_a_loss(self):
        rows = [r for r in self.by("grpc") if r["subject"] == "yellowstone_source"]
        self.assertEqual(sorted((r["phase"], r["part"]) for r in rows),
                         sorted((phase, part) for phase in ("paced", "max")
                                for part in ("total", "upstream", "local")))
        for r in rows:
            self.assertEqual(r["accounts_received"], r["accounts_sent"], r)
            self.assertEqual(r["gaps"], 0, r)
            self.assertEqual(r["samples"], r["accounts_received"], r)
            self.assertGreater(r["records_per_s"], 0, r)
            self.assertLessEqual(r["p50_ns"], r["p99_ns"], r)
            self.assertLessEqual(r["p99_ns"], r["max_ns"], r)
        by = {(r["phase"], r["part"]): r for r in rows}
        for phase in ("paced", "max"):
            # The parts are of one account each: neither is longer than the whole.
            self.assertLessEqual(by[(phase, "local")]["p50_ns"], by[(phase, "total")]["max_ns"])
            self.assertLessEqual(by[(phase, "upstream")]["p50_ns"], by[(phase, "total")]["max_ns"])

    def test_netbaseline_one_size(self):
        p, rows = self.run_json("netbaseline.json", "netbaseline", "--quick", "--size", "165")
        self.assertEqual(sorted((r["subject"], r["size"]) for r in rows), [("tcp", 165), ("udp", 165)])
        self.assertIn("== netbaseline", p.stdout)
        # One datagram is the UDP baseline's limit: larger sizes are refused, not truncated.
        p = run("netbaseline", "--quick", "--size", "70000")
        self.assertEqual(p.returncode, 1)
        self.assertIn("65507", p.stderr)

    def test_throughput_results_have_rates_and_baselines(self):
        rows = self.by("throughput")
        sizes = [32, 256, 4096, 65536, 1048576]
        self.assertEqual([(r["size"], r["batch"]) for r in rows], [(s, b) for s in sizes for b in (1, 32)])
        for r in rows:
            self.assertGreater(r["records_per_s"], 0)
            self.assertAlmostEqual(r["bytes_per_s"], r["records_per_s"] * r["size"], delta=r["bytes_per_s"] * 1e-6)
            self.assertEqual({b["subject"] for b in r["baseline"]}, {"memcpy", "unix_socket"})

    def test_ingest_has_latency_against_a_cacheline_round_trip_and_throughput(self):
        rows = self.by("ingest")
        latency = [r for r in rows if r["measure"] == "latency"]
        self.assertEqual({r["ingest_poll"] for r in latency}, {"spin", "10us"})
        for r in latency:
            self.assertEqual(r["samples"], 1000)
            self.assertLessEqual(r["p50_ns"], r["p99_ns"])
            self.assertEqual([b["subject"] for b in r["baseline"]], ["cacheline_round_trip"])
        throughput = [r for r in rows if r["measure"] == "throughput"]
        self.assertEqual({r["size"] for r in throughput}, {165, 3762})
        for r in throughput:
            self.assertGreater(r["records_per_s"], 0)
            self.assertEqual(r["received"] + r["dropped"], 5000)

    def test_replay_reports_the_source_and_the_consumer(self):
        rows = self.by("replay")
        self.assertEqual({r["size"] for r in rows}, {165, 1048576})
        for r in rows:
            self.assertEqual(r["published"], 216)  # 200 accounts and 16 end markers
            self.assertEqual(r["consumer_received"] + r["dropped"], 200)

    def test_other_scenarios_report(self):
        for scenario in ("fanout", "filter", "e2e"):
            rows = self.by(scenario)
            self.assertTrue(rows, scenario)
            for r in rows:
                self.assertTrue(
                    "p50_ns" in r or "records_per_s" in r or "ns_per_op" in r, (scenario, r))

    def test_filter_has_the_data_filter_and_memcmp_cases(self):
        rows = [r for r in self.by("filter") if r["subject"] == "qlaster"]
        cases = {r["case"] for r in rows}
        for case in ("reject", "reject_logged", "reject_token", "deliver", "mint_deliver",
                     "mint_reject", "owner_deliver", "owner_fanout"):
            self.assertIn(case, cases)
        mint = [r for r in rows if r["case"] == "mint_deliver"]
        self.assertEqual(len(mint), 1)
        self.assertGreater(mint[0]["vs_owner_only"], 0)

    def test_commitment_reports_cpu_and_memory_per_level(self):
        all_rows = self.by("commitment")
        self.assertEqual({(r["case"], r["replay"]) for r in all_rows},
                         {(c, p) for c in ("processed", "confirmed") for p in ("on", "off")})
        rows = {r["case"]: r for r in all_rows if r["replay"] == "on"}
        for r in rows.values():
            self.assertEqual(r["consumers"], 16)
            self.assertGreater(r["writes"], 0)
            self.assertGreater(r["ns_per_op"], 0)
            self.assertGreater(r["log_bytes"], 0)
            self.assertGreater(r["rss_anon_bytes"], 0)
        self.assertEqual(rows["processed"]["writes"], rows["confirmed"]["writes"])
        # Confirmed consumers get the latest write per account per slot, and not the
        # slots still unconfirmed: fewer records than every write.
        self.assertLess(rows["confirmed"]["delivered_per_consumer"],
                        rows["processed"]["delivered_per_consumer"])
        self.assertIn("vs_processed", rows["confirmed"])

    def test_plot_is_a_png(self):
        if not self.has_gnuplot:
            self.fail("gnuplot is not installed (tools/setup.sh installs gnuplot-nox)")
        with open(self.plot_path, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_one_scenario_with_options(self):
        p, rows = self.run_json("one.json", "latency", "--quick", "--size", "64", "--mode", "spin", "--cpus", "0")
        self.assertEqual({(r["size"], r["mode"]) for r in rows}, {(64, "spin")})

    def test_fanout_broadcast_ring_beside_spsc_rings(self):
        p, rows = self.run_json("broadcast.json", "fanout", "--ring", "broadcast", "--quick")
        self.assertEqual({r["consumers"] for r in rows}, {1, 4})
        for r in rows:
            self.assertEqual(r["ring"], "broadcast")
            self.assertEqual(r["mode"], "sleep")
            self.assertGreater(r["sender_cpu_ns_per_update"], 0)
            self.assertGreater(r["records_per_s"], 0)
            self.assertIn("vs_spsc_updates_per_s", r)
            self.assertIn("gap_records", r)
            spsc = [b for b in r["baseline"] if b["ring"] == "spsc"]
            self.assertEqual(len(spsc), 1)
            self.assertGreater(spsc[0]["sender_cpu_ns_per_update"], 0)
        # The sender's own fan-out says which ring it used.
        for r in self.by("fanout"):
            if r["subject"] == "qlaster":
                self.assertEqual(r["ring"], "spsc")

    def test_latency_broadcast_ring_beside_spsc_ring(self):
        p, rows = self.run_json("latency-broadcast.json", "latency", "--ring", "broadcast", "--quick", "--size", "256")
        self.assertEqual({(r["subject"], r["ring"]) for r in rows},
                         {("ring", "spsc"), ("ring", "broadcast")})
        self.assertEqual({r["mode"] for r in rows}, {"spin", "hybrid", "sleep"})
        for r in rows:
            self.assertGreater(r["p50_ns"], 0)
            self.assertIn("cacheline", {b["subject"] for b in r["baseline"]})

    def test_usage_errors(self):
        cases = [
            (["nonsense"], "unknown scenario"),
            ([], "expected one scenario"),
            (["latency", "--mode", "fast"], "--mode"),
            (["latency", "--size", "abc"], "--size"),
            (["latency", "--cpus", "0,999"], "--cpus"),
            (["throughput", "--consumers", "-3"], "--consumers"),
            (["fanout", "--ring", "mpmc"], "--ring"),
        ]
        for args, message in cases:
            p = run(*args)
            self.assertEqual(p.returncode, 64, (args, p.stderr))
            self.assertIn(message, p.stderr, args)

    def test_micro_benchmarks_run(self):
        p = run("micro", "--benchmark_filter=BM_Memcpy/64", "--benchmark_min_time=0.001")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("BM_Memcpy/64", p.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
