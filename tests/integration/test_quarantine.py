"""Quarantine on a real httpd: a request key that keeps crashing workers is answered 503 with
Retry-After, other URLs keep working, it expires, doubles on repeat, is lifted by selfhealctl
and by a graceful restart, is off with the directive; the crash-loop diagnosis is said once per
generation; the crash log folds identical records across children; bad directive input."""
import json
import re
import subprocess
import threading
import time

import pytest

from harness import BUILD, selfheal_built, wait_for

pytestmark = pytest.mark.skipif(not selfheal_built(), reason="mod_selfheal.so not built")

STATUS = "<Location /selfheal-status>\n  SetHandler selfheal-status\n  Require local\n</Location>\n"
ALLOWED = [r"SELFHEAL05\d\d:"]
# The event MPM's own warning when children die in quick succession.
LOOP = ALLOWED + [r"AH10392: children are killed successively"]
KEY = "GET 127.0.0.1 /crash/null"


def status_json(s):
    st, _, body = s.get("/selfheal-status?json")
    assert st == 200, body
    return json.loads(body)


def entry(s, key=KEY):
    for q in status_json(s)["quarantine"]:
        if q["key"] == key:
            return q
    return None


def crash_n(s, n, path="/crash/null"):
    for _ in range(n):
        assert s.crash(path), f"{path} did not crash its worker"
        assert s.serves("/crash/ok")


def refused(s, path="/crash/null"):
    st, h, body = s.get(path)
    return st == 503 and h


def log_count(s, pat):
    return sum(1 for l in s.error_lines() if re.search(pat, l))


def selfhealctl(s, *args):
    return subprocess.run([str(BUILD / "selfhealctl"), "quarantine", *args, "--url",
                           f"http://127.0.0.1:{s.port}/selfheal-status"],
                          capture_output=True, text=True, timeout=30)


def quarantine_server(make_server, conf="SelfHealQuarantine 3 60\nSelfHealQuarantineDuration 3 20\n",
                      allowed=ALLOWED, **kw):
    s = make_server(extra=STATUS + conf, allowed=allowed, **kw)
    s.start()
    return s


def test_triggers_after_n_crashes_answers_503_and_leaves_other_urls_alone(make_server):
    s = quarantine_server(make_server)
    crash_n(s, 2)
    assert entry(s)["active"] is False
    crash_n(s, 1)
    h = refused(s)
    assert h, "the third crash quarantines the key"
    assert 1 <= int(h["retry-after"]) <= 3
    # The query is not part of the default key; HEAD is another method.
    assert refused(s, "/crash/null?x=1")
    assert s.get("/crash/ok")[0] == 200
    assert s.get("/crash/other/ok")[0] == 200
    assert s.get("/")[0] == 200
    e = entry(s)
    assert e["active"] and e["crashes"] == 3 and e["strikes"] == 0 and e["refused"] == 2
    j = status_json(s)
    assert j["counters"]["quarantine_refused"] == 2
    assert j["counters"]["quarantine_active"] == 1
    # Refusals are logged once per key and period.
    for _ in range(5):
        assert refused(s)
    assert log_count(s, r"SELFHEAL0501: quarantined: 'GET 127\.0\.0\.1 /crash/null' crashed "
                        r"workers 3 time") == 1
    # No request reached the crash handler: still three crash records.
    assert len(s.crash_records()) == 3
    st, _, body = s.get("/selfheal-status?metrics")
    assert re.search(r'^selfheal_quarantine_active 1$', body.decode(), re.M)


def test_expires_and_doubles_on_repeat(make_server):
    s = quarantine_server(make_server, "SelfHealQuarantine 3 60\nSelfHealQuarantineDuration 2 60\n")
    crash_n(s, 3)
    assert refused(s)
    e = entry(s)
    assert (e["expires_us"] - e["since_us"]) == 2_000_000
    wait_for(lambda: not entry(s)["active"], timeout=5, what="the quarantine to expire")
    # Probation: one more crash right after expiry quarantines it again, twice as long.
    assert s.crash("/crash/null")
    assert s.serves("/crash/ok")
    h = wait_for(lambda: refused(s), timeout=5, what="the repeat quarantine")
    assert int(h["retry-after"]) in (3, 4)
    e = entry(s)
    assert e["strikes"] == 1 and (e["expires_us"] - e["since_us"]) == 4_000_000
    # A new period is logged again (quarantine #2).
    assert log_count(s, r"SELFHEAL0501: .*quarantine #2 of this key") == 1


