#!/usr/bin/python3
"""A zone whose child zone is held in the same store (issue 13): the store
keeps the NS and glue at the cut as the child's data only, yet an AXFR of
the parent carries its delegation - the child's apex NS RRset and the
addresses of the NS names at or below the cut, without signatures - beside
the parent's own RRsets (the DS at the cut among them), and not the child's
other data; the same transfer cut into many messages (a parent with many
delegations) loses and repeats nothing; an AXFR of the child is the child's
zone. dnspython reads the transfers; a tierdns secondary of the parent
answers the referral.

A change of the delegation made on the child (tierdns-zone add and delete
of its apex NS and of glue, a load of a new version of the child, its
removal and its first load) raises
the parent's serial and is a diff of the parent's journal too: an IXFR of
the parent carries exactly it, and the secondary of the parent, told by
NOTIFY, follows by IXFR to the delegation an AXFR gives. A change of the
child's other data leaves the parent alone."""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402

h = hl.Harness("test_xfr_cut")
# Delegations of the parent: enough for a transfer of several messages (at
# most 1023 RRsets go into one, answer.h ANS_MAX_RRSETS).
N_CUTS = 1500

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
# The secondary of the parent started below, on an address known now so
# that the parent's NOTIFY reaches it; the NOTIFY comes from the address
# the secondary knows as its primary (RFC 1996 3.10), notify-source's.
sec_addr, sec_port, up_addr = hl.rand_addr(), hl.rand_port(), hl.rand_addr()
conf = write("upper.conf", ['notify-source: "%s"' % up_addr,
                            "zones:", "  - name: p.test.", "    allow-transfer: [127.0.0.0/8]",
                            '    notify: ["%s:%d"]' % (sec_addr, sec_port),
                            "  - name: child.p.test.", "    allow-transfer: [127.0.0.0/8]"])
up = h.start_upper("UPPER", db, "-c", conf, "-t", "1", addr=up_addr)


def transfer(q, done):
    """The records of the transfer asked by message q over TCP, as (owner,
    type, rdata text) tuples in the order sent, until done(records) or the
    end of the stream, and the number of messages."""
    w = q.to_wire()
    s = socket.create_connection((up.addr, up.port), timeout=10)
    s.sendall(struct.pack("!H", len(w)) + w)
    rrs, msgs = [], 0
    while not done(rrs):
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
    s.close()
    return rrs, msgs


def axfr(zone):
    """An AXFR's records (transfer) and its number of messages."""
    return transfer(dns.message.make_query(zone, "AXFR"),
                    lambda rrs: sum(r[1] == "SOA" for r in rrs) >= 2)


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
sec = h.start_upper("SECONDARY", os.path.join(h.tmp, "sec"), "-c", sconf, "-t", "1",
                    addr=sec_addr, port=sec_port)
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


def serial_of(d, zone):
    m, _ = hl.query(d, zone, "SOA", rd=False)
    return m.answer[0][0].serial if m is not None and m.answer else None


def ixfr(zone, serial):
    """An IXFR's records from serial (transfer): they end with the SOA of
    the serial the first one gives."""
    q = dns.message.make_query(zone, "IXFR")
    q.authority.append(dns.rrset.from_text(zone, 0, "IN", "SOA",
                                           "ns1.%s hm.%s %d 3600 600 86400 300" %
                                           (zone, zone, serial)))
    return transfer(q, lambda rrs: len(rrs) > 1 and rrs[-1][1] == "SOA" and
                    rrs[-1][2] == rrs[0][2])[0]


def ixfr_diff(rrs):
    """(deleted, added) of an incremental answer: the records of its
    difference sequences (RFC 1995 4) without the SOAs, net over all of
    them; None when it is not incremental."""
    if len(rrs) < 3 or rrs[1][1] != "SOA":
        return None
    deleted, added, adding = set(), set(), True
    for r in rrs[1:-1]:
        if r[1] == "SOA":
            adding = not adding
            continue
        if adding:
            if r in deleted:
                deleted.discard(r)
            else:
                added.add(r)
        elif r in added:
            added.discard(r)
        else:
            deleted.add(r)
    return deleted, added


def delegation(rrs):
    """The child's NS set and glue in a record list."""
    return sorted(r for r in rrs if r[0].endswith("child.p.test.") and
                  r[1] in ("NS", "A", "AAAA") and r[0] != "x.child.p.test.")


def secondary_refers(ns_want, timeout=10):
    """Whether the secondary's referral for the child names ns_want."""
    def ok():
        m, _ = hl.query(sec, "x.child.p.test.", "A", rd=False)
        got = sorted(rd.target.to_text() for rs in (m.authority if m else [])
                     if rs.rdtype == dns.rdatatype.NS for rd in rs)
        return got == sorted(ns_want)
    return hl.wait_for(ok, timeout) is not None


s0 = serial_of(up, "p.test.")
c0 = serial_of(up, "child.p.test.")
r = h.zone(db, "add", "x.child.p.test. 600 IN A 192.0.2.78")
h.check(r.returncode == 0 and serial_of(up, "p.test.") == s0 and
        serial_of(up, "child.p.test.") == c0 + 1,
        "the child's other data changed: the child's serial up, the parent's kept (%s)" %
        r.stdout)
