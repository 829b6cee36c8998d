"""Start and stop ZooKeeper-protocol servers on loopback for the integration suite.

Two kinds of server speak the same client protocol and take the same zoo.cfg
keys, so every test runs unchanged against either:

- ZooKeeperServer: Apache ZooKeeper 3.8 from the Debian `zookeeper` package
  (java QuorumPeerMain), the reference.
- CoorddServer: our own coordd binary (path from $COORDD, else
  build/debug/real/coordd under the repository root).

Ensemble(kind, size) runs several of either as a replicated ensemble
(server.N lines, myid, quorum and election ports; see its docstring).

Each server lives in its own fresh temporary directory (zoo.cfg, data/,
server.log) and listens on a port picked by binding port 0 first. Every wait is
bounded. Processes are stopped only by the PID this module started (SIGTERM,
then SIGKILL after a grace period); nothing is ever killed by name.

Cleanup happens however the run ends: the servers are context managers, every
live server is registered for an atexit hook and for SIGINT/SIGTERM/SIGHUP
handlers, and each child gets PR_SET_PDEATHSIG=SIGKILL so that it dies with us
even if this process is itself killed with SIGKILL. Start servers from the
main thread: the death signal follows the thread that forked.
"""

import atexit
import ctypes
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ZK_JAR = "/usr/share/java/zookeeper.jar"
ZK_CONF_DIR = "/etc/zookeeper/conf"
SLF4J_BINDING = "/usr/share/java/slf4j-simple.jar"
JAVA = os.environ.get("JAVA", "/usr/bin/java")

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
FOUR_LETTER_TIMEOUT_S = 3.0

PR_SET_PDEATHSIG = 1


class ServerError(Exception):
    """A server failed to start, to answer, or to stop."""


# ---------------------------------------------------------------------------
# Process bookkeeping shared by every server kind.

_live_lock = threading.Lock()
_live = set()  # servers with a running process
_handlers_installed = False
_shutting_down = False  # set once a signal asked us to stop: no more starts


def shutting_down():
    return _shutting_down


