"""Quarantine under load: good URLs beside one poison URL that crashes its worker.

Debian's apache2 (event MPM) on loopback with mod_selfheal, twice in one run: quarantine off,
then on (SelfHealQuarantine 3 60). In each, a bounded wrk load (2 threads, 32 keep-alive
connections, a Lua mix of static files and handler URLs, one of them slow so that requests are
in flight when a worker dies) runs for --duration seconds while a separate loop sends the
poison URL /crash/null at a fixed rate on fresh connections. Prints, per mode: good-URL success
rate, good requests lost as collateral (socket errors and non-2xx answers on good URLs), p50/p99
latency of the good URLs, and what happened to the poison requests (crashed a worker / 503).
Collateral counts every good request that got no answer: the ones in flight on the dying
process and the next request on each of its idle keep-alive connections (which a browser
would retry). No core dumps are written (they would measure the disk).

    SELFHEAL_BUILD_DIR=build /usr/bin/python3 bench/quarantine_load.py [--duration 15] [--rate 10]
"""
import argparse
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import harness  # noqa: E402
from harness import Server  # noqa: E402

# No core dumps (the harness allows them for the crash tests): they would measure the disk.
harness._raise_core_limit = lambda: None

MPM = ("StartServers 8\nServerLimit 16\nThreadsPerChild 8\nThreadLimit 8\n"
       "MaxRequestWorkers 128\nMinSpareThreads 32\nMaxSpareThreads 128\n"
       "MaxConnectionsPerChild 0")
MODES = {
    "quarantine off": "SelfHealQuarantine off\n",
    "quarantine on": "SelfHealQuarantine 3 60\nSelfHealQuarantineDuration 300\n",
}
LUA = r"""
local paths = {"/static.txt", "/index.html", "/crash/ok", "/crash/sleep?20"}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def poison_loop(server, rate, stop, counts):
    interval = 1.0 / rate
    nxt = time.monotonic()
    while not stop.is_set():
        try:
            st, _, _ = server.request("/crash/null", timeout=5)
            counts["503" if st == 503 else str(st)] = counts.get("503" if st == 503 else str(st), 0) + 1
        except Exception:
            counts["crashed"] = counts.get("crashed", 0) + 1
        nxt += interval
        time.sleep(max(0.0, nxt - time.monotonic()))


def run_mode(name, conf, duration, rate, connections):
    s = Server("event", coredump=False, mpm_conf=MPM, extra=conf + "SelfHealCrashLogFold off\n")
    lua = s.root / "mix.lua"
    lua.write_text(LUA)
    try:
        s.start()
        assert s.serves("/static.txt")
        stop = threading.Event()
        counts = {}
        t = threading.Thread(target=poison_loop, args=(s, rate, stop, counts))
        wrk = subprocess.Popen(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
                                "-s", str(lua), f"http://127.0.0.1:{s.port}/"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)  # the load is running before the first poison request
        t.start()
        out, _ = wrk.communicate(timeout=duration + 120)
        stop.set()
        t.join()
        m = re.search(r"^\{.*\}$", out, re.M)
        if not m:
            raise RuntimeError(f"no summary from wrk:\n{out}")
        w = json.loads(m.group(0))
        deaths = len(s.exit_signal_lines())
    finally:
        s.cleanup()
    failed = w["connect"] + w["read"] + w["write"] + w["timeout"] + w["status"]
    # wrk counts a request in `requests` when its response arrived (non-2xx included in
    # errors.status); socket errors are requests that never got an answer.
    attempted = w["requests"] + w["connect"] + w["read"] + w["write"] + w["timeout"]
    ok = w["requests"] - w["status"]
    return dict(name=name, attempted=attempted, ok=ok, failed=failed, wrk=w,
                success=ok / attempted if attempted else 0.0, p50=w["p50_us"] / 1000,
                p99=w["p99_us"] / 1000, poison_crashed=counts.get("crashed", 0),
                poison_503=counts.get("503", 0), deaths=deaths)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=15, help="seconds of load per mode")
    ap.add_argument("--rate", type=float, default=10.0, help="poison requests per second")
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    rows = [run_mode(n, c, args.duration, args.rate, args.connections) for n, c in MODES.items()]
    print(f"\nGood URLs under wrk (2 threads, {args.connections} keep-alive connections, "
          f"{args.duration} s, event MPM, 8 children x 8 threads) + /crash/null at {args.rate:g}/s\n")
    print("| mode           | good requests | good-URL success | good killed (collateral) |"
          " p50 ms | p99 ms | poison: crashed / 503 | children died |")
    print("|----------------|---------------|------------------|--------------------------|"
          "--------|--------|-----------------------|---------------|")
    for r in rows:
        print(f"| {r['name']:<14} | {r['attempted']:>13,} | {r['success'] * 100:>15.3f}% |"
              f" {r['failed']:>24,} | {r['p50']:>6.2f} | {r['p99']:>6.1f} |"
              f" {r['poison_crashed']:>9} / {r['poison_503']:<9} | {r['deaths']:>13} |")
    print()
    for r in rows:
        w = r["wrk"]
        print(f"{r['name']}: socket errors connect {w['connect']}, read {w['read']}, write "
              f"{w['write']}, timeout {w['timeout']}; non-2xx {w['status']}")
    on = rows[-1]
    verdict = "meets" if on["success"] >= 0.999 else "MISSES"
    print(f"\nquarantine on: {on['success'] * 100:.3f}% good-URL success ({verdict} the 99.9% target)")


if __name__ == "__main__":
    main()
