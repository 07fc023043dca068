"""Every row of the catalog's "apache2 -t says Syntax OK" table: plain `apache2 -t` passes,
with mod_selfheal loaded the test fails (or warns) naming the rule and the directive's own
file:line."""
import os
import socket

import pytest

from config_helpers import gen_cert, parse_findings
from harness import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (run-user checks, ports)")


def check(root, rule, needle, severity="error", path=None, vhost=None):
    """Plain httpd says Syntax OK; with the module, `rule` fires at the line holding `needle`."""
    body = root.conf.read_text()
    # Without the module: the problem passes httpd's own test.
    root.conf.write_text(body.replace("LoadModule selfheal_module", "#LoadModule selfheal_module"))
    rc, out = root.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    root.conf.write_text(body)
    rc, out = root.configtest()
    found = [f for f in parse_findings(out) if f["rule"] == rule]
    assert found, f"{rule} not reported:\n{out}"
    f = found[0]
    assert f["file"] == str(path or root.conf), out
    assert int(f["line"]) == root.line_of(needle, path), out
    assert f["severity"] == severity, out
    if vhost is not None:
        assert f["vhost"] == vhost, out
    assert rc == (1 if severity == "error" else 0), out
    return f


def ssl_vhost(root, cert, key):
    return (
        f"<VirtualHost *:{root.port}>\n  ServerName localhost\n  SSLEngine on\n"
        f"  SSLCertificateFile {cert}\n  SSLCertificateKeyFile {key}\n</VirtualHost>\n")


SSL_MODS = ("ssl", "socache_shmcb")


def test_cert_key_mismatch(mini):
    r = mini(modules=SSL_MODS)
    cert, _ = gen_cert(r.root, "a")
    _, other_key = gen_cert(r.root, "b")
    r.write(ssl_vhost(r, cert, other_key))
    check(r, "TLS-001", "SSLCertificateKeyFile", vhost=f"localhost (*:{r.port})")


def test_key_given_as_certificate(mini):
    r = mini(modules=SSL_MODS)
    _, key = gen_cert(r.root, "a")
    r.write(ssl_vhost(r, key, key))
    check(r, "TLS-002", "SSLCertificateFile")


def test_expired_certificate(mini):
    r = mini(modules=SSL_MODS)
    cert, key = gen_cert(r.root, "old", days=0)
    r.write(ssl_vhost(r, cert, key))
    f = check(r, "TLS-003", "SSLCertificateFile")
    assert "expired" in f["message"]


def test_piped_log_program_missing(mini):
    r = mini()
    r.write(f'CustomLog "|{r.root}/bin/no-such-logger -x" combined\n')
    check(r, "LOG-001", "CustomLog")


def test_listen_port_taken(mini):
    r = mini()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", r.port))
        s.listen(1)
        r.write("")
        check(r, "NET-001", f"Listen 127.0.0.1:{r.port}")


def test_pidfile_directory_missing(mini):
    r = mini()
    r.write(f"PidFile {r.root}/nonexistent/httpd.pid\n")
    check(r, "RUN-001", "nonexistent/httpd.pid")


def test_vhost_documentroot_missing(mini):
    r = mini()
    r.write(f"<VirtualHost *:{r.port}>\n  ServerName a.test\n  DocumentRoot {r.root}/gone\n"
            "</VirtualHost>\n")
    check(r, "DOC-001", "/gone", vhost=f"a.test (*:{r.port})")


def test_directory_not_readable_by_run_user(mini):
    r = mini()
    private = r.root / "private"
    private.mkdir()
    os.chmod(private, 0o700)  # root only: `-t` runs as root and cannot notice
    r.write(f"<VirtualHost *:{r.port}>\n  ServerName p.test\n  DocumentRoot {private}\n"
            "</VirtualHost>\n")
    check(r, "DOC-002", f"DocumentRoot {private}")


def test_alias_to_missing_path(mini):
    r = mini(modules=("alias",))
    r.write(f"Alias /static {r.root}/static-gone\n")
    check(r, "MAP-001", "Alias /static", severity="warning")


def test_proxypass_without_proxy_http(mini):
    r = mini(modules=("proxy",))
    r.write("ProxyPass /app/ http://127.0.0.1:9/app/\n")
    check(r, "MAP-002", "ProxyPass /app/")


