"""Crash capture end to end: a real httpd per MPM, workers crashed on purpose through the
test-only module, and the files an operator would read afterwards."""
import http.client
import re
import threading
import time

import pytest

from harness import Server, wait_for

MPMS = ["event", "worker", "prefork"]

# kind -> (signal name, code, phase)
KINDS = {
    "null": ("SIGSEGV", "SEGV_MAPERR", "handler"),
    "jump0": ("SIGSEGV", "SEGV_MAPERR", "handler"),
    "stack": ("SIGSEGV", None, "handler"),
    "bus": ("SIGBUS", "BUS_ADRERR", "handler"),
    "fpe": ("SIGFPE", "FPE_INTDIV", "handler"),
    "abort": ("SIGABRT", None, "handler"),
    "ill": ("SIGILL", "ILL_ILLOPN", "handler"),
    "trap": ("SIGTRAP", None, "handler"),
    "doublefree": ("SIGABRT", None, "handler"),
    "filter": ("SIGSEGV", "SEGV_MAPERR", "handler"),
    "log": ("SIGSEGV", "SEGV_MAPERR", "log"),
}

HEX = re.compile(r"^0x[0-9a-f]+$")


@pytest.fixture(scope="module", params=MPMS)
def server(request):
    s = Server(request.param)
    s.start()
    yield s
    s.stop()
    bad = s.unexpected_log_lines()
    s.cleanup()
    assert not bad, "unexpected error-log lines:\n" + "\n".join(bad)


def crash_and_collect(server, path, headers=None):
    """Crashes one worker with `path`; returns the one new record (asserting it is one)."""
    before = len(server.crash_records())
    exits_before = len(server.exit_signal_lines())
    cores_before = set(server.cores())
    dropped = server.crash(path, headers=headers)
    # A crash in a log_transaction hook comes after the response was sent.
    assert dropped or "/log" in path, f"{path} did not drop the connection"
    server.wait_exit_signals(exits_before + 1)
    recs = server.wait_records(before + 1)
    time.sleep(0.3)  # a second record, if any, would be written by now
    recs = server.crash_records()
    assert len(recs) == before + 1, f"expected exactly one new record, got {len(recs) - before}"
    assert len(server.exit_signal_lines()) == exits_before + 1
    return recs[-1], set(server.cores()) - cores_before


def assert_complete(rec, server, path, sig, code, phase):
    assert rec["schema"] == 1 and rec["type"] == "crash"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", rec["time"])
    assert rec["ppid"] == server.pid()
    assert rec["pid"] > 0 and rec["tid"] > 0
    assert rec["hostname"]
    assert rec["httpd"].startswith("Apache/2.4")
    assert rec["mpm"] == server.mpm
    assert isinstance(rec["generation"], int)
    assert rec["uptime_ms"] >= 0 and rec["requests_served"] >= 1 and rec["rss_kb"] > 0
    s = rec["signal"]
    assert s["name"] == sig
    if code:
        assert s["code"] == code
    assert re.match(r"^[0-9a-f]{16}$", rec["signature"])
    for reg in ("rip", "rsp", "rbp", "rax", "rdi", "r15"):
        assert HEX.match(rec["registers"][reg]), reg
    frames = rec["frames"]
    assert len(frames) >= 3
    for f in frames:
        assert set(f) >= {"pc", "module", "offset", "build_id"}
    assert any((f["module"] or "").endswith("mod_selfheal_crashtest.so") for f in frames), frames
    mods = [m["path"] for m in rec["modules"]]
    assert any(m.endswith("mod_selfheal_crashtest.so") for m in mods)
    assert any("libc.so" in m for m in mods)
    assert all(m["build_id"] for m in rec["modules"] if "libc.so" in m["path"])
    q = rec["request"]
    assert q is not None, "no request in the record"
    assert q["method"] == "GET"
    assert q["path"] == path.split("?")[0]
    assert q["protocol"] == "HTTP/1.1"
    assert q["host"] == "127.0.0.1"
    assert q["client"] == "127.0.0.1" and q["local"] == "127.0.0.1"
    assert q["handler"] == "selfheal-crashtest"
    assert q["phase"] == phase
    assert 0 <= q["age_ms"] < 10000
    assert rec["connection"]["client"] == "127.0.0.1"


