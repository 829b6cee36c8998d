"""Start and stop ZooKeeper-protocol servers on loopback for the integration suite.

Two kinds of server speak the same client protocol and take the same zoo.cfg
keys, so every test runs unchanged against either:

- ZooKeeperServer: Apache ZooKeeper 3.8 from the Debian `zookeeper` package
  (java QuorumPeerMain), the reference.
- CoorddServer: our own coordd binary (path from $COORDD, else
  build/debug/real/coordd under the repository root).

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
