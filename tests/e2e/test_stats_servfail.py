#!/usr/bin/python3
"""SERVFAIL by reason in the statistics of tierdns-local (issues 14, 18):
every SERVFAIL a client gets is counted once under its reason, whether its
log line was written or not, and tierdns-control stats, the SIGUSR1 line
and /metrics show the same counts. Against a scripted upstream:
  - an upstream SERVFAIL: servfail.rcode;
  - the same question again within the failure cache's time: servfail.cached;
  - an upstream that stays silent: servfail.timeout (a sole upstream is
    probed even while marked dead: still a timeout);
  - an upstream address where nothing listens (ICMP port unreachable):
    servfail.network, and the SERVFAIL line names the errno;
  - answers and NXDOMAIN count nothing."""
import os
import re
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_stats_servfail")


def handler(up, s):
    if s.msg is None:
        return None
    if s.qname.startswith("sf"):
        return [("send", hl.reply(s, rcode=2))]
    if s.qname.startswith("silent"):
        return None
    return [("send", hl.a_reply(s, "192.0.2.1"))]


up = hl.FakeUpstream(h, handler)
sock = os.path.join(h.tmp, "local.sock")
metrics = "%s:%d" % (hl.rand_addr(), hl.rand_port())
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [up.endpoint], "--threads", "1",
                      "--timeout", "400", "--control", sock, "--metrics", metrics)


def reasons():
    counts, st = hl.servfail_counts(sock)
    return counts, st.get("answers.servfail")


def step(label, name, want_rcode, want):
    """Ask name; expect want_rcode and the reason counters to grow by want
    (a dict of reason: delta, the others unchanged)."""
    hl.servfail_step(h, sock, label, lambda: hl.query(local, name, timeout=3)[0], want_rcode,
                     want)


zero, total = reasons()
h.check(all(v == 0 for v in zero.values()) and total == 0,
        "every reason is listed, all 0 at start: %s" % zero)
step("an answer", "ok.test.", "NOERROR", {})
step("an upstream SERVFAIL", "sf.test.", "SERVFAIL", {"rcode": 1})
step("the same from the failure cache", "sf.test.", "SERVFAIL", {"cached": 1})
step("a silent upstream", "silent1.test.", "SERVFAIL", {"timeout": 1})
# Two failures in a row (infra.h INFRA_DEAD_AFTER) mark it dead: the next
# questions are answered at once while it backs off.
step("a silent upstream, again", "silent2.test.", "SERVFAIL", {"timeout": 1})
step("a silent upstream marked dead, probed", "silent3.test.", "SERVFAIL", {"timeout": 1})

final, total = reasons()
want = {"rcode": 1, "cached": 1, "timeout": 3}
h.check({r: v for r, v in final.items() if v} == want and total == 5,
        "stats: %s (total %s), expected %s" % (final, total, want))

# The SIGUSR1 line: the reasons that are not 0, in the order of the table.
os.kill(local.pid, signal.SIGUSR1)
line = "servfail by reason: timeout 3 rcode 1 cached 1"
deadline = hl.now() + 5
while line not in local.log_text() and hl.now() < deadline:
    time.sleep(0.1)
h.check(line in local.log_text(), "SIGUSR1 logs %r" % line)

body = urllib.request.urlopen("http://%s/metrics" % metrics, timeout=5).read().decode()
prom = dict(re.findall(r'^tierdns_servfail_reason_total\{reason="(\w+)"\} (\d+)$', body, re.M))
h.check(len(prom) == len(hl.SERVFAIL_REASONS) and
        {r: int(v) for r, v in prom.items() if v != "0"} == want,
        "/metrics tierdns_servfail_reason_total: %s" % prom)
h.check(local.alive(), "tierdns-local lives")
h.stop(local)

local = h.start_local("LOCAL_NET", os.path.join(h.tmp, "l2"), [hl.dead_endpoint()],
                      "--threads", "1", "--timeout", "400", "--control", sock)
step("an upstream where nothing listens", "x.test.", "SERVFAIL", {"network": 1})
# The failure line names the errno (ICMP port unreachable: ECONNREFUSED).
h.check("x.test. A: network error (Connection refused)" in local.log_text(),
        "the SERVFAIL line names the errno: %s"
        % [x for x in local.log_text().splitlines() if "x.test." in x])
h.stop(local)
h.finish()
