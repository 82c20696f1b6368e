#!/usr/bin/python3
"""The line that declares an upstream dead says what an operator needs
(issues 14, 18): the upstream's number and address, the last failure with
its errno ("network error (Connection refused)" for an address where
nothing listens), and what happens next - "skipped while another works"
only when its upstream set has another upstream, "probed again after" for
a forward: set of one, even though the default set has two."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_upstream_dead_line")
good = hl.FakeUpstream(h, lambda up, s: [("send", hl.a_reply(s, "192.0.2.9"))] if s.msg else None)
dead_default, dead_fwd = hl.dead_endpoint(), hl.dead_endpoint()
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [dead_default, good.endpoint],
                      "--threads", "1", "--timeout", "1500",
                      "--forward", "fwd.test.@" + dead_fwd)
for i in range(3):
    m, _ = hl.query(local, "n%d.example." % i, timeout=4)
    h.check(hl.answer_addrs(m) == {"192.0.2.9"}, "n%d.example. answered by the second "
            "upstream: %s" % (i, hl.rcode_text(m)))
    m, _ = hl.query(local, "n%d.fwd.test." % i, timeout=4)
    h.check(m is not None and hl.rcode_text(m) == "SERVFAIL",
            "n%d.fwd.test. SERVFAIL (its set's only upstream is dead): %s" % (i, hl.rcode_text(m)))
time.sleep(0.2)
lines = [x for x in local.log_text().splitlines() if "failures in a row" in x]
d1 = [x for x in lines if "upstream #1 (%s)" % dead_default in x]
d3 = [x for x in lines if "upstream #3 (%s)" % dead_fwd in x]
h.check(len(d1) == 1 and "network error (Connection refused)" in d1[0] and
        "skipped while another works" in d1[0],
        "the default set's dead upstream: errno and 'skipped while another works': %s" % d1)
h.check(len(d3) == 1 and "network error (Connection refused)" in d3[0] and
        "probed again after" in d3[0] and "another" not in d3[0],
        "the forward: set's only upstream: 'probed again after', no 'another': %s" % d3)
h.stop(local)
h.finish()
