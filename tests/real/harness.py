"""Shared plumbing for the integration tests: the server under test, kazoo
clients that are always stopped, bounded waits, a severable TCP proxy and a
minimal raw ZooKeeper wire client for checks kazoo cannot express.

run_integration.py sets SERVER_KIND and SERVER before running the tests.
"""

import contextlib
import itertools
import logging
import os
import queue
import select
import socket
import struct
import threading
import time
import unittest

from kazoo.client import KazooClient

import servers

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, which imports kazoo

SERVER_KIND = os.environ.get("IT_SERVER", "zookeeper")
SERVER = None  # the shared server, started by the runner

#Every test of a run uses its own subtree of the shared server.
_ids = itertools.count(1)
_run_tag = "%x" % (int(time.time() * 1000) & 0xFFFFFFF)


def new_server(**kwargs):
    """A dedicated server of the kind under test (not yet started)."""
    return servers.server_class(SERVER_KIND)(**kwargs)


def wait_for(predicate, timeout, what, interval=0.02):
    """Poll predicate until it is truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class EventLog:
    """Thread-safe list of whatever watch callbacks hand us."""

    def __init__(self):
        self._cond = threading.Condition()
        self.items = []

    def __call__(self, *args):
        with self._cond:
            self.items.append(args[0] if len(args) == 1 else args)
            self._cond.notify_all()

    def wait_count(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.items) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("expected %d events within %.1f s, got %d: %r" % (
                        n, timeout, len(self.items), self.items))
                self._cond.wait(left)
            return list(self.items)

    def snapshot(self):
        with self._cond:
            return list(self.items)


class IntegrationTest(unittest.TestCase):
    """Base class: a unique base path per test and kazoo clients that are
    stopped and closed whatever happens."""

    server = property(lambda self: SERVER)

    def setUp(self):
        self._clients = []
        self.base = "/it-%s/%s-%d" % (_run_tag, self._testMethodName, next(_ids))
        self.admin = self.client()
        self.admin.ensure_path(self.base)

    def tearDown(self):
        for c in reversed(self._clients):
            with contextlib.suppress(Exception):
                c.stop()
            with contextlib.suppress(Exception):
                c.close()

    def p(self, *parts):
        """Absolute path under this test's base."""
        return "/".join((self.base,) + parts)

    def client(self, hosts=None, timeout=10.0, start=True, **kwargs):
        kwargs.setdefault("connection_retry",
                          dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=1.0))
        kwargs.setdefault("command_retry",
                          dict(max_tries=20, delay=0.05, backoff=1.5, max_delay=1.0))
        c = KazooClient(hosts=hosts or SERVER.hostport, timeout=timeout, **kwargs)
        self._clients.append(c)
        if start:
            c.start(timeout=15)
        return c


