#!/usr/bin/env python3
"""Every qlaster binary's command line, as a user meets it (base/flags.h): --help lists
the binary's own flags with their defaults and exits 0; --helpfull adds Abseil's; an
unknown flag, a bad value, a missing value or a bad --flagfile exits 64 with one line on
stderr that names the problem; --version prints the version.

Usage: cli_test.py NAME=PATH... (e.g. qlaster-sender=build/sender/qlaster-sender)
"""
import os
import subprocess
import sys
import tempfile
import unittest

BINARIES = dict(arg.split("=", 1) for arg in sys.argv[1:])
TIMEOUT = 60  # seconds: none of these commands starts anything long-lived

# For each binary: flags that --help must list, and a flag of each kind for the errors:
# one that takes an integer (a typed parse error) and one whose value the binary itself
# checks after parsing, with a value it must refuse and the text its message names.
CASES = {
    "qlaster-sender": {
        "own_flags": ["--socket", "--source", "--max_consumers", "--ring_bytes",
                      "--idle_timeout", "--replay_speed", "--synthetic_seed",
                      "--metrics_address", "--max_pending_per_uid", "--min_wake_interval"],
        "defaults": ["default: 64;", 'default: synthetic;', "default: 30s;"],
        "int_flag": "--max_consumers",
        "checked": (["--max_consumers=0"], "--max_consumers must be in [1, 1024]"),
    },
    "qlaster-inspect": {
        "own_flags": ["--socket", "--account", "--owner", "--transactions", "--count",
                      "--json", "--record"],
        "defaults": ['default: "none";', 'default: "drop";'],
        "int_flag": "--count",
        "checked": (["--transactions=some"], "--transactions: 'some' is not none, all or nonvote"),
    },
    "qlaster-grpc": {
        "own_flags": ["--socket", "--listen", "--x_token", "--overflow", "--max_streams",
                      "--slow_client_timeout"],
        "defaults": ['default: "evict";', "default: 256;", "default: 10s;"],
        "int_flag": "--max_streams",
        "checked": (["--overflow=later"], "--overflow: 'later' is not evict or drop"),
    },
    "qlaster-relay": {
        "own_flags": ["--socket", "--to", "--tls_cert", "--tls_key", "--tls_ca", "--owner",
                      "--replay_bytes", "--link_buffer_bytes", "--metrics_address"],
        "defaults": ['default: "none";', "default: 67108864;", "default: 10s;"],
        "int_flag": "--replay_bytes",
        "checked": (["--replay_bytes=0"], "--replay_bytes and --link_buffer_bytes must be > 0"),
    },
    "qlaster-udp-impair": {
        "own_flags": ["--to", "--listen", "--drop", "--delay", "--jitter", "--duplicate",
                      "--reorder", "--seed", "--up", "--down", "--control_socket",
                      "--stats_interval"],
        "defaults": ['default: "127.0.0.1:0";', "default: 64;", "default: 100ms;"],
        "int_flag": "--max_clients",
        "checked": (["--drop=2"], "--drop must be a probability in [0, 1], got 2"),
    },
    "qlaster-bench": {
        "own_flags": ["--size", "--mode", "--consumers", "--cpus", "--json", "--quick"],
        "defaults": ["default: 0;", "default: false;"],
        "int_flag": "--consumers",
        "checked": (["latency", "--mode=fast"], "--mode: expected spin, hybrid or sleep"),
    },
}


