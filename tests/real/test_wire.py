"""Wire-level facts of the handshake, sessions and reply ordering, checked with
a raw socket because kazoo hides them."""

import struct

import harness
from harness import IntegrationTest, RawClient, jute_bool, jute_string, read_string

EXPIRED_REPLY_37 = struct.pack(">iiqi", 0, 0, 0, 16) + b"\0" * 16 + b"\0"


class WireTest(IntegrationTest):

    def raw(self, server=None):
        server = server or self.server
        r = RawClient(server.host, server.port)
        self.addCleanup(r.close)
        return r

    def test_handshake_reply_carries_read_only_byte_only_if_asked(self):
        r = self.raw()
        reply = r.connect(with_read_only=True)
        self.assertEqual(len(reply), 37)
        self.assertEqual(reply[-1:], b"\0")
        self.assertEqual(struct.unpack_from(">i", reply, 16)[0], 16)
        self.assertNotEqual(r.session_id, 0)
        self.assertEqual(r.session_id >> 63, 0)
        r.close_session()
        r2 = self.raw()
        reply = r2.connect(with_read_only=False)
        self.assertEqual(len(reply), 36)
        self.assertNotEqual(r2.session_id, r.session_id)
        r2.close_session()

    def test_negotiated_timeout_is_clamped_to_2_and_20_ticks(self):
        for asked, granted in ((1, 4000), (0, 4000), (-5, 4000), (3999, 4000), (4000, 4000),
                               (30000, 30000), (40000, 40000), (100000, 40000)):
            r = self.raw()
            r.connect(timeout_ms=asked)
            self.assertEqual(r.negotiated, granted, "asked %d" % asked)
            r.close_session()

    def test_configured_min_and_max_session_timeout_bound_the_negotiation(self):
        with harness.new_server(name="timeouts", min_session_timeout_ms=3000,
                                max_session_timeout_ms=7000) as srv:
            for asked, granted in ((1, 3000), (5000, 5000), (100000, 7000)):
                r = self.raw(srv)
                r.connect(timeout_ms=asked)
                self.assertEqual(r.negotiated, granted, "asked %d" % asked)
                r.close_session()

    def test_close_session_is_answered_then_the_connection_closes(self):
        r = self.raw()
        r.connect()
        zxid, err, body = r.close_session()
        self.assertEqual((err, body), (0, b""))
        self.assertGreater(zxid, 0)
        self.assertTrue(r.closed_by_peer())

    def test_closed_session_cannot_be_resumed(self):
        r = self.raw()
        r.connect()
        sid, pw = r.session_id, r.passwd
        r.close_session()
        r2 = self.raw()
        reply = r2.connect(session_id=sid, passwd=pw)
        self.assertEqual(reply, EXPIRED_REPLY_37)
        self.assertTrue(r2.closed_by_peer())

    def test_wrong_password_gets_the_expired_reply_and_the_session_lives_on(self):
        owner = self.client()
        owner.create(self.p("eph"), b"", ephemeral=True)
        sid, pw = owner.client_id
        r = self.raw()
        reply = r.connect(session_id=sid, passwd=bytes(b ^ 0xFF for b in pw))
        self.assertEqual(reply, EXPIRED_REPLY_37)
        self.assertTrue(r.closed_by_peer())
        self.assertEqual(owner.get(self.p("eph"))[1].ephemeralOwner, sid)

    def test_resuming_a_session_moves_it_to_the_new_connection(self):
        first = self.raw()
        first.connect(timeout_ms=10000)
        _, err, _ = first.create(self.p("eph"), b"", flags=1)
        self.assertEqual(err, 0)
        second = self.raw()
        reply = second.connect(timeout_ms=20000, session_id=first.session_id,
                               passwd=first.passwd)
        self.assertEqual(len(reply), 37)
        self.assertEqual((second.session_id, second.passwd, second.negotiated),
                         (first.session_id, first.passwd, 20000))
        self.assertTrue(first.closed_by_peer())  # the server drops the old connection
        self.assertEqual(self.admin.exists(self.p("eph")).ephemeralOwner, first.session_id)
        second.close_session()
        self.assertIsNone(self.admin.exists(self.p("eph")))

    def test_last_zxid_ahead_of_the_server_is_refused_without_reply(self):
        r = self.raw()
        body = struct.pack(">iqiqi", 0, 1 << 40, 10000, 0, 16) + b"\0" * 16 + b"\0"
        r.send_frame(body)
        self.assertTrue(r.closed_by_peer())

    def test_ping_is_answered_with_xid_minus_2_and_the_last_zxid(self):
        self.admin.create(self.p("z"))
        last = self.admin.last_zxid
        r = self.raw()
        r.connect()
        r.request(11, b"", xid=-2)
        self.assertEqual(r.read_reply(), (-2, last + 1, 0, b""))  # +1: our createSession
        r.close_session()

    def test_error_reply_is_the_header_only(self):
        r = self.raw()
        r.connect()
        r.request(4, jute_string(self.p("missing")) + jute_bool(False), xid=42)
        frame = r.recv_frame()
        self.assertEqual(len(frame), 16)
        self.assertEqual(struct.unpack(">iqi", frame)[::2], (42, -101))
        r.close_session()

    def test_requests_pipelined_before_the_handshake_reply_are_answered(self):
        # the C client sends requests right behind its ConnectRequest
        self.admin.create(self.p("pipe"), b"data")
        r = self.raw()
        connect = struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16 + b"\0"
        req = struct.pack(">ii", 1, 4) + jute_string(self.p("pipe")) + jute_bool(False)
        r.sock.sendall(struct.pack(">i", len(connect)) + connect
                       + struct.pack(">i", len(req)) + req)
        self.assertEqual(len(r.recv_frame()), 37)
        xid, _, err, body = r.read_reply()
        self.assertEqual((xid, err), (1, 0))
        self.assertEqual(body[:8], struct.pack(">i", 4) + b"data")
        r.close_session()

    def test_pipelined_replies_come_back_in_request_order(self):
        r = self.raw()
        r.connect()
        frames, expected = [], []
        for i in range(60):
            xid = 1000 + i
            path = self.p("n%d" % (i // 3))
            if i % 3 == 0:
                body = struct.pack(">ii", xid, 1) + jute_string(path) + jute_string(b"v") \
                    + harness.OPEN_ACL + struct.pack(">i", 0)
                expected.append((xid, 0))
            elif i % 3 == 1:
                body = struct.pack(">ii", xid, 4) + jute_string(path + "/none") + jute_bool(False)
                expected.append((xid, -101))
            else:
                body = struct.pack(">ii", xid, 5) + jute_string(path) + jute_string(b"w") \
                    + struct.pack(">i", 0)
                expected.append((xid, 0))
            frames.append(struct.pack(">i", len(body)) + body)
        r.sock.sendall(b"".join(frames))
        got = []
        for _ in expected:
            xid, zxid, err, body = r.read_reply()
            got.append((xid, err))
        self.assertEqual(got, expected)
        self.assertEqual(len(self.admin.get_children(self.base)), 20)
        r.close_session()

    def test_create_reply_is_the_path_and_create2_adds_the_stat(self):
        r = self.raw()
        r.connect()
        _, err, body = r.create(self.p("c1"), b"ab")
        self.assertEqual((err, read_string(body)), (0, (self.p("c1"), len(body))))
        body2 = jute_string(self.p("c2")) + jute_string(b"xyz") + harness.OPEN_ACL \
            + struct.pack(">i", 0)
        zxid, err, body = r.call(15, body2)
        path, off = read_string(body)
        self.assertEqual((err, path, len(body) - off), (0, self.p("c2"), 68))
        stat = harness.STAT.unpack_from(body, off)
        self.assertEqual(stat[0], zxid)           # czxid is the reply's zxid
        self.assertEqual(stat[8], 3)              # dataLength
        self.assertEqual(self.admin.get(self.p("c2"))[1].czxid, zxid)
        r.close_session()

    def test_invalid_paths_are_bad_arguments(self):
        self.admin.create(self.p("v"))
        r = self.raw()
        r.connect()
        v = self.p("v")
        cases = [
            (v + "/", -8),
            (v + "/.", -8),
            (v + "/..", -8),
            (v + "/a\x01b", -8),
            (v + "/a\x7fb", -8),
            ("noslash", -8),
            # the parent is the text before the last "/", here "v/", which is
            # missing: the parent lookup comes before full path validation
            (v + "//x", -101),
            (self.p("nope") + "/", -101),
        ]
        for path, code in cases:
            _, err, body = r.create(path, b"")
            self.assertEqual((err, body), (code, b""), repr(path))
        self.assertEqual(self.admin.get_children(self.p("v")), [])
        r.close_session()
