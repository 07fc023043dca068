"""The configuration model is built in a thread that pre_config starts while httpd processes
the directive tree (module/httpd/config_prebuild.cpp). What a user sees must not change:
httpd's own configuration errors still end `apache2 -t` with exit 1 and httpd's message,
findings at a live restart still come from the new configuration, and the parent process
is single-threaded again before the MPM forks its children."""
import os
import urllib.request
from pathlib import Path

import pytest

from harness import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (run user, ports)")


def vhosts(root, n, port):
    out = []
    for i in range(n):
        out += [f"<VirtualHost *:{port}>", f"  ServerName v{i}.example.test",
                f"  DocumentRoot {root}/htdocs", "</VirtualHost>"]
    return "\n".join(out)


def answers(url):
    try:
        return urllib.request.urlopen(url, timeout=5).status == 200
    except OSError:
        return False


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


@pytest.mark.parametrize("macro", [False, True], ids=["plain", "mod_macro"])
def test_processing_error_while_the_model_is_built(mini, macro):
    # KeepAlive's argument is checked when httpd processes the tree, right at its start,
    # while the thread still walks 20,000 vhosts; httpd then destroys its configuration
    # pools and exits. The module must wait for its thread first: exit 1 with httpd's
    # message, no crash, and no findings (check_config never ran). mod_macro's expansions
    # keep their file names in the temporary pool, which goes first.
    r = mini(modules=("macro",) if macro else ())
    if macro:
        body = (f"KeepAlive maybe\n<Macro V $n>\n<VirtualHost *:{r.port}>\n  ServerName $n\n"
                f"  DocumentRoot {r.root}/htdocs\n</VirtualHost>\n</Macro>\n"
                + "\n".join(f"Use V v{i}.example.test" for i in range(20000)))
    else:
        body = "KeepAlive maybe\n" + vhosts(r.root, 20000, r.port)
    r.write(body)
    for _ in range(3):
        rc, out = r.configtest()
        assert rc == 1, out
        assert f"Syntax error on line {r.body_line} of {r.conf}" in out, out
        assert "KeepAlive must be On or Off" in out, out
        assert "SELFHEAL" not in out, out


def test_restart_checks_the_new_configuration_and_leaves_one_thread(mini):
    r = mini()
    r.write(vhosts(r.root, 200, r.port))
    p = r.httpd("-k", "start")
    assert p.returncode == 0, p.stderr
    pidfile = r.root / "run" / "httpd.pid"
    wait_for(pidfile.exists, timeout=10, what="the pid file")
    pid = int(pidfile.read_text())
    url = f"http://127.0.0.1:{r.port}/index.html"
    wait_for(lambda: answers(url), timeout=10, what="the first answer")
    assert threads(pid) == 1  # the event MPM's parent: no thread of ours left

    # Graceful restart into a configuration with a finding: the restart's check reads the
    # model the thread built from the new tree, so the new vhost's DocumentRoot is reported.
    r.write(vhosts(r.root, 200, r.port) +
            f"\n<VirtualHost *:{r.port}>\n  ServerName gone.example.test\n"
            f"  DocumentRoot {r.root}/gone\n</VirtualHost>")
    p = r.httpd("-k", "graceful")
    assert p.returncode == 0, p.stderr
    log = Path(r.root / "logs" / "error.log")
    line = r.line_of(f"DocumentRoot {r.root}/gone")
    wait_for(lambda: "DOC-001" in log.read_text() and f"{r.conf}:{line}" in log.read_text(),
             timeout=15, what="DOC-001 at the restart")
    wait_for(lambda: log.read_text().count("resuming normal operations") >= 2, timeout=15,
             what="the restarted generation")
    assert int(pidfile.read_text()) == pid
    assert threads(pid) == 1
    assert answers(url)
