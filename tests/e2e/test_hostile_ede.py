#!/usr/bin/python3
"""Every SERVFAIL carries an Extended DNS Error (RFC 8914) when the client
sent EDNS (issue 4, "Upstream faults"): upstream silent (timeout), upstream
answering SERVFAIL, upstream a closed port. Without EDNS the SERVFAIL has
no OPT record (RFC 6891 7)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_ede")
EDE = 15  # RFC 8914 option code


def handler(up, s):
    if s.msg is None or s.qname.startswith("silent"):
        return None
    return [("send", hl.reply(s, rcode=2))]


up = hl.FakeUpstream(h, handler)
cases = [("silent upstream", [up.endpoint], "silent%d.ede.test."),
         ("upstream answers SERVFAIL", [up.endpoint], "servfail%d.ede.test."),
         ("upstream a closed port", [hl.dead_endpoint()], "dead%d.ede.test.")]
for i, (label, ups, fmt) in enumerate(cases):
    d = h.start_local("LOCAL%d" % i, os.path.join(h.tmp, "l%d" % i), ups, "--timeout", "500")
    for tcp in (False, True):
        name = fmt % tcp
        m, _ = hl.query(d, name, edns=True, tcp=tcp, timeout=3)
        codes = [o.otype for o in m.options] if m is not None else []
        h.check(hl.rcode_text(m) == "SERVFAIL" and m.edns >= 0 and EDE in codes,
                "%s (%s, EDNS): expected SERVFAIL with an EDE option, got %s, OPT %s, options %s" %
                (label, "TCP" if tcp else "UDP", hl.rcode_text(m),
                 "yes" if m is not None and m.edns >= 0 else "no", codes))
    m, _ = hl.query(d, "noedns.ede.test.".replace("noedns", "noedns%d" % i), timeout=3)
    h.check(hl.rcode_text(m) == "SERVFAIL" and m.edns < 0,
            "%s (no EDNS): expected SERVFAIL without an OPT record, got %s" % (label, hl.rcode_text(m)))
    h.stop(d)
h.finish()
