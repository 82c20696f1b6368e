#!/usr/bin/python3
"""A sole upstream that timed out is still asked (issue 4, "Upstream
faults"; resolve.h: "A dead upstream with no usable one after it is still
asked (when all are down, the first answer ends the outage)"). The only
upstream is silent for three names (three timeouts: it is marked dead),
then answers: a query for a new name must get that answer, not a SERVFAIL
without an upstream query while the upstream is backed off. Otherwise
anyone who can make a forwarder time out a few times (slow names, forged
traffic) takes it down for up to the maximum backoff."""
import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_sole_upstream")


def handler(up, s):
    if s.msg is None or s.qname.startswith("slow"):
        return None
    return [("send", hl.a_reply(s, "192.0.2.100"))]


up = hl.FakeUpstream(h, handler)
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [up.endpoint],
                      "--timeout", "500", "--threads", "1")
with concurrent.futures.ThreadPoolExecutor(3) as ex:
    got = list(ex.map(lambda i: hl.query(local, "slow%d.sole.test." % i, timeout=3)[0], range(3)))
h.check(all(hl.rcode_text(m) == "SERVFAIL" for m in got),
        "silent names: expected SERVFAIL, got %s" % [hl.rcode_text(m) for m in got])
for i in range(3):
    name = "fine%d.sole.test." % i
    m, dt = hl.query(local, name, timeout=3)
    h.check(hl.answer_addrs(m, name) == {"192.0.2.100"},
            "%s after 3 timeouts of the only upstream: expected 192.0.2.100, got %s after "
            "%.2f s (upstream asked %d times for it)" %
            (name, hl.rcode_text(m), dt, up.count(name)))
h.stop(local)
h.finish()
