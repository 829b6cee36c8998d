"""Durability on a dedicated server: what was acknowledged survives a clean
restart and a kill -9, stats and counters included, and sessions outlive a
short server restart."""

import os
import signal
import subprocess
import time

from kazoo.protocol.states import KazooState

import harness
from harness import EventLog, IntegrationTest, LineReader, wait_for


class DurabilityTest(IntegrationTest):

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.new_server(name="durable")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()

    def setUp(self):
        super().setUp()
        if not self.srv.running():  # an earlier test may have left it down
            self.srv.start()

    def dclient(self, **kwargs):
        return self.client(hosts=self.srv.hostport, **kwargs)

    def snapshot(self, c, root):
        """{path: (data, stat)} for root and everything under it."""
        out = {}
        stack = [root]
        while stack:
            path = stack.pop()
            out[path] = c.get(path)
            stack.extend(path + "/" + k for k in c.get_children(path))
        return out

    def build_tree(self, c, root):
        c.create(root + "/a/b", b"deep", makepath=True)
        c.create(root + "/null", None)
        c.create(root + "/empty", b"")
        c.set(root + "/a", b"v1")
        c.set(root + "/a", b"v2")
        for _ in range(3):
            c.create(root + "/seq/s-", b"", sequence=True, makepath=True)
        c.delete(root + "/seq/s-0000000001")
        c.create(root + "/gone", b"")
        c.delete(root + "/gone")
        t = c.transaction()
        t.create(root + "/multi1", b"m")
        t.create(root + "/multi2", b"m")
        t.commit()

    def check_restart_keeps_everything(self, kill):
        root = "/d-%s" % ("kill" if kill else "term")
        c = self.dclient()
        self.build_tree(c, root)
        before = self.snapshot(c, root)
        last = c.last_zxid
        c.stop()
        self.srv.restart(kill=kill)
        c = self.dclient()
        self.assertEqual(self.snapshot(c, root), before)
        # the sequence counter and the zxid carry on where they were
        self.assertEqual(c.create(root + "/seq/s-", sequence=True), root + "/seq/s-0000000003")
        self.assertGreater(c.get(root + "/seq/s-0000000003")[1].czxid, last)
        self.assertEqual(c.get(root + "/null")[0], None)
        self.assertEqual(c.get(root + "/empty")[0], b"")

    def test_data_and_stats_survive_a_clean_restart(self):
        self.check_restart_keeps_everything(kill=False)

    def test_data_and_stats_survive_kill_9(self):
        self.check_restart_keeps_everything(kill=True)

    def test_every_acknowledged_write_survives_kill_9(self):
        c = self.dclient()
        c.create("/acked")
        for i in range(200):
            c.create("/acked/n%03d" % i, b"%d" % i)
        for i in range(0, 200, 2):
            c.set("/acked/n%03d" % i, b"even")
        # the kill comes right after the last acknowledgement
        self.srv.kill()
        self.srv.start()
        c = self.dclient()
        kids = sorted(c.get_children("/acked"))
        self.assertEqual(kids, ["n%03d" % i for i in range(200)])
        for i in range(200):
            data, st = c.get("/acked/n%03d" % i)
            self.assertEqual((data, st.version),
                             (b"even", 1) if i % 2 == 0 else (b"%d" % i, 0))

    def test_session_and_ephemeral_survive_a_server_restart(self):
        c = self.dclient(timeout=10.0)
        states = EventLog()
        c.add_listener(states)
        c.create("/restart-eph", b"", ephemeral=True)
        sid = c.client_id
        self.srv.restart()
        wait_for(lambda: states.snapshot()[-1:] == [KazooState.CONNECTED], 20,
                 "the client to reconnect")
        self.assertNotIn(KazooState.LOST, states.snapshot())
        self.assertEqual(c.client_id, sid)
        self.assertEqual(c.exists("/restart-eph").ephemeralOwner, sid[0])
        c.stop()
        self.assertIsNone(self.dclient().exists("/restart-eph"))

    def test_ephemeral_of_a_client_lost_during_restart_expires_afterwards(self):
        proc = subprocess.Popen(
            [harness.PYTHON, os.path.join(harness.HERE, "ephemeral_client.py"),
             self.srv.hostport, "/orphan", "4.0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(10),
                                 proc.stdout.close()))
        sid = int(LineReader(proc.stdout).expect("READY ", 20).split()[1], 16)
        self.srv.stop()
        os.kill(proc.pid, signal.SIGKILL)
        self.srv.start()
        t0 = time.monotonic()
        c = self.dclient()
        st = c.exists("/orphan")
        self.assertIsNotNone(st, "the session's ephemeral must come back with it")
        self.assertEqual(st.ephemeralOwner, sid)
        log = EventLog()
        c.exists("/orphan", watch=log)
        log.wait_count(1, timeout=4.0 + 2.0 + 3.0)
        self.assertIsNone(c.exists("/orphan"))
        self.assertGreaterEqual(time.monotonic() - t0, 2.0)