def _register(server):
    global _handlers_installed
    with _live_lock:
        _live.add(server)
        if _handlers_installed:
            return
        _handlers_installed = True
    atexit.register(stop_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            _chain_signal(signum)


def _unregister(server):
    with _live_lock:
        _live.discard(server)


def _chain_signal(signum):
    previous = signal.getsignal(signum)
    if previous in (signal.SIG_IGN, None):
        return  # whoever started us wants this signal ignored (e.g. a background job)

    def handler(num, frame):
        global _shutting_down
        _shutting_down = True
        stop_all()
        if callable(previous):
            previous(num, frame)
        else:
            raise SystemExit(128 + num)

    signal.signal(signum, handler)


def stop_all():
    """Kill every server this process started and has not stopped yet."""
    with _live_lock:
        servers = list(_live)
    for server in servers:
        try:
            server.kill()
        except Exception:  # cleanup must go on for the others
            pass
        server.cleanup()


def _die_with_parent():
    """preexec_fn: SIGKILL the child if the thread that forked it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def free_port(host="127.0.0.1"):
    """A port the kernel just handed out for host (bind to 0, then release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# Four-letter words and a bare handshake, used for readiness.


def four_letter(host, port, word, timeout=FOUR_LETTER_TIMEOUT_S):
    """Send a four-letter word on a fresh connection; return the whole reply."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no end of reply to %r" % word)
            s.settimeout(left)
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def _recv_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("short read")
        sock.settimeout(left)
        data = sock.recv(n - len(buf))
        if not data:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += data
    return buf


def handshake_works(host, port, timeout=FOUR_LETTER_TIMEOUT_S):
    """True if a new session can be opened (and is then closed again)."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            body = struct.pack(">iqiqi16sB", 0, 0, 4000, 0, 16, b"\0" * 16, 0)
            s.sendall(struct.pack(">i", len(body)) + body)
            (n,) = struct.unpack(">i", _recv_exact(s, 4, deadline))
            reply = _recv_exact(s, n, deadline)
            _proto, negotiated, session_id = struct.unpack_from(">iiq", reply)
            if session_id == 0 or negotiated <= 0:
                return False
            close = struct.pack(">ii", 1, -11)
            s.sendall(struct.pack(">i", len(close)) + close)
            _recv_exact(s, 4, deadline)  # the closeSession reply's length
            return True
    except (OSError, struct.error):
        return False


# ---------------------------------------------------------------------------


class Server:
    """One server process in its own temporary directory.

    Use as a context manager, or call start() and stop() yourself. The data
    directory survives stop(), kill() and restart(); cleanup() removes the
    whole temporary directory (set KEEP_SERVER_DIRS=1 to keep it).
    """

    kind = "server"

    def __init__(self, tick_time_ms=2000, extra_cfg=(), host="127.0.0.1", name=None,
                 four_letter_whitelist="*", min_session_timeout_ms=None,
                 max_session_timeout_ms=None):
        self.host = host
        self.tick_time_ms = tick_time_ms
        self.extra_cfg = list(extra_cfg)
        self.four_letter_whitelist = four_letter_whitelist
        self.min_session_timeout_ms = min_session_timeout_ms
        self.max_session_timeout_ms = max_session_timeout_ms
        prefix = "coord-it-%s-%s-" % (self.kind, name or "srv")
        self.base_dir = tempfile.mkdtemp(prefix=prefix)
        self.data_dir = os.path.join(self.base_dir, "data")
        self.cfg_path = os.path.join(self.base_dir, "zoo.cfg")
        self.log_path = os.path.join(self.base_dir, "server.log")
        os.makedirs(self.data_dir)
        self.port = None
        self.proc = None
        self._log_file = None
        self._cleaned = False

    # -- what subclasses provide ------------------------------------------

    def command(self):
        raise NotImplementedError

    def environment(self):
        return dict(os.environ)

    # -- configuration ------------------------------------------------------

    @property
    def hostport(self):
        return "%s:%d" % (self.host, self.port)

    def cfg_lines(self):
        lines = [
            "tickTime=%d" % self.tick_time_ms,
            "dataDir=%s" % self.data_dir,
            "clientPort=%d" % self.port,
            "clientPortAddress=%s" % self.host,
            "admin.enableServer=false",
            "4lw.commands.whitelist=%s" % self.four_letter_whitelist,
        ]
        if self.min_session_timeout_ms is not None:
            lines.append("minSessionTimeout=%d" % self.min_session_timeout_ms)
        if self.max_session_timeout_ms is not None:
            lines.append("maxSessionTimeout=%d" % self.max_session_timeout_ms)
        return lines + self.extra_cfg

    def write_cfg(self):
        with open(self.cfg_path, "w") as f:
            f.write("# generated by tests/real/servers.py\n")
            for line in self.cfg_lines():
                f.write(line + "\n")

    # -- lifecycle ----------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.cleanup()
        return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=START_TIMEOUT_S):
        """Start on a new free port (or the previous one after a stop)."""
        if _shutting_down:
            raise ServerError("not starting %s: shutting down after a signal" % self.kind)
        if self.running():
            raise ServerError("%s already running (pid %d)" % (self.kind, self.proc.pid))
        keep_port = self.port is not None
        attempts = 1 if keep_port else 3
        last_error = None
        for _ in range(attempts):
            if not keep_port:
                self.port = free_port(self.host)
            self.write_cfg()
            try:
                self._spawn()
                self.wait_ready(timeout)
                return self
            except ServerError as err:
                last_error = err
                exited = self.proc is not None and self.proc.poll() is not None
                self.kill()
                if not exited:  # a hang is not a port clash: do not retry
                    break
        raise last_error

    def _spawn(self):
        argv = self.command()
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(("=== start %s\n" % time.strftime("%H:%M:%S")).encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.base_dir,
            env=self.environment(),
            start_new_session=True,  # Ctrl-C reaches us, and we stop it ourselves
            preexec_fn=_die_with_parent,
        )
        _register(self)

    def wait_ready(self, timeout=START_TIMEOUT_S):
        """Wait until ruok answers imok (or srvr shows a Mode line) and a
        session can be opened and closed."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                raise ServerError("%s exited with %s before serving; log %s:\n%s" % (
                    self.kind, self.proc.returncode if self.proc else None,
                    self.log_path, self.log_tail()))
            try:
                if self._answers_4lw() and handshake_works(self.host, self.port):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerError("%s on %s not serving after %.0f s; log %s:\n%s" % (
                    self.kind, self.hostport, timeout, self.log_path, self.log_tail()))
            time.sleep(0.1)

    def _answers_4lw(self):
        """ruok says imok, or (when ruok is not whitelisted) srvr has a Mode line."""
        if four_letter(self.host, self.port, "ruok") == "imok":
            return True
        return "\nMode: " in four_letter(self.host, self.port, "srvr")

    def _reap(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM the process we started; SIGKILL it if it lingers."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            if not self._reap(timeout):
                self.proc.kill()
                self._reap(timeout)
        return self._finish()

    def kill(self):
        """SIGKILL (kill -9) the process we started, as a crash would."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            self._reap(STOP_TIMEOUT_S)
        return self._finish()

    def _finish(self):
        code = self.proc.returncode
        self.proc = None
        _unregister(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code

    def restart(self, kill=False, timeout=START_TIMEOUT_S):
        """Stop (or kill -9) and start again on the same port and data dir."""
        if kill:
            self.kill()
        else:
            self.stop()
        deadline = time.monotonic() + timeout
        while True:  # the old listener may linger a moment after exit
            try:
                return self.start(timeout=max(1.0, deadline - time.monotonic()))
            except ServerError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def cleanup(self):
        if self.running():
            self.kill()
        if self._cleaned:
            return
        self._cleaned = True
        if os.environ.get("KEEP_SERVER_DIRS") != "1":
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- diagnostics ----------------------------------------------------------

    def four_letter(self, word, timeout=FOUR_LETTER_TIMEOUT_S):
        return four_letter(self.host, self.port, word, timeout)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self):
        return "<%s %s pid=%s dir=%s>" % (
            type(self).__name__, self.hostport if self.port else "-",
            self.proc.pid if self.proc else None, self.base_dir)


class ZooKeeperServer(Server):
    """Apache ZooKeeper 3.8 standalone (Debian package), run like zk-up.sh."""

    kind = "zookeeper"

    def command(self):
        classpath = [ZK_CONF_DIR, ZK_JAR]
        if os.path.exists(SLF4J_BINDING):
            classpath.append(SLF4J_BINDING)
        return [
            JAVA,
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-Dzookeeper.log.dir=%s" % self.base_dir,
            "-Dzookeeper.log.file=zookeeper.log",
            "-Dorg.slf4j.simpleLogger.logFile=System.err",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
            "-cp", ":".join(classpath),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            self.cfg_path,
        ]


def coordd_path():
    return os.environ.get("COORDD") or os.path.join(REPO_ROOT, "build", "debug", "real", "coordd")


class CoorddServer(Server):
    """Our coordd binary with the equivalent zoo.cfg."""

    kind = "coordd"

    def __init__(self, *args, binary=None, **kwargs):
        self.binary = binary or coordd_path()
        super().__init__(*args, **kwargs)

    def command(self):
        if not os.access(self.binary, os.X_OK):
            raise ServerError("coordd binary not found or not executable: %s "
                              "(set COORDD or build the debug preset)" % self.binary)
        return [self.binary, self.cfg_path]


SERVER_KINDS = {"zookeeper": ZooKeeperServer, "coordd": CoorddServer}


def server_class(kind):
    try:
        return SERVER_KINDS[kind]
    except KeyError:
        raise ValueError("unknown server kind %r (want one of %s)" % (
            kind, ", ".join(sorted(SERVER_KINDS))))


# ---------------------------------------------------------------------------
# Replicated ensembles: N servers with server.N lines, a myid file each, and
# quorum/election ports of their own.

ZK_HEAP_MB = int(os.environ.get("ZK_HEAP_MB", "1000"))
ENSEMBLE_START_TIMEOUT_S = 120.0
SERVING_MODES = ("leader", "follower", "observer")

# The shared kit's ZooKeeper scripts use 22181-22184, 22888-22890 and
# 23888-23890; ensembles take their ports from above those and below the
# kernel's ephemeral range, so that no outgoing connection (a client's, or a
# quorum peer's) can be holding one of them when a member restarts.
_PORT_FLOOR = 24000


def die_with_parent():
    """preexec_fn for helper processes (load generators): see _die_with_parent."""
    _die_with_parent()


def _ephemeral_floor():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_block(count, host="127.0.0.1", attempts=500):
    """First port of `count` consecutive ports that are all free right now.

    The ports are probed by binding them all at once (without SO_REUSEADDR,
    so a port still in TIME_WAIT counts as taken) and released together. The
    base is random, so two runs started at the same moment rarely collide."""
    rng = random.SystemRandom()
    top = _ephemeral_floor() - count
    if top <= _PORT_FLOOR:
        raise ServerError("no room for %d ports between %d and the ephemeral range" % (
            count, _PORT_FLOOR))
    for _ in range(attempts):
        base = rng.randrange(_PORT_FLOOR, top)
        held = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(s)
                s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise ServerError("found no %d consecutive free ports on %s" % (count, host))


def server_mode(host, port, timeout=FOUR_LETTER_TIMEOUT_S):
    """'leader', 'follower', 'observer', 'standalone', 'not serving' (answers
    but has no Mode line, e.g. while electing) or 'down' (no answer)."""
    try:
        reply = four_letter(host, port, "srvr", timeout)
    except OSError:
        return "down"
    for line in reply.splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):].strip() or "not serving"
    return "not serving"


