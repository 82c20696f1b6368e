#!/usr/bin/python3
"""A tierdns-upper that holds a parent zone and is a secondary of its child
zone in the same store: the parent's transfers carry the delegation from the
child's data (journal.h journal_cut), so a transfer of the child that changes
its apex NS (by AXFR, then by IXFR) raises the parent's serial and is a diff
of the parent's journal, as `tierdns-zone add` on the child does
(test_xfr_cut.py): an IXFR of the parent from its old serial carries exactly
the NS records that changed. So does `tierdns-control zone remove` of the
child (the delegation leaves the parent's transfers). A parent that is a
secondary zone of the same server keeps its primary's serial: raised here,
it would pass the primary's next one, never to be transferred. Else a secondary of the parent, which follows
by SOA serial and IXFR, never learns of the delegation the parent's AXFR
already carries."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rrset  # noqa: E402

h = hl.Harness("test_xfr_cut_secondary")


def write(name, text):
    path = os.path.join(h.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def soa_serial(d, zone):
    m, _ = hl.query(d, zone, "SOA")
    if m is None or not m.answer:
        return None
    return m.answer[0][0].serial


def axfr_ns(d, zone, name):
    q = dns.message.make_query(zone, "AXFR")
    r = dns.query.tcp(q, d.addr, port=d.port, timeout=5, source="127.0.0.1")
    return sorted(rd.to_text() for rs in r.answer if rs.name.to_text() == name
                  and rs.rdtype == 2 for rd in rs)


ns = {1: ["ns1.c.p.test."], 2: ["ns1.c.p.test.", "ns2.c.p.test."], 3: ["ns2.c.p.test."]}
fp = hl.ScriptedPrimary(1, refresh=3600, zone="c.p.test.", records=lambda s: [
    "c.p.test. 300 IN NS %s" % n for n in ns[s]] + [
    "ns1.c.p.test. 300 IN A 192.0.2.53", "ns2.c.p.test. 300 IN A 192.0.2.54"])
fp.cut = False
fp.ixfr = None  # AXFR form until the last step


def cseq(a, b):
    soa = "c.p.test. 300 IN SOA ns1.c.p.test. hm.c.p.test. %d 3600 1 86400 300"
    return [soa % b, soa % a] + ["c.p.test. 300 IN NS " + n for n in ns[a] if n not in ns[b]] + \
        [soa % b] + ["c.p.test. 300 IN NS " + n for n in ns[b] if n not in ns[a]] + [soa % b]


def parent_ixfr(d, serial):
    """The (sign, rdata) of the NS records at c.p.test. in the parent's IXFR
    from serial: '-' in a deletion part, '+' in an addition part."""
    q = dns.message.make_query("p.test.", "IXFR")
    q.authority.append(dns.rrset.from_text("p.test.", 0, "IN", "SOA", ". . %d 0 0 0 0" % serial))
    r = dns.query.tcp(q, d.addr, port=d.port, timeout=5, source="127.0.0.1",
                      one_rr_per_rrset=True)
    out, soas = [], 0
    for rs in r.answer:
        for rd in rs:
            if rs.rdtype == 6:
                soas += 1
            elif rs.rdtype == 2 and rs.name.to_text() == "c.p.test.":
                out.append(("-" if soas % 2 == 0 else "+", rd.to_text()))
    return sorted(out)
db = os.path.join(h.tmp, "db")
h.zone_load(db, write("p.zone", "$ORIGIN p.test.\n$TTL 300\n@ SOA ns1 hm 1 3600 600 86400 300\n"
                      "@ NS ns1\nns1 A 192.0.2.1\n"))
conf = write("u.conf", """zones:
  - name: p.test.
    allow-transfer: [127.0.0.0/8]
  - name: c.p.test.
    primaries: ["%s:%d"]
