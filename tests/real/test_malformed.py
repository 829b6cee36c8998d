"""Malformed input: the server drops bad connections and keeps serving."""

import os
import random
import socket
import struct
import threading
import time

from harness import IntegrationTest, RawClient, jute_bool, jute_string, wait_for

SEED = int(os.environ.get("IT_SEED", "20261122"))


def connect_frame(timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0):
    body = struct.pack(">iqiqi", 0, last_zxid, timeout_ms, session_id, len(passwd)) + passwd + b"\0"
    return struct.pack(">i", len(body)) + body


def garbage_case(rng, i):
    """(description, chunks to send, whether to wait for the server's reaction)."""
    kind = i % 10
    if kind == 0:
        data = rng.randbytes(rng.randint(1, 4000))
        return "random %d bytes" % len(data), [data]
    if kind == 1:
        frame = connect_frame()
        cut = rng.randint(1, len(frame) - 1)
        return "handshake cut at %d" % cut, [frame[:cut]]
    if kind == 2:
        n = rng.choice([0x7FFFFFFF, 0x00100001, 0x01000000, rng.randint(0x100000, 0x7FFFFFFF)])
        return "length prefix %#x" % n, [struct.pack(">I", n) + rng.randbytes(rng.randint(0, 64))]
    if kind == 3:
        n = rng.choice([-1, -2, -0x80000000, -rng.randint(1, 0x7FFFFFFF)])
        return "negative length %d" % n, [struct.pack(">i", n) + rng.randbytes(8)]
    if kind == 4:
        return "zero-length frames", [struct.pack(">i", 0) * rng.randint(1, 5)]
    if kind == 5:
        body = rng.randbytes(rng.randint(0, 60))
        frame = struct.pack(">ii", rng.randint(-20, 200), rng.randint(-20, 120)) + body
        return "handshake then garbage request", [connect_frame(), struct.pack(">i", len(frame)) + frame]
    if kind == 6:
        n = rng.randint(0, 200)
        return "handshake then %d garbage frames" % n, [connect_frame()] + [
            struct.pack(">i", m) + rng.randbytes(m) for m in
            (rng.randint(0, 40) for _ in range(rng.randint(1, 8)))]
    if kind == 7:
        sid = rng.getrandbits(63)
        return "resume unknown session %#x" % sid, [connect_frame(session_id=sid,
                                                                  passwd=rng.randbytes(16))]
    if kind == 8:
        word = rng.choice([b"ru", b"mnt", b"sr", b"\xff\xf4\xff"])
        return "partial four-letter word %r" % word, [word]
    frame = connect_frame()
    return "handshake in 1-byte pieces, then close", [frame[j:j + 1] for j in range(len(frame))]


def hit(host, port, chunks, wait_s, rst):
    with socket.create_connection((host, port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for chunk in chunks:
                s.sendall(chunk)
            if wait_s:
                s.settimeout(wait_s)
                end = time.monotonic() + wait_s
                while time.monotonic() < end:
                    if not s.recv(65536):
                        break
        except OSError:
            pass  # the server may reset us: that is allowed
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class MalformedInputTest(IntegrationTest):

    def raw(self):
        r = RawClient(self.server.host, self.server.port)
        self.addCleanup(r.close)
        return r

    def test_server_survives_200_garbage_connections(self):
        survivor = self.client()
        survivor.create(self.p("before"), b"still here")
        rng = random.Random(SEED)
        cases = [garbage_case(rng, i) + (rng.random() < 0.5 and 0.3, rng.random() < 0.3)
                 for i in range(200)]
        rng.shuffle(cases)
        errors, lock = [], threading.Lock()
        todo = list(cases)

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    desc, chunks, wait_s, rst = todo.pop()
                try:
                    hit(self.server.host, self.server.port, chunks, wait_s, rst)
                except OSError as err:
                    with lock:
                        errors.append("%s: %s" % (desc, err))

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            self.assertFalse(t.is_alive(), "garbage sender stuck")
        # connecting itself must never have failed (seed %d)
        self.assertEqual(errors, [], "seed %d" % SEED)

        self.assertEqual(self.server.four_letter("ruok"), "imok")
        self.assertEqual(survivor.get(self.p("before"))[0], b"still here")
        survivor.set(self.p("before"), b"after")
        fresh = self.client()
        self.assertEqual(fresh.get(self.p("before"))[0], b"after")
        fresh.create(self.p("after"), b"")
        self.assertEqual(sorted(self.admin.get_children(self.base)), ["after", "before"])
        # every garbage connection is gone again: admin, survivor, fresh and the srvr probe

        def connections():
            out = self.server.four_letter("srvr")
            return int(out.split("Connections: ")[1].split("\n")[0]) <= 4
        wait_for(connections, 15, "garbage connections to be closed")

    def test_frame_longer_than_jute_maxbuffer_is_dropped_without_reply(self):
        r = self.raw()
        r.sock.sendall(struct.pack(">i", 0x7FFFFFFF) + b"\0" * 32)
        self.assertTrue(r.closed_by_peer())
        r = self.raw()
        r.connect()
        r.sock.sendall(struct.pack(">i", 1048577) + b"\0" * 64)
        self.assertTrue(r.closed_by_peer())

    def test_negative_frame_length_is_dropped_without_reply(self):
        r = self.raw()
        r.sock.sendall(struct.pack(">i", -1) + b"\0" * 8)
        self.assertTrue(r.closed_by_peer())
        r = self.raw()
        r.connect()
        r.sock.sendall(struct.pack(">i", -100))
        self.assertTrue(r.closed_by_peer())

    def test_normal_request_as_first_frame_is_dropped_without_reply(self):
        r = self.raw()
        r.send_frame(struct.pack(">ii", 1, 4) + jute_string("/") + jute_bool(False))
        self.assertTrue(r.closed_by_peer())

    def test_too_short_request_frame_is_dropped(self):
        r = self.raw()
        r.connect()
        r.send_frame(b"\0\0\0\1")  # no room for a RequestHeader
        self.assertTrue(r.closed_by_peer())

    def test_truncated_request_body_is_refused_and_the_server_lives_on(self):
        # ZooKeeper answers MARSHALLINGERROR (-5) and keeps the connection;
        # closing it is also acceptable to every client
        r = self.raw()
        r.connect()
        r.send_frame(struct.pack(">iii", 7, 4, 100) + b"/ab")
        try:
            xid, _, err, body = r.read_reply()
        except ConnectionError:
            xid = None
        if xid is not None:
            self.assertEqual((xid, err, body), (7, -5, b""))
            zxid, err, body = r.exists(self.base)
            self.assertEqual((err, len(body)), (0, 68))
        self.assertEqual(self.admin.get(self.base)[0], b"")

    def test_unknown_opcode_is_unimplemented_then_closed(self):
        r = self.raw()
        r.connect()
        r.request(999, b"", xid=5)
        xid, _, err, body = r.read_reply()
        self.assertEqual((xid, err, body), (5, -6, b""))
        self.assertTrue(r.closed_by_peer())
