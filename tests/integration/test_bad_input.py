"""Bad-input matrix: every directive of mod_selfheal with a missing, an extra, an out-of-range
and a wrong-type argument, and in a context where it is not allowed. Each must make
`apache2 -t` and a start fail with the file, the line and what is allowed.

The table must name every directive: test_every_directive_has_a_row fails when a directive
exists in module/httpd/*.cpp (AP_INIT_*) or in the built module without a row here.
"""
import re
import subprocess
from pathlib import Path

import pytest

from harness import BUILD, SOURCE, Server, selfheal_built

pytestmark = pytest.mark.skipif(not selfheal_built(), reason="mod_selfheal.so not built")

MAIN_ONLY = r"allowed only in the main server configuration"
SERVER_OR_VHOST = r"allowed in the main server configuration and inside <VirtualHost>"
NOT_APPLICABLE = None

# directive: valid argument text, then the bad cases (None: cannot apply, the reason given in
# `why`), `allowed`: what the message must say is allowed (for argument errors), `scope`:
# "main" (main server only) or "vhost" (server or <VirtualHost>).
ROWS = {
    "SelfHealCrashLog": dict(
        ok="logs/selfheal_crash.log", missing="", extra="logs/a.log logs/b.log",
        range="|/usr/bin/cat", wrong='""', allowed=r"file", scope="main"),
    "SelfHealCrashLogMaxSize": dict(
        ok="64M", missing="", extra="64M 128M", range="1K", wrong="lots",
        allowed=r"64K.*1T.*unlimited", scope="main"),
    "SelfHealRedact": dict(
        ok="On", missing="", extra="On Off", range="2", wrong="yes", allowed=r"On.*Off",
        scope="main"),
    "SelfHealCrashCapture": dict(
        ok="On", missing="", extra="On Off", range="2", wrong="yes", allowed=r"On.*Off",
        scope="main"),
    "SelfHealValidate": dict(
        ok="warn", missing="", extra="warn enforce", range="strict", wrong="1",
        allowed=r"warn.*enforce.*off", scope="main"),
    "SelfHealProfile": dict(
        ok="safety", missing="", extra="safety hardening", range="paranoid", wrong="0",
        allowed=r"safety.*hardening", scope="main"),
    "SelfHealSkip": dict(
        ok="TLS-001", missing="", extra=NOT_APPLICABLE, range="TLS-999", wrong="not/a/rule",
        allowed=r"rule ids.*TLS-\*", scope="vhost",
        why="SelfHealSkip takes any number of rule ids"),
    "SelfHealRuleThreshold": dict(
        ok="TLS-003 days 14", missing="TLS-003 days", extra="TLS-003 days 14 15",
        range="TLS-003 days 100000000", wrong="TLS-003 days soon",
        allowed=r"RULE-ID NAME VALUE|use a number from|use one of", scope="main"),
    # quarantine and fold (quarantine_glue.cpp)
    "SelfHealQuarantine": dict(
        ok="3 60", missing="", extra="3 60 5", range="0 60", wrong="three 60",
        allowed=r"use 'off', or N T", scope="main"),
    "SelfHealQuarantineDuration": dict(
        ok="300", missing="", extra="300 86400 5", range="0", wrong="long",
        allowed=r"use D \[CAP\]", scope="main"),
    "SelfHealQuarantineKey": dict(
        ok="method vhost path", missing="", extra="method vhost path query client method",
        range="method method", wrong="cookie", allowed=r"one or more of method, vhost, path",
        scope="main"),
    "SelfHealQuarantineSlots": dict(
        ok="256", missing="", extra="256 512", range="0", wrong="many",
        allowed=r"request keys", scope="main"),
    "SelfHealCrashLogFold": dict(
        ok="20 60", missing="", extra="20 60 5", range="0 60", wrong="twenty 60",
        allowed=r"use 'off', or N T", scope="main"),
}


KINDS = ("missing", "extra", "range", "wrong")
AP_INIT = re.compile(r'AP_INIT_[A-Z0-9_]+\(\s*"(SelfHeal\w+)"')


def source_directives():
    names = set()
    for f in sorted((SOURCE / "module" / "httpd").glob("*.cpp")):
        names.update(AP_INIT.findall(f.read_text(errors="replace")))
    return names


def module_directives():
    """Directive names in the built module's strings (what httpd will accept)."""
    data = (BUILD / "mod_selfheal.so").read_bytes()
    return {m.decode() for m in re.findall(rb"SelfHeal[A-Za-z]+", data)}


