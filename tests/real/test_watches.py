"""Watches: event types and paths, one-shot semantics, one event per change."""

import struct
import time

from kazoo.protocol.states import EventType, KazooState, WatchedEvent

from harness import EventLog, IntegrationTest, RawClient, jute_bool, jute_string, parse_event

QUIET_S = 0.5  # how long "no further event" is watched for


def ev(etype, path):
    return WatchedEvent(type=etype, state=KazooState.CONNECTED, path=path)


class KazooWatchTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.other = self.client()

    def assert_quiet(self, log, count):
        time.sleep(QUIET_S)
        self.assertEqual(len(log.snapshot()), count, log.snapshot())

    def test_get_watch_fires_changed_once(self):
        path = self.p("w")
        self.admin.create(path, b"0")
        log = EventLog()
        self.assertEqual(self.admin.get(path, watch=log)[0], b"0")
        self.other.set(path, b"1")
        self.assertEqual(log.wait_count(1), [ev(EventType.CHANGED, path)])
        self.other.set(path, b"2")  # the watch was one-shot
        self.assert_quiet(log, 1)

    def test_exists_watch_on_missing_node_fires_created(self):
        path = self.p("later")
        log = EventLog()
        self.assertIsNone(self.admin.exists(path, watch=log))
        self.other.create(path, b"")
        self.assertEqual(log.wait_count(1), [ev(EventType.CREATED, path)])
        self.other.set(path, b"x")
        self.assert_quiet(log, 1)

    def test_exists_watch_on_existing_node_fires_changed_then_nothing(self):
        path = self.p("there")
        self.admin.create(path, b"")
        log = EventLog()
        self.assertIsNotNone(self.admin.exists(path, watch=log))
        self.other.set(path, b"y")
        self.assertEqual(log.wait_count(1), [ev(EventType.CHANGED, path)])
        self.other.delete(path)
        self.assert_quiet(log, 1)

    def test_exists_watch_fires_deleted(self):
        path = self.p("gone")
        self.admin.create(path, b"")
        log = EventLog()
        self.admin.exists(path, watch=log)
        self.other.delete(path)
        self.assertEqual(log.wait_count(1), [ev(EventType.DELETED, path)])

    def test_child_watch_fires_on_child_create_and_delete_not_on_child_data(self):
        parent = self.p("par")
        self.admin.create(parent)
        self.admin.create(parent + "/a", b"")
        log = EventLog()
        self.assertEqual(self.admin.get_children(parent, watch=log), ["a"])
        self.other.set(parent + "/a", b"changed")  # not a membership change
        self.other.set(parent, b"parent data")      # nor is the parent's own data
        self.assert_quiet(log, 0)
        self.other.create(parent + "/b", b"")
        self.assertEqual(log.wait_count(1), [ev(EventType.CHILD, parent)])
        self.other.create(parent + "/c", b"")
        self.assert_quiet(log, 1)
        log2 = EventLog()
        self.admin.get_children(parent, watch=log2)
        self.other.delete(parent + "/a")
        self.assertEqual(log2.wait_count(1), [ev(EventType.CHILD, parent)])

    def test_grandchild_changes_do_not_fire_child_watch(self):
        parent = self.p("gp")
        self.admin.create(parent + "/kid", makepath=True)
        log = EventLog()
        self.admin.get_children(parent, watch=log)
        self.other.create(parent + "/kid/grandkid", b"")
        self.other.delete(parent + "/kid/grandkid")
        self.assert_quiet(log, 0)

    def test_delete_fires_deleted_to_data_and_child_watchers(self):
        path = self.p("both")
        self.admin.create(path, b"")
        data_log, child_log = EventLog(), EventLog()
        self.admin.get(path, watch=data_log)
        self.admin.get_children(path, watch=child_log)
        self.other.delete(path)
        self.assertEqual(data_log.wait_count(1), [ev(EventType.DELETED, path)])
        self.assertEqual(child_log.wait_count(1), [ev(EventType.DELETED, path)])

    def test_create_fires_created_on_node_and_child_on_parent(self):
        parent = self.p("cp")
        self.admin.create(parent)
        node_log, parent_log = EventLog(), EventLog()
        self.admin.exists(parent + "/n", watch=node_log)
        self.admin.get_children(parent, watch=parent_log)
        self.other.create(parent + "/n", b"")
        self.assertEqual(node_log.wait_count(1), [ev(EventType.CREATED, parent + "/n")])
        self.assertEqual(parent_log.wait_count(1), [ev(EventType.CHILD, parent)])

    def test_watch_fires_once_per_change(self):
        path = self.p("many")
        self.admin.create(path, b"0")
        log = EventLog()
        for i in range(1, 6):
            self.admin.get(path, watch=log)
            self.other.set(path, str(i).encode())
            log.wait_count(i)
        self.assert_quiet(log, 5)
        self.assertEqual(log.snapshot(), [ev(EventType.CHANGED, path)] * 5)

    def test_watch_from_failed_get_is_not_set(self):
        path = self.p("nothing")
        log = EventLog()
        from kazoo.exceptions import NoNodeError
        with self.assertRaises(NoNodeError):
            self.admin.get(path, watch=log)
        self.other.create(path, b"")
        self.assert_quiet(log, 0)

    def test_each_client_gets_its_own_event(self):
        path = self.p("shared")
        self.admin.create(path, b"")
        logs = [EventLog(), EventLog(), EventLog()]
        clients = [self.admin, self.other, self.client()]
        for c, log in zip(clients, logs):
            c.get(path, watch=log)
        clients[2].set(path, b"z")
        for log in logs:
            self.assertEqual(log.wait_count(1), [ev(EventType.CHANGED, path)])

    def test_data_watch_recipe_sees_each_version_then_deletion(self):
        path = self.p("dw")
        self.admin.create(path, b"v0")
        seen = EventLog()

        def on_data(data, stat):
            seen((data, stat.version if stat is not None else None))

        self.admin.DataWatch(path, on_data)
        seen.wait_count(1)
        for i in (1, 2, 3):
            self.other.set(path, b"v%d" % i)
            seen.wait_count(i + 1)
        self.other.delete(path)
        self.assertEqual(seen.wait_count(5),
                         [(b"v0", 0), (b"v1", 1), (b"v2", 2), (b"v3", 3), (None, None)])

    def test_children_watch_recipe_sees_each_membership(self):
        parent = self.p("cw")
        self.admin.create(parent)
        seen = EventLog()
        self.admin.ChildrenWatch(parent, lambda kids: seen(sorted(kids)))
        seen.wait_count(1)
        self.other.create(parent + "/a")
        seen.wait_count(2)
        self.other.create(parent + "/b")
        seen.wait_count(3)
        self.other.delete(parent + "/a")
        self.assertEqual(seen.wait_count(4), [[], ["a"], ["a", "b"], ["b"]])


