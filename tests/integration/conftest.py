import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from config_helpers import MiniRoot  # noqa: E402
from harness import Server  # noqa: E402


@pytest.fixture
def make_server(request):
    """Creates servers for one test; on teardown stops them and fails the test on any
    unexpected [warn]/[error] line in their error logs (pass allowed= patterns to the
    factory for lines the test expects)."""
    made = []

    def factory(*args, allowed=(), **kw):
        s = Server(*args, **kw)
        s.allowed = tuple(allowed)
        made.append(s)
        return s

    yield factory
    failures = []
    for s in made:
        s.stop()
        bad = s.unexpected_log_lines(s.allowed)
        if bad:
            failures.append(f"{s.root}: unexpected error-log lines:\n  " + "\n  ".join(bad[:20]))
        s.cleanup()
    if failures and not getattr(request.node, "rep_call_failed", False):
        pytest.fail("\n".join(failures))


@pytest.fixture
def mini():
    """Creates MiniRoot server roots (config tests); on teardown stops their servers and
    removes them."""
    made = []

    def factory(*a, **kw):
        r = MiniRoot(*a, **kw)
        made.append(r)
        return r

    yield factory
    for r in made:
        r.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call_failed = rep.failed
