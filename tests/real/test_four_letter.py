"""Four-letter words: exact replies where they are fixed, formats elsewhere."""

import socket
import time

import harness
from harness import IntegrationTest

SRVR_LINES = [
    r"Zookeeper version: .+",
    r"Latency min/avg/max: \d+/\d+(\.\d+)?/\d+",
    r"Received: \d+",
    r"Sent: \d+",
    r"Connections: \d+",
    r"Outstanding: \d+",
    r"Zxid: 0x[0-9a-f]+",
    r"Mode: standalone",
    r"Node count: \d+",
]

MNTR_KEYS = [
    "zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
    "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections",
    "zk_outstanding_requests", "zk_znode_count", "zk_watch_count", "zk_ephemerals_count",
    "zk_approximate_data_size", "zk_open_file_descriptor_count",
    "zk_max_file_descriptor_count",
]


def srvr_fields(text):
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def mntr_fields(test, text):
    fields = {}
    for line in text.splitlines():
        test.assertRegex(line, r"^zk_[^\t]+\t\S.*$")
        key, value = line.split("\t", 1)
        fields[key] = value
    return fields


class FourLetterTest(IntegrationTest):

    def flw(self, word):
        return self.server.four_letter(word)

    def test_ruok_answers_imok_without_newline(self):
        self.assertEqual(self.flw("ruok"), "imok")

    def test_ruok_with_trailing_newline_still_answers_imok(self):
        self.assertEqual(self.flw("ruok\n"), "imok")

    def test_isro_answers_rw(self):
        self.assertEqual(self.flw("isro"), "rw")

    def test_srvr_lists_the_standard_lines_in_order(self):
        out = self.flw("srvr")
        self.assertTrue(out.endswith("\n"))
        lines = out.splitlines()
        self.assertEqual(len(lines), len(SRVR_LINES), out)
        for line, pattern in zip(lines, SRVR_LINES):
            self.assertRegex(line, "^%s$" % pattern)

    def test_srvr_zxid_and_node_count_follow_writes(self):
        before = srvr_fields(self.flw("srvr"))
        self.admin.create(self.p("one"))
        after = srvr_fields(self.flw("srvr"))
        self.assertEqual(int(after["Zxid"], 16), self.admin.last_zxid)
        self.assertGreater(int(after["Zxid"], 16), int(before["Zxid"], 16))
        self.assertEqual(int(after["Node count"]), int(before["Node count"]) + 1)
        self.admin.delete(self.p("one"))
        self.assertEqual(int(srvr_fields(self.flw("srvr"))["Node count"]),
                         int(before["Node count"]))

    def test_mntr_has_the_classic_keys_as_tab_separated_lines(self):
        out = self.flw("mntr")
        fields = mntr_fields(self, out)
        keys = [line.split("\t")[0] for line in out.splitlines()]
        self.assertEqual(keys[:2], ["zk_version", "zk_server_state"])
        for key in MNTR_KEYS:
            self.assertIn(key, fields)
        self.assertEqual(fields["zk_server_state"], "standalone")
        for key in MNTR_KEYS[2:]:
            self.assertRegex(fields[key], r"^-?\d+(\.\d+)?$", key)
        self.assertGreaterEqual(int(fields["zk_num_alive_connections"]), 1)
        self.assertEqual(int(fields["zk_znode_count"]),
                         int(srvr_fields(self.flw("srvr"))["Node count"]))

    def test_mntr_counts_follow_creates_and_ephemerals(self):
        before = mntr_fields(self, self.flw("mntr"))
        owner = self.client()
        owner.create(self.p("eph"), b"", ephemeral=True)
        self.admin.create(self.p("plain"), b"")
        after = mntr_fields(self, self.flw("mntr"))
        self.assertEqual(int(after["zk_znode_count"]), int(before["zk_znode_count"]) + 2)
        self.assertEqual(int(after["zk_ephemerals_count"]),
                         int(before["zk_ephemerals_count"]) + 1)
        owner.stop()
        final = mntr_fields(self, self.flw("mntr"))
        self.assertEqual(int(final["zk_ephemerals_count"]), int(before["zk_ephemerals_count"]))
        self.assertEqual(int(final["zk_znode_count"]), int(before["zk_znode_count"]) + 1)

    def test_stat_lists_clients_then_the_srvr_lines(self):
        out = self.flw("stat")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^Zookeeper version: ")
        self.assertEqual(lines[1], "Clients:")
        blank = lines.index("")
        clients = lines[2:blank]
        self.assertGreaterEqual(len(clients), 1)
        for line in clients:
            self.assertRegex(line, r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+\)$")
        for line, pattern in zip(lines[blank + 1:], SRVR_LINES[1:]):
            self.assertRegex(line, "^%s$" % pattern)

    def test_cons_shows_session_of_each_connection(self):
        sid = "0x%x" % self.admin.client_id[0]
        out = self.flw("cons")
        self.assertTrue(out.endswith("\n\n"), repr(out))
        mine = [line for line in out.splitlines() if ("sid=%s," % sid) in line]
        self.assertEqual(len(mine), 1, out)
        self.assertRegex(mine[0], r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+,"
                                  r"sid=0x[0-9a-f]+,lop=\w+,est=\d+,to=10000,")

    def test_conf_reports_the_configuration(self):
        fields = dict(line.split("=", 1) for line in self.flw("conf").splitlines())
        self.assertEqual(fields["clientPort"], str(self.server.port))
        self.assertEqual(fields["tickTime"], "2000")
        self.assertEqual(fields["minSessionTimeout"], "4000")
        self.assertEqual(fields["maxSessionTimeout"], "40000")
        self.assertTrue(fields["dataDir"].startswith(self.server.data_dir), fields["dataDir"])

    def test_watch_words_report_this_connections_watches(self):
        sid = "0x%x" % self.admin.client_id[0]
        self.admin.create(self.p("w1"))
        self.admin.get(self.p("w1"), watch=lambda e: None)
        self.admin.exists(self.p("w2"), watch=lambda e: None)
        self.assertEqual(self.flw("wchs"), "1 connections watching 2 paths\nTotal watches:2\n")
        wchc = self.flw("wchc")
        self.assertTrue(wchc.startswith(sid + "\n"), wchc)
        self.assertEqual(sorted(wchc.split("\n\n")[0].splitlines()[1:]),
                         ["\t" + self.p("w1"), "\t" + self.p("w2")])
        wchp = self.flw("wchp")
        for path in (self.p("w1"), self.p("w2")):
            self.assertIn("%s\n\t%s\n" % (path, sid), wchp)

    def test_dump_lists_ephemerals_by_session(self):
        owner = self.client()
        owner.create(self.p("e"), b"", ephemeral=True)
        out = self.flw("dump")
        self.assertIn("Sessions with Ephemerals (1):\n0x%x:\n\t%s\n" % (
            owner.client_id[0], self.p("e")), out)

    def test_unknown_word_closes_without_reply(self):
        self.assertEqual(self.flw("xxxx"), "")
        self.assertEqual(self.flw("RUOK"), "")
        self.assertEqual(self.flw("ruok"), "imok")

    def test_word_split_across_segments_is_recognised(self):
        with socket.create_connection((self.server.host, self.server.port), timeout=5) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"ru")
            time.sleep(0.2)
            s.sendall(b"ok")
            out = b""
            while True:
                data = s.recv(100)
                if not data:
                    break
                out += data
        self.assertEqual(out, b"imok")


class WhitelistTest(IntegrationTest):
    """A server whose 4lw.commands.whitelist allows srvr only."""

    @classmethod
    def setUpClass(cls):
        cls.restricted = harness.new_server(name="whitelist", four_letter_whitelist="srvr")
        cls.restricted.start()

    @classmethod
    def tearDownClass(cls):
        cls.restricted.stop()
        cls.restricted.cleanup()

    def test_words_outside_the_whitelist_are_refused_by_name(self):
        for word in ("ruok", "mntr", "stat", "conf"):
            self.assertEqual(self.restricted.four_letter(word),
                             "%s is not executed because it is not in the whitelist.\n" % word)
        self.assertIn("\nMode: standalone\n", self.restricted.four_letter("srvr"))