class RawWatchTest(IntegrationTest):
    """Wire-level watch facts kazoo hides."""

    def raw(self):
        r = RawClient(self.server.host, self.server.port)
        self.addCleanup(r.close)
        r.connect()
        return r

    def test_notification_precedes_the_reply_of_the_write_that_caused_it(self):
        path = self.p("order")
        self.admin.create(path, b"")
        r = self.raw()
        zxid, err, _ = r.get_data(path, watch=True)
        self.assertEqual(err, 0)
        xid = r.request(5, jute_string(path) + jute_string(b"new") + struct.pack(">i", -1))
        rxid, _, err, body = r.read_reply()
        self.assertEqual((rxid, err), (-1, 0))
        self.assertEqual(parse_event(body), (3, 3, path))  # NodeDataChanged, SyncConnected
        rxid, zxid, err, body = r.read_reply()
        self.assertEqual((rxid, err), (xid, 0))
        self.assertEqual(len(body), 68)
        r.close_session()

    def test_data_and_exists_watch_on_one_connection_give_one_event(self):
        path = self.p("dedup")
        self.admin.create(path, b"")
        r = self.raw()
        self.assertEqual(r.get_data(path, watch=True)[1], 0)
        self.assertEqual(r.exists(path, watch=True)[1], 0)
        self.admin.set(path, b"x")
        rxid, _, err, body = r.read_reply()
        self.assertEqual((rxid, parse_event(body)), (-1, (3, 3, path)))
        # a ping's reply must be the very next frame: no duplicate event queued
        r.request(11, b"", xid=-2)
        rxid, _, err, body = r.read_reply()
        self.assertEqual((rxid, err, body), (-2, 0, b""))
        r.close_session()

    def test_exists_watch_on_missing_node_then_create_gives_created(self):
        path = self.p("raw-created")
        r = self.raw()
        _, err, _ = r.exists(path, watch=True)
        self.assertEqual(err, -101)
        self.admin.create(path, b"")
        rxid, _, _, body = r.read_reply()
        self.assertEqual((rxid, parse_event(body)), (-1, (1, 3, path)))
        r.close_session()

    def test_child_and_data_watch_on_deleted_node_give_one_event(self):
        path = self.p("raw-del")
        self.admin.create(path, b"")
        r = self.raw()
        self.assertEqual(r.get_data(path, watch=True)[1], 0)
        self.assertEqual(r.call(8, jute_string(path) + jute_bool(True))[1], 0)
        self.admin.delete(path)
        rxid, _, _, body = r.read_reply()
        self.assertEqual((rxid, parse_event(body)), (-1, (2, 3, path)))
        r.request(11, b"", xid=-2)
        self.assertEqual(r.read_reply()[0], -2)
        r.close_session()