@pytest.mark.parametrize("kind", list(KINDS))
def test_crash_kind(server, kind):
    sig, code, phase = KINDS[kind]
    path = f"/crash/{kind}"
    rec, new_cores = crash_and_collect(server, path)
    assert_complete(rec, server, path, sig, code, phase)
    if kind == "null":
        assert rec["signal"]["address"] == "0x0"
    if kind == "jump0":
        assert rec["frames"][0]["pc"] == "0x0" and rec["frames"][0]["module"] is None
    if kind == "stack":
        assert len(rec["frames"]) >= 64, "a stack overflow should give a deep backtrace"
    # The parent's own line and a core in CoreDumpDirectory: httpd's handler still ran.
    exit_line = server.exit_signal_lines()[-1]
    assert f"child pid {rec['pid']} exit signal" in exit_line
    assert f"({rec['signal']['number']})" in exit_line
    assert any(c.name in ("core", f"core.{rec['pid']}") for c in new_cores), (
        f"no core in CoreDumpDirectory: {sorted(server.cores())}")
    for c in new_cores:
        c.unlink()
    # One summary line in the error log naming the signal and the path.
    summary = [l for l in server.error_lines() if "SELFHEAL0101" in l and path in l]
    assert summary and sig in summary[-1]
    assert server.serves("/")


def test_two_threads_crash_at_once(server):
    rec, new_cores = crash_and_collect(server, "/crash/twothreads")
    assert rec["signal"]["name"] == "SIGSEGV"
    for c in new_cores:
        c.unlink()
    assert server.serves("/")


def test_secrets_are_redacted(server):
    secret = "s3cr3t-token-4711"
    rec, new_cores = crash_and_collect(
        server, f"/crash/null?token={secret}",
        headers={"Authorization": f"Bearer {secret}", "Cookie": f"sid={secret}",
                 "Proxy-Authorization": f"Basic {secret}", "X-Innocent": "visible"})
    for c in new_cores:
        c.unlink()
    raw = server.crash_log.read_text()
    assert secret not in raw
    assert secret not in server.read_error_log()
    h = {k.lower(): v for k, v in rec["request"]["headers"].items()}
    assert h["authorization"] == "[redacted]" and h["cookie"] == "[redacted]"
    assert h["x-innocent"] == "visible"
    assert "query" not in rec["request"]


def test_crash_log_is_private(server):
    st = server.crash_log.stat()
    assert st.st_mode & 0o777 == 0o640
    assert st.st_uid == 0


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_other_requests_in_flight(make_server, mpm):
    """One process, several threads: the innocent sleeping request is named in the record."""
    s = make_server(mpm, mpm_conf=("StartServers 1\nServerLimit 1\nThreadsPerChild 8\n"
                                   "ThreadLimit 8\nMaxRequestWorkers 8\nMinSpareThreads 1\n"
                                   "MaxSpareThreads 8"))
    s.start()
    assert s.serves("/")
    t = threading.Thread(target=s.crash, args=("/crash/sleep?4000",), daemon=True)
    t.start()
    time.sleep(0.5)
    assert s.crash("/crash/null")
    rec = s.wait_records(1)[-1]
    t.join(10)
    paths = [q["path"] for q in rec["in_flight"]]
    assert "/crash/sleep" in paths, rec["in_flight"]
    assert all(q["tid"] != rec["tid"] for q in rec["in_flight"])
    for c in s.cores():
        c.unlink()
    assert s.serves("/")


def test_keepalive_connection_moves_between_threads(make_server):
    """Event MPM: requests of one keep-alive connection run on different threads; the record
    names the request and the connection's keep-alive count."""
    s = make_server("event")
    s.start()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    for _ in range(5):
        conn.request("GET", "/static.txt")
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        time.sleep(0.05)
    conn.request("GET", "/crash/null")
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.getresponse().read()
    rec = s.wait_records(1)[-1]
    assert rec["request"]["path"] == "/crash/null"
    assert rec["request"]["connection"]["keepalives"] == 5
    for c in s.cores():
        c.unlink()


