#!/usr/bin/python3
"""0x20 mixed-case upstream questions (issue 4, --use-0x20): the upstream
sees mixed case; the client gets its answer in its own case; an upstream
that lowercases the question in its reply is still answered (fallback).
Without the option the upstream sees lower case. Skipped while
tierdns-local has no --use-0x20."""
import os
import sys

import dns.message
import dns.name
import dns.rrset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_0x20")
h.need_flag(hl.LOCAL_BIN, "--use-0x20", "0x20 encoding")


def echo(up, s):
    if s.msg is None:
        return None
    return [("send", hl.a_reply(s, "192.0.2.90"))]


def lowering(up, s):
    if s.msg is None:
        return None
    r = dns.message.make_response(s.msg)
    q = r.question[0]
    r.question = [dns.rrset.RRset(dns.name.from_text(s.qname), q.rdclass, q.rdtype)]
    r.answer.append(dns.rrset.from_text(s.qname, 300, "IN", "A", "192.0.2.91"))
    return [("send", r.to_wire())]


up = hl.FakeUpstream(h, echo)
low = hl.FakeUpstream(h, lowering)
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [up.endpoint], "--use-0x20")
names = ["abcdefghijklmnop%d.zerox.test." % i for i in range(10)]
for n in names:
    m, _ = hl.query(local, n)
    h.check(hl.answer_addrs(m, n) == {"192.0.2.90"}, "%s: expected 192.0.2.90, got %s" % (n, hl.rcode_text(m)))
    h.check(m is not None and m.question[0].name.to_text() == n,
            "%s: the reply's question is not in the client's case" % n)
# the client's own case, whatever was sent upstream
n = "MiXeD.CaSe.Zerox.Test."
m, _ = hl.query(local, n)
h.check(m is not None and m.question[0].name.to_text() == n and
        [rr.name.to_text() for rr in m.answer] == [n],
        "%s: the reply's question and answer are not in the client's case: %s" %
        (n, m.to_text() if m is not None else "no reply"))
raw = [s.qname_raw for s in up.queries() if s.qname in names]
mixed = [q for q in raw if q != q.lower()]
h.check(len(mixed) >= 8, "--use-0x20: only %d of %d upstream questions were mixed case: %s" %
        (len(mixed), len(raw), raw))
h.stop(local)

local = h.start_local("LOCAL_LOW", os.path.join(h.tmp, "l2"), [low.endpoint], "--use-0x20",
                      "--timeout", "2000")
m, dt = hl.query(local, "lowercasing.zerox.test.", timeout=5)
h.check(hl.answer_addrs(m) == {"192.0.2.91"},
        "--use-0x20 with an upstream that lowercases: expected 192.0.2.91 (fallback), got %s after %.2f s" %
        (hl.rcode_text(m), dt))
h.stop(local)

local = h.start_local("LOCAL_PLAIN", os.path.join(h.tmp, "l3"), [up.endpoint])
before = len(up.queries())
hl.query(local, "PlainCase.Zerox.Test.")
raw = [s.qname_raw for s in up.queries()[before:]]
h.check(raw == ["plaincase.zerox.test."], "without --use-0x20 the upstream saw %s" % raw)
h.stop(local)
h.finish()