""" % (fp.addr, fp.port))
sock = os.path.join(h.tmp, "ctl.sock")
up = h.start_upper("UPPER", db, "-c", conf, "-t", "1", "--control", sock)
dt = hl.wait_for(lambda: axfr_ns(up, "p.test.", "c.p.test.") == ["ns1.c.p.test."], 10)
h.check(dt is not None, "the child by AXFR, its delegation in the parent's AXFR")
s0 = soa_serial(up, "p.test.")
fp.serial = 2
q = dns.message.make_query("c.p.test.", "SOA")
q.set_opcode(4)
hl.udp_exchange(up.addr, up.port, q.to_wire(), src=fp.addr)
dt = hl.wait_for(lambda: axfr_ns(up, "p.test.", "c.p.test.") ==
                 ["ns1.c.p.test.", "ns2.c.p.test."], 10)
h.check(dt is not None, "the child's new NS set is in the parent's AXFR")
s1 = soa_serial(up, "p.test.")
h.check(s1 is not None and s0 is not None and s1 != s0,
        "the parent's serial follows the delegation its AXFR carries: %s -> %s" % (s0, s1))
h.check(s1 is not None and parent_ixfr(up, s0) == [("+", "ns2.c.p.test.")],
        "the parent's IXFR carries the child's AXFR's change: %s" %
        (parent_ixfr(up, s0) if s1 else None))

# The same through an IXFR of the child (zoneload_diff).
fp.ixfr = lambda client: cseq(client, fp.serial) if client == 2 else None
fp.serial = 3
hl.udp_exchange(up.addr, up.port, q.to_wire(), src=fp.addr)
dt = hl.wait_for(lambda: axfr_ns(up, "p.test.", "c.p.test.") == ["ns2.c.p.test."], 10)
h.check(dt is not None and fp.asked[-1:] == ["IXFR"],
        "the child's IXFR is in the parent's AXFR: %s" % fp.asked)
s2 = soa_serial(up, "p.test.")
h.check(s2 is not None and s1 is not None and s2 != s1,
        "the parent's serial follows the child's IXFR: %s -> %s" % (s1, s2))
h.check(s2 is not None and s1 is not None and parent_ixfr(up, s1) == [("-", "ns1.c.p.test.")],
        "the parent's IXFR carries the child's IXFR's change: %s" %
        (parent_ixfr(up, s1) if s2 else None))

# tierdns-control zone remove of the child: the parent's transfers lose
# the delegation (it had no NS of its own at the cut).
r = subprocess.run([hl.CONTROL_BIN, "-s", sock, "zone", "remove", "c.p.test."],
                   capture_output=True, text=True, timeout=15)
h.check(r.returncode == 0, "zone remove: %s %s" % (r.stdout, r.stderr))
h.check(axfr_ns(up, "p.test.", "c.p.test.") == [], "the delegation left the parent's AXFR")
s3 = soa_serial(up, "p.test.")
h.check(s3 is not None and s2 is not None and s3 != s2,
        "the parent's serial follows the removal: %s -> %s" % (s2, s3))
h.check(s3 is not None and s2 is not None and parent_ixfr(up, s2) == [("-", "ns2.c.p.test.")],
        "the parent's IXFR carries the removal: %s" % (parent_ixfr(up, s2) if s3 else None))
h.stop(up)

# ---- the parent a secondary zone too: its serial stays its primary's ----
pp = hl.ScriptedPrimary(5, refresh=3600, zone="q.test.", records=lambda s: [
    "q.test. 300 IN NS ns1.q.test.", "ns1.q.test. 300 IN A 192.0.2.1"])
pp.cut = False
qns = {1: ["ns1.c.q.test."], 2: ["ns1.c.q.test.", "ns2.c.q.test."]}
qc = hl.ScriptedPrimary(1, refresh=3600, zone="c.q.test.", records=lambda s: [
    "c.q.test. 300 IN NS %s" % n for n in qns[s]] + [
    "ns1.c.q.test. 300 IN A 192.0.2.53", "ns2.c.q.test. 300 IN A 192.0.2.54"])
qc.cut = False
conf2 = write("u2.conf", """zones:
  - name: q.test.
    primaries: ["%s:%d"]
    allow-transfer: [127.0.0.0/8]
  - name: c.q.test.
    primaries: ["%s:%d"]
""" % (pp.addr, pp.port, qc.addr, qc.port))
up2 = h.start_upper("UPPER2", os.path.join(h.tmp, "db2"), "-c", conf2, "-t", "1")
dt = hl.wait_for(lambda: axfr_ns(up2, "q.test.", "c.q.test.") == ["ns1.c.q.test."] and
                 soa_serial(up2, "q.test.") == 5, 10)
h.check(dt is not None, "both secondary zones transferred")
qc.serial = 2
q2 = dns.message.make_query("c.q.test.", "SOA")
q2.set_opcode(4)
hl.udp_exchange(up2.addr, up2.port, q2.to_wire(), src=qc.addr)
dt = hl.wait_for(lambda: axfr_ns(up2, "q.test.", "c.q.test.") ==
                 ["ns1.c.q.test.", "ns2.c.q.test."], 10)
h.check(dt is not None and soa_serial(up2, "q.test.") == 5,
        "a secondary parent keeps its primary's serial: %s" % soa_serial(up2, "q.test."))
h.finish()
