#!/usr/bin/python3
"""Run the integration suite against a real server.

    tests/real/run_integration.py --server zookeeper|coordd [-k PATTERN]... [-v]

Starts one shared server (Apache ZooKeeper 3.8 from the Debian package, or
coordd from $COORDD / build/debug/real/coordd) on a free loopback port in a
fresh temporary directory, runs every test case in tests/real/test_*.py
against it (some tests start dedicated servers of the same kind), prints one
line per test and closes with exactly `N passed, M failed` (plus
`, K skipped` when any were skipped). Exit status 0 only if nothing failed.

-k selects tests whose id (module.Class.test_name) contains PATTERN, or
matches it as a shell glob if it has * ? or [; several -k are OR'ed.
Needs Debian's /usr/bin/python3 (it has kazoo); no pytest.
"""

import sys

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import argparse  # noqa: E402
import fnmatch  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import unittest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import servers  # noqa: E402

DEFAULT_TEST_TIMEOUT_S = 120


class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded its time limit")


_interrupted = []  # the signal that ended the run, if any


def _interrupt(signum, frame):
    # unittest records most exceptions as test errors and carries on, but
    # lets KeyboardInterrupt through: SIGTERM and SIGHUP end the run like ^C
    _interrupted.append(signum)
    raise KeyboardInterrupt("signal %d" % signum)


def iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


def short_id(test):
    return test.id()


def selected(test_id, patterns):
    if not patterns:
        return True
    for pat in patterns:
        if any(ch in pat for ch in "*?["):
            if fnmatch.fnmatchcase(test_id, pat) or fnmatch.fnmatchcase(test_id, "*" + pat + "*"):
                return True
        elif pat in test_id:
            return True
    return False