def test_per_directory_rewrite_loop(mini):
    r = mini(modules=("rewrite",))
    r.write(f"<Directory {r.root}/htdocs>\n  RewriteEngine on\n  RewriteRule ^(.*)$ /app/$1 [L]\n"
            "</Directory>\n")
    check(r, "MAP-004", "RewriteRule", severity="warning")


def test_htaccess_with_unloaded_module_directive(mini):
    r = mini()
    ht = r.root / "htdocs" / ".htaccess"
    ht.write_text("# from a CMS\nRewriteEngine on\nRewriteRule ^x$ y\n")
    r.write(f"<Directory {r.root}/htdocs>\n  AllowOverride All\n</Directory>\n")
    f = check(r, "HTA-001", "RewriteEngine", path=ht)
    assert "RewriteEngine" in f["message"]


def test_ip_vhost_beside_wildcard(mini):
    r = mini()
    r.write(f"<VirtualHost *:{r.port}>\n  ServerName a.test\n</VirtualHost>\n"
            f"<VirtualHost 127.0.0.1:{r.port}>\n  ServerName b.test\n</VirtualHost>\n")
    check(r, "NET-003", f"<VirtualHost 127.0.0.1:{r.port}>", severity="warning",
          vhost=f"b.test (127.0.0.1:{r.port})")


def test_max_request_workers_clamped(mini):
    r = mini()
    r.write("ServerLimit 2\nMaxRequestWorkers 400\n")
    f = check(r, "MPM-001", "MaxRequestWorkers 400", severity="warning")
    assert "50" in f["message"]


def test_directory_index_trailing_comment(mini):
    r = mini()
    r.write("DirectoryIndex index.html # comment\n")
    check(r, "SYN-001", "DirectoryIndex", severity="warning")


def test_clean_minimal_config_has_no_findings(mini):
    r = mini()
    rc, out = r.configtest()
    assert rc == 0 and "Syntax OK" in out and not parse_findings(out), out


def test_skip_per_vhost_and_global(mini):
    r = mini()
    r.write(f"<VirtualHost *:{r.port}>\n  ServerName a.test\n  SelfHealSkip DOC-001\n"
            f"  DocumentRoot {r.root}/gone\n</VirtualHost>\nSelfHealSkip SYN-*\n"
            "DirectoryIndex index.html # comment\n")
    rc, out = r.configtest()
    assert rc == 0 and not parse_findings(out), out


@pytest.mark.parametrize("line,allowed", [
    ("SelfHealValidate", "warn"),
    ("SelfHealValidate sometimes", "warn, enforce, off"),
    ("SelfHealValidate warn enforce", "warn"),
    ("SelfHealProfile paranoid", "safety, hardening"),
    ("SelfHealSkip", "rule ids"),
    ("SelfHealSkip NOPE-001", "TLS-001"),
    ("SelfHealRuleThreshold TLS-003 days", "RULE-ID NAME VALUE"),
    ("SelfHealRuleThreshold TLS-003 days 100000", "from 0 to 3650"),
    ("SelfHealRuleThreshold TLS-003 weeks 2", "days"),
    ("SelfHealRuleThreshold TLS-003 days 2 3", "RULE-ID NAME VALUE"),
])
def test_directive_rejects_bad_arguments(mini, line, allowed):
    r = mini()
    r.write(line + "\n")
    rc, out = r.configtest()
    assert rc != 0, out
    assert f"line {r.body_line} of {r.conf}" in out, out
    assert allowed in out, out


def test_enforce_refuses_first_start_warn_starts(mini):
    r = mini()
    r.write(f"SelfHealValidate enforce\n<VirtualHost *:{r.port}>\n  DocumentRoot {r.root}/gone\n"
            "</VirtualHost>\n")
    p = r.httpd("-k", "start")
    assert p.returncode != 0 and "SELFHEAL0311" in p.stderr + p.stdout, p.stderr
    assert not (r.root / "run" / "httpd.pid").exists()
    r.write(f"SelfHealValidate warn\n<VirtualHost *:{r.port}>\n  DocumentRoot {r.root}/gone\n"
            "</VirtualHost>\n")
    p = r.httpd("-k", "start")
    assert p.returncode == 0 and "DOC-001" in p.stderr, p.stderr
    # The daemon writes its pid file a moment after "-k start" returns; the fixture's
    # cleanup stops the server by that file, so wait for it (or the server outlives the test).
    wait_for(lambda: (r.root / "run" / "httpd.pid").exists(), timeout=10, what="the pid file")