class _QuorumMember:
    """Mixin for one member of an ensemble: adds the quorum keys to zoo.cfg
    and writes dataDir/myid. Its ports are fixed by the ensemble."""

    def setup_member(self, server_id, peer_lines, init_limit, sync_limit, client_port):
        self.server_id = server_id
        self.peer_lines = list(peer_lines)
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.port = client_port  # fixed: start() keeps it

    def cfg_lines(self):
        return super().cfg_lines() + [
            "initLimit=%d" % self.init_limit,
            "syncLimit=%d" % self.sync_limit,
        ] + self.peer_lines

    def write_cfg(self):
        super().write_cfg()
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % self.server_id)

    def launch(self):
        """Write the config and start the process without waiting for it:
        a member cannot serve before a quorum is up."""
        if _shutting_down:
            raise ServerError("not starting %s: shutting down after a signal" % self.kind)
        if self.running():
            raise ServerError("%s already running (pid %d)" % (self.kind, self.proc.pid))
        self.write_cfg()
        self._spawn()

    def mode(self, timeout=FOUR_LETTER_TIMEOUT_S):
        if not self.running():
            return "down"
        return server_mode(self.host, self.port, timeout)

    def serving(self):
        """In a quorum role and accepting sessions."""
        return self.mode() in SERVING_MODES and handshake_works(self.host, self.port)