class LineResult(unittest.TestResult):
    """Prints PASS/FAIL/SKIP per test as it finishes."""

    def __init__(self, test_timeout, stream=sys.stdout):
        super().__init__()
        self.stream = stream
        self.test_timeout = test_timeout
        self.outcomes = []  # (status, id, seconds, detail)
        self._current = None

    def startTest(self, test):
        super().startTest(test)
        self._current_test = test
        self._current = {"status": "PASS", "detail": None, "t0": time.monotonic()}
        signal.setitimer(signal.ITIMER_REAL, self.test_timeout)

    def _fail(self, test, err, status="FAIL"):
        if self._current is None:  # a class or module fixture failed
            self.outcomes.append((status, short_id(test), 0.0, self._exc_info_to_string(err, test)))
            self.stream.write("%s %s\n" % (status, short_id(test)))
            self.stream.flush()
            return
        if self._current["status"] == "PASS":
            self._current["status"] = status
            self._current["detail"] = self._exc_info_to_string(err, test)
        else:
            self._current["detail"] += "\n" + self._exc_info_to_string(err, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._fail(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self._current is not None and self._current["status"] == "PASS":
            self._current["status"] = "SKIP"
            self._current["detail"] = reason

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        if self._current is not None:
            self._current["status"] = "FAIL"
            self._current["detail"] = "unexpected success"

    def note_failure(self, message):
        """Fail the current test for a reason found outside it."""
        if self._current is None:
            return
        if self._current["status"] in ("PASS", "SKIP"):
            self._current["status"] = "FAIL"
            self._current["detail"] = message
        else:
            self._current["detail"] += "\n" + message

    def stopTest(self, test):
        signal.setitimer(signal.ITIMER_REAL, 0)
        if _interrupted:  # the test was cut short, whatever it recorded
            self.note_failure("interrupted by signal %d" % _interrupted[0])
        check_shared_server(self)
        cur = self._current
        seconds = time.monotonic() - cur["t0"]
        self.outcomes.append((cur["status"], short_id(test), seconds, cur["detail"]))
        line = "%s %s %.2fs" % (cur["status"], short_id(test), seconds)
        if cur["status"] == "SKIP":
            line += " (%s)" % cur["detail"]
        self.stream.write(line + "\n")
        self.stream.flush()
        self._current = None
        super().stopTest(test)


def check_shared_server(result):
    """If the shared server died during a test, fail that test and restart
    the server on the same data dir so the rest of the run still means something."""
    srv = harness.SERVER
    if srv is None or srv.running() or servers.shutting_down():
        return
    code = srv.proc.returncode if srv.proc is not None else None
    message = "the shared %s server exited (status %s) during this test; log tail:\n%s" % (
        srv.kind, code, srv.log_tail(30))
    result.note_failure(message)
    try:
        srv.start()
    except (servers.ServerError, OSError) as err:
        result.note_failure("restart failed: %s" % err)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=sorted(servers.SERVER_KINDS), default="zookeeper")
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="run only tests whose id contains PATTERN (or matches the glob)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="kazoo debug logging and full server log tails")
    parser.add_argument("--list", action="store_true", help="list the selected tests and exit")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TEST_TIMEOUT_S,
                        help="per-test time limit in seconds (default %(default)s)")
    args = parser.parse_args(argv)

    harness.SERVER_KIND = args.server
    os.environ["IT_SERVER"] = args.server
    harness.quiet_kazoo(args.verbose)

    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = [t for t in iter_tests(suite) if selected(short_id(t), args.patterns)]
    broken = [t for t in tests if type(t).__name__ == "_FailedTest"]
    if args.list:
        for t in tests:
            print(short_id(t))
        return 0
    if not tests:
        print("no test matches %s" % " ".join(args.patterns), file=sys.stderr)
        print("0 passed, 0 failed")
        return 1

    t_start = time.monotonic()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):
            signal.signal(signum, _interrupt)  # servers.py chains its cleanup in front
    print("server: %s" % args.server)
    srv = servers.server_class(args.server)(name="shared")
    try:
        srv.start()
    except (servers.ServerError, OSError) as err:
        print("could not start the %s server: %s" % (args.server, err))
        srv.cleanup()
        print("0 passed, %d failed" % len(tests))
        return 1
    harness.SERVER = srv
    print("shared server %s at %s (dir %s)" % (args.server, srv.hostport, srv.base_dir))
    sys.stdout.flush()

    previous_alarm = signal.signal(signal.SIGALRM, _alarm)
    result = LineResult(args.timeout)
    try:
        unittest.TestSuite(tests).run(result)
    except KeyboardInterrupt:
        result.note_failure("interrupted")
        if result._current is not None:  # the interrupted test gets its FAIL line
            result.stopTest(result._current_test)
        print("interrupted")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_alarm)
        failed_any = any(o[0] == "FAIL" for o in result.outcomes) or broken
        if failed_any:
            os.environ["KEEP_SERVER_DIRS"] = "1"
        srv.stop()
        srv.cleanup()
        servers.stop_all()

    passed = sum(1 for o in result.outcomes if o[0] == "PASS")
    failed = sum(1 for o in result.outcomes if o[0] == "FAIL")
    skipped = sum(1 for o in result.outcomes if o[0] == "SKIP")
    not_run = len(tests) - len(result.outcomes)
    failed += max(0, not_run)

    details = [o for o in result.outcomes if o[0] == "FAIL"]
    if details:
        print()
        print("=" * 70)
        for status, name, seconds, detail in details:
            print("FAIL %s" % name)
            print(detail or "")
            print("-" * 70)
        print("server dir kept: %s (log: %s)" % (srv.base_dir, srv.log_path))
    print("total %.1fs" % (time.monotonic() - t_start))
    summary = "%d passed, %d failed" % (passed, failed)
    if skipped:
        summary += ", %d skipped" % skipped
    print(summary)
    sys.stdout.flush()
    return 0 if failed == 0 and passed + skipped > 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        servers.stop_all()
        sys.exit(1)