def test_one_process_mode_dies_by_the_same_signal(make_server):
    """httpd -X: no httpd handler to chain to; the process dies by the original signal."""
    import subprocess
    s = make_server("event")
    p = subprocess.Popen(["/usr/sbin/apache2", "-X", "-d", str(s.root), "-f", str(s.conf)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(s._accepts, what="httpd -X")
        assert s.crash("/crash/fpe")
        assert p.wait(15) == -8  # SIGFPE
    finally:
        if p.poll() is None:
            p.kill()
    rec = s.wait_records(1)[-1]
    assert rec["signal"]["name"] == "SIGFPE"
    assert rec["pid"] == p.pid


def test_selfhealctl_reads_and_symbolizes_a_real_crash(make_server):
    """The operator's view: `selfhealctl crashes` groups the real records and `show` names the
    crashing function and its file:line (the crash-test module is built with -g)."""
    import json as _json
    import subprocess
    from harness import BUILD, SOURCE
    s = make_server("event", coredump=False)
    s.start()
    for n, kind in enumerate(("null", "null", "fpe"), 1):
        assert s.crash(f"/crash/{kind}")
        s.wait_records(n)
    recs = s.wait_records(3)
    ctl = str(BUILD / "selfhealctl")
    out = subprocess.run([ctl, "crashes", "--json", str(s.crash_log)], capture_output=True,
                         text=True, check=True).stdout
    groups = _json.loads(out)["groups"]
    counts = sorted(g["count"] for g in groups)
    assert counts == [1, 2], groups
    null_rec = next(r for r in recs if r["request"]["path"] == "/crash/null")
    shown = subprocess.run([ctl, "show", null_rec["id"], str(s.crash_log)], capture_output=True,
                           text=True, check=True).stdout
    src = SOURCE / "tests" / "crashmod" / "mod_selfheal_crashtest.c"
    lines = src.read_text().splitlines()
    start = next(n for n, l in enumerate(lines, 1)
                 if "static void __attribute__((noinline)) crash_null(void)" in l)
    # The faulting store: the line the debug info names, wherever the formatter put it.
    line = next(n for n, l in enumerate(lines[start - 1:], start) if "*g_null_int = 42;" in l)
    assert re.search(rf"crash_null at \S*mod_selfheal_crashtest\.c:{line}\b", shown), shown
    assert "crashtest_handler at" in shown, shown


def test_default_crash_log_beside_the_error_log(make_server):
    """Debian's ServerRoot (/etc/apache2) has no logs/: without SelfHealCrashLog the crash log
    goes beside the main error log instead of failing start-up."""
    s = make_server("prefork")
    logdir = s.root / "var-log"
    logdir.mkdir()
    s.conf.write_text(s.conf.read_text().replace(f"{s.root}/logs/", f"{logdir}/"))
    (s.root / "logs").rmdir()
    s.error_log = logdir / "error.log"
    s.crash_log = logdir / "selfheal_crash.log"
    s.start()
    assert s.crash("/crash/null")
    rec = s.wait_records(1)[-1]
    assert rec["request"]["path"] == "/crash/null"
    for c in s.cores():
        c.unlink()


def test_a_module_that_replaces_the_handler_is_named(make_server):
    """A module that installs its own SIGSEGV handler after mod_selfheal: the operator is told
    (SELFHEAL0004) instead of silently losing crash records."""
    s = make_server("prefork", extra="CrashTestStealSignals on", allowed=[r"SELFHEAL0004"])
    s.start()
    assert s.serves("/")
    wait_for(lambda: any("SELFHEAL0004" in l and "signal 11" in l for l in s.error_lines()),
             what="the SELFHEAL0004 warning")


def test_crash_log_size_cap(make_server):
    """A crash loop cannot fill the disk: past SelfHealCrashLogMaxSize records are dropped,
    and each drop is said in the error log."""
    s = make_server("prefork", coredump=False, extra="SelfHealCrashLogMaxSize 64K\n"
                    "SelfHealCrashLogFold off")
    s.start()
    cap = 64 * 1024
    for i in range(20):
        assert s.crash("/crash/null")
        s.wait_exit_signals(i + 1)
    wait_for(lambda: any("SELFHEAL0102" in l for l in s.error_lines()), what="a drop line")
    assert s.crash_log.stat().st_size <= cap
    recs = s.crash_records()  # every line that made it is whole and valid
    assert 1 <= len(recs) < 20
    drops = [l for l in s.error_lines() if "SELFHEAL0102" in l]
    assert len(recs) + len(drops) == 20, (len(recs), len(drops))
    assert "size cap" in drops[-1] and "/crash/null" in drops[-1]