class ZooKeeperMember(_QuorumMember, ZooKeeperServer):
    """Apache ZooKeeper 3.8 quorum peer with the command line the shared kit's
    zk-up.sh builds (heap $ZK_HEAP_MB MiB, default 1000; JVM default GC)."""

    def command(self):
        classpath = [ZK_CONF_DIR, ZK_JAR]
        if os.path.exists(SLF4J_BINDING):
            classpath.append(SLF4J_BINDING)
        return [
            JAVA,
            "-Xmx%dm" % ZK_HEAP_MB,
            "-Dzookeeper.log.dir=%s" % self.base_dir,
            "-Dzookeeper.log.file=zookeeper.log",
            "-Dorg.slf4j.simpleLogger.logFile=System.err",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
            "-XX:+HeapDumpOnOutOfMemoryError",
            "-XX:HeapDumpPath=%s" % self.base_dir,
            "-XX:OnOutOfMemoryError=kill -9 %p",
            "-cp", ":".join(classpath),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            self.cfg_path,
        ]


class CoorddMember(_QuorumMember, CoorddServer):
    """coordd as a quorum peer (same zoo.cfg keys and myid file)."""


MEMBER_KINDS = {"zookeeper": ZooKeeperMember, "coordd": CoorddMember}


class Ensemble:
    """N quorum peers of one kind on loopback, each in its own temp dir.

    Members are indexed 0..N-1 and have server ids 1..N. Ports: one block of
    3N consecutive free ports (client ports, then quorum ports, then election
    ports). start() launches every member at once and waits until exactly
    one is leader and every member serves; kill(i)/start_member(i) crash and
    bring back one member on the same ports and data dir. Cleanup is that of
    the single servers (context manager, atexit, signals, PDEATHSIG)."""

    def __init__(self, kind, size, binary=None, tick_time_ms=2000, init_limit=10,
                 sync_limit=5, extra_cfg=(), name="ens", host="127.0.0.1"):
        if size < 1:
            raise ValueError("an ensemble needs at least one member")
        try:
            cls = MEMBER_KINDS[kind]
        except KeyError:
            raise ValueError("unknown server kind %r (want one of %s)" % (
                kind, ", ".join(sorted(MEMBER_KINDS))))
        self.kind = kind
        self.size = size
        self.host = host
        self.members = []
        for i in range(size):
            kwargs = dict(tick_time_ms=tick_time_ms, extra_cfg=extra_cfg, host=host,
                          name="%s-%d" % (name, i + 1))
            if kind == "coordd":
                kwargs["binary"] = binary
            self.members.append(cls(**kwargs))
        self._init_limit = init_limit
        self._sync_limit = sync_limit
        self._assign_ports()

    def _assign_ports(self):
        n = self.size
        base = free_port_block(3 * n, self.host)
        lines = ["server.%d=%s:%d:%d" % (i + 1, self.host, base + n + i, base + 2 * n + i)
                 for i in range(n)]
        for i, m in enumerate(self.members):
            m.setup_member(i + 1, lines, self._init_limit, self._sync_limit, base + i)

    # -- views ----------------------------------------------------------------

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        return self.members[i]

    @property
    def hosts(self):
        """Connection string naming every member."""
        return ",".join(m.hostport for m in self.members)

    def pids(self):
        return [m.proc.pid for m in self.members if m.running()]

    def modes(self):
        return [m.mode() for m in self.members]

    def leaders(self, modes=None):
        modes = modes if modes is not None else self.modes()
        return [i for i, mode in enumerate(modes) if mode == "leader"]

    def describe(self, modes=None):
        modes = modes if modes is not None else self.modes()
        return ", ".join("#%d %s (port %d, pid %s)" % (
            i + 1, mode, m.port, m.proc.pid if m.proc else "-")
            for i, (m, mode) in enumerate(zip(self.members, modes)))

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.cleanup()
        return False

    def start(self, timeout=ENSEMBLE_START_TIMEOUT_S):
        """Launch every member, then wait for one leader and all serving.
        Retries once on fresh ports if a member died of a port clash."""
        for attempt in range(2):
            for m in self.members:
                m.launch()
            try:
                return self.wait_stable(timeout)
            except ServerError:
                died = [m for m in self.members if not m.running()]
                clash = any("address already in use" in m.log_tail(60).lower() for m in died)
                if attempt == 1 or not clash:
                    self.stop()
                    raise
                # reap, pick new ports, try again
                for m in self.members:
                    m.kill()
                self._assign_ports()

    def wait_stable(self, timeout=ENSEMBLE_START_TIMEOUT_S, members=None):
        """Wait until, among `members` (indexes, default all), exactly one is
        leader and all serve sessions; return the leader's index."""
        idx = list(range(self.size)) if members is None else list(members)
        deadline = time.monotonic() + timeout
        modes = None
        while True:
            for i in idx:
                m = self.members[i]
                if m.proc is not None and m.proc.poll() is not None:
                    raise ServerError("%s member #%d exited with %s; log %s:\n%s" % (
                        self.kind, i + 1, m.proc.returncode, m.log_path, m.log_tail()))
            modes = self.modes()
            leaders = [i for i in idx if modes[i] == "leader"]
            if (len(leaders) == 1 and all(modes[i] in SERVING_MODES for i in idx)
                    and all(handshake_works(self.host, self.members[i].port) for i in idx)):
                return leaders[0]
            if time.monotonic() > deadline:
                raise ServerError("%s ensemble not stable after %.0f s: %s\n%s" % (
                    self.kind, timeout, self.describe(modes), self.log_tails(idx)))
            time.sleep(0.2)

    def kill(self, i):
        """SIGKILL member i (as a crash would); returns its exit status."""
        return self.members[i].kill()

    def stop_member(self, i):
        return self.members[i].stop()

    def start_member(self, i, timeout=ENSEMBLE_START_TIMEOUT_S, wait=True):
        """Start member i again on its ports and data dir; with wait, return
        once it serves in a quorum role (its mode)."""
        m = self.members[i]
        deadline = time.monotonic() + timeout
        m.launch()
        if not wait:
            return None
        while True:
            if not m.running():
                raise ServerError("%s member #%d exited with %s while rejoining; log %s:\n%s" % (
                    self.kind, i + 1, m.proc.returncode if m.proc else None, m.log_path,
                    m.log_tail()))
            mode = m.mode()
            if mode in SERVING_MODES and handshake_works(self.host, m.port):
                return mode
            if time.monotonic() > deadline:
                raise ServerError("%s member #%d not serving %.0f s after restart (mode %s); "
                                  "log %s:\n%s" % (self.kind, i + 1, timeout, mode, m.log_path,
                                                   m.log_tail()))
            time.sleep(0.2)

    def stop(self):
        for m in self.members:
            try:
                m.stop()
            except Exception:
                m.kill()

    def cleanup(self):
        for m in self.members:
            m.cleanup()

    def log_tails(self, idx=None, lines=15):
        out = []
        for i in (range(self.size) if idx is None else idx):
            m = self.members[i]
            out.append("--- member #%d log %s:\n%s" % (i + 1, m.log_path, m.log_tail(lines)))
        return "\n".join(out)

    def __repr__(self):
        return "<Ensemble %s x%d %s>" % (self.kind, self.size, self.hosts)
