#!/usr/bin/python3
"""A zone whose child zone is held in the same store (issue 13): the store
keeps the NS and glue at the cut as the child's data only, yet an AXFR of
the parent carries its delegation - the child's apex NS RRset and the
addresses of the NS names at or below the cut, without signatures - beside
the parent's own RRsets (the DS at the cut among them), and not the child's
other data; the same transfer cut into many messages (a parent with many
delegations) loses and repeats nothing; an AXFR of the child is the child's
zone. dnspython reads the transfers; a tierdns secondary of the parent
answers the referral."""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.rdatatype  # noqa: E402

h = hl.Harness("test_xfr_cut")
N_CUTS = 400  # delegations of the parent: a transfer of many messages

parent = ["$ORIGIN p.test.", "$TTL 300", "@ SOA ns1 hm 1 3600 600 86400 300", "@ NS ns1",
          "ns1 A 192.0.2.1", "www A 192.0.2.2",
          # what the parent's file says at the cut is the child's to hold
          "child NS ns1.child", "ns1.child A 192.0.2.99",
          "child DS 12345 13 2 " + "ab" * 32]
for i in range(N_CUTS):
    parent.append("d%d NS ns.d%d" % (i, i))
    parent.append("ns.d%d A 10.1.%d.%d" % (i, i // 256, i % 256))
child = ["$ORIGIN child.p.test.", "$TTL 600", "@ SOA ns1 hm 7 3600 600 86400 300",
         "@ NS ns1", "@ NS ns2", "@ NS ns.elsewhere.test.", "ns1 A 192.0.2.53",
         "ns1 AAAA 2001:db8::53", "ns2 A 192.0.2.54", "x A 192.0.2.77"]


def write(name, lines):
    path = os.path.join(h.tmp, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


db = os.path.join(h.tmp, "db")
h.zone_load(db, write("p.zone", parent), write("c.zone", child))
conf = write("upper.conf", ["zones:", "  - name: p.test.", "    allow-transfer: [127.0.0.0/8]",
                            "  - name: child.p.test.", "    allow-transfer: [127.0.0.0/8]"])
up = h.start_upper("UPPER", db, "-c", conf, "-t", "1")


def axfr(zone):
    """The records of an AXFR over TCP, as (owner, type, rdata text)
    tuples in the order sent, and the number of messages."""
    q = dns.message.make_query(zone, "AXFR").to_wire()
    s = socket.create_connection((up.addr, up.port), timeout=10)
    s.sendall(struct.pack("!H", len(q)) + q)
    rrs, msgs, soas = [], 0, 0
    while soas < 2:
        hdr = hl.recv_exact(s, 2)
        if hdr is None or len(hdr) < 2:
            break
        m = dns.message.from_wire(hl.recv_exact(s, struct.unpack("!H", hdr)[0]), xfr=True,
                                  one_rr_per_rrset=True)
        msgs += 1
        if m.rcode() != 0:
            break
        for rrset in m.answer:
            for rd in rrset:
                rrs.append((rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype),
                            rd.to_text()))
                soas += rrset.rdtype == dns.rdatatype.SOA
    s.close()
    return rrs, msgs


rrs, msgs = axfr("p.test.")
body = rrs[1:-1]
h.check(len(rrs) > 2 and rrs[0][1] == "SOA" and rrs[-1][1] == "SOA",
        "parent AXFR: SOA first and last (%d records, %d messages)" % (len(rrs), msgs))
h.check(msgs > 1, "the parent's transfer takes several messages (%d)" % msgs)
h.check(len(body) == len(set(body)), "no record sent twice: %d records, %d distinct"
        % (len(body), len(set(body))))
ns = sorted(r[2] for r in body if r[0] == "child.p.test." and r[1] == "NS")
h.check(ns == ["ns.elsewhere.test.", "ns1.child.p.test.", "ns2.child.p.test."],
        "the delegation at the cut is the child's apex NS RRset: %s" % ns)
glue = sorted((r[0], r[1], r[2]) for r in body if r[0].endswith("child.p.test.") and
              r[1] in ("A", "AAAA"))
h.check(glue == [("ns1.child.p.test.", "A", "192.0.2.53"),
                 ("ns1.child.p.test.", "AAAA", "2001:db8::53"),
                 ("ns2.child.p.test.", "A", "192.0.2.54")],
        "glue: the addresses of the NS names below the cut: %s" % glue)
h.check(not any(r[0] == "x.child.p.test." or (r[0] == "child.p.test." and r[1] == "SOA")
                for r in body), "none of the child's other data in the parent's transfer")
h.check(any(r[0] == "child.p.test." and r[1] == "DS" for r in body),
        "the DS at the cut is sent (the parent's own)")
h.check(not any(r[1] == "RRSIG" and r[0].endswith("child.p.test.") for r in body),
        "no signature at the cut")
own = sum(1 for r in body if r[0].startswith("d") and r[1] == "NS")
h.check(own == N_CUTS, "the parent's own %d delegations all sent: %d" % (N_CUTS, own))

crrs, _ = axfr("child.p.test.")
h.check(crrs and crrs[0][1] == "SOA" and crrs[0][0] == "child.p.test." and
        sum(1 for r in crrs if r[0] == "x.child.p.test.") == 1,
        "child AXFR: the child's zone (%d records)" % len(crrs))

# A tierdns secondary of the parent alone answers the referral with glue.
sconf = write("secondary.conf", ["zones:", "  - name: p.test.",
                                 "    primaries: [\"%s:%d\"]" % (up.addr, up.port)])
sec = h.start_upper("SECONDARY", os.path.join(h.tmp, "sec"), "-c", sconf, "-t", "1")
ref = None
for _ in range(50):
    ref, _ = hl.query(sec, "x.child.p.test.", "A", rd=False)
    if ref is not None and ref.rcode() == 0 and ref.authority:
        break
    hl.time.sleep(0.1)
auth = [r for r in (ref.authority if ref else []) if r.rdtype == dns.rdatatype.NS]
h.check(ref is not None and ref.rcode() == 0 and not ref.answer and auth and
        auth[0].name.to_text() == "child.p.test.",
        "the secondary refers x.child.p.test. to the child: %s" % (ref,))
h.stop(sec)
h.stop(up)
h.finish()