def quiet_kazoo(verbose=False):
    logging.basicConfig(level=logging.DEBUG if verbose else logging.CRITICAL,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

#-- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -
#A TCP proxy on loopback whose connections can be severed at will.


class TcpProxy:
    """Forward 127.0.0.1:<port> to a target; sever() drops every live pair
    (with RST) while new connections keep being accepted."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs = []
        self._closing = False
        self.accepted = 0
        self.blocked = False  # refuse (close) new connections while True
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def _accept_loop(self):
        while not self._closing:
            r, _, _ = select.select([self._listener], [], [], 0.1)
            if not r:
                continue
            try:
                down, _ = self._listener.accept()
            except OSError:
                continue
            if self.blocked:
                down.close()
                continue
            try:
                up = socket.create_connection(self.target, timeout=5)
            except OSError:
                down.close()
                continue
            with self._lock:
                self.accepted += 1
                self._pairs.append((down, up))
            threading.Thread(target=self._pump, args=(down, up), daemon=True).start()

    def _pump(self, a, b):
        socks = [a, b]
        try:
            while not self._closing:
                r, _, _ = select.select(socks, [], [], 0.1)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            self._drop(a, b)

    def _drop(self, a, b):
        with self._lock:
            if (a, b) in self._pairs:
                self._pairs.remove((a, b))
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                s.close()

    def live(self):
        with self._lock:
            return len(self._pairs)

    def sever(self):
        with self._lock:
            pairs = list(self._pairs)
        for a, b in pairs:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self):
        self._closing = True
        self.sever()
        self._thread.join(5)
        self._listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

#-- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -
#A minimal raw client : just enough jute for wire - level assertions.

OP_CREATE, OP_DELETE, OP_EXISTS, OP_GETDATA, OP_SETDATA = 1, 2, 3, 4, 5
OP_GETCHILDREN, OP_PING, OP_CLOSE = 8, 11, -11


def jute_string(s):
    if s is None:
        return struct.pack(">i", -1)
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack(">i", len(b)) + b


def jute_buffer(b):
    return jute_string(b)


def jute_bool(v):
    return b"\x01" if v else b"\x00"


OPEN_ACL = struct.pack(">i", 1) + struct.pack(">i", 31) + jute_string("world") + jute_string("anyone")

STAT = struct.Struct(">qqqqiiiqiiq")


class RawClient:
    """One TCP connection speaking frames. Replies are read strictly in order."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.xid = 0
        self.session_id = None
        self.passwd = None
        self.negotiated = None

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_frame(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def recv_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("waited for %d bytes, got %d" % (n, len(buf)))
            self.sock.settimeout(left)
            data = self.sock.recv(n - len(buf))
            if not data:
                raise ConnectionResetError("closed after %d of %d bytes" % (len(buf), n))
            buf += data
        return buf

    def recv_frame(self, timeout=None):
        (n,) = struct.unpack(">i", self.recv_exact(4, timeout))
        return self.recv_exact(n, timeout)

    def closed_by_peer(self, timeout=5.0):
        """True if the server closes the connection (EOF or reset) within
        timeout without sending anything more, False if it sends bytes.
        Fails the test if the connection is still open after timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except ConnectionResetError:
            return True
        except socket.timeout:
            raise AssertionError("connection still open after %.1f s" % timeout)
        return data == b""

    def connect(self, timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0,
                with_read_only=True):
        """Handshake; with_read_only appends the optional readOnly byte (0)."""
        body = struct.pack(">iqiq", 0, last_zxid, timeout_ms, session_id) + jute_buffer(passwd)
        if with_read_only:
            body += jute_bool(False)
        self.send_frame(body)
        reply = self.recv_frame()
        proto, negotiated, sid = struct.unpack_from(">iiq", reply)
        (plen,) = struct.unpack_from(">i", reply, 16)
        self.passwd = reply[20:20 + plen]
        self.session_id, self.negotiated = sid, negotiated
        return reply

    def request(self, op, body=b"", xid=None):
        """Send one request; return its xid."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.send_frame(struct.pack(">ii", xid, op) + body)
        return xid

    def read_reply(self, timeout=None):
        """(xid, zxid, err, body) of the next frame."""
        frame = self.recv_frame(timeout)
        xid, zxid, err = struct.unpack_from(">iqi", frame)
        return xid, zxid, err, frame[16:]

    def call(self, op, body=b""):
        """Request and return (zxid, err, body) of its reply, collecting any
        notifications that come first into self.events."""
        xid = self.request(op, body)
        while True:
            rxid, zxid, err, rest = self.read_reply()
            if rxid == -1:
                self.events.append(parse_event(rest))
                continue
            if rxid != xid:
                raise AssertionError("reply xid %d, expected %d" % (rxid, xid))
            return zxid, err, rest

    events = property(lambda self: self.__dict__.setdefault("_events", []))

    def create(self, path, data=b"", flags=0):
        return self.call(OP_CREATE, jute_string(path) + jute_buffer(data) + OPEN_ACL
                         + struct.pack(">i", flags))

    def get_data(self, path, watch=False):
        return self.call(OP_GETDATA, jute_string(path) + jute_bool(watch))

    def exists(self, path, watch=False):
        return self.call(OP_EXISTS, jute_string(path) + jute_bool(watch))

    def set_data(self, path, data, version=-1):
        return self.call(OP_SETDATA, jute_string(path) + jute_buffer(data)
                         + struct.pack(">i", version))

    def delete(self, path, version=-1):
        return self.call(OP_DELETE, jute_string(path) + struct.pack(">i", version))

    def close_session(self):
        return self.call(OP_CLOSE)


def parse_event(body):
    etype, state, plen = struct.unpack_from(">iii", body)
    return etype, state, body[12:12 + plen].decode("utf-8")


def read_string(body, offset=0):
    (n,) = struct.unpack_from(">i", body, offset)
    if n < 0:
        return None, offset + 4
    return body[offset + 4:offset + 4 + n].decode("utf-8"), offset + 4 + n


class LineReader:
    """Collect the stdout lines of a child process on a thread."""

    def __init__(self, stream):
        self.lines = queue.Queue()
        self.all = []
        self._t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._t.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.all.append(line)
            self.lines.put(line)

    def expect(self, prefix, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line starting %r within %.1f s; saw %r" % (
                    prefix, timeout, self.all))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line
