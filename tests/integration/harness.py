"""A real httpd (Debian's apache2) on 127.0.0.1 with a generated server root.

Every server gets its own temporary ServerRoot, a free port, its own logs, run dir and core
directory; /etc/apache2 is never read or written. Tests check what an operator would check:
the files on disk, the error log, what a client sees.
"""
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HTTPD = os.environ.get("SELFHEAL_HTTPD", "/usr/sbin/apache2")
MODULES = Path(os.environ.get("SELFHEAL_HTTPD_MODULES", "/usr/lib/apache2/modules"))
BUILD = Path(os.environ.get("SELFHEAL_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
SOURCE = Path(os.environ.get("SELFHEAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
RUN_USER = "www-data"
# Sanitized runs (scripts/test-hardening): the ASan runtime httpd must load before a sanitized
# mod_selfheal.so, given to every httpd this harness starts as LD_PRELOAD.
HTTPD_PRELOAD = os.environ.get("SELFHEAL_HTTPD_PRELOAD", "")

# Error-log lines that are expected when workers crash on purpose. Anything else at
# [error]/[warn]/[crit]/[alert]/[emerg] fails the test (see Server.unexpected_log_lines).
CRASH_LINES = [
    r"AH00051: child pid \d+ exit signal",     # parent: child died by a signal (core)
    r"AH00052: child pid \d+ exit signal",     # parent: child died by a signal
    r"SELFHEAL01\d\d:",                        # our own crash summary lines
    r"SELFHEAL05(01|10):",                     # quarantine refusals, crash-loop diagnosis
    r"AH10392: children are killed successively",  # event MPM: children dying in a row
    r"AH00050: Child \d+ returned a Fatal error",
    r"AH00169: caught SIGTERM",
]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _raise_core_limit():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class Server:
    """One httpd. `extra` is appended to httpd.conf; `mpm` is event, worker or prefork.
    self_healing=True keeps mod_selfheal's quarantine and crash-log folding at their defaults."""

    def __init__(self, mpm="event", extra="", selfheal=True, crashtest=True, load_modules=(),
                 coredump=True, mpm_conf=None, crashlog_conf=None, log_level="warn",
                 self_healing=False):
        self.mpm = mpm
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"selfheal-{mpm}-"))
        os.chmod(self.root, 0o755)
        for d in ("conf", "logs", "run", "htdocs", "cores"):
            (self.root / d).mkdir()
        (self.root / "htdocs" / "index.html").write_text("hello from selfheal tests\n")
        (self.root / "htdocs" / "static.txt").write_text("x" * 1024)
        os.chmod(self.root / "htdocs", 0o755)
        (self.root / "conf" / "mime.types").write_text("text/html html\ntext/plain txt\n")
        shutil.chown(self.root / "cores", RUN_USER, RUN_USER)
        self.crash_log = self.root / "logs" / "selfheal_crash.log"
        self.error_log = self.root / "logs" / "error.log"
        self.conf = self.root / "conf" / "httpd.conf"
        lines = [
            f'ServerRoot "{self.root}"',
            f"LoadModule mpm_{mpm}_module {MODULES}/mod_mpm_{mpm}.so",
            f"LoadModule authz_core_module {MODULES}/mod_authz_core.so",
            f"LoadModule authz_host_module {MODULES}/mod_authz_host.so",
            f"LoadModule mime_module {MODULES}/mod_mime.so",
            f"LoadModule dir_module {MODULES}/mod_dir.so",
        ]
        for m in load_modules:
            lines.append(f"LoadModule {m}_module {MODULES}/mod_{m}.so")
        if selfheal:
            lines.append(f"LoadModule selfheal_module {BUILD}/mod_selfheal.so")
        if crashtest:
            lines.append(f"LoadModule selfheal_crashtest_module {BUILD}/mod_selfheal_crashtest.so")
        lines += [
            f"Listen 127.0.0.1:{self.port}",
            "ServerName 127.0.0.1",
            f"User {RUN_USER}",
            f"Group {RUN_USER}",
            f'PidFile "{self.root}/run/httpd.pid"',
            f'DefaultRuntimeDir "{self.root}/run"',
            f'Mutex file:{self.root}/run default',
            f'ErrorLog "{self.error_log}"',
            f"LogLevel {log_level}",
            'LogFormat "%h %l %u %t \\"%r\\" %>s %b" common',
            f'CustomLog "{self.root}/logs/access.log" common',
            f'DocumentRoot "{self.root}/htdocs"',
            f'TypesConfig "{self.root}/conf/mime.types"',
            "DirectoryIndex index.html",
            "<Directory />\n  Require all denied\n  AllowOverride None\n</Directory>",
            f'<Directory "{self.root}/htdocs">\n  Require all granted\n</Directory>',
        ]
        if coredump:
            lines.append(f'CoreDumpDirectory "{self.root}/cores"')
        if crashtest:
            lines.append("<Location /crash>\n  SetHandler selfheal-crashtest\n  Require all granted\n</Location>")
        lines.append(mpm_conf if mpm_conf is not None else self.default_mpm_conf(mpm))
        if crashlog_conf:
            lines.append(crashlog_conf)
        if selfheal and not self_healing:
            # Tests that crash one URL many times want every crash recorded: quarantine and
            # the crash-log fold limiter (both on by default) are off unless asked for, and a
            # test's own directives in `extra` (read later) override these.
            lines.append("SelfHealQuarantine off\nSelfHealCrashLogFold off")
        lines.append(extra)
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc_env = dict(os.environ, LANG="C")
        if HTTPD_PRELOAD:
            self.proc_env["LD_PRELOAD"] = HTTPD_PRELOAD

    @staticmethod
    def default_mpm_conf(mpm):
        if mpm == "prefork":
            return ("StartServers 2\nMinSpareServers 2\nMaxSpareServers 6\n"
                    "MaxRequestWorkers 32\nServerLimit 32\nMaxConnectionsPerChild 0")
        return ("StartServers 2\nServerLimit 16\nThreadsPerChild 8\nThreadLimit 8\n"
                "MaxRequestWorkers 128\nMinSpareThreads 8\nMaxSpareThreads 64\n"
                "MaxConnectionsPerChild 0")

    # ---- process control ------------------------------------------------------------------
    def httpd(self, *args, check=False, timeout=60):
        return subprocess.run([HTTPD, "-d", str(self.root), "-f", str(self.conf), *args],
                              capture_output=True, text=True, env=self.proc_env,
                              preexec_fn=_raise_core_limit, timeout=timeout, check=check)

    def configtest(self):
        return self.httpd("-t")

    def start(self, expect_ok=True):
        r = self.httpd("-k", "start")
        if expect_ok:
            assert r.returncode == 0, f"httpd -k start failed: {r.stderr}\n{self.read_error_log()}"
            wait_for(self.pid, what="the pid file")
            wait_for(self._accepts, what=f"port {self.port}")
        return r

    def _accepts(self):
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        return False

    def pid(self):
        with contextlib.suppress(OSError, ValueError):
            return int((self.root / "run" / "httpd.pid").read_text().strip())
        return None

    def alive(self):
        pid = self.pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def children(self):
        ppid = self.pid()
        out = []
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                with contextlib.suppress(OSError):
                    fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == ppid:
                        out.append(int(p.name))
        return out

    def graceful(self):
        r = self.httpd("-k", "graceful")
        assert r.returncode == 0, r.stderr
        return r

    def stop(self):
        pid = self.pid()
        if pid and self.alive():
            self.httpd("-k", "stop")
            with contextlib.suppress(AssertionError):
                wait_for(lambda: not self.alive(), timeout=15, what="httpd to stop")
            if self.alive():
                os.kill(pid, signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if os.environ.get("SELFHEAL_KEEP_ROOTS") != "1":
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- client ------------------------------------------------------------------------
    def request(self, path, method="GET", headers=None, body=None, timeout=10):
        """Returns (status, headers dict, body bytes); raises on a dropped connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request(path, **kw)

    def crash(self, path, headers=None, timeout=10):
        """Sends a request that kills its worker; returns True when the connection dropped."""
        try:
            self.request(path, headers=headers, timeout=timeout)
            return False
        except (ConnectionError, http.client.HTTPException, socket.timeout, OSError):
            return True

    def serves(self, path="/", tries=50):
        """The server still answers 200 (allowing for a child being replaced)."""
        for _ in range(tries):
            with contextlib.suppress(Exception):
                status, _, _ = self.request(path, timeout=5)
                if status == 200:
                    return True
            time.sleep(0.1)
        return False

    # ---- files -------------------------------------------------------------------------
    def read_error_log(self):
        with contextlib.suppress(OSError):
            return self.error_log.read_text(errors="replace")
        return ""

    def error_lines(self):
        return self.read_error_log().splitlines()

    def exit_signal_lines(self):
        return [l for l in self.error_lines() if re.search(r"AH0005[12]: child pid \d+ exit signal", l)]

    def crash_records(self):
        """Every line of the crash log, parsed; a line that is not JSON fails the test."""
        if not self.crash_log.exists():
            return []
        out = []
        for n, line in enumerate(self.crash_log.read_bytes().split(b"\n"), 1):
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise AssertionError(f"crash log line {n} is not valid JSON: {e}: {line[:200]!r}")
        return out

    def wait_records(self, n, timeout=15):
        return wait_for(lambda: (r := self.crash_records()) and len(r) >= n and r, timeout,
                        what=f"{n} crash record(s)")

    def wait_exit_signals(self, n, timeout=15):
        return wait_for(lambda: len(self.exit_signal_lines()) >= n, timeout,
                        what=f"{n} 'exit signal' line(s) in the error log")

    def cores(self):
        return sorted(p for p in (self.root / "cores").iterdir() if p.name.startswith("core"))

    def unexpected_log_lines(self, allowed=()):
        pats = [re.compile(p) for p in (*CRASH_LINES, *allowed)]
        bad = []
        for l in self.error_lines():
            if re.search(r"\[[a-z_0-9]+:(warn|error|crit|alert|emerg)\]", l):
                if not any(p.search(l) for p in pats):
                    bad.append(l)
        return bad


def selfheal_built():
    return (BUILD / "mod_selfheal.so").exists()