def test_lifted_by_selfhealctl(make_server):
    s = quarantine_server(make_server, "SelfHealQuarantine 2 60\nSelfHealQuarantineDuration 300\n")
    crash_n(s, 2)
    crash_n(s, 2, "/crash/x/null")
    assert refused(s) and refused(s, "/crash/x/null")
    r = selfhealctl(s, "list")
    assert r.returncode == 0, r.stderr
    assert "2 quarantined" in r.stdout and KEY in r.stdout
    r = selfhealctl(s, "list", "--json")
    listed = json.loads(r.stdout)
    assert {q["key"] for q in listed["quarantine"] if q["active"]} == {KEY, "GET 127.0.0.1 /crash/x/null"}
    key_hash = next(q["key_hash"] for q in listed["quarantine"] if q["key"] == KEY)
    # By hash.
    r = selfhealctl(s, "lift", key_hash)
    assert r.returncode == 0 and "lifted" in r.stdout, r.stdout + r.stderr
    assert not refused(s, "/crash/x/ok")  # unrelated
    assert s.crash("/crash/null"), "lifted: the request reaches the handler again"
    assert s.serves("/crash/ok")
    assert refused(s, "/crash/x/null")
    # Unknown key: exit 1.
    r = selfhealctl(s, "lift", "GET nowhere /nothing")
    assert r.returncode == 1 and "no quarantine entry" in r.stderr
    # By key text, then --all.
    r = selfhealctl(s, "lift", "GET 127.0.0.1 /crash/x/null")
    assert r.returncode == 0, r.stderr
    assert entry(s, "GET 127.0.0.1 /crash/x/null")["active"] is False
    crash_n(s, 2, "/crash/x/null")
    assert refused(s, "/crash/x/null")
    r = selfhealctl(s, "lift", "--all", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["lifted"] >= 1
    assert status_json(s)["counters"]["quarantine_active"] == 0
    # Unreachable server: exit 2 with a message.
    r = subprocess.run([str(BUILD / "selfhealctl"), "quarantine", "list", "--url",
                        "http://127.0.0.1:1/selfheal-status"], capture_output=True, text=True)
    assert r.returncode == 2 and "127.0.0.1:1" in r.stderr


def test_graceful_restart_lifts_quarantines_and_keeps_counters(make_server):
    s = quarantine_server(make_server, "SelfHealQuarantine 3 60\nSelfHealQuarantineDuration 300\n")
    crash_n(s, 3)
    assert refused(s)
    before = status_json(s)["counters"]
    s.graceful()
    wait_for(lambda: status_json(s)["counters"]["generation"] == before["generation"] + 1,
             timeout=15, what="the new generation")
    assert entry(s) is None, "a restart forgets the quarantine entries"
    j = status_json(s)
    assert j["counters"]["crashes_total"] == 3, "crash counters survive the restart"
    assert j["counters"]["quarantine_active"] == 0
    assert j["signatures"][0]["count"] == 3
    assert s.crash("/crash/null")
    assert s.serves("/crash/ok")
    assert status_json(s)["counters"]["crashes_total"] == 4


def test_changed_slot_count_at_restart_starts_a_new_table(make_server):
    s = quarantine_server(make_server, "SelfHealQuarantineSlots 64\n")
    crash_n(s, 1)
    assert status_json(s)["counters"]["crashes_total"] == 1
    s.conf.write_text(s.conf.read_text().replace("SelfHealQuarantineSlots 64", "SelfHealQuarantineSlots 128"))
    gen = status_json(s)["counters"]["generation"]
    s.graceful()
    wait_for(lambda: (j := status_json(s))["counters"]["generation"] == gen + 1 and j,
             timeout=15, what="the new generation")
    assert status_json(s)["counters"]["crashes_total"] == 0


def test_on_by_default(make_server):
    s = make_server(extra=STATUS, allowed=ALLOWED, self_healing=True)
    s.start()
    p = status_json(s)["policy"]
    assert p == {"enabled": True, "threshold": 3, "window_s": 60, "duration_s": 300,
                 "cap_s": 86400}
    crash_n(s, 3)
    h = refused(s)
    assert h and 295 <= int(h["retry-after"]) <= 300


def test_off_by_the_directive(make_server):
    s = quarantine_server(make_server, "SelfHealQuarantine off\n")
    crash_n(s, 5)
    assert s.crash("/crash/null"), "never quarantined"
    assert s.serves("/crash/ok")
    j = status_json(s)
    assert j["policy"]["enabled"] is False
    assert j["counters"]["quarantine_active"] == 0 and j["counters"]["quarantines_started"] == 0
    assert log_count(s, r"SELFHEAL0501") == 0


def test_key_with_query_follows_the_directive(make_server):
    s = quarantine_server(make_server, "SelfHealQuarantine 2 60\nSelfHealQuarantineKey method path query\n")
    crash_n(s, 2, "/crash/null?a=1")
    assert refused(s, "/crash/null?a=1")
    assert s.crash("/crash/null?a=2"), "another query is another key"
    assert s.serves("/crash/ok")
    keys = {q["key"] for q in status_json(s)["quarantine"]}
    # SelfHealRedact On (default): the query is hashed but not shown.
    assert "GET /crash/null?[redacted]" in keys


def test_crash_log_folds_identical_records_across_children(make_server):
    s = quarantine_server(make_server, "SelfHealQuarantine off\nSelfHealCrashLogFold 2 3\n")
    crash_n(s, 5)
    recs = s.crash_records()
    assert len(recs) == 2, "two written, three folded"
    j = status_json(s)
    assert j["counters"]["crashes_total"] == 5 and j["counters"]["records_folded"] == 3
    time.sleep(3.2)  # the next window
    crash_n(s, 1)
    recs = s.wait_records(3)
    assert recs[-1]["folded"] == 3


def test_crash_loop_at_start_up_is_diagnosed_once_per_generation(make_server):
    # A configuration finding (MPM-002) the diagnosis names as a possible explanation.
    mpm = ("StartServers 2\nServerLimit 16\nThreadsPerChild 8\nThreadLimit 8\n"
           "MaxRequestWorkers 100\nMinSpareThreads 8\nMaxSpareThreads 64")
    s = make_server(extra=STATUS + "CrashTestChildInit on\n", mpm_conf=mpm, self_healing=True,
                    allowed=LOOP + [r"SELFHEAL030\d:", r"AH0051[34]:"])
    s.start()
    pat = (r"SELFHEAL0510: crash loop: \d+ children of generation 0 died within 10 s of "
           r"starting, in the last 60 s")
    wait_for(lambda: len(s.crash_records()) >= 8, timeout=30, what="children to keep dying")
    time.sleep(1)
    assert log_count(s, pat) == 1
    line = next(l for l in s.error_lines() if "SELFHEAL0510" in l)
    sig = s.crash_records()[0]["signature"]
    assert f"signature {sig}" in line
    assert "before serving a request (child start-up)" in line
    assert "top frame mod_selfheal_crashtest.so+0x" in line
    assert "configuration findings that may explain it: MPM-002 (warning) " in line
    # The crash log folds them (default 20 per minute per signature).
    s.graceful()
    wait_for(lambda: log_count(s, r"SELFHEAL0510: crash loop: \d+ children of generation 1 ") == 1,
             timeout=30, what="the diagnosis of the next generation")
    time.sleep(1)
    assert log_count(s, r"SELFHEAL0510") == 2


def test_bounded_table_consistent_under_concurrent_crashes(make_server):
    s = quarantine_server(make_server, "SelfHealQuarantine 16 60\nSelfHealQuarantineSlots 16\n"
                                       "SelfHealCrashLogFold off\n", allowed=LOOP,
                          mpm_conf=("StartServers 4\nServerLimit 16\nThreadsPerChild 4\n"
                                    "ThreadLimit 4\nMaxRequestWorkers 64\nMinSpareThreads 8\n"
                                    "MaxSpareThreads 32\nMaxConnectionsPerChild 0"))
    paths = [f"/crash/p{i}/null" for i in range(24)]  # more keys than slots: evictions
    threads = [threading.Thread(target=s.crash, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s.serves("/crash/ok")
    wait_for(lambda: len(s.crash_records()) == status_json(s)["counters"]["crashes_total"],
             timeout=20, what="the counters to settle")
    j = status_json(s)
    c = j["counters"]
    assert c["crashes_total"] == c["records_written"] == len(s.crash_records())
    keys = [q["key"] for q in j["quarantine"]]
    assert len(keys) == len(set(keys)) and len(keys) <= 16
    assert all(re.fullmatch(r"GET 127\.0\.0\.1 /crash/p\d+/null", k) for k in keys), keys
    assert c["quarantine_evictions"] + len(keys) >= len({r["request"]["path"] for r in s.crash_records()})


# ---- directives: bad input is refused with a message naming what is allowed ------------------

BAD = [
    ("SelfHealQuarantine", "3", r"use 'off', or N T"),
    ("SelfHealQuarantine", "3 60 9", r"got 3 arguments"),
    ("SelfHealQuarantine", "0 60", r"N '0' is not allowed"),
    ("SelfHealQuarantine", "17 60", r"N '17' is not allowed"),
    ("SelfHealQuarantine", "3 x", r"T 'x' is not allowed"),
    ("SelfHealQuarantine", "on", r"use 'off', or N T"),
    ("SelfHealQuarantineDuration", "", r"use D \[CAP\]"),
    ("SelfHealQuarantineDuration", "0", r"D '0' is not allowed"),
    ("SelfHealQuarantineDuration", "600 300", r"CAP '300' is not allowed \(it must be at least D\)"),
    ("SelfHealQuarantineDuration", "1 2 3", r"got 3 arguments"),
    ("SelfHealQuarantineKey", "", r"use one or more of method, vhost, path, query, client"),
    ("SelfHealQuarantineKey", "method cookie", r"'cookie' is not allowed"),
    ("SelfHealQuarantineKey", "path path", r"'path' is given twice"),
    ("SelfHealQuarantineSlots", "8", r"use a number of request keys from 16 to 1048576"),
    ("SelfHealQuarantineSlots", "lots", r"'lots' is not allowed"),
    ("SelfHealCrashLogFold", "20", r"use 'off', or N T"),
    ("SelfHealCrashLogFold", "0 60", r"N '0' is not allowed"),
    ("SelfHealCrashLogFold", "20 -1", r"T '-1' is not allowed"),
]


@pytest.mark.parametrize("directive,arg,message", BAD)
def test_bad_directive_input(make_server, directive, arg, message):
    s = make_server(extra=f"{directive} {arg}\n")
    r = s.configtest()
    assert r.returncode != 0
    assert directive in r.stderr and re.search(message, r.stderr), r.stderr


@pytest.mark.parametrize("directive,arg", [("SelfHealQuarantine", "off"),
                                           ("SelfHealQuarantineDuration", "60"),
                                           ("SelfHealQuarantineKey", "path"),
                                           ("SelfHealQuarantineSlots", "64"),
                                           ("SelfHealCrashLogFold", "off")])
def test_server_wide_directives_refused_in_a_virtual_host(make_server, directive, arg):
    s = make_server(extra=f"<VirtualHost 127.0.0.1:*>\n  {directive} {arg}\n</VirtualHost>\n")
    r = s.configtest()
    assert r.returncode != 0 and "cannot occur within <VirtualHost>" in r.stderr, r.stderr


def test_good_directive_input(make_server):
    s = make_server(extra="SelfHealQuarantine 16 86400\nSelfHealQuarantineDuration 1 604800\n"
                          "SelfHealQuarantineKey client query path vhost method\n"
                          "SelfHealQuarantineSlots 1048576\nSelfHealCrashLogFold 1 1\n")
    r = s.configtest()
    assert r.returncode == 0, r.stderr
