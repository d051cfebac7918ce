#!/usr/bin/env python3
"""`cmake --install` as a bot author and an operator use it: the installed tree holds the
binaries, headers, both libraries, the pkg-config and CMake package files, the systemd
units (passing `systemd-analyze verify`), the sysusers.d entry and the default flag file.
The tree is then moved elsewhere (so nothing may depend on where it was installed), and
consumer/examples/bot.cc is built out of tree against it four ways (find_package with
the static and the shared library, pkg-config shared and static) and run against the
installed qlaster-sender until it receives transactions.

Usage: install_test.py --build DIR --source DIR --cmake PATH --cxx PATH
"""
import argparse
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from install_layout import check_layout

parser = argparse.ArgumentParser()
parser.add_argument("--build", required=True)
parser.add_argument("--source", required=True)
parser.add_argument("--cmake", required=True)
parser.add_argument("--cxx", required=True)
ARGS, _ = parser.parse_known_args()

TIMEOUT = 120  # seconds for any one command


def run(*cmd, env=None, cwd=None):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=TIMEOUT,
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(delay)  # polling a condition with a deadline
        delay = min(delay * 2, 0.2)


def read_until(proc, pattern, timeout):
    """Reads proc's stdout lines until one matches pattern; returns it (or fails)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    seen = []
    buf = b""
    while time.monotonic() < deadline:
        if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode(errors="replace")
            seen.append(text)
            if re.search(pattern, text):
                return text
    raise AssertionError("no line matching %r within %ss; got %r (exit %r)" %
                         (pattern, timeout, seen[-5:], proc.poll()))


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=TIMEOUT)


def installed_files(root):
    out = set()
    for d, dirs, files in os.walk(root):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            out.add(os.path.relpath(os.path.join(d, name), root))
    return out


def libdir_of(root):
    pcs = [f for f in installed_files(root) if f.endswith("pkgconfig/qlaster-consumer.pc")]
    assert len(pcs) == 1, pcs
    return os.path.dirname(os.path.dirname(pcs[0]))  # lib or lib/x86_64-linux-gnu


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="qlaster-install-test-")
        cls.prefix = os.path.join(cls.dir, "prefix")
        p = run(ARGS.cmake, "--install", ARGS.build, "--prefix", cls.prefix)
        cls.install = p
        if p.returncode != 0:
            return
        cls.libdir = libdir_of(cls.prefix)
        # Everything else uses a copy in another place: relocatable or broken.
        cls.moved = os.path.join(cls.dir, "elsewhere", "qlaster")
        shutil.copytree(cls.prefix, cls.moved, symlinks=True)
        cls.socket = os.path.join(cls.dir, "sender.sock")
        cls.sender = subprocess.Popen(
            [os.path.join(cls.moved, "bin", "qlaster-sender"), "--socket=" + cls.socket,
             "--source=synthetic", "--quiet"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cls.procs = []

    @classmethod
    def tearDownClass(cls):
        for proc in getattr(cls, "procs", []):
            stop(proc)
        if hasattr(cls, "sender"):
            stop(cls.sender)
            cls.sender.stderr.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr + self.install.stdout)

    def wait_for_sender(self):
        wait_until(lambda: os.path.exists(self.socket) or self.sender.poll() is not None, 30,
                   "the installed sender's socket")
        self.assertIsNone(self.sender.poll(), "the installed sender exited")

    def run_bot(self, binary, env=None):
        """Runs a bot until it prints a transaction: it connected, subscribed, received."""
        self.wait_for_sender()
        # The all-zero key, in base58: the bot follows it and every non-vote transaction.
        bot = subprocess.Popen([binary, self.socket, "1" * 32], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        self.procs.append(bot)
        try:
            line = read_until(bot, r"^seq \d+ transaction [1-9A-HJ-NP-Za-km-z]{64,88} slot=\d+$", 30)
            self.assertTrue(line.startswith("seq "))
        finally:
            stop(bot)

    def test_installs_binaries_headers_libraries_and_service_files(self):
        lib = self.libdir
        missing, unexpected = check_layout(installed_files(self.prefix), usr="", etc="etc")
        self.assertEqual((missing, unexpected), (set(), set()))
        self.assertTrue(os.path.islink(os.path.join(self.prefix, lib, "libqlaster-consumer.so")))
        for b in ("qlaster-sender", "qlaster-inspect"):
            self.assertTrue(os.access(os.path.join(self.prefix, "bin", b), os.X_OK), b)

    def test_package_files_name_no_absolute_path(self):
        for rel in ("cmake/qlaster", "pkgconfig"):
            d = os.path.join(self.moved, self.libdir, rel)
            for name in os.listdir(d):
                with open(os.path.join(d, name)) as f:
                    text = f.read()
                for path in (self.prefix, self.moved, os.path.realpath(ARGS.build),
                             os.path.realpath(ARGS.source), "/usr/local"):
                    self.assertNotIn(path, text, (name, path))

    def test_static_archive_holds_everything_below_the_consumer(self):
        p = run("ar", "t", os.path.join(self.prefix, self.libdir, "libqlaster-consumer.a"))
        self.assertEqual(p.returncode, 0, p.stderr)
        members = set(p.stdout.split())
        for obj in ("consumer.cc.o", "c_api.cc.o", "spsc_ring.cc.o", "frame.cc.o",
                    "control_framing.cc.o", "fd_passing.cc.o"):
            self.assertIn(obj, members)

    def test_units_pass_systemd_analyze_verify(self):
        units = os.path.join(self.prefix, "lib", "systemd", "system")
        names = sorted(os.listdir(units))
        self.assertIn("qlaster-sender.service", names)
        for name in names:
            path = os.path.join(units, name)
            with open(path) as f:
                text = f.read()
            binary = os.path.join(self.prefix, "bin", name[:-len(".service")])
            flags = os.path.join(self.prefix, "etc", "qlaster",
                                 name[len("qlaster-"):-len(".service")] + ".flags")
            self.assertIn("ExecStart=%s --flagfile=%s\n" % (binary, flags), text)
            self.assertNotIn("@QLASTER", text)
            self.assertIn("\nPrivateDevices=yes\n", text)
            self.assertTrue(os.path.exists(flags), flags)
            p = run("systemd-analyze", "verify", path)
            # verify exits 0 on settings it ignores; a clean unit prints nothing.
            self.assertEqual((p.returncode, p.stderr, p.stdout), (0, "", ""), name)

    def test_relay_and_grpc_units_verify_once_their_binaries_exist(self):
        # Their binaries land later: write their units alone (as the install does once
        # the targets exist), put an executable where ExecStart points, and verify.
        prefix = os.path.join(self.dir, "future")
        p = run(ARGS.cmake, "-DCMAKE_INSTALL_PREFIX=" + prefix,
                "-DQLASTER_INSTALL_UNITS=qlaster-relay.service;qlaster-grpc.service",
                "-DQLASTER_INSTALL_FLAG_FILES=relay.flags;grpc.flags",
                "-P", os.path.join(ARGS.build, "tools", "packaging", "install_service_files.cmake"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        os.makedirs(os.path.join(prefix, "bin"))
        for name in ("relay", "grpc"):
            shutil.copy(os.path.join(self.prefix, "bin", "qlaster-sender"),
                        os.path.join(prefix, "bin", "qlaster-" + name))
            unit = os.path.join(prefix, "lib", "systemd", "system", "qlaster-%s.service" % name)
            with open(unit) as f:
                text = f.read()
            self.assertIn("\nUser=qlaster\n", text)
            self.assertIn("\nAfter=qlaster-sender.service", text)
            self.assertNotIn("@QLASTER", text)
            p = run("systemd-analyze", "verify", unit)
            self.assertEqual((p.returncode, p.stderr, p.stdout), (0, "", ""), name)
            # Their flag files hold only what every binary parses through base/flags.h.
            p = run(os.path.join(self.prefix, "bin", "qlaster-sender"),
                    "--flagfile=" + os.path.join(prefix, "etc", "qlaster", name + ".flags"),
                    "--only_check_args")
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_default_flag_file_is_accepted(self):
        flags = os.path.join(self.prefix, "etc", "qlaster", "sender.flags")
        p = run(os.path.join(self.moved, "bin", "qlaster-sender"), "--flagfile=" + flags,
                "--only_check_args")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(flags) as f:
            self.assertIn("--socket=/run/qlaster/sender.sock\n", f.read())

    def test_sysusers_entry_names_the_units_user(self):
        with open(os.path.join(self.prefix, "lib", "sysusers.d", "qlaster.conf")) as f:
            entries = [l.split() for l in f if l.strip() and not l.startswith("#")]
        self.assertEqual([e[:2] for e in entries], [["u", "qlaster"]])
        with open(os.path.join(self.prefix, "lib", "systemd", "system",
                               "qlaster-sender.service")) as f:
            unit = f.read()
        self.assertIn("\nUser=qlaster\n", unit)
        self.assertIn("\nRuntimeDirectory=qlaster\n", unit)

    def build_with_cmake(self, target):
        src = os.path.join(self.dir, "bot-cmake")
        if not os.path.exists(os.path.join(src, "build", "build.ninja")):
            os.makedirs(src, exist_ok=True)
            shutil.copy(os.path.join(ARGS.source, "consumer", "examples", "bot.cc"), src)
            with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
                f.write("cmake_minimum_required(VERSION 3.25)\n"
                        "project(bot CXX)\n"
                        "set(CMAKE_CXX_STANDARD 20)\n"
                        "find_package(qlaster 0.1 CONFIG REQUIRED)\n"
                        "add_executable(bot_static bot.cc)\n"
                        "target_link_libraries(bot_static PRIVATE qlaster::consumer)\n"
                        "add_executable(bot_shared bot.cc)\n"
                        "target_link_libraries(bot_shared PRIVATE qlaster::consumer_shared)\n")
            p = run(ARGS.cmake, "-S", src, "-B", os.path.join(src, "build"), "-G", "Ninja",
                    "-DCMAKE_CXX_COMPILER=" + ARGS.cxx, "-DCMAKE_PREFIX_PATH=" + self.moved)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = run(ARGS.cmake, "--build", os.path.join(src, "build"), "--target", target)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return os.path.join(src, "build", target)

    def build_with_pkg_config(self, name, static):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.moved, self.libdir, "pkgconfig"))
        cflags = run("pkg-config", "--cflags", "qlaster-consumer", env=env)
        libs = run("pkg-config", *(["--static"] if static else []), "--libs", "qlaster-consumer",
                   env=env)
        self.assertEqual((cflags.returncode, libs.returncode), (0, 0), cflags.stderr + libs.stderr)
        lib_args = libs.stdout.split()
        if static:  # the archive, not the .so beside it; its dependencies as --static says
            i = lib_args.index("-lqlaster-consumer")
            lib_args[i:i + 1] = ["-Wl,-Bstatic", "-lqlaster-consumer", "-Wl,-Bdynamic"]
        out = os.path.join(self.dir, name)
        p = run(ARGS.cxx, "-std=c++20", os.path.join(ARGS.source, "consumer", "examples", "bot.cc"),
                *cflags.stdout.split(), *lib_args, "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        return out

    def needed(self, binary):
        p = run("readelf", "-d", binary)
        self.assertEqual(p.returncode, 0, p.stderr)
        return re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", p.stdout)

    def test_bot_with_find_package_static(self):
        bot = self.build_with_cmake("bot_static")
        self.assertFalse([n for n in self.needed(bot) if "qlaster" in n])
        self.run_bot(bot)

    def test_bot_with_find_package_shared(self):
        bot = self.build_with_cmake("bot_shared")
        self.assertIn("libqlaster-consumer.so.0", self.needed(bot))
        self.run_bot(bot)  # found through the build's RUNPATH into the moved tree

    def test_bot_with_pkg_config_shared(self):
        bot = self.build_with_pkg_config("bot_pc_shared", static=False)
        self.assertIn("libqlaster-consumer.so.0", self.needed(bot))
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(self.moved, self.libdir))
        self.run_bot(bot, env=env)

    def test_bot_with_pkg_config_static(self):
        bot = self.build_with_pkg_config("bot_pc_static", static=True)
        self.assertFalse([n for n in self.needed(bot) if "qlaster" in n])
        self.run_bot(bot)

    def test_installed_inspect_reads_the_installed_sender(self):
        self.wait_for_sender()
        p = run(os.path.join(self.moved, "bin", "qlaster-inspect"), "--socket=" + self.socket,
                "--count=3", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 3, p.stdout)

    def test_installed_sender_stops_cleanly_on_sigterm(self):
        socket = os.path.join(self.dir, "sigterm.sock")
        sender = subprocess.Popen(
            [os.path.join(self.moved, "bin", "qlaster-sender"), "--socket=" + socket,
             "--source=synthetic", "--quiet"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(sender)
        # Serving (a StatsRequest answered): the sender handles signals from then on. (It
        # binds its socket before it installs its SIGTERM handler.)
        inspect = os.path.join(self.moved, "bin", "qlaster-inspect")
        wait_until(lambda: sender.poll() is not None or
                   run(inspect, "--socket=" + socket, "--sender-stats").returncode == 0,
                   30, "the sender to serve")
        self.assertIsNone(sender.poll())
        sender.send_signal(signal.SIGTERM)
        _, err = sender.communicate(timeout=30)
        self.assertEqual(sender.returncode, 0, err)
        self.assertFalse(os.path.exists(socket))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
