#!/usr/bin/python3
"""coordd's peer transport (real/peer.c), checked from outside over TCP.

One coordd runs as server 2 of a three-server ensemble whose servers 1 and 3
are played by this script, so every byte on the peer connections is ours to
inspect or forge:

- it dials server 1 (lower id) with the 16-byte handshake (magic "CRDP",
  version 1, sender 2, receiver 1), and once answered sends framed election
  messages (be32 length, first byte 'E');
- it redials a peer that hangs up, no more than about ten times a second;
- it accepts server 3 (higher id) on its peer port and on its election port,
  answers the handshake, and a newer connection from 3 replaces the older;
- it closes, with a warning naming the remote address, a connection whose
  handshake is wrong (magic, version, unknown or lower sender, wrong
  receiver) or that sends none, and one whose frame length is 0 or beyond
  4 MiB; garbage on both ports never stops it.

Then three real coordd servers form an ensemble over the transport: one
leader, two followers, a write made on a follower is read on every member,
and a new leader takes over when the old one is killed.

    peer_transport.py [--coordd PATH]

Prints one PASS/FAIL line per check and a closing `N passed, M failed`.
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

MAGIC = 0x43524450
VERSION = 1
MSG_MAX = 4 * 1024 * 1024
HOST = "127.0.0.1"


def port_block(count):
    """First of `count` consecutive loopback ports free right now (probed by
    binding them all at once), at a random base below the ephemeral range."""
    rng = random.SystemRandom()
    for _ in range(500):
        base = rng.randrange(24000, 32000 - count)
        held = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(s)
                s.bind((HOST, port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no %d consecutive free ports" % count)


class Member(servers.CoorddServer):
    """coordd as one server of an ensemble: server.N lines, initLimit,
    syncLimit and a myid file; fixed ports; started without waiting (it
    serves only once a quorum is up)."""

    def setup(self, server_id, server_lines, client_port):
        self.server_id = server_id
        self.server_lines = list(server_lines)
        self.port = client_port

    def cfg_lines(self):
        return super().cfg_lines() + ["initLimit=10", "syncLimit=5"] + self.server_lines

    def write_cfg(self):
        super().write_cfg()
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % self.server_id)

    def launch(self):
        self.write_cfg()
        self._spawn()

    def mode(self):
        """The Mode line of srvr; 'not serving' or 'down' without one."""
        if not self.running():
            return "down"
        try:
            reply = servers.four_letter(HOST, self.port, "srvr")
        except OSError:
            return "down"
        for line in reply.splitlines():
            if line.startswith("Mode: "):
                return line[len("Mode: "):].strip()
        return "not serving"


def header(sender, receiver, magic=MAGIC, version=VERSION):
    return struct.pack(">IIII", magic, version, sender, receiver)


def recv_exact(sock, n, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("got %d of %d bytes" % (len(buf), n))
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_frame(sock, timeout=5.0):
    (length,) = struct.unpack(">I", recv_exact(sock, 4, timeout))
    if not 1 <= length <= MSG_MAX:
        raise ValueError("frame length %d" % length)
    return recv_exact(sock, length, timeout)


def closed_by_peer(sock, timeout):
    """True if the other side closes (EOF or reset) within timeout, reading
    and discarding whatever it sends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False


