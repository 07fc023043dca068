"""A crash storm: 200+ worker crashes while a bounded wrk load runs on loopback. Afterwards
every dead child left exactly one valid record, no child hangs, and the server serves."""
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import wait_for

CRASHES = 200  # dead children, not requests: under event one death can take several
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
                    # every crash recorded, none refused: this is about capture, not healing
                    extra="SelfHealCrashLogFold off\nSelfHealQuarantine off")
    s.start()
    wrk = subprocess.Popen(
        ["wrk", "-t2", "-c16", "-d240s", "--timeout", "5s", f"http://127.0.0.1:{s.port}/static.txt"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dropped = 0
    lock = threading.Lock()
    deadline = time.monotonic() + 240

    def crasher(k):
        nonlocal dropped
        i = k
        while time.monotonic() < deadline and len(s.exit_signal_lines()) < CRASHES:
            if s.crash(f"/crash/{['null', 'fpe', 'abort', 'bus'][i % 4]}", timeout=20):
                with lock:
                    dropped += 1
            i += 4

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(crasher, range(4)))
    finally:
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)  # wrk stops and prints its summary
        out, _ = wrk.communicate(timeout=120)
    exits = len(s.exit_signal_lines())
    assert exits >= CRASHES, f"only {exits} children died in the time allowed"
    assert dropped >= exits, f"{dropped} crash requests dropped for {exits} deaths"
    # One record per dead child, matched by pid (the parent logs a death when it reaps the
    # child, which can lag the record by a maintenance cycle).
    def dead_pids():
        return {int(m.group(1)) for l in s.exit_signal_lines()
                if (m := re.search(r"child pid (\d+) exit signal", l))}

    def settled():
        recs = s.crash_records()  # fails on any line that is not valid JSON
        return {r["pid"] for r in recs} == dead_pids() and recs

    records = wait_for(settled, timeout=20, what="one record for each dead child")
    exits = len(dead_pids())
    assert len(records) == exits, f"{len(records)} records for {exits} dead children"
    assert len({r["pid"] for r in records}) == len(records), "two records from one process"
    for r in records:
        assert r["request"] and r["request"]["path"].startswith("/crash/")
        assert r["frames"] and r["signal"]["name"] in ("SIGSEGV", "SIGFPE", "SIGABRT", "SIGBUS")
    # wrk ran its bounded load all through the storm and got answers.
    m = re.search(r"(\d+) requests in", out)
    assert m and int(m.group(1)) > 100, out
    errors = " ".join(re.findall(r"Non-2xx or 3xx responses: \d+|Socket errors: [^\n]*", out))
    print(f"\ncrash storm [{mpm}]: {exits} children died, {len(records)} records, "
          f"{dropped} crash requests dropped; wrk: {m.group(1)} requests {errors}")
    # No hung child: every child is running or sleeping, and the server still answers.
    # (a zombie is a child the parent has not reaped yet: it must be gone within seconds)
    wait_for(lambda: all(st in "RS" for st in child_states(s).values()), timeout=15,
             what=f"every child running or sleeping: {child_states(s)}")
    assert s.serves("/static.txt")
    s.stop()
    assert not s.alive(), "httpd did not stop: a child hangs"
