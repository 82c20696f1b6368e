#!/usr/bin/python3
"""Two upstreams, the first one failing (issue 4, "Upstream faults"): the
answer comes from the second when the first is a closed port, silent,
answers SERVFAIL or REFUSED, or sends garbage with the right ID. The
answer must come within the upstream timeout (--timeout 2000)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_failover")
TIMEOUT_MS = 2000


def first_handler(up, s):
    if s.msg is None:
        return None
    label = s.qname.split(".")[0]
    if label == "silent":
        return None
    if label == "servfail":
        return [("send", hl.reply(s, rcode=2))]
    if label == "refused":
        return [("send", hl.reply(s, rcode=5))]
    if label == "garbage":
        return [("send", hl.a_reply(s, "6.6.6.6")[:20])]
    return [("send", hl.a_reply(s, "6.6.6.6"))]


first = hl.FakeUpstream(h, first_handler)
second = hl.FakeUpstream(h, lambda up, s: [("send", hl.a_reply(s, "192.0.2.60"))] if s.msg else None)

# the first upstream is a closed port
dead = h.start_local("LOCAL_DEAD", os.path.join(h.tmp, "l1"),
                    [hl.dead_endpoint(), second.endpoint],
                    "--timeout", str(TIMEOUT_MS))
for i in range(3):
    name = "dead%d.fail.test." % i
    m, dt = hl.query(dead, name, timeout=4)
    h.check(hl.answer_addrs(m, name) == {"192.0.2.60"},
            "first upstream a closed port: %s: expected 192.0.2.60 from the second, got %s %s" %
            (name, hl.rcode_text(m), hl.answer_addrs(m)))
    h.check(dt < TIMEOUT_MS / 1000, "first upstream a closed port: %s took %.2f s" % (name, dt))
h.stop(dead)

# A daemon per kind: one failure may mark the first upstream dead, and a
# dead upstream is skipped for a while (that is test_hostile_dead_skip).
for kind in ("silent", "servfail", "refused", "garbage"):
    local = h.start_local("LOCAL_" + kind, os.path.join(h.tmp, kind),
                          [first.endpoint, second.endpoint], "--timeout", str(TIMEOUT_MS))
    name = "%s.fail.test." % kind
    m, dt = hl.query(local, name, timeout=4)
    h.check(hl.answer_addrs(m, name) == {"192.0.2.60"},
            "first upstream %s: expected 192.0.2.60 from the second, got %s %s" %
            (kind, hl.rcode_text(m), hl.answer_addrs(m)))
    h.check(dt < TIMEOUT_MS / 1000 + 0.8, "first upstream %s: the answer took %.2f s" % (kind, dt))
    h.check(first.count(name) >= 1 and second.count(name) == 1,
            "first upstream %s: queries seen first %d, second %d (want >= 1, 1)" %
            (kind, first.count(name), second.count(name)))
    h.stop(local)
h.finish()
