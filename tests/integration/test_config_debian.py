"""Precision on the stock Debian configuration, and the reload guard end to end.

/etc/apache2 is copied to a temp root (paths and ports rewritten, see DebianRoot); nothing
under /etc/apache2 or /var is read by httpd or written."""
import http.client
import os
import ssl
import threading
import time

import pytest

from config_helpers import DebianRoot, lint, parse_findings

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (run user, apache2ctl)")

FULL = dict(mods=("ssl", "proxy", "proxy_http", "rewrite"), sites=("default-ssl",))


@pytest.fixture
def debian():
    made = []

    def factory(**kw):
        d = DebianRoot(**kw)
        made.append(d)
        return d

    yield factory
    for d in made:
        d.cleanup()


@pytest.mark.parametrize("setup", [{}, FULL], ids=["stock", "ssl+proxy+rewrite"])
def test_stock_debian_has_zero_safety_findings(debian, setup):
    d = debian(**setup)
    assert d.references_outside() == []
    rc, out = d.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    assert parse_findings(out) == [], out
    assert "SELFHEAL03" not in out, out
    rc, text, err = lint("-d", str(d.etc), "--fail-on", "info", env={"APACHE_CONFDIR": str(d.etc)})
    assert rc == 0, text + err
    assert "0 error(s), 0 warning(s), 0 info" in text
    # ...and it also starts and serves.
    d.start()
    assert get(d.port)[0] == 200
    if setup:
        assert get(d.ssl_port, tls=True)[0] == 200


def get(port, tls=False, path="/"):
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Load:
    """Requests in a loop on both ports; every one must succeed."""

    def __init__(self, d):
        self.d, self.ok, self.failures, self.stop = d, 0, [], False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            for port, tls in ((self.d.port, False), (self.d.ssl_port, True)):
                try:
                    status, _ = get(port, tls)
                    if status == 200:
                        self.ok += 1
                    else:
                        self.failures.append(status)
                except Exception as e:  # noqa: BLE001 - any failure counts
                    self.failures.append(repr(e))
            time.sleep(0.01)

    def finish(self):
        self.stop = True
        self.t.join(10)
        return self.ok, self.failures


def graceful_refused(d, edit, rule):
    pid = d.start()
    load = Load(d)
    # A clean graceful goes through (no false NET-001 on our own listeners).
    rc, out = d.apachectl("graceful")
    assert rc == 0, out
    time.sleep(1)
    edit(d)
    rc, out = d.apachectl("graceful")
    assert rc != 0, out
    assert any(f["rule"] == rule and f["severity"] == "error" for f in parse_findings(out)), out
    time.sleep(2)
    ok, failures = load.finish()
    assert failures == [], failures
    assert ok > 20
    assert d.pid() == pid
    os.kill(pid, 0)
    assert get(d.port)[0] == 200 and get(d.ssl_port, tls=True)[0] == 200


def test_reload_guard_cert_key_mismatch(debian):
    from config_helpers import gen_cert

    def mismatch(d):
        _, other = gen_cert(d.root, "other")
        conf = d.etc / "sites-available" / "default-ssl.conf"
        conf.write_text(conf.read_text().replace(str(d.key), str(other)))

    graceful_refused(debian(**FULL), mismatch, "TLS-001")


def test_reload_guard_missing_piped_logger(debian):
    def piped(d):
        conf = d.etc / "sites-available" / "000-default.conf"
        text = conf.read_text().replace("CustomLog ${APACHE_LOG_DIR}/access.log combined",
                                        'CustomLog "|/usr/local/bin/no-such-logger" combined')
        assert "no-such-logger" in text
        conf.write_text(text)

    graceful_refused(debian(**FULL), piped, "LOG-001")
