#!/usr/bin/python3
"""tierdns-local is not an open resolver (issue 4, "Access"): with
--allow 127.0.0.2/32 a client at 127.0.0.1 gets REFUSED over UDP and TCP,
and the upstream is not asked, nor served static data or CHAOS; a client
at 127.0.0.2 gets its answers.
Skipped while tierdns-local has no --allow."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_allow")
h.need_flag(hl.LOCAL_BIN, "--allow", "access control")
up = hl.FakeUpstream(h, lambda u, s: [("send", hl.a_reply(s, "192.0.2.80"))] if s.msg else None)
db = os.path.join(h.tmp, "l")
h.zone_load(db, os.path.join(hl.ZONES, "local", "home.arpa.zone"))
local = h.start_local("LOCAL", db, [up.endpoint], "--allow", "127.0.0.2/32")
for tcp in (False, True):
    t = "TCP" if tcp else "UDP"
    name = "denied%d.allow.test." % tcp
    m, _ = hl.query(local, name, tcp=tcp, src="127.0.0.1")
    h.check(hl.rcode_text(m) == "REFUSED" and not m.answer,
            "%s from 127.0.0.1 with --allow 127.0.0.2/32: expected REFUSED, got %s" % (t, hl.rcode_text(m)))
    h.check(up.count(name) == 0, "%s: a refused client's query went upstream" % t)
    name = "allowed%d.allow.test." % tcp
    m, _ = hl.query(local, name, tcp=tcp, src="127.0.0.2")
    h.check(hl.answer_addrs(m, name) == {"192.0.2.80"},
            "%s from 127.0.0.2 with --allow 127.0.0.2/32: expected an answer, got %s" % (t, hl.rcode_text(m)))
# Static data and CHAOS are not for outsiders either.
for name, rdtype, rdclass in (("router.home.arpa.", "A", "IN"), ("version.bind.", "TXT", "CH")):
    q = hl.make_query(name, rdtype)
    q.question[0].rdclass = hl.dns.rdataclass.from_text(rdclass)
    for src, want in (("127.0.0.1", "REFUSED"), ("127.0.0.2", "NOERROR")):
        raw = hl.udp_exchange(local.addr, local.port, q.to_wire(), 2, src=src)
        m = hl.dns.message.from_wire(raw) if raw else None
        h.check(hl.rcode_text(m) == want and (len(m.answer) > 0) == (want == "NOERROR"),
                "%s %s %s from %s: expected %s, got %s" % (name, rdclass, rdtype, src, want,
                                                         hl.rcode_text(m)))
h.stop(local)
h.finish()
