"""Sessions: expiry removes ephemerals, reconnects keep the session."""

import os
import signal
import subprocess
import time

from kazoo.protocol.states import EventType, KazooState, WatchedEvent

import harness
from harness import EventLog, IntegrationTest, LineReader, TcpProxy, wait_for

SESSION_TIMEOUT_S = 4.0   # the minimum (2 x tickTime) at tickTime 2000
TICK_S = 2.0
SLACK_S = 3.0


class SessionExpiryTest(IntegrationTest):
    """A client that vanishes without closing its session: its ephemeral
    stays until the session times out, then goes, and watchers see it go."""

    def spawn_holder(self, path):
        proc = subprocess.Popen(
            [harness.PYTHON, os.path.join(harness.HERE, "ephemeral_client.py"),
             self.server.hostport, path, str(SESSION_TIMEOUT_S)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

        def reap():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            proc.stdout.close()
        self.addCleanup(reap)
        lines = LineReader(proc.stdout)
        ready = lines.expect("READY ", 20)
        return proc, lines, int(ready.split()[1], 16)

    def check_expiry(self, stop_signal):
        path = self.p("held")
        proc, lines, session_id = self.spawn_holder(path)
        st = self.admin.exists(path)
        self.assertEqual(st.ephemeralOwner, session_id)
        node_log, parent_log = EventLog(), EventLog()
        self.admin.exists(path, watch=node_log)
        self.admin.get_children(self.base, watch=parent_log)

        os.kill(proc.pid, stop_signal)
        t_stop = time.monotonic()
        # the session outlives its connection until the timeout runs out
        time.sleep(1.5)
        self.assertEqual(self.admin.exists(path).ephemeralOwner, session_id)
        self.assertEqual(node_log.snapshot(), [])

        limit = SESSION_TIMEOUT_S + TICK_S + SLACK_S
        events = node_log.wait_count(1, timeout=limit - (time.monotonic() - t_stop))
        elapsed = time.monotonic() - t_stop
        self.assertEqual(events, [WatchedEvent(EventType.DELETED, KazooState.CONNECTED, path)])
        self.assertEqual(parent_log.wait_count(1),
                         [WatchedEvent(EventType.CHILD, KazooState.CONNECTED, self.base)])
        self.assertIsNone(self.admin.exists(path))
        self.assertEqual(self.admin.get_children(self.base), [])
        # kazoo pings every ~timeout/3, so the last sign of life was at most
        # ~1.8 s before the stop: expiry can come no earlier than that allows
        self.assertGreaterEqual(elapsed, SESSION_TIMEOUT_S - 2.0)
        return proc, lines

    def test_session_of_killed_client_expires_and_its_ephemeral_goes(self):
        self.check_expiry(signal.SIGKILL)

    def test_session_of_silent_client_expires_and_client_learns_it_is_lost(self):
        proc, lines = self.check_expiry(signal.SIGSTOP)
        os.kill(proc.pid, signal.SIGCONT)
        # it reconnects with its old session id and is told the session expired
        lines.expect("STATE LOST", 15)


class ReconnectTest(IntegrationTest):
    """A dropped TCP connection is not a lost session."""

    def setUp(self):
        super().setUp()
        self.proxy = TcpProxy(self.server.host, self.server.port)
        self.addCleanup(self.proxy.close)

    def proxied_client(self):
        c = self.client(hosts=self.proxy.hostport, timeout=10.0)
        states = EventLog()
        c.add_listener(states)
        return c, states

    def test_reconnect_keeps_session_id_and_ephemeral(self):
        c, states = self.proxied_client()
        path = self.p("eph")
        c.create(path, b"x", ephemeral=True)
        before = c.client_id
        self.assertEqual(self.proxy.accepted, 1)
        self.proxy.sever()
        self.assertEqual(states.wait_count(2, timeout=15),
                         [KazooState.SUSPENDED, KazooState.CONNECTED])
        self.assertEqual(c.client_id, before)
        self.assertEqual(self.proxy.accepted, 2)
        self.assertEqual(self.admin.exists(path).ephemeralOwner, before[0])
        c.set(path, b"after")
        self.assertEqual(self.admin.get(path)[0], b"after")
        # and again: repeated drops change nothing
        self.proxy.sever()
        states.wait_count(4, timeout=15)
        self.assertEqual(c.client_id, before)
        self.assertEqual(c.get(path)[0], b"after")

    def test_reconnected_client_sees_changes_made_while_it_was_away(self):
        c, states = self.proxied_client()
        path = self.p("d")
        c.create(path, b"before")
        self.proxy.blocked = True
        self.proxy.sever()
        states.wait_count(1)
        self.admin.set(path, b"changed")
        self.admin.create(self.p("new"))
        time.sleep(0.5)
        self.proxy.blocked = False
        self.assertEqual(states.wait_count(2, timeout=15)[1], KazooState.CONNECTED)
        data, st = c.get(path)
        self.assertEqual((data, st.version), (b"changed", 1))
        self.assertEqual(sorted(c.get_children(self.base)), ["d", "new"])

    def test_session_survives_an_outage_shorter_than_its_timeout(self):
        c, states = self.proxied_client()
        path = self.p("eph")
        c.create(path, b"", ephemeral=True)
        sid = c.client_id[0]
        self.proxy.blocked = True
        self.proxy.sever()
        time.sleep(3.0)  # well under the 10 s session timeout
        self.assertEqual(self.admin.exists(path).ephemeralOwner, sid)
        self.proxy.blocked = False
        wait_for(lambda: c.state == KazooState.CONNECTED, 15, "reconnect")
        self.assertEqual(c.client_id[0], sid)
        self.assertEqual(self.admin.exists(path).ephemeralOwner, sid)
        self.assertNotIn(KazooState.LOST, states.snapshot())