BUILT = module_directives() if selfheal_built() else set()


def needs_built(name):
    if name not in BUILT:
        pytest.skip(f"{name} is not in the built module yet")


def test_every_directive_has_a_row():
    src = source_directives()
    assert src, "no AP_INIT_* directives found in module/httpd/*.cpp"
    missing = sorted(src - set(ROWS))
    assert not missing, f"directives without a row in test_bad_input.ROWS: {missing}"
    stale = sorted(set(ROWS) - src)
    assert not stale, f"rows for directives no source defines: {stale}"
    # The built module's directives come from the same sources: none may be left untested.
    untested = sorted(n for n in BUILT if n in src and n not in ROWS)
    assert not untested, untested


def bad_config(s, text):
    """Appends `text` (one or more lines) to the server's config; returns its first line no."""
    lines = s.conf.read_text().splitlines()
    first = len(lines) + 1
    s.conf.write_text("\n".join(lines + text.splitlines()) + "\n")
    return first


def assert_refused(s, line_no, allowed, text):
    t = s.configtest()
    out = t.stdout + t.stderr
    assert t.returncode != 0, f"apache2 -t accepted:\n{text}\n{out}"
    assert f"line {line_no} of {s.conf}" in out, f"file and line not named for:\n{text}\n{out}"
    assert re.search(allowed, out, re.S), f"what is allowed ({allowed!r}) not said for:\n{text}\n{out}"
    r = s.start(expect_ok=False)
    assert r.returncode != 0, f"start succeeded with:\n{text}"
    assert not s.alive()
    out = r.stdout + r.stderr
    assert f"line {line_no} of {s.conf}" in out, out


def line_of(name, args):
    return f"{name} {args}".rstrip()


@pytest.mark.parametrize("name", sorted(ROWS))
def test_valid_argument_is_accepted(make_server, name):
    """The baseline: the row's valid argument passes, so each failure below is the bad input."""
    needs_built(name)
    s = make_server(crashtest=False)
    bad_config(s, line_of(name, ROWS[name]["ok"]))
    t = s.configtest()
    assert t.returncode == 0, t.stdout + t.stderr


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(ROWS))
def test_bad_argument_fails_with_file_line_and_what_is_allowed(make_server, name, kind):
    needs_built(name)
    row = ROWS[name]
    if row[kind] is NOT_APPLICABLE:
        pytest.skip(row.get("why", "not applicable"))
    s = make_server(crashtest=False)
    text = line_of(name, row[kind])
    assert_refused(s, bad_config(s, text), row["allowed"], text)


CONTEXTS = {
    "virtualhost": "<VirtualHost 127.0.0.1:{port}>\n  {line}\n</VirtualHost>",
    "directory": '<Directory "{root}/htdocs">\n  {line}\n</Directory>',
    "location": "<Location /x>\n  {line}\n</Location>",
}


@pytest.mark.parametrize("where", sorted(CONTEXTS))
@pytest.mark.parametrize("name", sorted(ROWS))
def test_directive_in_a_context_where_it_is_not_allowed(make_server, name, where):
    needs_built(name)
    row = ROWS[name]
    if row["scope"] == "vhost" and where == "virtualhost":
        pytest.skip(f"{name} is allowed in <VirtualHost>")
    s = make_server(crashtest=False)
    text = CONTEXTS[where].format(port=s.port, root=s.root, line=line_of(name, row["ok"]))
    first = bad_config(s, text)
    allowed = MAIN_ONLY if row["scope"] == "main" else SERVER_OR_VHOST
    assert_refused(s, first + 1, allowed, text)


def test_htaccess_use_is_refused(make_server):
    """In .htaccess (AllowOverride All) the module's directives are not allowed at all."""
    needs_built("SelfHealRedact")
    s = make_server(crashtest=False, extra=(
        f'<Directory "{{root}}/htdocs">\n  AllowOverride All\n</Directory>'))
    s.conf.write_text(s.conf.read_text().replace("{root}", str(s.root)))
    (s.root / "htdocs" / ".htaccess").write_text("SelfHealRedact Off\n")
    s.start()
    status, _, _ = s.get("/index.html")
    assert status == 500
    assert re.search(r"SelfHealRedact not allowed here", s.read_error_log())
    s.allowed = (r"SelfHealRedact not allowed here",)
