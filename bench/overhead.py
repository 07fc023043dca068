"""Per-request cost of mod_selfheal, beside no module and mod_log_forensic, in one run.

Each configuration runs Debian's apache2 (event MPM, -X) under `valgrind --tool=callgrind`;
after a warm-up two runs serve N/5 and N keep-alive GETs of a static file, and the difference of
their instruction totals is divided by the difference of their request counts. A second pass under strace counts
the system calls per request. Instruction counts, not seconds: repeatable on a shared machine.

    /usr/bin/python3 bench/overhead.py [--requests N]
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from harness import HTTPD, MODULES, Server, wait_for  # noqa: E402

CONFIGS = {
    "no module": dict(selfheal=False, extra=""),
    "mod_selfheal": dict(selfheal=True, extra=""),
    "mod_log_forensic": dict(selfheal=False, extra=(
        f"LoadModule log_forensic_module {MODULES}/mod_log_forensic.so\n"
        "ForensicLog logs/forensic.log")),
}
ONE_CHILD = ("StartServers 1\nServerLimit 1\nThreadsPerChild 4\nThreadLimit 4\n"
             "MaxRequestWorkers 4\nMinSpareThreads 1\nMaxSpareThreads 4")


def keepalive_gets(port, n, path="/static.txt"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(n):
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
    conn.close()


def start_x(server, wrapper):
    p = subprocess.Popen([*wrapper, HTTPD, "-X", "-d", str(server.root), "-f", str(server.conf)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(server._accepts, timeout=120, what="httpd -X under " + wrapper[0])
    return p


def stop_x(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def callgrind_total(server, n):
    """Instructions of a whole httpd -X run that serves 50 warm-up + n requests."""
    # httpd drops to its run user before exiting, when callgrind writes the file.
    out = server.root / "cores" / f"callgrind.{n}.out"
    out.touch()
    shutil.chown(out, "www-data", "www-data")
    p = start_x(server, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"])
    try:
        keepalive_gets(server.port, 50)
        keepalive_gets(server.port, n)
    finally:
        stop_x(p)
    m = re.search(r"^(?:summary|totals):\s*(\d+)", out.read_text(errors="replace"), re.M)
    if not m:
        raise RuntimeError(f"no totals in {out}")
    return int(m.group(1))


def callgrind_per_request(server, n):
    """Two runs, n/5 and n requests: start-up and shutdown cancel out in the difference.
    (callgrind_control -z cannot be used: an idle httpd never polls for the command.)"""
    small = max(n // 5, 1)
    return (callgrind_total(server, n) - callgrind_total(server, small)) / (n - small)


def syscalls_per_request(server, n):
    log = server.root / "strace.log"
    p = start_x(server, ["strace", "-f", "-qq", "-o", str(log), "-e",
                         "trace=write,writev,pwrite64,sendfile,sendmsg,read,epoll_wait,mmap,"
                         "sigaltstack,rt_sigaction,openat,fstat"])
    try:
        keepalive_gets(server.port, 50)
        mark = len(log.read_text().splitlines())
        keepalive_gets(server.port, n)
        time.sleep(0.3)
        lines = log.read_text().splitlines()[mark:]
    finally:
        stop_x(p)
    calls = {}
    for l in lines:
        m = re.match(r"^\d+\s+(\w+)\(", l)
        if m:
            calls[m.group(1)] = calls.get(m.group(1), 0) + 1
    total = sum(calls.values())
    writes = calls.get("write", 0) + calls.get("pwrite64", 0)
    return total / n, writes / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--no-strace", action="store_true")
    args = ap.parse_args()
    rows = []
    for name, cfg in CONFIGS.items():
        s = Server("event", crashtest=False, selfheal=cfg["selfheal"], extra=cfg["extra"],
                   mpm_conf=ONE_CHILD, coredump=False, self_healing=True)  # module defaults
        try:
            ir = callgrind_per_request(s, args.requests)
            sc = (None, None) if args.no_strace else syscalls_per_request(s, min(args.requests, 500))
        finally:
            s.cleanup()
        rows.append((name, ir, *sc))
    base = rows[0][1]
    print(f"\nKeep-alive GET of a 1 KiB static file, event MPM, {args.requests} requests "
          "(callgrind instructions per request; traced syscalls per request)\n")
    print(f"| {'configuration':<18} | {'instr/request':>14} | {'vs no module':>12} | "
          f"{'syscalls/req':>12} | {'write(2)/req':>12} |")
    print(f"|{'-' * 20}|{'-' * 16}|{'-' * 14}|{'-' * 14}|{'-' * 14}|")
    for name, ir, sc, wr in rows:
        ratio = f"{ir / base:.4f}x"
        scs = "-" if sc is None else f"{sc:.2f}"
        wrs = "-" if wr is None else f"{wr:.2f}"
        print(f"| {name:<18} | {ir:>14,.0f} | {ratio:>12} | {scs:>12} | {wrs:>12} |")
    sh = rows[1][1] / base - 1
    print(f"\nmod_selfheal adds {sh * 100:+.2f}% instructions per request (target: at most +1%).")


if __name__ == "__main__":
    main()
