"""multi through kazoo transactions: all or nothing, per-op results."""

from kazoo import exceptions as ke
from kazoo.protocol.states import ZnodeStat

from harness import IntegrationTest


class MultiTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.admin.create(self.p("set"), b"old")
        self.admin.create(self.p("check"), b"")
        self.admin.create(self.p("del"), b"")

    def test_transaction_applies_every_op_with_one_zxid(self):
        t = self.admin.transaction()
        t.create(self.p("a"), b"1")
        t.create(self.p("a", "child"), b"2")
        t.set_data(self.p("set"), b"new", version=0)
        t.check(self.p("check"), 0)
        t.delete(self.p("del"), version=0)
        results = t.commit()
        self.assertEqual(len(results), 5)
        self.assertEqual(results[0], self.p("a"))
        self.assertEqual(results[1], self.p("a", "child"))
        self.assertIsInstance(results[2], ZnodeStat)
        self.assertEqual(results[2].version, 1)
        self.assertEqual(results[3:], [True, True])
        _, a = self.admin.get(self.p("a"))
        _, child = self.admin.get(self.p("a", "child"))
        data, s = self.admin.get(self.p("set"))
        self.assertEqual(data, b"new")
        self.assertEqual(a.czxid, child.czxid)
        self.assertEqual(s.mzxid, a.czxid)
        self.assertEqual(results[2], s)
        self.assertEqual(a.pzxid, a.czxid)  # its child came in the same transaction
        self.assertIsNone(self.admin.exists(self.p("del")))
        _, base = self.admin.get(self.base)
        self.assertEqual(base.pzxid, a.czxid)
        self.assertEqual(self.admin.last_zxid, a.czxid)

    def test_failed_check_rolls_back_everything(self):
        t = self.admin.transaction()
        t.create(self.p("x"), b"")
        t.set_data(self.p("set"), b"changed")
        t.check(self.p("check"), 7)
        t.delete(self.p("del"))
        results = t.commit()
        self.assertEqual([type(r) for r in results],
                         [ke.RolledBackError, ke.RolledBackError, ke.BadVersionError,
                          ke.RuntimeInconsistency])
        self.assertIsNone(self.admin.exists(self.p("x")))
        data, s = self.admin.get(self.p("set"))
        self.assertEqual((data, s.version), (b"old", 0))
        self.assertIsNotNone(self.admin.exists(self.p("del")))

    def test_failure_on_first_op_marks_the_rest_runtime_inconsistency(self):
        t = self.admin.transaction()
        t.create(self.p("set"), b"")  # exists already
        t.create(self.p("fresh"), b"")
        t.delete(self.p("del"))
        results = t.commit()
        self.assertEqual([type(r) for r in results],
                         [ke.NodeExistsError, ke.RuntimeInconsistency, ke.RuntimeInconsistency])
        self.assertIsNone(self.admin.exists(self.p("fresh")))
        self.assertIsNotNone(self.admin.exists(self.p("del")))

    def test_each_failing_op_reports_its_own_error(self):
        cases = [
            (lambda t: t.delete(self.p("missing")), ke.NoNodeError),
            (lambda t: t.set_data(self.p("set"), b"", version=9), ke.BadVersionError),
            (lambda t: t.create(self.p("nope", "child"), b""), ke.NoNodeError),
            (lambda t: t.check(self.p("missing"), 0), ke.NoNodeError),
        ]
        for add_op, expected in cases:
            t = self.admin.transaction()
            t.create(self.p("first"), b"")
            add_op(t)
            results = t.commit()
            self.assertEqual([type(r) for r in results], [ke.RolledBackError, expected])
            self.assertIsNone(self.admin.exists(self.p("first")))

    def test_ops_see_the_effects_of_earlier_ops_in_the_same_transaction(self):
        t = self.admin.transaction()
        t.create(self.p("tmp"), b"a")
        t.set_data(self.p("tmp"), b"b", version=0)
        t.check(self.p("tmp"), 1)
        t.delete(self.p("tmp"), version=1)
        results = t.commit()
        self.assertEqual(results[0], self.p("tmp"))
        self.assertEqual(results[1].version, 1)
        self.assertEqual(results[2:], [True, True])
        self.assertIsNone(self.admin.exists(self.p("tmp")))

    def test_sequential_create_in_transaction_returns_the_real_name(self):
        self.admin.create(self.p("q"))
        t = self.admin.transaction()
        t.create(self.p("q", "n-"), b"", sequence=True)
        t.create(self.p("q", "n-"), b"", sequence=True)
        self.assertEqual(t.commit(), [self.p("q", "n-0000000000"), self.p("q", "n-0000000001")])

    def test_empty_transaction_succeeds(self):
        self.assertEqual(self.admin.transaction().commit(), [])

    def test_transaction_is_atomic_for_other_clients(self):
        other = self.client()
        t = self.admin.transaction()
        for i in range(20):
            t.create(self.p("m%02d" % i), b"")
        self.assertEqual(len(t.commit()), 20)
        names = [n for n in other.get_children(self.base) if n.startswith("m")]
        self.assertEqual(len(names), 20)
        zxids = {other.get(self.p(n))[1].czxid for n in names}
        self.assertEqual(len(zxids), 1)
