"""The status handler (SetHandler selfheal-status) and mod_status' SelfHeal section, on a real
httpd: the page, ?json and ?metrics (checked by promtool), the counters right after children
died, GET/HEAD only (POST only to lift), the sample config's Require local."""
import json
import re
import shutil
import subprocess
import threading

import pytest

from harness import BUILD, MODULES, SOURCE, selfheal_built, wait_for

pytestmark = pytest.mark.skipif(not selfheal_built(), reason="mod_selfheal.so not built")

STATUS = "<Location /selfheal-status>\n  SetHandler selfheal-status\n  Require local\n</Location>\n"
ALLOWED = [r"SELFHEAL05\d\d:", r"AH10392: children are killed successively"]


def status_json(s):
    st, h, body = s.get("/selfheal-status?json")
    assert st == 200, body
    assert h["content-type"].startswith("application/json")
    return json.loads(body)


def crash_n(s, n, path="/crash/null"):
    for _ in range(n):
        assert s.crash(path)
        assert s.serves("/crash/ok")


def test_page_json_metrics_and_counters_right_after_crashes(make_server, tmp_path):
    s = make_server(extra=STATUS + "SelfHealQuarantine off\n", allowed=ALLOWED)
    s.start()
    j = status_json(s)
    assert j["available"] is True and j["counters"]["crashes_total"] == 0
    crash_n(s, 3)
    # Right after: no waiting for the parent, the crash handler wrote the counters.
    j = status_json(s)
    c = j["counters"]
    assert c["crashes_total"] == 3, c
    assert c["crashes_by_signal"] == {"SIGSEGV": 3}
    assert c["records_written"] == 3 and c["records_folded"] == 0
    records = s.wait_records(3)
    sig = records[0]["signature"]
    assert [g["signature"] for g in j["signatures"]] == [sig]
    assert j["signatures"][0]["count"] == 3
    assert j["signatures"][0]["last_path"] == "/crash/null"
    assert j["signatures"][0]["top_frame"].startswith("mod_selfheal_crashtest.so+0x")
    assert {r["id"] for r in j["recent_crashes"]} == {r["id"] for r in records}
    assert all(r["method"] == "GET" and r["path"] == "/crash/null" for r in j["recent_crashes"])
    assert {r["pid"] for r in j["recent_crashes"]} == {r["pid"] for r in records}
    assert j["policy"]["enabled"] is False

    st, h, body = s.get("/selfheal-status?metrics")
    assert st == 200 and h["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert f'selfheal_crashes_total{{signal="SIGSEGV",signature="{sig}"}} 3' in text
    assert re.search(r"^selfheal_crash_records_written_total 3$", text, re.M)
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
        assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    else:
        pytest.skip("promtool (Debian's prometheus package) not installed")

    st, h, body = s.get("/selfheal-status")
    assert st == 200 and h["content-type"].startswith("text/html")
    assert h.get("cache-control") == "no-store"
    page = body.decode()
    assert sig in page and "/crash/null" in page


def test_counters_while_several_children_crash_at_once(make_server):
    s = make_server(extra=STATUS + "SelfHealQuarantine off\nSelfHealCrashLogFold off\n",
                    allowed=ALLOWED)
    s.start()
    n = 12
    threads = [threading.Thread(target=s.crash, args=(f"/crash/k{i % 3}/null",)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s.serves("/crash/ok")
    # Each crash kills one process: as many records as crashes, all counted.
    records = wait_for(lambda: (r := s.crash_records()) and
                       len(r) == status_json(s)["counters"]["crashes_total"] and r,
                       timeout=20, what="counters to match the crash log")
    j = status_json(s)
    c = j["counters"]
    assert c["records_written"] == len(records) == c["crashes_total"]
    assert sum(g["count"] for g in j["signatures"]) == c["crashes_total"]
    keys = [q["key"] for q in j["quarantine"]]
    assert len(keys) == len(set(keys)), keys
    assert set(keys) <= {f"GET 127.0.0.1 /crash/k{i}/null" for i in range(3)}
    assert sum(q["crashes"] for q in j["quarantine"]) == c["crashes_total"]
    assert {r["id"] for r in j["recent_crashes"]} <= {r["id"] for r in records}


def test_get_and_head_only_post_only_lifts(make_server):
    s = make_server(extra=STATUS)
    s.start()
    st, h, body = s.request("/selfheal-status?json", method="HEAD")
    assert st == 200 and body == b"" and h["content-type"].startswith("application/json")
    for m in ("PUT", "DELETE", "PATCH"):
        st, h, _ = s.request("/selfheal-status", method=m, body=b"x")
        assert st == 405, m
        allow = {a.strip() for a in h.get("allow", "").split(",")}
        assert {"GET", "HEAD", "POST"} <= allow, h
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    st, _, _ = s.request("/selfheal-status", method="POST", body=b"nothing=1", headers=form)
    assert st == 400
    st, _, _ = s.request("/selfheal-status", method="POST", body=b"lift=all",
                         headers={"Content-Type": "text/plain"})
    assert st == 415
    st, _, _ = s.request("/selfheal-status", method="POST", body=b"lift=" + b"a" * 5000,
                         headers=form)
    assert st == 413
    st, _, body = s.request("/selfheal-status?json", method="POST", body=b"lift=all", headers=form)
    assert st == 200 and json.loads(body) == {"lifted": 0, "all": True, "key_hash": None}
    st, _, body = s.request("/selfheal-status?json", method="POST",
                            body=b"lift=00000000000000aa", headers=form)
    assert st == 404 and json.loads(body)["lifted"] == 0
    st, h, _ = s.request("/selfheal-status", method="POST", body=b"lift=all", headers=form)
    assert st == 303 and h["location"] == "/selfheal-status"


def test_sample_config_restricts_the_page_to_local(make_server):
    text = (SOURCE / "conf" / "selfheal.conf").read_text()
    m = re.search(r"<Location /selfheal-status>(.*?)</Location>", text, re.S)
    assert m, "the sample config has a <Location /selfheal-status> block"
    block = [l.strip() for l in m.group(1).strip().splitlines() if not l.strip().startswith("#")]
    assert block == ["SetHandler selfheal-status", "Require local"]
    # The whole sample config works as shipped (APACHE_LOG_DIR as Debian's envvars sets it).
    s = make_server(extra=f"Define APACHE_LOG_DIR {'{'}root{'}'}/logs\n", allowed=ALLOWED)
    s.conf.write_text(s.conf.read_text().replace("{root}", str(s.root)) +
                      f"Include {SOURCE}/conf/selfheal.conf\n")
    s.start()
    st, _, body = s.get("/selfheal-status?json")
    assert st == 200 and json.loads(body)["policy"]["threshold"] == 3
    st, _, _ = s.request("/selfheal-status?json", method="POST", body=b"lift=all",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 200


def test_server_status_has_a_selfheal_section(make_server):
    s = make_server(load_modules=("status",),
                    extra=STATUS + "SelfHealQuarantine off\n<Location /server-status>\n"
                          "  SetHandler server-status\n  Require local\n</Location>\n",
                    allowed=ALLOWED)
    s.start()
    crash_n(s, 1)
    st, _, body = s.get("/server-status")
    assert st == 200
    page = body.decode()
    assert "SelfHeal" in page
    st, _, body = s.get("/server-status?auto")
    assert st == 200
    lines = dict(l.split(": ", 1) for l in body.decode().splitlines() if l.startswith("SelfHeal"))
    assert lines, body.decode()
    assert lines["SelfHealAvailable"] == "1" and lines["SelfHealCrashes"] == "1", lines


FINDING_MPM = ("StartServers 2\nServerLimit 16\nThreadsPerChild 8\nThreadLimit 8\n"
               "MaxRequestWorkers 100\nMinSpareThreads 8\nMaxSpareThreads 64\n"
               "MaxConnectionsPerChild 0")  # MPM-002: 100 is not a multiple of 8


def test_configuration_findings_on_the_page_and_in_metrics(make_server):
    s = make_server(extra=STATUS, mpm_conf=FINDING_MPM, allowed=ALLOWED)
    s.start()
    j = status_json(s)
    assert [(f["rule"], f["severity"], f["line"] > 0) for f in j["findings"]] == \
        [("MPM-002", "warning", True)]
    assert j["findings"][0]["file"] == str(s.conf)
    st, _, body = s.get("/selfheal-status?metrics")
    assert 'selfheal_config_findings{severity="warning",rule="MPM-002"} 1' in body.decode()
    st, _, body = s.get("/selfheal-status")
    assert "MPM-002" in body.decode()


def test_mod_info_lists_the_module_as_mod_selfheal_c(make_server):
    # mod_info and httpd's tools know a module by its "mod_<name>.c"; the build machine's
    # source path must not leak into the module's name.
    s = make_server(load_modules=("info",),
                    extra="<Location /server-info>\n  SetHandler server-info\n"
                          "  Require local\n</Location>\n")
    s.start()
    st, _, body = s.get("/server-info?list")
    assert st == 200
    names = re.findall(r"<dd>([^<]*)</dd>", body.decode())
    assert "mod_selfheal.c" in names, names
    assert not any("/" in n or n.endswith(".cpp") for n in names), names
    st, _, body = s.get("/server-info?mod_selfheal.c")
    assert st == 200 and "SelfHealCrashLog" in body.decode()
