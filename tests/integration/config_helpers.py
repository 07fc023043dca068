"""Helpers for the config-validation integration tests.

Every server root is generated under a temporary directory (mode 0755 so the run user
can traverse it), binds 127.0.0.1 on a free port, and never reads or writes /etc/apache2
except to copy it (debian_root).
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HTTPD = os.environ.get("SELFHEAL_HTTPD", "/usr/sbin/apache2")
APACHECTL = "/usr/sbin/apache2ctl"
MODULES = Path(os.environ.get("SELFHEAL_HTTPD_MODULES", "/usr/lib/apache2/modules"))
BUILD = Path(os.environ.get("SELFHEAL_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
SOURCE = Path(os.environ.get("SELFHEAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
MODULE = BUILD / "mod_selfheal.so"
SELFHEALCTL = BUILD / "selfhealctl"
RUN_USER = "www-data"

FINDING = re.compile(
    r"SELFHEAL030[123]: (?P<file>\S+?):(?P<line>\d+): (?P<severity>error|warning|info) "
    r"(?P<rule>[A-Z]+-\d+)(?: \[(?P<vhost>[^\]]*)\])? (?P<message>.*)")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_root(prefix="selfheal-cfg-"):
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(root, 0o755)
    return root


def parse_findings(text):
    return [m.groupdict() for m in map(FINDING.search, text.splitlines()) if m]


def gen_cert(dirpath, name, cn="localhost", days=365, key_from=None):
    """A self-signed EC certificate (and key). key_from: reuse that key file."""
    dirpath = Path(dirpath)
    cert, key = dirpath / f"{name}.crt", dirpath / f"{name}.key"
    if key_from:
        shutil.copy(key_from, key)
        cmd = ["openssl", "req", "-x509", "-new", "-key", str(key)]
    else:
        cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key)]
    cmd += ["-out", str(cert), "-days", str(max(days, 1)), "-subj", f"/CN={cn}",
            "-addext", f"subjectAltName=DNS:{cn}"]
    subprocess.run(cmd, check=True, capture_output=True)
    if days < 1:  # expired yesterday
        subprocess.run(["openssl", "x509", "-in", str(cert), "-signkey", str(key), "-days", "-1",
                        "-out", str(cert)], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


class MiniRoot:
    """A minimal server root: conf/httpd.conf built from `body` lines."""

    BASE_MODULES = ("mpm_event", "authz_core", "dir", "mime")

    def __init__(self, body="", modules=(), selfheal=True, port=None):
        self.root = make_root()
        self.port = port or free_port()
        for d in ("conf", "logs", "run", "htdocs"):
            (self.root / d).mkdir()
            os.chmod(self.root / d, 0o755)
        (self.root / "htdocs" / "index.html").write_text("hello\n")
        self.conf = self.root / "conf" / "httpd.conf"
        self.selfheal = selfheal
        self.modules = list(self.BASE_MODULES) + [m for m in modules if m not in self.BASE_MODULES]
        self.write(body)

    def header(self, selfheal=None):
        selfheal = self.selfheal if selfheal is None else selfheal
        lines = [f'ServerRoot "{self.root}"', "ServerName localhost"]
        for m in self.modules:
            lines.append(f"LoadModule {m}_module {MODULES}/mod_{m}.so")
        if selfheal:
            lines.append(f"LoadModule selfheal_module {MODULE}")
        lines += [
            f"User {RUN_USER}", f"Group {RUN_USER}",
            f"PidFile {self.root}/run/httpd.pid",
            f"ErrorLog {self.root}/logs/error.log",
            "LogLevel warn",
            f"Listen 127.0.0.1:{self.port}",
            f"DocumentRoot {self.root}/htdocs",
            "TypesConfig /etc/mime.types",
        ]
        return lines

    def write(self, body, selfheal=None):
        """Writes the config; returns the 1-based line number where `body` starts."""
        head = self.header(selfheal)
        self.conf.write_text("\n".join(head + [body]) + "\n")
        self.body_line = len(head) + 1
        return self.body_line

    def line_of(self, needle, path=None):
        for i, line in enumerate(Path(path or self.conf).read_text().splitlines(), 1):
            if needle in line:
                return i
        raise AssertionError(f"{needle!r} not in {path or self.conf}")

    def configtest(self, env=None):
        p = subprocess.run([HTTPD, "-d", str(self.root), "-f", str(self.conf), "-t"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, **(env or {})))
        return p.returncode, p.stderr + p.stdout

    def httpd(self, *args):
        return subprocess.run([HTTPD, "-d", str(self.root), "-f", str(self.conf), *args],
                              capture_output=True, text=True, timeout=60)

    def cleanup(self):
        pid = self.root / "run" / "httpd.pid"
        if pid.exists():
            self.httpd("-k", "stop")
            time.sleep(0.5)
        shutil.rmtree(self.root, ignore_errors=True)


# ---- a copy of Debian's /etc/apache2 -----------------------------------------------------

class DebianRoot:
    """/etc/apache2 copied to <tmp>/etc/apache2 with every /var and /etc/apache2 path
    rewritten into the temp root, ports moved to 127.0.0.1:<free>, and mod_selfheal enabled
    the Debian way (mods-available/selfheal.load + a2enmod-style symlink)."""

    def __init__(self, mods=(), sites=(), selfheal=True):
        self.root = make_root("selfheal-debian-")
        self.etc = self.root / "etc" / "apache2"
        shutil.copytree("/etc/apache2", self.etc, symlinks=True)
        self.port, self.ssl_port = free_port(), free_port()
        self.www = self.root / "www"
        (self.www / "html").mkdir(parents=True)
        (self.www / "html" / "index.html").write_text("debian default page\n")
        for d in (self.root, self.root / "etc", self.www, self.www / "html"):
            os.chmod(d, 0o755)
        for d in ("run", "lock", "log"):
            (self.root / d).mkdir()
        self.env_vars = {
            "APACHE_RUN_DIR": self.root / "run", "APACHE_PID_FILE": self.root / "run" / "apache2.pid",
            "APACHE_LOCK_DIR": self.root / "lock", "APACHE_LOG_DIR": self.root / "log",
        }
        envvars = (self.etc / "envvars").read_text()
        for k, v in self.env_vars.items():
            envvars = re.sub(rf"^export {k}=.*$", f"export {k}={v}", envvars, flags=re.M)
        (self.etc / "envvars").write_text(envvars)
        self._rewrite_tree()
        if selfheal:
            # The shipped conf/selfheal.{load,conf}, the .load pointed at the build.
            (self.etc / "mods-available" / "selfheal.load").write_text(
                f"LoadModule selfheal_module {MODULE}\n")
            shipped = SOURCE / "conf" / "selfheal.conf"
            if shipped.exists():
                shutil.copy(shipped, self.etc / "mods-available" / "selfheal.conf")
            self.enable_mod("selfheal")
        for m in mods:
            self.enable_mod(m)
        if "ssl" in mods:
            self.cert, self.key = gen_cert(self.root, "snakeoil", cn="localhost")
            self._sub(self.etc / "sites-available" / "default-ssl.conf", {
                "/etc/ssl/certs/ssl-cert-snakeoil.pem": str(self.cert),
                "/etc/ssl/private/ssl-cert-snakeoil.key": str(self.key)})
        for s in sites:
            self.enable_site(s)

    def _sub(self, path, repl):
        text = path.read_text()
        for a, b in repl.items():
            text = text.replace(a, b)
        path.write_text(text)

    def _rewrite_tree(self):
        repl = {"/var/www": str(self.www),
                "Listen 80\n": f"Listen 127.0.0.1:{self.port}\n",
                "Listen 443\n": f"Listen 127.0.0.1:{self.ssl_port}\n",
                "<VirtualHost *:80>": f"<VirtualHost *:{self.port}>",
                "<VirtualHost *:443>": f"<VirtualHost *:{self.ssl_port}>"}
        for p in self.etc.rglob("*"):
            if p.is_file() and not p.is_symlink() and p.name != "magic":
                self._sub(p, repl)

    def enable_mod(self, name):
        for ext in ("load", "conf"):
            src = self.etc / "mods-available" / f"{name}.{ext}"
            dst = self.etc / "mods-enabled" / f"{name}.{ext}"
            if src.exists() and not dst.exists():
                dst.symlink_to(f"../mods-available/{name}.{ext}")
        # Dependencies a2enmod would pull in.
        deps = {"ssl": ["socache_shmcb", "setenvif", "mime"], "proxy_http": ["proxy"]}
        for d in deps.get(name, []):
            self.enable_mod(d)

    def enable_site(self, name):
        dst = self.etc / "sites-enabled" / f"{name}.conf"
        if not dst.exists():
            dst.symlink_to(f"../sites-available/{name}.conf")

    def references_outside(self):
        """Directive lines of the active config still naming /etc/apache2 or /var (none
        expected): apache2.conf, ports.conf and everything *-enabled."""
        files = [self.etc / "apache2.conf", self.etc / "ports.conf"]
        for d in ("mods-enabled", "conf-enabled", "sites-enabled"):
            files += sorted((self.etc / d).iterdir())
        bad = []
        for p in files:
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
                s = line.strip()
                if s.startswith("#"):
                    continue
                if "/etc/apache2" in s or re.search(r"(?<![\w/])/var/", s):
                    bad.append(f"{p}:{i}: {s}")
        return bad

    def env(self):
        return dict(os.environ, APACHE_CONFDIR=str(self.etc))

    def sh(self, cmd):
        """Runs a shell command with the copied envvars sourced (as apache2ctl does)."""
        return subprocess.run(["/bin/sh", "-c", f'. "{self.etc}/envvars" && {cmd}'],
                              capture_output=True, text=True, timeout=120, env=self.env())

    def configtest(self):
        p = self.sh(f'{HTTPD} -d "{self.etc}" -t')
        return p.returncode, p.stderr + p.stdout

    def apachectl(self, *args):
        p = subprocess.run([APACHECTL, *args], capture_output=True, text=True, timeout=120,
                           env=self.env())
        return p.returncode, p.stderr + p.stdout

    def start(self):
        p = self.sh(f'{HTTPD} -d "{self.etc}" -k start')
        assert p.returncode == 0, p.stderr + p.stdout
        pidfile = self.env_vars["APACHE_PID_FILE"]
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline, "server did not write its pid file"
            time.sleep(0.05)
        return int(pidfile.read_text())

    def pid(self):
        try:
            return int(self.env_vars["APACHE_PID_FILE"].read_text())
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.pid():
            self.sh(f'{HTTPD} -d "{self.etc}" -k stop')
            deadline = time.monotonic() + 10
            while self.pid() and time.monotonic() < deadline:
                try:
                    os.kill(self.pid(), 0)
                except OSError:
                    break
                time.sleep(0.05)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def lint(*args, env=None):
    p = subprocess.run([str(SELFHEALCTL), "lint", "--module", str(MODULE), *args],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr
