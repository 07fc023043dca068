"""The demo behind scripts/demo: a live httpd with mod_selfheal, one crash, its record."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SELFHEAL_BUILD_DIR", str(ROOT / "build"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from harness import Server  # noqa: E402


def main():
    os.environ["SELFHEAL_KEEP_ROOTS"] = "1"
    s = Server("event", extra=(
        "<Location /selfheal-status>\n  SetHandler selfheal-status\n  Require local\n</Location>"
        if "--no-status" not in sys.argv else ""))
    print(f"== server root: {s.root}")
    print(f"== starting Debian's apache2 (event MPM) with mod_selfheal on 127.0.0.1:{s.port}")
    s.start()
    status, _, body = s.get("/")
    print(f"GET /            -> {status} {body.decode().strip()!r}")
    print("GET /crash/null  -> (a worker dereferences a null pointer on purpose)")
    dropped = s.crash("/crash/null?user=demo", headers={"Cookie": "session=never-logged"})
    print(f"                   connection {'dropped: the worker died' if dropped else 'answered?!'}")
    rec = s.wait_records(1)[-1]
    s.wait_exit_signals(1)
    print(f"\n== the crash record ({s.crash_log}, one JSON object per line):")
    shown = dict(rec)
    shown["modules"] = f"[{len(rec['modules'])} loaded objects with build-ids]"
    shown["frames"] = rec["frames"][:8] + ([f"... {len(rec['frames']) - 8} more"]
                                           if len(rec["frames"]) > 8 else [])
    print(json.dumps(shown, indent=2))
    print("\n== the error log says:")
    for line in s.error_lines():
        if "SELFHEAL" in line or "exit signal" in line:
            print("  " + line)
    ctl = ROOT / "build" / "selfhealctl"
    if ctl.exists():
        print(f"\n== {ctl.name} crashes {s.crash_log}")
        subprocess.run([str(ctl), "crashes", str(s.crash_log)], check=False)
    print(f"\n== still serving: GET / -> {s.get('/')[0]}")
    print(f"\nThe server keeps running. Try:  curl -s http://127.0.0.1:{s.port}/crash/fpe")
    print(f"Stop it with:  apache2 -d {s.root} -f {s.conf} -k stop")


if __name__ == "__main__":
    main()
