"""The Apache C client's shell (cli_mt, Debian zookeeper-bin) in batch mode:
`cli_mt -h HOST:PORT -c "CMD"` runs one command, prints its result (on
stderr) and closes the session. Its `exists` never returns in batch mode, so
it is not used here."""

import os
import re
import shutil
import subprocess
import unittest

from harness import IntegrationTest

CANDIDATES = ["/usr/lib/zookeeper/bin/cli_mt", "/usr/bin/cli_mt"]


def find_cli_mt():
    for path in CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("cli_mt")


CLI_MT = find_cli_mt()


@unittest.skipIf(CLI_MT is None, "cli_mt (Debian zookeeper-bin) is not installed")
class CliMtTest(IntegrationTest):

    def cli(self, command):
        proc = subprocess.run([CLI_MT, "-h", self.server.hostport, "-c", command],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=20)
        out = proc.stdout.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("Batch mode: %s" % command, out)
        return out

    def rc(self, out, path):
        m = re.search(r"^\[?%s\]?: rc = (-?\d+)" % re.escape(path), out, re.M)
        self.assertIsNotNone(m, out)
        return int(m.group(1))

    def stat_field(self, out, name):
        m = re.search(r"\b%s=([0-9a-f]+)" % name, out)
        self.assertIsNotNone(m, out)
        return m.group(1)

    def test_cli_mt_create_get_set_ls_delete(self):
        path = self.p("c")
        out = self.cli("create %s" % path)
        self.assertEqual(self.rc(out, path), 0)
        self.assertRegex(out, r"\tname = %s\n" % re.escape(path))
        data, st = self.admin.get(path)
        self.assertEqual(data, b"new")  # cli_mt's create always writes "new"

        out = self.cli("get %s" % path)
        self.assertEqual(self.rc(out, path), 0)
        self.assertIn(" value_len = 3\nnew\n", out)
        self.assertEqual(int(self.stat_field(out, "czxid"), 16), st.czxid)
        self.assertEqual(int(self.stat_field(out, "version"), 10), 0)

        out = self.cli("set %s hello" % path)
        self.assertEqual(self.rc(out, path), 0)
        data, st = self.admin.get(path)
        self.assertEqual((data, st.version), (b"hello", 1))
        self.assertEqual(int(self.stat_field(out, "mzxid"), 16), st.mzxid)
        self.assertEqual(int(self.stat_field(out, "version"), 10), 1)

        self.admin.create(path + "/kid1")
        self.admin.create(path + "/kid2")
        out = self.cli("ls %s" % path)
        self.assertEqual(self.rc(out, path), 0)
        self.assertEqual(sorted(re.findall(r"^\t(kid\d)$", out, re.M)), ["kid1", "kid2"])

        out = self.cli("ls2 %s" % path)
        self.assertEqual(self.rc(out, path), 0)
        self.assertEqual(sorted(re.findall(r"^\t(kid\d)$", out, re.M)), ["kid1", "kid2"])
        self.assertEqual(int(self.stat_field(out, "czxid"), 16), st.czxid)

        out = self.cli("delete %s" % path)
        self.assertEqual(self.rc(out, path), -111)  # ZNOTEMPTY
        self.admin.delete(path + "/kid1")
        self.admin.delete(path + "/kid2")
        out = self.cli("delete %s" % path)
        self.assertEqual(self.rc(out, path), 0)
        self.assertIsNone(self.admin.exists(path))

    def test_cli_mt_reports_error_codes(self):
        path = self.p("e")
        self.assertEqual(self.rc(self.cli("get %s" % path), path), -101)
        self.assertEqual(self.rc(self.cli("ls %s" % path), path), -101)
        self.assertEqual(self.rc(self.cli("delete %s" % path), path), -101)
        self.admin.create(path)
        self.assertEqual(self.rc(self.cli("create %s" % path), path), -110)
        self.assertEqual(self.rc(self.cli("create %s/a/b" % path), path + "/a/b"), -101)

    def test_cli_mt_sequential_and_ephemeral_modes(self):
        prefix = self.p("s-")
        out = self.cli("create +s %s" % prefix)
        self.assertRegex(out, r"\tname = %s0000000000\n" % re.escape(prefix))
        out = self.cli("create +s %s" % prefix)
        self.assertRegex(out, r"\tname = %s0000000001\n" % re.escape(prefix))
        eph = self.p("eph")
        out = self.cli("create +e %s" % eph)
        self.assertEqual(self.rc(out, eph), 0)
        # the batch ends with closeSession, which takes the ephemeral with it
        self.assertIsNone(self.admin.exists(eph))
        self.assertEqual(sorted(self.admin.get_children(self.base)),
                         ["s-0000000000", "s-0000000001"])

    def test_cli_mt_create2_prints_the_new_stat(self):
        path = self.p("c2")
        out = self.cli("create2 %s" % path)
        self.assertEqual(self.rc(out, path), 0)
        _, st = self.admin.get(path)
        self.assertEqual(int(self.stat_field(out, "czxid"), 16), st.czxid)
        self.assertEqual(int(self.stat_field(out, "mzxid"), 16), st.czxid)

    def test_cli_mt_reads_what_kazoo_wrote(self):
        path = self.p("k")
        self.admin.create(path, b"from-kazoo")
        self.admin.set(path, b"from-kazoo")
        out = self.cli("get %s" % path)
        self.assertIn(" value_len = 10\nfrom-kazoo\n", out)
        self.assertEqual(int(self.stat_field(out, "version"), 10), 1)
        out = self.cli("ls /zookeeper")
        self.assertEqual(sorted(re.findall(r"^\t(\w+)$", out, re.M)), ["config", "quota"])
