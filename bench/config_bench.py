#!/usr/bin/python3
"""Config-check cost: `apache2 -t` on generated configs of 100, 1,000 and 10,000 vhosts,
without and with mod_selfheal, side by side in one run (median of --runs runs each).

Every vhost has its own ServerName/ServerAlias, its own DocumentRoot directory (so the
filesystem and run-user checks are not trivially shared), a <Directory> section, and
logs in one of 10 shared log files. Usage:
  bench/config_bench.py [--build DIR] [--sizes 100,1000,10000] [--runs 5] [--shared-docroot]
"""
import argparse
import os
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


def time_configtest(root, conf, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run([HTTPD, "-d", str(root), "-f", str(conf), "-t"], capture_output=True,
                           text=True)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            sys.exit(f"apache2 -t failed on {conf}:\n{p.stderr[-2000:]}")
    return statistics.median(times), p.stderr


def main():
    ap = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[1]
    ap.add_argument("--build", default=os.environ.get("SELFHEAL_BUILD_DIR", here / "build"))
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shared-docroot", action="store_true",
                    help="100 DocumentRoots shared by all vhosts instead of one each")
    a = ap.parse_args()
    module = Path(a.build) / "mod_selfheal.so"
    if not module.exists():
        sys.exit(f"{module} not found (--build)")
    root = Path(tempfile.mkdtemp(prefix="selfheal-bench-"))
    try:
        print(f"apache2 -t, median of {a.runs} runs; module {module}")
        print(f"{'vhosts':>8} {'without':>10} {'with':>10} {'ratio':>7} {'findings':>9}")
        for n in (int(s) for s in a.sizes.split(",")):
            plain = generate(root, n, None, a.shared_docroot)
            withm = generate(root, n, module, a.shared_docroot)
            # Interleave so both see the same cache state.
            time_configtest(root, plain, 1)
            time_configtest(root, withm, 1)
            t_plain, _ = time_configtest(root, plain, a.runs)
            t_mod, err = time_configtest(root, withm, a.runs)
            findings = sum(1 for line in err.splitlines() if "SELFHEAL030" in line)
            print(f"{n:>8} {t_plain * 1000:>8.1f}ms {t_mod * 1000:>8.1f}ms "
                  f"{t_mod / t_plain:>6.2f}x {findings:>9}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
