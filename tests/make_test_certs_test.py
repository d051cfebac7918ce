"""tools/make_test_certs.sh: the server and client certificates chain to the test CA, the
untrusted client certificate does not (it chains to the second CA only), and usage errors
exit 64."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                      "make_test_certs.sh")


def verify(ca, cert):
    return subprocess.run(
        ["certtool", "--verify", "--load-ca-certificate", ca, "--infile", cert],
        capture_output=True, text=True, timeout=60)


class MakeTestCertsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = os.path.join(self.tmp.name, "certs")
        subprocess.run(["sh", SCRIPT, self.dir], check=True, timeout=120)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_writes_every_file(self):
        for name in ["ca", "server", "client", "other-ca", "untrusted"]:
            for ext in ["pem", "key"]:
                self.assertTrue(os.path.getsize(self.path(f"{name}.{ext}")) > 0, name)
        self.assertEqual(os.stat(self.path("client.key")).st_mode & 0o077, 0)

    def test_server_and_client_chain_to_the_ca(self):
        for leaf in ["server.pem", "client.pem"]:
            result = verify(self.path("ca.pem"), self.path(leaf))
            self.assertEqual(result.returncode, 0, leaf + result.stdout + result.stderr)

    def test_untrusted_client_does_not_chain_to_the_ca(self):
        result = verify(self.path("ca.pem"), self.path("untrusted.pem"))
        self.assertNotEqual(result.returncode, 0, result.stdout)
        result = verify(self.path("other-ca.pem"), self.path("untrusted.pem"))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_usage_error_exits_64(self):
        result = subprocess.run(["sh", SCRIPT], capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 64)


if __name__ == "__main__":
    sys.exit(unittest.main())