def run(binary, *args):
    return subprocess.run([BINARIES[binary], *args], capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


class CliTest(unittest.TestCase):
    def binaries(self):
        self.assertTrue(BINARIES, "no binaries given")
        for name in BINARIES:
            self.assertIn(name, CASES, "add a case for " + name)
        return BINARIES.keys()

    def assert_usage_error(self, binary, proc, *needles):
        """Exit 64, nothing on stdout, exactly one stderr line: 'binary: ...needles...'."""
        self.assertEqual(proc.returncode, 64, (binary, proc.stderr))
        self.assertEqual(proc.stdout, "", binary)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, (binary, proc.stderr))
        self.assertTrue(lines[0].startswith(binary + ": "), (binary, lines[0]))
        for needle in needles:
            self.assertIn(needle, lines[0], binary)

    def test_help_lists_own_flags_with_defaults(self):
        for binary in self.binaries():
            p = run(binary, "--help")
            self.assertEqual(p.returncode, 0, (binary, p.stderr))
            self.assertNotIn("No flags matched", p.stdout, binary)
            self.assertTrue(p.stdout.startswith(binary + ": "), (binary, p.stdout[:200]))
            for flag in CASES[binary]["own_flags"] + ["--log_format", "--log_level"]:
                self.assertIn("    " + flag + " (", p.stdout, (binary, flag))
            for default in CASES[binary]["defaults"] + ["default: human;", "default: info;"]:
                self.assertIn(default, p.stdout, (binary, default))
            # Files are named relative to the source tree, and Abseil's flags stay out.
            self.assertIn("Flags from base/flags.cc:", p.stdout, binary)
            self.assertNotIn("absl/flags", p.stdout, binary)
            self.assertNotIn("--undefok", p.stdout, binary)
            self.assertEqual(run(binary, "--helpshort").stdout, p.stdout, binary)

    def test_helpfull_adds_abseils_flags(self):
        for binary in self.binaries():
            p = run(binary, "--helpfull")
            self.assertEqual(p.returncode, 0, (binary, p.stderr))
            self.assertIn("--flagfile", p.stdout, binary)
            self.assertIn(CASES[binary]["own_flags"][0] + " (", p.stdout, binary)

    def test_help_with_substring_filters(self):
        for binary in self.binaries():
            flag = CASES[binary]["own_flags"][1]
            p = run(binary, "--help=" + flag[2:])
            self.assertEqual(p.returncode, 0, (binary, p.stderr))
            self.assertIn("    " + flag + " (", p.stdout, binary)
            self.assertNotIn("--log_format", p.stdout, binary)

    def test_version(self):
        for binary in self.binaries():
            p = run(binary, "--version")
            self.assertEqual(p.returncode, 0, (binary, p.stderr))
            self.assertRegex(p.stdout, r"^" + binary + r" \d+\.\d+\.\d+\n$")

    def test_unknown_flag_exits_64_with_one_line(self):
        for binary in self.binaries():
            self.assert_usage_error(binary, run(binary, "--no_such_flag=1"),
                                    "no_such_flag", "--help")

    def test_bad_value_exits_64_with_one_line(self):
        for binary in self.binaries():
            flag = CASES[binary]["int_flag"]
            self.assert_usage_error(binary, run(binary, flag + "=twelve"),
                                    "'twelve'", "'" + flag[2:] + "'")
            self.assert_usage_error(binary, run(binary, "--log_level=loud"),
                                    "'loud'", "log_level", "debug, info, warning or error")
            self.assert_usage_error(binary, run(binary, "--log_format=xml"), "'xml'", "log_format")

    def test_value_the_binary_refuses_exits_64(self):
        for binary in self.binaries():
            args, message = CASES[binary]["checked"]
            self.assert_usage_error(binary, run(binary, *args), message)

    def test_missing_value_exits_64(self):
        for binary in self.binaries():
            flag = CASES[binary]["int_flag"]
            self.assert_usage_error(binary, run(binary, flag), "Missing the value", flag[2:])

    def test_several_errors_still_one_line(self):
        for binary in self.binaries():
            p = run(binary, "--no_such_flag", "--other_missing_flag", "--log_level=loud")
            self.assert_usage_error(binary, p, "more error")

    def test_help_with_an_error_reports_the_error(self):
        for binary in self.binaries():
            p = run(binary, "--help", "--no_such_flag")
            self.assertEqual(p.returncode, 64, binary)
            self.assertEqual(len(p.stderr.splitlines()), 1, (binary, p.stderr))
            self.assertIn("no_such_flag", p.stderr, binary)

    def test_flagfile_errors_exit_64(self):
        with tempfile.TemporaryDirectory(prefix="qlaster-cli-test-") as d:
            for binary in self.binaries():
                self.assert_usage_error(
                    binary, run(binary, "--flagfile=" + os.path.join(d, "missing.flags")),
                    "Can't open flagfile", "missing.flags")
                bad = os.path.join(d, binary + ".flags")
                with open(bad, "w") as f:
                    f.write("# a comment\n--log_level=warning\n--no_such_flag=3\n")
                self.assert_usage_error(binary, run(binary, "--flagfile=" + bad), "no_such_flag")
                # A flag file's values are used (here: one the binary refuses), and one
                # given after it on the command line wins.
                args, message = CASES[binary]["checked"]
                flags = [a for a in args if a.startswith("--")]
                positional = [a for a in args if not a.startswith("--")]
                refused = os.path.join(d, binary + ".refused.flags")
                with open(refused, "w") as f:
                    f.write("\n".join(flags) + "\n")
                self.assert_usage_error(binary, run(binary, *positional, "--flagfile=" + refused),
                                        message)
                p = run(binary, *positional, "--flagfile=" + refused, "--help")
                self.assertEqual(p.returncode, 0, (binary, p.stderr))

    def test_unexpected_positional_argument_exits_64(self):
        for binary in ("qlaster-sender", "qlaster-inspect"):
            if binary in BINARIES:
                self.assert_usage_error(binary, run(binary, "stray"), "unexpected argument 'stray'")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
