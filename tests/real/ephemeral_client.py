#!/usr/bin/python3
"""Child process for the session tests: open a session, create an ephemeral
node, report, then idle until killed.

    ephemeral_client.py HOSTS PATH TIMEOUT_S

Prints `READY <session id in hex>` once the node exists,
then one `STATE <kazoo state>` line per session state change (LOST after the
server reports the session expired)."""

import ctypes
import logging
import signal
import sys
import time

from kazoo.client import KazooClient


def die_with_parent():
    try:  # PR_SET_PDEATHSIG: go when the test runner goes, however it ends
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def main():
    die_with_parent()
    hosts, path, timeout_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    logging.basicConfig(level=logging.CRITICAL)
    client = KazooClient(hosts=hosts, timeout=timeout_s,
                         connection_retry=dict(max_tries=-1, delay=0.05, max_delay=0.5))
    client.add_listener(lambda state: print("STATE %s" % state, flush=True))
    client.start(timeout=15)
    client.create(path, b"held", ephemeral=True)
    print("READY %x" % client.client_id[0], flush=True)
    deadline = time.monotonic() + 300  # never outlive a forgotten test
    while time.monotonic() < deadline:
        time.sleep(0.1)


if __name__ == "__main__":
    main()
