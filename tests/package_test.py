#!/usr/bin/env python3
"""The Debian package: `cpack -G DEB` on this build tree, then its control fields, its
Depends (exactly the packages that own the libraries its ELF files load), its file list
and modes, its maintainer scripts, and an install with apt-get that runs the packaged
service and purges it (package_overlay_test.sh).

Where the install happens, and why: in an overlay of this machine's own root, inside a
private mount namespace, with the changes in a tmpfs. CI runs as root on a fresh
Debian 12, but on the machine of the session that submitted, where other engineers'
builds and tests run too. Installing into the machine itself would race their dpkg and
apt runs, replace a qlaster they installed, and leave a user, files and a dpkg record
behind if the test died before `dpkg -r`. The overlay is a real Debian root with the real
dpkg database and maintainer scripts, and vanishes with the namespace whatever happens.
What it cannot show is apt fetching the Depends on a machine without them (this one has
them all, being the build machine); tools/package.sh --clean-check does that, on demand,
in a minimal Debian 12 made by mmdebstrap.

Usage: package_test.py --build DIR --source DIR --version X.Y.Z
Needs root (CI and the developers' machines run as root).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from install_layout import check_layout

parser = argparse.ArgumentParser()
parser.add_argument("--build", required=True)
parser.add_argument("--source", required=True)
parser.add_argument("--version", required=True)
ARGS, _ = parser.parse_known_args()

TIMEOUT = 300


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, **kw)


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def owner_package(path):
    """The installed package that owns `path` (merged /usr: /lib and /usr/lib alias)."""
    real = os.path.realpath(path)
    candidates = [path, real]
    for p in (path, real):
        if p.startswith("/usr/lib/"):
            candidates.append(p[len("/usr"):])
        elif p.startswith("/lib/"):
            candidates.append("/usr" + p)
    for c in candidates:
        p = run("dpkg-query", "-S", c)
        if p.returncode == 0:
            return p.stdout.split(":")[0].strip()
    raise AssertionError("no installed package owns " + path)


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="qlaster-package-test-")
        cls.cpack = run("cpack", "-G", "DEB", "--config",
                        os.path.join(ARGS.build, "CPackConfig.cmake"), "-B", cls.dir)
        debs = [f for f in os.listdir(cls.dir) if f.endswith(".deb")]
        cls.deb = os.path.join(cls.dir, debs[0]) if len(debs) == 1 else None
        if cls.deb:
            cls.unpacked = os.path.join(cls.dir, "unpacked")
            run("dpkg-deb", "-x", cls.deb, cls.unpacked)
            cls.control = os.path.join(cls.dir, "control")
            run("dpkg-deb", "-e", cls.deb, cls.control)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.cpack.returncode, 0, self.cpack.stdout + self.cpack.stderr)
        self.assertIsNotNone(self.deb, os.listdir(self.dir))

    def field(self, name):
        p = run("dpkg-deb", "-f", self.deb, name)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def files(self):
        p = run("dpkg-deb", "-c", self.deb)
        self.assertEqual(p.returncode, 0, p.stderr)
        entries = {}
        for line in p.stdout.splitlines():
            mode, owner, _, _, _, path = line.split(None, 5)
            path = path.split(" -> ")[0]
            if not mode.startswith("d"):
                entries[path[1:]] = (mode, owner)  # "./usr/bin/x" -> "/usr/bin/x"
        return entries

    def test_control_fields(self):
        arch = run("dpkg", "--print-architecture").stdout.strip()
        self.assertEqual(os.path.basename(self.deb), "qlaster_%s_%s.deb" % (ARGS.version, arch))
        self.assertEqual(self.field("Package"), "qlaster")
        self.assertEqual(self.field("Version"), ARGS.version)
        self.assertEqual(self.field("Architecture"), arch)
        self.assertRegex(self.field("Maintainer"), r"^.+ <.+@.+>$")
        self.assertTrue(self.field("Description"))

    def test_depends_are_exactly_the_packages_of_the_libraries_it_loads(self):
        # Exactly the packages of the libraries each ELF file names itself.
        depends = {}
        for dep in self.field("Depends").split(","):
            m = re.fullmatch(r"\s*([a-z0-9][a-z0-9+.-]+)(?:\s*\((>=|=) [^)]+\))?\s*", dep)
            self.assertIsNotNone(m, dep)
            depends[m.group(1)] = dep
        needed = set()
        for d, _, names in os.walk(self.unpacked):
            for name in names:
                path = os.path.join(d, name)
                if os.path.islink(path) or not is_elf(path) or name.endswith(".a"):
                    continue
                p = run("ldd", path, env=dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(path)))
                self.assertEqual(p.returncode, 0, (path, p.stderr))
                # The libraries the file itself names (DT_NEEDED), as dpkg-shlibdeps reads
                # them; what those load in turn is their packages' own Depends.
                direct = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                                        run("readelf", "-d", path).stdout))
                for soname, lib in re.findall(r"^\s*(\S+) => (/\S+) \(", p.stdout, re.M):
                    if soname not in direct:
                        continue
                    if os.path.realpath(lib).startswith(self.unpacked):
                        continue  # the package's own library
                    needed.add(owner_package(lib))
        self.assertTrue(needed)
        self.assertEqual(set(depends), needed)
        for name in ("libabsl20220623", "liblz4-1", "libc6", "libstdc++6"):
            self.assertIn(name, depends)
        self.assertRegex(depends["libc6"], r"\(>= ")  # versions from the symbols used

    def test_file_list_and_modes(self):
        files = self.files()
        missing, unexpected = check_layout(set(files), usr="/usr", etc="/etc")
        self.assertEqual((missing, unexpected), (set(), set()))
        for path, (mode, owner) in files.items():
            self.assertEqual(owner, "root/root", path)
            if path.startswith("/usr/bin/"):
                self.assertEqual(mode, "-rwxr-xr-x", path)
            elif not mode.startswith("l"):
                self.assertEqual(mode, "-rw-r--r--", path)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(sorted(f.read().split()),
                             sorted(p for p in files if p.startswith("/etc/")))

    def test_binaries_and_library_are_stripped_and_archive_usable(self):
        for path in ("usr/bin/qlaster-sender", "usr/bin/qlaster-inspect"):
            p = run("readelf", "-S", os.path.join(self.unpacked, path))
            self.assertNotIn(".debug_info", p.stdout, path)
        archive = [os.path.join(d, n) for d, _, ns in os.walk(self.unpacked) for n in ns
                   if n == "libqlaster-consumer.a"][0]
        p = run("nm", "--defined-only", "-C", archive)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("qlaster::Consumer::Connect", p.stdout)  # symbols kept, debug info gone
        self.assertNotIn(".debug_info", run("readelf", "-S", archive).stdout)

    def test_maintainer_scripts(self):
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            p = run("sh", "-n", path)
            self.assertEqual(p.returncode, 0, (script, p.stderr))
            with open(path) as f:
                text = f.read()
            self.assertNotIn("@QLASTER", text, script)
        with open(os.path.join(self.control, "postinst")) as f:
            self.assertIn("systemd-sysusers qlaster.conf", f.read())
        with open(os.path.join(self.control, "triggers")) as f:
            self.assertEqual(f.read().split(), ["activate-noawait", "ldconfig"])
        with open(os.path.join(self.control, "shlibs")) as f:
            self.assertRegex(f.read(), r"^libqlaster-consumer 0 qlaster")

    def test_installs_runs_and_purges_on_debian(self):
        self.assertEqual(os.geteuid(), 0, "installing the package needs root")
        before = run("dpkg-query", "-W", "-f=${Status} ${Version}", "qlaster").stdout
        work = os.path.join(self.dir, "overlay")
        os.mkdir(work)
        p = run("unshare", "--mount", "--propagation", "private", "bash",
                os.path.join(ARGS.source, "tests", "package_overlay_test.sh"), self.deb,
                os.path.realpath(ARGS.source), work)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("package_overlay_test: ok", p.stdout)
        # Nothing reached this machine.
        self.assertEqual(run("dpkg-query", "-W", "-f=${Status} ${Version}", "qlaster").stdout,
                         before)
        self.assertEqual(os.listdir(work), [])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