def dial(port, data=b"", timeout=3.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if data:
        s.sendall(data)
    return s


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        start = time.monotonic()
        try:
            fn()
        except Exception as err:  # one failed check must not stop the others
            self.failed += 1
            print("FAIL %s %.1fs: %s: %s" % (name, time.monotonic() - start,
                                             type(err).__name__, err), flush=True)
            return
        self.passed += 1
        print("PASS %s %.1fs" % (name, time.monotonic() - start), flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class TransportRig:
    """coordd as server 2; server 1's peer port is a listener of ours."""

    def __init__(self, binary):
        base = port_block(7)
        self.client_port = base
        self.peer = {1: base + 1, 2: base + 2, 3: base + 3}
        self.election = {1: base + 4, 2: base + 5, 3: base + 6}
        lines = ["server.%d=%s:%d:%d" % (i, HOST, self.peer[i], self.election[i])
                 for i in (1, 2, 3)]
        self.member = Member(name="peer-transport", binary=binary)
        self.member.setup(2, lines, self.client_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, self.peer[1]))
        self.listener.listen(64)

    def start(self):
        self.member.launch()
        deadline = time.monotonic() + 20
        while True:
            check(self.member.running(), "coordd exited:\n" + self.member.log_tail())
            try:
                if servers.four_letter(HOST, self.client_port, "ruok") == "imok":
                    return
            except OSError:
                pass
            check(time.monotonic() < deadline, "coordd does not answer ruok")
            time.sleep(0.1)

    def accept_dial(self, timeout=5.0):
        self.listener.settimeout(timeout)
        s, _ = self.listener.accept()
        return s

    def log(self):
        with open(self.member.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        self.listener.close()
        try:
            self.member.stop()
        finally:
            self.member.cleanup()


def run_transport_checks(rig, checks):
    held = []

    def dials_lower_id_with_handshake():
        s = rig.accept_dial()
        held.append(s)
        check(recv_exact(s, 16, 3) == header(2, 1), "handshake from server 2 to 1")
        s.sendall(header(1, 2))
        msg = read_frame(s)
        check(msg[:1] == b"E", "first message is an election message: %r" % msg[:8])

    def redials_at_most_ten_times_a_second():
        for s in held:
            s.close()
        held.clear()
        # Hang up on every dial for two seconds: it must keep trying, but not
        # more than about ten times a second.
        dials = 0
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            try:
                s = rig.accept_dial(timeout=max(0.01, end - time.monotonic()))
            except socket.timeout:
                break
            dials += 1
            s.close()
        check(5 <= dials <= 25, "%d dials in 2 s" % dials)
        s = rig.accept_dial()
        held.append(s)
        check(recv_exact(s, 16, 3) == header(2, 1), "handshake after redial")
        s.sendall(header(1, 2))

    def accepts_higher_id_on_both_ports():
        for port in (rig.peer[2], rig.election[2]):
            s = dial(port, header(3, 2))
            check(recv_exact(s, 16, 3) == header(2, 3), "answer on port %d" % port)
            msg = read_frame(s)
            check(msg[:1] == b"E", "election message on port %d" % port)
            held.append(s)

    def newer_connection_replaces_older():
        old = dial(rig.peer[2], header(3, 2))
        recv_exact(old, 16, 3)
        new = dial(rig.peer[2], header(3, 2))
        recv_exact(new, 16, 3)
        check(closed_by_peer(old, 3), "the older connection from server 3 is closed")
        check(read_frame(new)[:1] == b"E", "the newer one carries messages")
        held.append(new)

    def bad_handshakes_are_closed_with_a_warning():
        cases = [
            ("wrong magic", header(3, 2, magic=0x12345678), "not a coord peer handshake"),
            ("wrong version", header(3, 2, version=7), "peer protocol version 7"),
            ("unknown sender", header(9, 2), "server 9 is not a member"),
            ("lower sender", header(1, 2), "has a lower id than ours"),
            ("wrong receiver", header(3, 5), "it addressed server 5"),
            ("own id", header(2, 2), "claims our own id"),
        ]
        for name, data, words in cases:
            s = dial(rig.peer[2], data)
            local = "%s:%d" % s.getsockname()
            check(closed_by_peer(s, 3), "%s: not closed" % name)
            s.close()
            deadline = time.monotonic() + 3
            while not any(words in line and local in line for line in rig.log().splitlines()):
                check(time.monotonic() < deadline, "%s: no warning naming %s" % (name, local))
                time.sleep(0.05)

    def bad_frame_lengths_close_the_connection():
        for length in (0, MSG_MAX + 1, 0xFFFFFFFF):
            s = dial(rig.peer[2], header(3, 2))
            recv_exact(s, 16, 3)
            s.sendall(struct.pack(">I", length) + b"x" * 16)
            check(closed_by_peer(s, 3), "frame length %d: not closed" % length)
            s.close()
        check("frame length 4194305 is outside" in rig.log(), "no warning for a long frame")

    def silent_connection_is_closed():
        s = dial(rig.election[2])
        check(closed_by_peer(s, 8), "a connection without a handshake stays open")
        s.close()

    def garbage_never_stops_it():
        rng = random.Random(7)
        for i in range(200):
            port = rig.peer[2] if i % 2 == 0 else rig.election[2]
            try:
                s = dial(port, rng.randbytes(rng.randrange(1, 64)))
                s.close()
            except OSError:
                pass
        check(rig.member.running(), "coordd exited")
        reply = servers.four_letter(HOST, rig.client_port, "srvr")
        check("not currently serving" in reply or "Mode:" in reply, "srvr: %r" % reply)

    checks.run("dials the lower id with the handshake", dials_lower_id_with_handshake)
    checks.run("redials at most ten times a second", redials_at_most_ten_times_a_second)
    checks.run("accepts the higher id on peer and election ports",
               accepts_higher_id_on_both_ports)
    checks.run("a newer connection replaces the older", newer_connection_replaces_older)
    checks.run("bad handshakes are closed with a warning",
               bad_handshakes_are_closed_with_a_warning)
    checks.run("bad frame lengths close the connection", bad_frame_lengths_close_the_connection)
    checks.run("a connection without a handshake is closed", silent_connection_is_closed)
    checks.run("garbage never stops it", garbage_never_stops_it)
    for s in held:
        s.close()


class Ensemble:
    """Three coordd servers, ids 1..3, on one block of free ports."""

    def __init__(self, binary):
        base = port_block(9)
        lines = ["server.%d=%s:%d:%d" % (i + 1, HOST, base + 3 + i, base + 6 + i)
                 for i in range(3)]
        self.members = []
        for i in range(3):
            m = Member(tick_time_ms=500, name="peer-ens-%d" % (i + 1), binary=binary)
            m.setup(i + 1, lines, base + i)
            self.members.append(m)

    def modes(self):
        return [m.mode() for m in self.members]

    def wait_stable(self, among, timeout):
        """Index of the one leader once every member in `among` serves."""
        deadline = time.monotonic() + timeout
        while True:
            for i in among:
                m = self.members[i]
                check(m.running(), "member %d exited:\n%s" % (i + 1, m.log_tail()))
            modes = self.modes()
            leaders = [i for i in among if modes[i] == "leader"]
            if len(leaders) == 1 and all(modes[i] in ("leader", "follower") for i in among):
                return leaders[0]
            check(time.monotonic() < deadline, "not stable after %.0f s: %s" % (timeout, modes))
            time.sleep(0.1)

    def close(self):
        for m in self.members:
            try:
                m.stop()
            finally:
                m.cleanup()


def run_ensemble_checks(binary, checks):
    from kazoo.client import KazooClient

    ens = Ensemble(binary)
    state = {}

    def forms_one_leader():
        for m in ens.members:
            m.launch()
        state["leader"] = ens.wait_stable(range(3), 60)
        modes = ens.modes()
        check(sorted(modes) == ["follower", "follower", "leader"], "modes %s" % modes)

    def write_on_follower_is_read_everywhere():
        follower = [i for i in range(3) if i != state["leader"]][0]
        zk = KazooClient(hosts=ens.members[follower].hostport)
        zk.start(timeout=10)
        try:
            zk.create("/peer-transport", b"over tcp")
        finally:
            zk.stop()
            zk.close()
        for i, m in enumerate(ens.members):
            zk = KazooClient(hosts=m.hostport)
            zk.start(timeout=10)
            try:
                zk.sync("/")
                data, _ = zk.get("/peer-transport")
                check(data == b"over tcp", "member %d read %r" % (i + 1, data))
            finally:
                zk.stop()
                zk.close()

    def new_leader_after_kill():
        old = state["leader"]
        ens.members[old].kill()
        rest = [i for i in range(3) if i != old]
        leader = ens.wait_stable(rest, 60)
        check(leader != old, "the killed member is still leader")
        ens.members[old].launch()
        ens.wait_stable(range(3), 60)
        mode = ens.members[old].mode()
        check(mode == "follower", "the old leader came back as %s" % mode)

    try:
        checks.run("ensemble: one leader, two followers", forms_one_leader)
        if "leader" in state:
            checks.run("ensemble: a write on a follower is read on every member",
                       write_on_follower_is_read_everywhere)
            checks.run("ensemble: a new leader after the leader is killed",
                       new_leader_after_kill)
    finally:
        ens.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coordd", default=servers.coordd_path())
    args = parser.parse_args()
    checks = Checks()
    rig = TransportRig(args.coordd)
    try:
        rig.start()
        run_transport_checks(rig, checks)
        checks.run("still alive at the end", lambda: check(rig.member.running(), "exited"))
    except Exception as err:
        checks.failed += 1
        print("FAIL transport rig: %s: %s\n%s" % (type(err).__name__, err,
                                                  rig.member.log_tail()), flush=True)
    finally:
        if checks.failed:
            print("--- coordd log:\n%s" % rig.member.log_tail(60))
        rig.close()
    run_ensemble_checks(args.coordd, checks)
    print("%d passed, %d failed" % (checks.passed, checks.failed))
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
