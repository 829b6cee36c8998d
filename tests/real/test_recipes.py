"""kazoo recipes driven by several concurrent clients (one KazooClient per
thread, as separate processes would have)."""

import threading
import time

from harness import IntegrationTest, wait_for

JOIN_S = 60


class Worker(threading.Thread):
    """A thread that records the exception it died of."""

    def __init__(self, target, *args):
        super().__init__(daemon=True)
        self._target_fn, self._args = target, args
        self.error = None

    def run(self):
        try:
            self._target_fn(*self._args)
        except BaseException as err:  # reported by the test thread
            self.error = err


def run_all(test, workers):
    for w in workers:
        w.start()
    deadline = time.monotonic() + JOIN_S
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
        test.assertFalse(w.is_alive(), "worker still running after %d s" % JOIN_S)
        if w.error is not None:
            raise w.error


class RecipeTest(IntegrationTest):

    def test_lock_gives_mutual_exclusion_to_4_clients_x_25(self):
        lock_path, counter_path = self.p("lock"), self.p("counter")
        self.admin.create(counter_path, b"0")
        clients = [self.client() for _ in range(4)]
        guard = threading.Lock()
        state = {"inside": 0, "max_inside": 0, "overlaps": 0}

        def work(client, name):
            lock = client.Lock(lock_path, name)
            for _ in range(25):
                with lock:
                    with guard:
                        state["inside"] += 1
                        state["max_inside"] = max(state["max_inside"], state["inside"])
                        if state["inside"] > 1:
                            state["overlaps"] += 1
                    value = int(client.get(counter_path)[0])
                    time.sleep(0.001)  # widen the window a lost update would need
                    client.set(counter_path, str(value + 1).encode())  # unconditional
                    with guard:
                        state["inside"] -= 1

        run_all(self, [Worker(work, c, "worker-%d" % i) for i, c in enumerate(clients)])
        data, st = self.admin.get(counter_path)
        self.assertEqual(int(data), 100)
        self.assertEqual(st.version, 100)
        self.assertEqual((state["overlaps"], state["max_inside"]), (0, 1))
        self.assertEqual(self.admin.get_children(lock_path), [])

    def test_election_has_one_leader_at_a_time_and_fails_over(self):
        path = self.p("election")
        names = ["c0", "c1", "c2"]
        clients = {n: self.client() for n in names}
        guard = threading.Lock()
        leaders, current = [], {"active": 0, "max_active": 0}
        release = {n: threading.Event() for n in names}
        abandoned = set()

        def lead(name):
            with guard:
                current["active"] += 1
                current["max_active"] = max(current["max_active"], current["active"])
                leaders.append(name)
            release[name].wait(JOIN_S)
            with guard:
                if name not in abandoned:
                    current["active"] -= 1

        def contend(name):
            try:
                clients[name].Election(path, name).run(lead, name)
            except Exception:
                if name not in abandoned:  # a stopped client may fail its release
                    raise

        workers = [Worker(contend, n) for n in names]
        for w in workers:
            w.start()
        wait_for(lambda: len(leaders) == 1, 15, "a first leader")
        time.sleep(0.3)
        first = leaders[0]
        observer = self.admin.Election(path)
        self.assertEqual(len(observer.contenders()), 3)
        self.assertEqual(observer.contenders()[0], first)

        # the leader's client goes away: its session closes, another takes over
        with guard:
            abandoned.add(first)
            current["active"] -= 1
        clients[first].stop()
        wait_for(lambda: len(leaders) == 2, 15, "a second leader after the first client stopped")
        second = leaders[1]
        self.assertNotEqual(second, first)
        self.assertEqual(observer.contenders(), [second, (set(names) - {first, second}).pop()])
        release[first].set()

        # the second leader steps down normally: the last one takes over
        release[second].set()
        wait_for(lambda: len(leaders) == 3, 15, "a third leader")
        third = leaders[2]
        self.assertEqual(observer.contenders(), [third])
        release[third].set()
        for w in workers:
            w.join(15)
            self.assertFalse(w.is_alive())
            if w.error is not None:
                raise w.error
        self.assertEqual(sorted(leaders), sorted(names))
        self.assertEqual(current["max_active"], 1)
        self.assertEqual(self.admin.get_children(path), [])

    def test_queue_is_fifo_across_clients(self):
        path = self.p("queue")
        a, b, consumer = self.client(), self.client(), self.client()
        qa, qb, qc = a.Queue(path), b.Queue(path), consumer.Queue(path)
        expected = []
        for i in range(10):
            producer = qa if i % 2 == 0 else qb
            item = ("%s-%d" % ("a" if i % 2 == 0 else "b", i)).encode()
            producer.put(item)
            expected.append(item)
        self.assertEqual(len(qc), 10)
        got = [qc.get() for _ in range(10)]
        self.assertEqual(got, expected)
        self.assertIsNone(qc.get())
        self.assertEqual(len(qc), 0)

    def test_queue_priority_orders_before_arrival(self):
        path = self.p("pqueue")
        q = self.client().Queue(path)
        q.put(b"late-low", priority=200)
        q.put(b"urgent", priority=1)
        q.put(b"normal-1")
        q.put(b"normal-2")
        consumer = self.client().Queue(path)
        self.assertEqual([consumer.get() for _ in range(4)],
                         [b"urgent", b"normal-1", b"normal-2", b"late-low"])

    def test_queue_concurrent_consumers_take_each_item_once(self):
        path = self.p("cqueue")
        producer = self.client().Queue(path)
        items = [b"item-%02d" % i for i in range(40)]
        for item in items:
            producer.put(item)
        taken = [[] for _ in range(4)]
        consumers = [self.client() for _ in range(4)]

        def consume(client, out):
            q = client.Queue(path)
            while True:
                item = q.get()
                if item is None:
                    return
                out.append(item)

        run_all(self, [Worker(consume, c, out) for c, out in zip(consumers, taken)])
        everything = [i for out in taken for i in out]
        self.assertEqual(sorted(everything), items)  # no loss, no duplicate
        for out in taken:  # each consumer saw its share in queue order
            self.assertEqual(out, sorted(out))

    def test_locking_queue_consume_removes_the_entry(self):
        path = self.p("lqueue")
        producer, consumer = self.client(), self.client()
        producer.LockingQueue(path).put_all([b"one", b"two"])
        q = consumer.LockingQueue(path)
        self.assertEqual(q.get(timeout=5), b"one")
        self.assertTrue(q.consume())
        self.assertEqual(q.get(timeout=5), b"two")
        self.assertTrue(q.consume())
        self.assertIsNone(q.get(timeout=0.5))
        self.assertEqual(len(q), 0)

    def test_counter_concurrent_increments_are_exact(self):
        path = self.p("counter")
        clients = [self.client() for _ in range(4)]

        def bump(client):
            counter = client.Counter(path)
            for _ in range(25):
                counter += 1

        run_all(self, [Worker(bump, c) for c in clients])
        self.assertEqual(self.admin.Counter(path).value, 100)
        data, st = self.admin.get(path)
        self.assertEqual((data, st.version), (b"100", 100))
        c = self.admin.Counter(path)
        c -= 30
        self.assertEqual(c.value, 70)

    def test_semaphore_admits_at_most_max_leases(self):
        path = self.p("sem")
        clients = [self.client() for _ in range(4)]
        guard = threading.Lock()
        state = {"inside": 0, "max_inside": 0, "entries": 0}

        def work(client, name):
            sem = client.Semaphore(path, name, max_leases=2)
            for _ in range(3):
                with sem:
                    with guard:
                        state["inside"] += 1
                        state["entries"] += 1
                        state["max_inside"] = max(state["max_inside"], state["inside"])
                    time.sleep(0.05)
                    with guard:
                        state["inside"] -= 1

        run_all(self, [Worker(work, c, "s%d" % i) for i, c in enumerate(clients)])
        self.assertEqual(state["entries"], 12)
        self.assertEqual(state["max_inside"], 2)

    def test_party_membership_follows_sessions(self):
        path = self.p("party")
        members = [self.client() for _ in range(3)]
        parties = [m.Party(path, "member-%d" % i) for i, m in enumerate(members)]
        for party in parties:
            party.join()
        observer = self.admin.Party(path)
        self.assertEqual(sorted(observer), ["member-0", "member-1", "member-2"])
        self.assertEqual(len(observer), 3)
        parties[0].leave()
        members[1].stop()  # its ephemeral member node goes with the session
        self.assertEqual(sorted(observer), ["member-2"])

    def test_barrier_blocks_until_removed(self):
        path = self.p("barrier")
        self.admin.Barrier(path).create()
        waiter = self.client()
        result = {}

        def wait():
            result["passed"] = waiter.Barrier(path).wait(timeout=20)

        w = Worker(wait)
        w.start()
        time.sleep(0.5)
        self.assertNotIn("passed", result)
        self.admin.Barrier(path).remove()
        w.join(20)
        self.assertIsNone(w.error)
        self.assertEqual(result, {"passed": True})
