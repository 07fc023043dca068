"""A crash storm: 200+ worker crashes while a bounded wrk load runs on loopback. Afterwards
every dead child left exactly one valid record, no child hangs, and the server serves."""
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import wait_for

CRASHES = 200
STORM_CONF = ("StartServers 4\nServerLimit 16\nThreadsPerChild 8\nThreadLimit 8\n"
              "MaxRequestWorkers 128\nMinSpareThreads 16\nMaxSpareThreads 128\n"
              "MaxConnectionsPerChild 0")


def child_states(server):
    out = {}
    for pid in server.children():
        try:
            out[pid] = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            pass
    return out


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_crash_storm(make_server, mpm):
    # No core dumps here: 200 of them would only measure the disk.
    s = make_server(mpm, coredump=False, mpm_conf=STORM_CONF if mpm != "prefork" else None,
                    extra="SelfHealCrashLogFold off")
    s.start()
    wrk = subprocess.Popen(
        ["wrk", "-t2", "-c16", "-d60s", "--timeout", "5s", f"http://127.0.0.1:{s.port}/static.txt"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dropped = 0
    lock = threading.Lock()
    deadline = time.monotonic() + 150

    def one(i):
        nonlocal dropped
        if time.monotonic() > deadline:
            return
        if s.crash(f"/crash/{['null', 'fpe', 'abort', 'bus'][i % 4]}", timeout=20):
            with lock:
                dropped += 1

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(CRASHES)))
    finally:
        out, _ = wrk.communicate(timeout=120)
    assert dropped >= CRASHES * 0.95, f"only {dropped} crash requests dropped their connection"
    # Every dead child: one exit-signal line from the parent and one record from us.
    exits = wait_for(lambda: len(s.exit_signal_lines()) >= 150 and len(s.exit_signal_lines()),
                     timeout=30, what="the parent to log the deaths")
    time.sleep(2)
    exits = len(s.exit_signal_lines())
    records = s.crash_records()  # fails on any line that is not valid JSON
    assert exits >= 150
    assert len(records) == exits, f"{len(records)} records for {exits} dead children"
    assert len({r["pid"] for r in records}) == len(records), "two records from one process"
    for r in records:
        assert r["request"] and r["request"]["path"].startswith("/crash/")
        assert r["frames"] and r["signal"]["name"] in ("SIGSEGV", "SIGFPE", "SIGABRT", "SIGBUS")
    # wrk ran its bounded load to the end and got answers.
    m = re.search(r"(\d+) requests in", out)
    assert m and int(m.group(1)) > 100, out
    # No hung child: every child is running or sleeping, and the server still answers.
    # (a zombie is a child the parent has not reaped yet: it must be gone within seconds)
    wait_for(lambda: all(st in "RS" for st in child_states(s).values()), timeout=15,
             what=f"every child running or sleeping: {child_states(s)}")
    assert s.serves("/static.txt")
    s.stop()
    assert not s.alive(), "httpd did not stop: a child hangs"
