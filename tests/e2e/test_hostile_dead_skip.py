#!/usr/bin/python3
"""A dead upstream is skipped, not waited on for every query (issue 4,
"Upstream faults": "a dead upstream is skipped and probed again later").
The first of two upstreams is silent; the first query waits for it (about
half of --timeout 4000), but once it is known dead, further queries for
new names are answered by the second at once: of 8 new names at most 3
may take 1 s or more (a few timeouts before the upstream is marked dead
are allowed; without skipping, all 8 wait)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_dead_skip")
silent = hl.FakeUpstream(h, lambda up, s: None)
good = hl.FakeUpstream(h, lambda up, s: [("send", hl.a_reply(s, "192.0.2.61"))] if s.msg else None)
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [silent.endpoint, good.endpoint],
                      "--timeout", "4000", "--threads", "1")
m, dt = hl.query(local, "first.skip.test.", timeout=7)
h.check(hl.answer_addrs(m) == {"192.0.2.61"}, "first query: expected 192.0.2.61, got %s %s after %.2f s" %
        (hl.rcode_text(m), hl.answer_addrs(m), dt))
slow = []
for i in range(8):
    name = "n%d.skip.test." % i
    m, dt = hl.query(local, name, timeout=7)
    h.check(hl.answer_addrs(m) == {"192.0.2.61"}, "%s: expected 192.0.2.61, got %s" % (name, hl.rcode_text(m)))
    if dt >= 1.0:
        slow.append("%s %.2f s" % (name, dt))
h.check(len(slow) <= 3, "the silent first upstream was waited on again for every new name: %s "
        "(it was asked %d times)" % (slow, silent.count()))
h.stop(local)
h.finish()
