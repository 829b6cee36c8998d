#!/usr/bin/python3
"""Malformed input from outside never stops the server.

Opens --count (default 1000) connections that each send something broken:
random bytes, a frame length that is negative or beyond jute.maxbuffer, a
truncated or garbage ConnectRequest, a valid handshake followed by garbage
requests, unknown opcodes, truncated request bodies, bytes dribbled one at a
time then dropped. Every so often, and at the end, a normal kazoo client must
still create and read a node, and the server process must still be alive.

    malformed_connections.py [--server coordd|zookeeper] [--count N] [--seed S]

Prints a closing `N passed, M failed` line (one check per probe).
"""
import argparse
import logging
import os
import random
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402


def connect_request(rng, session=0, readonly=True):
    body = struct.pack(">iqiq", 0, 0, 30000, session) + struct.pack(">i", 16) + bytes(16)
    if readonly:
        body += b"\x00"
    return struct.pack(">i", len(body)) + body


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def garbage_case(rng):
    """One malformed conversation: returns (name, list of byte chunks)."""
    kind = rng.randrange(10)
    if kind == 0:
        return "random bytes", [rng.randbytes(rng.randrange(1, 400))]
    if kind == 1:
        return "negative frame length", [struct.pack(">i", -rng.randrange(1, 1 << 31))]
    if kind == 2:
        return "frame length beyond the limit", [struct.pack(">i", 0x100000 + rng.randrange(1 << 20))]
    if kind == 3:
        cr = connect_request(rng)
        return "truncated handshake", [cr[:rng.randrange(1, len(cr))]]
    if kind == 4:
        return "garbage handshake", [frame(rng.randbytes(rng.randrange(0, 60)))]
    if kind == 5:
        reqs = [frame(rng.randbytes(rng.randrange(0, 80))) for _ in range(rng.randrange(1, 6))]
        return "garbage requests after a handshake", [connect_request(rng)] + reqs
    if kind == 6:
        op = rng.choice([0, 10, 23, 99, 108, 5000, -3, -100])
        return "unknown opcode", [connect_request(rng), frame(struct.pack(">ii", 7, op))]
    if kind == 7:
        op = rng.choice([1, 2, 3, 4, 5, 7, 8, 12, 14, 15, 21, 101, 105, 106])
        body = struct.pack(">ii", 9, op) + rng.randbytes(rng.randrange(0, 20))
        return "truncated request body", [connect_request(rng), frame(body)]
    if kind == 8:
        cr = connect_request(rng)
        return "dribbled bytes", [bytes([b]) for b in cr[:rng.randrange(1, len(cr))]]
    session = rng.randrange(1, 1 << 62)
    return "reconnect to an unknown session", [connect_request(rng, session=session)]


def probe(hostport, rng):
    host, port = hostport.rsplit(":", 1)
    name, chunks = garbage_case(rng)
    try:
        with socket.create_connection((host, int(port)), timeout=2) as s:
            for chunk in chunks:
                s.sendall(chunk)
            if rng.random() < 0.5:
                s.settimeout(0.2)
                try:
                    s.recv(4096)
                except (socket.timeout, OSError):
                    pass
    except OSError:
        pass  # the server may close first: that is its right
    return name


def server_works(hostport, i):
    zk = KazooClient(hosts=hostport, timeout=10)
    try:
        zk.start(timeout=10)
        path = zk.create("/malformed/ok-", b"%d" % i, sequence=True, makepath=True)
        data, _ = zk.get(path)
        return data == b"%d" % i
    except Exception as e:
        print("  kazoo failed: %r" % e)
        return False
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:
            pass


def main():
    logging.basicConfig(level=logging.CRITICAL)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="coordd", choices=sorted(servers.SERVER_KINDS))
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("%d malformed connections against %s, seed %d" % (args.count, args.server, seed))
    passed = failed = 0
    kinds = {}
    with servers.server_class(args.server)() as srv:
        for i in range(args.count):
            name = probe(srv.hostport, rng)
            kinds[name] = kinds.get(name, 0) + 1
            if (i + 1) % 250 == 0 or i + 1 == args.count:
                ok = srv.running() and server_works(srv.hostport, i)
                passed += ok
                failed += not ok
                print("%s after %d connections: server %s" % (
                    "PASS" if ok else "FAIL", i + 1, "serving" if ok else "NOT serving"))
                sys.stdout.flush()
                if not srv.running():
                    print(srv.log_tail())
                    break
    for name in sorted(kinds):
        print("  %4d x %s" % (kinds[name], name))
    print("reproduce with --seed %d" % seed)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
