"""Time from the fault to the crash record being in the crash log, on a real httpd.

For each crash: the record's `time_us` is taken when the handler starts (the fault plus the
kernel's signal delivery); a client thread polls the crash log's size in a tight loop and notes
when the record has landed. fault->record = landed - time_us (both CLOCK_REALTIME). Printed for
a shallow crash (null dereference) and a deep one (stack overflow, 128 frames unwound), beside
the request->fault time as the baseline of what the client cannot avoid.

    /usr/bin/python3 bench/fault_to_record.py [--crashes N]
"""
import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from harness import Server  # noqa: E402


def measure(server, kind, n):
    fault_to_record, request_to_fault = [], []
    for i in range(n):
        size0 = server.crash_log.stat().st_size if server.crash_log.exists() else 0
        landed = []

        def poll():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    if os.stat(server.crash_log).st_size > size0:
                        landed.append(time.time_ns() // 1000)
                        return
                except FileNotFoundError:
                    pass

        t = threading.Thread(target=poll)
        t.start()
        t0 = time.time_ns() // 1000
        server.crash(f"/crash/{kind}")
        t.join()
        rec = server.wait_records(i + 1 + server.base)[-1]
        if landed:
            fault_to_record.append((landed[0] - rec["time_us"]) / 1000)
            request_to_fault.append((rec["time_us"] - t0) / 1000)
        server.serves("/")
    return fault_to_record, request_to_fault


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crashes", type=int, default=30)
    args = ap.parse_args()
    s = Server("prefork", coredump=False)
    s.start()
    s.base = 0
    rows = []
    try:
        for kind, label in (("null", "null dereference"), ("stack", "stack overflow")):
            f2r, r2f = measure(s, kind, args.crashes)
            s.base += args.crashes
            rows.append((label, f2r, r2f, len(s.crash_records()[-1]["frames"])))
    finally:
        s.cleanup()
    print(f"\nFault to record on disk, prefork, {args.crashes} crashes each (milliseconds)\n")
    print(f"| {'crash':<17} | {'frames':>6} | {'fault->record p50':>17} | {'p90':>6} | {'max':>6} "
          f"| {'baseline: request->fault p50':>28} |")
    print(f"|{'-' * 19}|{'-' * 8}|{'-' * 19}|{'-' * 8}|{'-' * 8}|{'-' * 30}|")
    for label, f2r, r2f, frames in rows:
        print(f"| {label:<17} | {frames:>6} | {statistics.median(f2r):>17.2f} | "
              f"{pct(f2r, 90):>6.2f} | {max(f2r):>6.2f} | {statistics.median(r2f):>28.2f} |")


if __name__ == "__main__":
    main()
