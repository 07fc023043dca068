#!/usr/bin/python3
"""Config-check cost: `apache2 -t` on generated configs of 100, 1,000 and 10,000 vhosts,
without and with mod_selfheal, side by side in one run.

Wall clock: the median of --runs runs each, plain and with-module runs alternating (a
shared machine's load hits both alike). Instructions: one run of each under
`valgrind --tool=callgrind` (the repeatable figure; skipped with --no-callgrind or when
valgrind is missing): all threads (the CPU the check costs), and httpd's main thread alone
(the wait: the module builds its model in a thread beside httpd's processing of the
tree, see module/httpd/config_prebuild.cpp). Target: at most 1.10x at 10,000
vhosts.

Two layouts, both by default: every vhost with its own DocumentRoot directory (so the
filesystem and run-user checks are not trivially shared), and 100 DocumentRoots shared
by all vhosts. Each vhost has ServerName/ServerAlias, a <Directory> section, and logs
in one of 10 shared log files. Usage:
  bench/config_bench.py [--build DIR] [--sizes 100,1000,10000] [--runs 15]
                        [--docroots per-vhost|shared|both] [--shared-docroot] [--no-callgrind]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HTTPD = os.environ.get("SELFHEAL_HTTPD", "/usr/sbin/apache2")
MODULES = Path(os.environ.get("SELFHEAL_HTTPD_MODULES", "/usr/lib/apache2/modules"))


def generate(root, n, module, shared_docroot):
    sites = root / "sites"
    sites.mkdir(exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    (root / "run").mkdir(exist_ok=True)
    os.chmod(root, 0o755)
    os.chmod(sites, 0o755)
    lines = [f'ServerRoot "{root}"', "ServerName localhost"]
    for m in ("mpm_event", "authz_core", "dir", "mime", "alias", "rewrite"):
        lines.append(f"LoadModule {m}_module {MODULES}/mod_{m}.so")
    if module:
        lines.append(f"LoadModule selfheal_module {module}")
    lines += ["User www-data", "Group www-data", f"PidFile {root}/run/httpd.pid",
              f"ErrorLog {root}/logs/error.log", "Listen 127.0.0.1:18080",
              "TypesConfig /etc/mime.types", f"DocumentRoot {sites}"]
    for i in range(n):
        doc = sites / (f"s{i % 100}" if shared_docroot else f"s{i}")
        if not doc.exists():
            doc.mkdir()
            os.chmod(doc, 0o755)
        lines += [
            "<VirtualHost *:18080>",
            f"  ServerName v{i}.example.test",
            f"  ServerAlias www.v{i}.example.test",
            f"  DocumentRoot {doc}",
            f"  ErrorLog {root}/logs/error{i % 10}.log",
            f"  CustomLog {root}/logs/access{i % 10}.log combined",
            f"  <Directory {doc}>",
            "    Require all granted",
            "  </Directory>",
            "</VirtualHost>",
        ]
    conf = root / f"httpd-{n}-{'mod' if module else 'plain'}.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def configtest(root, conf):
    t0 = time.perf_counter()
    p = subprocess.run([HTTPD, "-d", str(root), "-f", str(conf), "-t"], capture_output=True,
                       text=True)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"apache2 -t failed on {conf}:\n{p.stderr[-2000:]}")
    return elapsed, p.stderr


def instructions(root, conf):
    """Instructions executed by `apache2 -t` (callgrind's Ir): (all threads, main thread).

    With the module, a second thread builds the configuration model while httpd's main
    thread processes the directive tree; the main thread's count is the critical path, the
    one `apache2 -t` waits for on a machine with a core to spare (callgrind runs threads
    one at a time, so only instructions are comparable, not its timing)."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as out:
        p = subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes",
                            f"--callgrind-out-file={out}/cg", HTTPD, "-d", str(root), "-f",
                            str(conf), "-t"], capture_output=True, text=True)
        m = re.search(r"Collected : (\d+)", p.stderr)
        if p.returncode != 0 or not m:
            sys.exit(f"callgrind failed on {conf}:\n{p.stderr[-2000:]}")
        main = re.search(r"^(?:summary|totals): (\d+)", Path(out, "cg-01").read_text(), re.M)
        return int(m.group(1)), int(main.group(1))


def table(root, module, sizes, runs, shared, callgrind):
    layout = "100 shared DocumentRoots" if shared else "one DocumentRoot per vhost"
    print(f"\napache2 -t, {layout}: wall clock median of {runs} alternating runs"
          + (", instructions from callgrind" if callgrind else ""))
    head = f"{'vhosts':>8} {'without':>10} {'with':>10} {'ratio':>7}"
    if callgrind:
        head += (f" {'Ir without':>13} {'Ir with':>13} {'Ir ratio':>8}"
                 f" {'main thread':>13} {'ratio':>7}")
    print(head + f" {'findings':>9}")
    for n in sizes:
        sub = root / f"{'shared' if shared else 'per'}-{n}"
        sub.mkdir()
        plain = generate(sub, n, None, shared)
        withm = generate(sub, n, module, shared)
        configtest(sub, plain)  # warm the page cache and dentries for both
        configtest(sub, withm)
        t_plain, t_mod = [], []
        for _ in range(runs):
            t_plain.append(configtest(sub, plain)[0])
            t, err = configtest(sub, withm)
            t_mod.append(t)
        findings = sum(1 for line in err.splitlines() if "SELFHEAL030" in line)
        mp, mm = statistics.median(t_plain), statistics.median(t_mod)
        row = f"{n:>8} {mp * 1000:>8.1f}ms {mm * 1000:>8.1f}ms {mm / mp:>6.2f}x"
        if callgrind:
            ip, _ = instructions(sub, plain)
            im, im_main = instructions(sub, withm)
            row += f" {ip:>13,} {im:>13,} {im / ip:>7.3f}x {im_main:>13,} {im_main / ip:>6.3f}x"
        print(row + f" {findings:>9}", flush=True)
        shutil.rmtree(sub, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[1]
    ap.add_argument("--build", default=os.environ.get("SELFHEAL_BUILD_DIR", here / "build"))
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--docroots", choices=("per-vhost", "shared", "both"), default="both")
    ap.add_argument("--shared-docroot", action="store_true",
                    help="only the layout with 100 DocumentRoots shared by all vhosts")
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    a = ap.parse_args()
    module = Path(a.build).resolve() / "mod_selfheal.so"  # LoadModule needs it absolute
    if not module.exists():
        sys.exit(f"{module} not found (--build)")
    callgrind = not a.no_callgrind and shutil.which("valgrind") is not None
    layouts = {"per-vhost": [False], "shared": [True], "both": [False, True]}[
        "shared" if a.shared_docroot else a.docroots]
    sizes = [int(s) for s in a.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="selfheal-bench-"))
    os.chmod(root, 0o755)  # the run user must reach the DocumentRoots
    try:
        print(f"module {module}")
        for shared in layouts:
            table(root, module, sizes, a.runs, shared, callgrind)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
