"""The security promises of mod_selfheal (README "Threat model"), on a real httpd:

- secrets sent in a crashing request (Authorization, Proxy-Authorization, Cookie, a token in
  the query) never reach the crash log or the error log;
- the crash log is created 0640 by root, never through a symlink (a pre-planted one fails
  start-up with a clear message and its target is untouched), and the run user cannot write it;
- the status handler answers GET and HEAD (and the POST lift) only, and the sample config
  restricts it to local clients;
- a crashing request with a 100 KB URI or 100 headers of 8 KB still gives one bounded, valid
  record.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import BUILD, RUN_USER, SOURCE, selfheal_built

pytestmark = pytest.mark.skipif(not selfheal_built(), reason="mod_selfheal.so not built")

MAX_RECORD = 64 * 1024
SECRETS = {
    "Authorization": "Bearer AUTHZ-S3CRET-0f1e2d",
    "Proxy-Authorization": "Basic UFJPWFktUzNDUkVU",
    "Cookie": "session=COOKIE-S3CRET-9a8b7c; theme=dark",
}
QUERY_SECRET = "QUERY-S3CRET-5d4c3b"


def module_knows(word):
    return word.encode() in (BUILD / "mod_selfheal.so").read_bytes()


def run_user_can_write(path):
    """access(W_OK) as the run user (setpriv: no shell, no PAM)."""
    r = subprocess.run(["setpriv", f"--reuid={RUN_USER}", f"--regid={RUN_USER}", "--init-groups",
                        "test", "-w", str(path)], capture_output=True)
    return r.returncode == 0


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_secrets_in_a_crashing_request_never_reach_the_logs(make_server, mpm):
    s = make_server(mpm)
    s.start()
    assert s.crash(f"/crash/null?token={QUERY_SECRET}&x=1", headers=dict(SECRETS))
    rec = s.wait_records(1)[0]
    s.wait_exit_signals(1)
    crash_log = s.crash_log.read_bytes()
    error_log = s.error_log.read_bytes()
    for value in [*SECRETS.values(), QUERY_SECRET, "S3CRET", "UFJPWFktUzNDUkVU"]:
        assert value.encode() not in crash_log, f"{value!r} in the crash log"
        assert value.encode() not in error_log, f"{value!r} in the error log"
    req = rec["request"]
    assert req["path"] == "/crash/null"
    assert "query" not in req
    headers = {k.lower(): v for k, v in req["headers"].items()}
    for name in SECRETS:
        assert headers[name.lower()] == "[redacted]", name


def test_crash_log_is_0640_root_and_not_writable_by_the_run_user(make_server):
    s = make_server()
    s.start()
    st = s.crash_log.stat()
    assert oct(st.st_mode & 0o7777) == oct(0o640)
    assert st.st_uid == 0
    assert not run_user_can_write(s.crash_log)
    # ...and the children, running as the run user, still write their records to it.
    assert s.crash("/crash/null")
    s.wait_records(1)


def test_crash_log_created_0640_whatever_the_umask(make_server):
    s = make_server()
    r = subprocess.run(["sh", "-c", 'umask 000 && exec "$@"', "sh", "/usr/sbin/apache2", "-d",
                        str(s.root), "-f", str(s.conf), "-k", "start"],
                       capture_output=True, text=True, env=s.proc_env)
    assert r.returncode == 0, r.stderr
    from harness import wait_for
    wait_for(s.pid, what="the pid file")
    assert oct(s.crash_log.stat().st_mode & 0o7777) == oct(0o640)


def test_crash_log_symlink_fails_start_up_and_leaves_the_target_alone(make_server):
    s = make_server()
    target = s.root / "precious.txt"
    target.write_text("do not touch\n")
    os.chmod(target, 0o600)
    before = target.stat()
    s.crash_log.symlink_to(target)
    r = s.start(expect_ok=False)
    assert r.returncode != 0 or not s.alive()
    from harness import wait_for
    wait_for(lambda: not s.alive(), timeout=10, what="httpd to give up")
    log = s.read_error_log() + r.stdout + r.stderr
    assert re.search(r"SELFHEAL0001: cannot open the crash log .*selfheal_crash\.log.*symbolic link",
                     log), log
    after = target.stat()
    assert target.read_text() == "do not touch\n"
    assert (after.st_mode, after.st_uid, after.st_size, after.st_mtime_ns) == \
        (before.st_mode, before.st_uid, before.st_size, before.st_mtime_ns)
    assert s.crash_log.is_symlink()
    s.allowed = (r"SELFHEAL0001", r"AH00016: Configuration Failed", r"AH00015: Unable to open logs")


def test_crash_log_that_is_not_a_regular_file_fails_start_up(make_server):
    s = make_server()
    s.crash_log.mkdir()
    r = s.start(expect_ok=False)
    log = s.read_error_log() + r.stdout + r.stderr
    assert re.search(r"SELFHEAL000[12]", log), log
    assert not s.alive()
    s.allowed = (r"SELFHEAL000[12]", r"AH00016", r"AH00015")


STATUS_CONF = "<Location /selfheal-status>\n  SetHandler selfheal-status\n  Require local\n</Location>"


@pytest.fixture
def status_server(make_server):
    if not module_knows("selfheal-status"):
        pytest.skip("selfheal-status is not in the built module")
    s = make_server(extra=STATUS_CONF)
    s.start()
    return s


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_status_handler_answers_get_and_head(status_server, method):
    status, _, _ = status_server.request("/selfheal-status", method=method)
    assert status == 200
    status, headers, _ = status_server.request("/selfheal-status?json", method=method)
    assert status == 200 and "json" in headers.get("content-type", "")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "BREW"])
def test_status_handler_refuses_other_methods(status_server, method):
    status, headers, _ = status_server.request("/selfheal-status", method=method, body=b"x=1")
    assert status in (405, 501), (method, status)  # 501: a method httpd does not know
    if status == 405:
        allow = {m.strip() for m in headers.get("allow", "").split(",")}
        assert allow <= {"GET", "HEAD", "POST", "OPTIONS", "TRACE"} and "GET" in allow, allow
        assert not {"PUT", "DELETE", "PATCH"} & allow


def test_sample_config_restricts_the_status_page_to_local_clients():
    text = (SOURCE / "conf" / "selfheal.conf").read_text()
    blocks = re.findall(r"<(Location(?:Match)?)\b[^>]*>(.*?)</\1>", text, re.S | re.I)
    status = [body for _, body in blocks if re.search(r"SetHandler\s+selfheal-status", body, re.I)]
    if not status:
        assert not re.search(r"SetHandler\s+selfheal-status", text, re.I), \
            "selfheal-status outside a <Location> block"
        pytest.fail("conf/selfheal.conf offers no <Location> for selfheal-status with Require local")
    for body in status:
        requires = [l.strip() for l in body.splitlines() if re.match(r"\s*Require\b", l, re.I)]
        assert requires, "the status <Location> has no Require"
        assert all(re.match(r"Require\s+(local|ip\s+127\.|ip\s+::1)", r, re.I) for r in requires), \
            requires


BIG_LIMITS = ("LimitRequestLine 200000\nLimitRequestFieldSize 16384\nLimitRequestFields 200\n"
              "LimitRequestBody 0")


def check_bounded(s, rec):
    line = s.crash_log.read_bytes()
    assert line.endswith(b"\n") and line.count(b"\n") == 1, "exactly one record"
    assert len(line) <= MAX_RECORD, len(line)
    assert rec["schema"] == 1 and rec["type"] == "crash"
    return line


@pytest.mark.parametrize("redact", ["On", "Off"])
def test_100kb_uri_gives_one_bounded_valid_record(make_server, redact):
    # The 100 KB are in the query: a path segment that long is refused (403, ENAMETOOLONG) by
    # httpd's directory walk before any handler runs. With SelfHealRedact Off it is written, cut.
    s = make_server(extra=BIG_LIMITS + f"\nSelfHealRedact {redact}")
    s.start()
    query = "q=" + "x" * (100 * 1024)
    assert s.crash(f"/crash/null?{query}")
    rec = s.wait_records(1)[0]
    s.wait_exit_signals(1)
    line = check_bounded(s, rec)
    assert rec["request"]["path"] == "/crash/null"
    if redact == "On":
        assert "query" not in rec["request"] and b"xxxxxxxx" not in line
    else:
        got = rec["request"]["query"]
        assert got.startswith("q=xxx") and got.endswith("\u2026")
        assert len(got.encode()) == 2048 + 3


def test_100_headers_of_8kb_give_one_bounded_valid_record(make_server):
    s = make_server(extra=BIG_LIMITS)
    s.start()
    headers = {"Authorization": "Bearer " + "A" * 8000}  # first: within the 100 recorded
    headers.update({f"X-Big-{i:03d}": chr(ord("a") + i % 26) * 8192 for i in range(100)})
    assert s.crash("/crash/null", headers=headers)
    rec = s.wait_records(1)[0]
    s.wait_exit_signals(1)
    line = check_bounded(s, rec)
    assert b"AAAAAAAA" not in line
    got = rec["request"]["headers"]
    assert isinstance(got, dict) and got.get("Authorization") == "[redacted]"
    for k, v in got.items():
        if k.startswith("X-Big-"):
            assert len(v.encode()) <= 512 + 3 and v.endswith("\u2026")
