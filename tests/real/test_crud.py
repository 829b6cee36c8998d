"""Create, read, update, delete through kazoo, with exact Stat values."""

import time

from kazoo import exceptions as ke

from harness import IntegrationTest


class CrudTest(IntegrationTest):

    def test_create_returns_path_and_fresh_stat(self):
        path = self.p("n")
        t0 = int(time.time() * 1000)
        self.assertEqual(self.admin.create(path, b"hello"), path)
        t1 = int(time.time() * 1000)
        data, st = self.admin.get(path)
        self.assertEqual(data, b"hello")
        self.assertEqual((st.version, st.cversion, st.aversion), (0, 0, 0))
        self.assertEqual((st.numChildren, st.dataLength, st.ephemeralOwner), (0, 5, 0))
        self.assertEqual(st.czxid, st.mzxid)
        self.assertEqual(st.czxid, st.pzxid)
        self.assertEqual(st.ctime, st.mtime)
        # same machine, so the server clock agrees with ours to within slack
        self.assertGreaterEqual(st.ctime, t0 - 2000)
        self.assertLessEqual(st.ctime, t1 + 2000)
        self.assertEqual(self.admin.last_zxid, st.czxid)

    def test_create_include_data_returns_the_same_stat_as_get(self):
        path = self.p("c2")
        created, st = self.admin.create(path, b"abc", include_data=True)
        self.assertEqual(created, path)
        self.assertEqual(self.admin.get(path), (b"abc", st))
        self.assertEqual((st.version, st.dataLength, st.numChildren), (0, 3, 0))

    def test_child_create_moves_parent_pzxid_cversion_numchildren_not_mzxid(self):
        parent = self.p("parent")
        self.admin.create(parent, b"p")
        _, before = self.admin.get(parent)
        self.admin.create(parent + "/a", b"")
        _, child = self.admin.get(parent + "/a")
        _, after = self.admin.get(parent)
        self.assertEqual(after.pzxid, child.czxid)
        self.assertGreater(after.pzxid, before.pzxid)
        self.assertEqual(after.cversion, before.cversion + 1)
        self.assertEqual(after.numChildren, before.numChildren + 1)
        self.assertEqual(after.mzxid, before.mzxid)
        self.assertEqual(after.mtime, before.mtime)
        self.assertEqual(after.version, before.version)
        self.assertEqual(after.czxid, before.czxid)

    def test_set_data_bumps_version_and_mzxid_even_for_identical_data(self):
        path = self.p("s")
        self.admin.create(path, b"one")
        _, st0 = self.admin.get(path)
        st1 = self.admin.set(path, b"three")
        self.assertEqual(st1.version, 1)
        self.assertEqual(st1.dataLength, 5)
        self.assertEqual(st1.czxid, st0.czxid)
        self.assertEqual(st1.ctime, st0.ctime)
        self.assertGreater(st1.mzxid, st0.mzxid)
        self.assertGreaterEqual(st1.mtime, st0.mtime)
        self.assertEqual(st1.pzxid, st0.pzxid)
        st2 = self.admin.set(path, b"three")
        self.assertEqual(st2.version, 2)
        self.assertGreater(st2.mzxid, st1.mzxid)
        self.assertEqual(self.admin.get(path), (b"three", st2))

    def test_set_with_wrong_version_raises_bad_version_and_changes_nothing(self):
        path = self.p("v")
        self.admin.create(path, b"a")
        self.admin.set(path, b"b")
        with self.assertRaises(ke.BadVersionError):
            self.admin.set(path, b"c", version=0)
        with self.assertRaises(ke.BadVersionError):
            self.admin.set(path, b"c", version=2)
        data, st = self.admin.get(path)
        self.assertEqual((data, st.version), (b"b", 1))
        self.assertEqual(self.admin.set(path, b"c", version=1).version, 2)

    def test_delete_with_wrong_version_raises_bad_version(self):
        path = self.p("d")
        self.admin.create(path, b"")
        self.admin.set(path, b"x")
        with self.assertRaises(ke.BadVersionError):
            self.admin.delete(path, version=0)
        self.assertIsNotNone(self.admin.exists(path))
        self.assertTrue(self.admin.delete(path, version=1))
        self.assertIsNone(self.admin.exists(path))

    def test_delete_moves_parent_pzxid_and_reported_cversion(self):
        parent = self.p("dp")
        self.admin.create(parent)
        for name in ("a", "b", "c"):
            self.admin.create(parent + "/" + name)
        _, st = self.admin.get(parent)
        self.assertEqual((st.cversion, st.numChildren), (3, 3))
        created_pzxid = st.pzxid
        self.admin.delete(parent + "/b")
        delete_zxid = self.admin.last_zxid
        _, st = self.admin.get(parent)
        # reported cversion counts creations and deletions of children
        self.assertEqual((st.cversion, st.numChildren), (4, 2))
        self.assertGreater(st.pzxid, created_pzxid)
        self.assertEqual(st.pzxid, delete_zxid)
        self.assertEqual(sorted(self.admin.get_children(parent)), ["a", "c"])

    def test_missing_node_raises_no_node(self):
        missing = self.p("missing")
        with self.assertRaises(ke.NoNodeError):
            self.admin.get(missing)
        with self.assertRaises(ke.NoNodeError):
            self.admin.set(missing, b"x")
        with self.assertRaises(ke.NoNodeError):
            self.admin.delete(missing)
        with self.assertRaises(ke.NoNodeError):
            self.admin.get_children(missing)
        with self.assertRaises(ke.NoNodeError):
            self.admin.get_acls(missing)
        with self.assertRaises(ke.NoNodeError):
            self.admin.create(missing + "/child", b"x")
        self.assertIsNone(self.admin.exists(missing))

    def test_create_existing_raises_node_exists(self):
        path = self.p("e")
        self.admin.create(path, b"first")
        with self.assertRaises(ke.NodeExistsError):
            self.admin.create(path, b"second")
        data, st = self.admin.get(path)
        self.assertEqual((data, st.version), (b"first", 0))
        with self.assertRaises(ke.NodeExistsError):
            self.admin.create("/", b"")

    def test_delete_non_empty_raises_not_empty_after_version_check(self):
        parent = self.p("ne")
        self.admin.create(parent)
        self.admin.create(parent + "/kid")
        with self.assertRaises(ke.NotEmptyError):
            self.admin.delete(parent)
        with self.assertRaises(ke.NotEmptyError):
            self.admin.delete(parent, version=0)
        # a wrong version is reported before the children are looked at
        with self.assertRaises(ke.BadVersionError):
            self.admin.delete(parent, version=3)
        self.admin.delete(parent, recursive=True)
        self.assertIsNone(self.admin.exists(parent))

    def test_null_and_empty_data_stay_distinct(self):
        # kazoo sends value=None as a null buffer (length -1), b"" as length 0
        self.admin.create(self.p("null"), None)
        self.admin.create(self.p("empty"), b"")
        data, st = self.admin.get(self.p("null"))
        self.assertIsNone(data)
        self.assertEqual(st.dataLength, 0)
        data, st = self.admin.get(self.p("empty"))
        self.assertEqual(data, b"")
        self.assertEqual(st.dataLength, 0)
        self.admin.set(self.p("empty"), None)
        self.admin.set(self.p("null"), b"")
        self.assertIsNone(self.admin.get(self.p("empty"))[0])
        self.assertEqual(self.admin.get(self.p("null"))[0], b"")

    def test_sequential_suffix_counts_child_creations_and_never_reuses(self):
        parent = self.p("seq")
        self.admin.create(parent)
        names = [self.admin.create(parent + "/s-", b"", sequence=True) for _ in range(3)]
        self.assertEqual(names, [parent + "/s-0000000000", parent + "/s-0000000001",
                                 parent + "/s-0000000002"])
        self.admin.delete(parent + "/s-0000000001")
        self.assertEqual(self.admin.create(parent + "/s-", sequence=True),
                         parent + "/s-0000000003")
        # a plain child also advances the counter
        self.admin.create(parent + "/plain")
        self.assertEqual(self.admin.create(parent + "/s-", sequence=True),
                         parent + "/s-0000000005")
        self.assertEqual(self.admin.create(parent + "/x", sequence=True, ephemeral=True),
                         parent + "/x0000000006")
        self.assertEqual(sorted(self.admin.get_children(parent)),
                         ["plain", "s-0000000000", "s-0000000002", "s-0000000003",
                          "s-0000000005", "x0000000006"])

    def test_sequential_create_under_trailing_slash_names_the_node_by_number(self):
        # kazoo strips a trailing "/" from paths, so go through the raw client
        from harness import RawClient, read_string
        parent = self.p("q")
        self.admin.create(parent)
        self.admin.create(parent + "/a")
        with RawClient(self.server.host, self.server.port) as raw:
            raw.connect()
            _, err, body = raw.create(parent + "/", b"", flags=2)
            self.assertEqual(err, 0)
            self.assertEqual(read_string(body)[0], parent + "/0000000001")
            _, err, _ = raw.create(parent + "/", b"", flags=0)
            self.assertEqual(err, -8)  # BADARGUMENTS: "/p/" is not a valid path
            raw.close_session()

    def test_ephemeral_node_belongs_to_session_and_has_no_children(self):
        owner = self.client()
        path = self.p("eph")
        owner.create(path, b"mine", ephemeral=True)
        _, st = self.admin.get(path)
        self.assertEqual(st.ephemeralOwner, owner.client_id[0])
        self.assertNotEqual(st.ephemeralOwner, self.admin.client_id[0])
        with self.assertRaises(ke.NoChildrenForEphemeralsError):
            owner.create(path + "/kid", b"")
        with self.assertRaises(ke.NoChildrenForEphemeralsError):
            self.admin.create(path + "/kid", b"")
        name = owner.create(self.p("es-"), b"", ephemeral=True, sequence=True)
        self.assertEqual(name, self.p("es-0000000001"))
        owner.stop()  # closeSession: the server deletes the session's ephemerals
        self.assertIsNone(self.admin.exists(path))
        self.assertIsNone(self.admin.exists(name))
        self.assertEqual(self.admin.get_children(self.base), [])

    def test_get_children_lists_names_only(self):
        parent = self.p("kids")
        self.admin.create(parent)
        for name in ("c", "a", "b"):
            self.admin.create(parent + "/" + name, name.encode())
        self.admin.create(parent + "/a/deeper")
        self.assertEqual(sorted(self.admin.get_children(parent)), ["a", "b", "c"])
        children, st = self.admin.get_children(parent, include_data=True)
        self.assertEqual(sorted(children), ["a", "b", "c"])
        self.assertEqual(st, self.admin.get(parent)[1])
        self.assertEqual(st.numChildren, 3)
        self.assertEqual(self.admin.get_children(parent + "/b"), [])

    def test_ensure_path_creates_each_missing_ancestor_once(self):
        deep = self.p("x", "y", "z")
        self.assertTrue(self.admin.ensure_path(deep))
        for path in (self.p("x"), self.p("x", "y"), deep):
            data, st = self.admin.get(path)
            self.assertEqual((data, st.version, st.ephemeralOwner), (b"", 0, 0))
        _, before = self.admin.get(self.p("x"))
        self.assertTrue(self.admin.ensure_path(deep))
        self.assertEqual(self.admin.get(self.p("x"))[1], before)
        self.assertEqual(self.admin.get_children(self.p("x", "y")), ["z"])

    def test_exists_returns_stat_or_none(self):
        path = self.p("ex")
        self.assertIsNone(self.admin.exists(path))
        self.admin.create(path, b"1234")
        st = self.admin.exists(path)
        self.assertEqual(st, self.admin.get(path)[1])
        self.assertEqual(st.dataLength, 4)

    def test_large_data_round_trips(self):
        path = self.p("big")
        blob = bytes(range(256)) * 3906  # 999,936 bytes, under the 1 MiB frame limit
        self.admin.create(path, blob)
        data, st = self.admin.get(path)
        self.assertEqual(st.dataLength, len(blob))
        self.assertEqual(data, blob)

    def test_sync_returns_the_path(self):
        self.assertEqual(self.admin.sync(self.base), self.base)

    def test_builtin_nodes_are_protected(self):
        self.assertIn("zookeeper", self.admin.get_children("/"))
        self.assertEqual(sorted(self.admin.get_children("/zookeeper")), ["config", "quota"])
        for special in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
            with self.assertRaises(ke.BadArgumentsError, msg=special):
                self.admin.delete(special)
        acls, st = self.admin.get_acls("/zookeeper/config")
        self.assertEqual([(a.perms, a.id.scheme, a.id.id) for a in acls],
                         [(1, "world", "anyone")])
        with self.assertRaises(ke.NoAuthError):
            self.admin.set("/zookeeper/config", b"x")
        _, root = self.admin.get("/")
        self.assertEqual((root.czxid, root.version), (0, 0))

    def test_failed_write_uses_up_a_zxid(self):
        # On ZooKeeper a write that fails still commits an error transaction
        path = self.p("fw")
        self.admin.create(path, b"")
        created = self.admin.last_zxid
        with self.assertRaises(ke.NodeExistsError):
            self.admin.create(path, b"")
        self.assertEqual(self.admin.last_zxid, created + 1)
        self.admin.set(path, b"x")
        self.assertEqual(self.admin.last_zxid, created + 2)
        self.assertEqual(self.admin.get(path)[1].mzxid, created + 2)