r1 = h.zone(db, "add", "child.p.test. 600 IN NS ns3.child.p.test.")
r2 = h.zone(db, "add", "ns3.child.p.test. 600 IN A 192.0.2.55")
r3 = h.zone(db, "delete", "child.p.test.", "NS", "ns2.child.p.test.")
r4 = h.zone(db, "delete", "ns1.child.p.test.", "AAAA")
s1 = serial_of(up, "p.test.")
h.check(all(x.returncode == 0 for x in (r1, r2, r3, r4)) and s1 == s0 + 4,
        "four changes of the delegation: the parent's serial %s -> %s (%s)" %
        (s0, s1, [x.stdout + x.stderr for x in (r1, r2, r3, r4)]))
want_ns = ["ns.elsewhere.test.", "ns1.child.p.test.", "ns3.child.p.test."]
full, _ = axfr("p.test.")
inc = ixfr("p.test.", s0)
diff = ixfr_diff(inc)
h.check(diff is not None and inc[0][1] == "SOA" and int(inc[0][2].split()[2]) == s1,
        "the parent's IXFR from %s is incremental, to %s: %s" % (s0, s1, inc[:3]))
if diff is not None:
    deleted, added = diff
    h.check(deleted == {("child.p.test.", "NS", "ns2.child.p.test."),
                        ("ns2.child.p.test.", "A", "192.0.2.54"),
                        ("ns1.child.p.test.", "AAAA", "2001:db8::53")} and
            added == {("child.p.test.", "NS", "ns3.child.p.test."),
                      ("ns3.child.p.test.", "A", "192.0.2.55")},
            "the parent's IXFR carries the delegation's change: deleted %s, added %s" %
            (sorted(deleted), sorted(added)))
    h.check((set(delegation(rrs)) - deleted) | added == set(delegation(full)),
            "the delegation after the IXFR is the AXFR's: %s" % delegation(full))
h.check(sorted(r[2] for r in full if r[0] == "child.p.test." and r[1] == "NS") == want_ns,
        "the parent's AXFR has the new NS set")
h.check(secondary_refers(want_ns), "the secondary of the parent follows to the new NS set")
h.check(hl.wait_for(lambda: ("serial %s stored (IXFR" % s1) in sec.log_text(), 5) is not None,
        "the secondary got serial %s by IXFR: %s" % (s1, sec.log_text()[-600:]))

# A new version of the child loaded: its NS set back to ns1, ns2.
child2 = [line.replace("hm 7 ", "hm 100 ") for line in child]
r = h.zone(db, "load", write("c2.zone", child2))
s2 = serial_of(up, "p.test.")
diff = ixfr_diff(ixfr("p.test.", s1))
h.check(r.returncode == 0 and s2 == s1 + 1 and diff is not None and
        ("child.p.test.", "NS", "ns2.child.p.test.") in diff[1] and
        ("child.p.test.", "NS", "ns3.child.p.test.") in diff[0],
        "a load of the child changing the delegation is a diff of the parent: %s %s" %
        (r.stdout + r.stderr, diff))
h.check(secondary_refers(["ns.elsewhere.test.", "ns1.child.p.test.", "ns2.child.p.test."]),
        "the secondary follows the load too")
h.check(hl.wait_for(lambda: ("serial %s stored (IXFR" % s2) in sec.log_text(), 5) is not None
        and sec.log_text().count("stored (AXFR") == 1,
        "by IXFR too, the first transfer the only AXFR: %s" % sec.log_text()[-600:])

# The child removed: the parent's transfers carry nothing at the cut any
# more (the store held the delegation as the child's), and its IXFR says
# so; loaded again (a first load), the delegation is back in both.
held = set(delegation(axfr("p.test.")[0]))
r = h.zone(db, "remove-zone", "child.p.test.")
s3 = serial_of(up, "p.test.")
diff = ixfr_diff(ixfr("p.test.", s2))
h.check(r.returncode == 0 and s3 == s2 + 1 and diff is not None and diff[0] == held and
        not diff[1] and not delegation(axfr("p.test.")[0]),
        "remove-zone of the child is a diff of the parent: %s %s" % (r.stdout + r.stderr, diff))


def secondary_nxdomain():
    m, _ = hl.query(sec, "x.child.p.test.", "A", rd=False)
    return m is not None and m.rcode() == dns.rcode.NXDOMAIN


h.check(hl.wait_for(secondary_nxdomain, 10) is not None,
        "the secondary follows: no delegation, the name does not exist")
r = h.zone(db, "load", write("c3.zone", child2))
s4 = serial_of(up, "p.test.")
diff = ixfr_diff(ixfr("p.test.", s3))
h.check(r.returncode == 0 and s4 == s3 + 1 and diff is not None and not diff[0] and
        diff[1] == held, "the child's first load is a diff of the parent: %s %s" %
        (r.stdout + r.stderr, diff))
h.check(secondary_refers(["ns.elsewhere.test.", "ns1.child.p.test.", "ns2.child.p.test."]),
        "the secondary refers to the child again")
h.check(sec.log_text().count("stored (AXFR") == 1, "all by IXFR: %s" % sec.log_text()[-600:])
h.stop(sec)
h.stop(up)
h.finish()

