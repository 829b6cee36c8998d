#!/usr/bin/python3
"""Monitoring tools read the four-letter words: Debian's zktop parses `stat`.

Starts the server, connects a kazoo client, then lets zktop's own parser
(the zktop module from Debian's `zktop` package) read `stat`, and checks the
fields it extracts; also checks `mntr`'s classic keys and `ruok`/`isro`.

    monitoring_zktop.py [--server coordd|zookeeper]
"""
import argparse
import logging
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402

MNTR_KEYS = ["zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency",
             "zk_min_latency", "zk_packets_received", "zk_packets_sent",
             "zk_num_alive_connections", "zk_outstanding_requests", "zk_znode_count",
             "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
             "zk_open_file_descriptor_count", "zk_max_file_descriptor_count"]


def main():
    logging.basicConfig(level=logging.CRITICAL)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="coordd", choices=sorted(servers.SERVER_KINDS))
    args = ap.parse_args()
    try:
        sys.argv = ["zktop"]
        import zktop
    except ImportError:
        print("zktop is not installed (Debian package zktop)")
        print("0 passed, 1 failed")
        return 1
    zktop.options = types.SimpleNamespace(timeout=5, fix_330=False)
    checks = []
    with servers.server_class(args.server)() as srv:
        zk = KazooClient(hosts=srv.hostport, timeout=10)
        zk.start(timeout=10)
        zk.create("/zktop-probe", b"x", ephemeral=True)
        zk.get("/zktop-probe", watch=lambda e: None)
        host, port = srv.hostport.rsplit(":", 1)
        s = zktop.ZKServer("%s:%s" % (host, port), 0)
        checks.append(("zktop parses stat", not s.unavailable))
        if not s.unavailable:
            checks.append(("version is x.y.z", s.version.count(".") == 2))
            checks.append(("mode is standalone", s.mode == "standalone"))
            checks.append(("zxid is hex", s.zxid.startswith("0x")))
            checks.append(("node count counts /zktop-probe", int(s.node_count) >= 5))
            checks.append(("latency min <= avg <= max",
                           float(s.min_latency) <= float(s.avg_latency) <= float(s.max_latency)))
            checks.append(("the kazoo session is listed",
                           any(int(x.recved) >= 2 for x in s.sessions)))
        mntr = srv.four_letter("mntr")
        keys = dict(line.split("\t", 1) for line in mntr.splitlines() if "\t" in line)
        for k in MNTR_KEYS:
            checks.append(("mntr has %s" % k, k in keys))
        checks.append(("mntr counts the ephemeral", int(keys.get("zk_ephemerals_count", "0")) >= 1))
        checks.append(("ruok answers imok", srv.four_letter("ruok") == "imok"))
        checks.append(("isro answers rw", srv.four_letter("isro") == "rw"))
        zk.stop()
        zk.close()
    passed = sum(ok for _, ok in checks)
    for name, ok in checks:
        print("%s %s" % ("PASS" if ok else "FAIL", name))
    print("%d passed, %d failed" % (passed, len(checks) - passed))
    return 0 if passed == len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
