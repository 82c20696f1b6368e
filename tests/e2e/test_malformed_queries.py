#!/usr/bin/python3
"""Malformed queries against both tiers, over UDP and TCP (issue 4,
"Malformed input": a table).

Every case is sent to tierdns-upper and tierdns-local. The expected outcome
follows the rules in include/tierdns/qctx.h:
  drop     fewer than 12 bytes, or QR=1: no reply at all;
  notimp   opcode other than QUERY: NOTIMP with the query's ID and opcode;
  formerr  unparsable, QDCOUNT != 1, more than one OPT, OPT owner not the
           root, records in the answer section: FORMERR with the query's ID
           and opcode;
  answer   a valid (if unusual) query: any reply but FORMERR, with the ID.
After every case the server must answer a valid query correctly (it lives
and its state is not disturbed). TCP-only cases: 64 KiB of garbage (framed
with a valid header, and as a raw unframed stream), a frame that announces
100 bytes and sends 10 (then closes, or stalls), a zero-length frame, and
the whole table pipelined on one connection with valid queries between.
"""
import os
import random
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_malformed_queries")
random.seed()

QNAME = b"\x06webapp\x04site\x00"
QTAIL = struct.pack("!HH", 1, 1)  # A IN
QUESTION = QNAME + QTAIL
OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


def hdr(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def build_cases():
    """(label, builder(qid) -> bytes, expect). A builder takes the ID so
    every send carries a fresh random one."""
    c = []
    for n in range(0, 12):
        c.append(("%d-byte packet" % n,
                  lambda qid, n=n: (struct.pack("!H", qid) + bytes(random.getrandbits(8) for _ in range(10)))[:n],
                  "drop"))
    for n in range(12, 17):
        c.append(("%d-byte packet, QDCOUNT 1, question cut" % n,
                  lambda qid, n=n: (hdr(qid) + QUESTION)[:n], "formerr"))
    c += [
        ("QDCOUNT 0, header only", lambda qid: hdr(qid, qd=0), "formerr"),
        ("QDCOUNT 0 with a question after it", lambda qid: hdr(qid, qd=0) + QUESTION, "formerr"),
        ("QDCOUNT 2, two questions", lambda qid: hdr(qid, qd=2) + QUESTION + QUESTION, "formerr"),
        ("QDCOUNT 2, one question", lambda qid: hdr(qid, qd=2) + QUESTION, "formerr"),
        ("truncated name (label runs past the end)", lambda qid: hdr(qid) + b"\x06webapp\x04si", "formerr"),
        ("name without its root label, no type", lambda qid: hdr(qid) + b"\x06webapp\x04site", "formerr"),
        ("question without class", lambda qid: hdr(qid) + QNAME + b"\x00\x01", "formerr"),
        ("compression pointer to itself", lambda qid: hdr(qid) + b"\xc0\x0c" + QTAIL, "formerr"),
        ("compression loop through a label", lambda qid: hdr(qid) + b"\x01a\xc0\x0c" + QTAIL, "formerr"),
        ("compression loop of two pointers",
         lambda qid: hdr(qid) + b"\x01a\xc0\x10\xc0\x0c" + QTAIL, "formerr"),
        ("forward compression pointer",
         lambda qid: hdr(qid) + b"\xc0\x12" + QTAIL + QNAME, "formerr"),
        ("compression pointer past the end", lambda qid: hdr(qid) + b"\xc0\xff" + QTAIL, "formerr"),
        # RFC 2181 11: a label may hold any octet, "." and 0x00 included.
        ("a label containing a 0x00 byte (valid)",
         lambda qid: hdr(qid) + b"\x03a\x00b\x04site\x00" + QTAIL, "answer"),
        ("a label containing a '.' byte (valid)",
         lambda qid: hdr(qid) + b"\x0bwebapp.site\x00" + QTAIL, "answer"),
        # Offset 2 holds RD (0x01), 0x00, then QDCOUNT's 0x00: the odd but
        # valid name "\\000." by a backward pointer.
        ("backward pointer into the header (valid)",
         lambda qid: hdr(qid) + b"\xc0\x02" + QTAIL, "answer"),
        ("label of 64 bytes (0x40 label type)",
         lambda qid: hdr(qid) + b"\x40" + b"a" * 64 + b"\x00" + QTAIL, "formerr"),
        ("label type 0x80", lambda qid: hdr(qid) + b"\x80" + b"a" * 10 + b"\x00" + QTAIL, "formerr"),
        ("name of 256 bytes",
         lambda qid: hdr(qid) + (b"\x3e" + b"a" * 62) * 4 + b"\x02ab\x00" + QTAIL, "formerr"),
        ("name of 320 bytes",
         lambda qid: hdr(qid) + (b"\x3f" + b"b" * 63) * 5 + b"\x00" + QTAIL, "formerr"),
        ("name of exactly 255 bytes (valid)",
         lambda qid: hdr(qid) + (b"\x3e" + b"a" * 62) * 4 + b"\x01a\x00" + QTAIL, "answer"),
        ("two OPT records", lambda qid: hdr(qid, ar=2) + QUESTION + OPT + OPT, "formerr"),
        ("OPT owner not the root",
         lambda qid: hdr(qid, ar=1) + QUESTION + b"\x01x\x00" + OPT[1:], "formerr"),
        ("OPT RDLENGTH past the end",
         lambda qid: hdr(qid, ar=1) + QUESTION + OPT[:-2] + b"\x00\x10" + b"\x00\x0a\x00", "formerr"),
        ("OPT cut in its fixed part", lambda qid: hdr(qid, ar=1) + QUESTION + OPT[:5], "formerr"),
        ("OPT in the answer section", lambda qid: hdr(qid, an=1) + QUESTION + OPT, "formerr"),
        ("ANCOUNT 1, no answer present", lambda qid: hdr(qid, an=1) + QUESTION, "formerr"),
        ("NSCOUNT 1, no authority present", lambda qid: hdr(qid, ns=1) + QUESTION, "formerr"),
        ("ARCOUNT 2, one OPT present", lambda qid: hdr(qid, ar=2) + QUESTION + OPT, "formerr"),
        ("ARCOUNT 65535, nothing present", lambda qid: hdr(qid, ar=65535) + QUESTION, "formerr"),
        ("an A record in the answer section",
         lambda qid: hdr(qid, an=1) + QUESTION + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04",
         "formerr"),
        ("QR=1 (a reply sent to a server)", lambda qid: hdr(qid, flags=0x8100) + QUESTION, "drop"),
        ("QR=1 and opcode UPDATE", lambda qid: hdr(qid, flags=0x8100 | 5 << 11) + QUESTION, "drop"),
        ("QR=1, 12 bytes of header only", lambda qid: hdr(qid, flags=0x8000, qd=0), "drop"),
        ("OPT version 1", lambda qid: hdr(qid, ar=1) + QUESTION + b"\x00" +
         struct.pack("!HHIH", 41, 1232, 0x00010000, 0), "badvers"),
        ("opcode 5 (UPDATE)", lambda qid: hdr(qid, flags=0x0100 | 5 << 11) + QUESTION, "notimp"),
        ("opcode 2 (STATUS)", lambda qid: hdr(qid, flags=0x0100 | 2 << 11) + QUESTION, "notimp"),
        ("opcode 15, garbage after the header",
         lambda qid: hdr(qid, flags=15 << 11) + b"\xff" * 20, "notimp"),
    ]
    return c


def verdict(raw, qid, opcode, expect):
    """None if raw is the right outcome for expect, else why not."""
    if expect == "drop":
        return None if raw is None else "expected no reply, got %d bytes" % len(raw)
    if raw is None:
        return "expected a reply (%s), got none" % expect
    if len(raw) < 12:
        return "reply of %d bytes" % len(raw)
    rid, flags = struct.unpack("!HH", raw[:4])
    rcode = flags & 0xF
    if rid != qid:
        return "reply ID %d, query ID %d" % (rid, qid)
    if not flags & 0x8000:
        return "reply without QR"
    if (flags >> 11) & 0xF != opcode:
        return "reply opcode %d, query opcode %d" % ((flags >> 11) & 0xF, opcode)
    if expect == "badvers":
        # RFC 6891 6.1.3: extended rcode 1 in the OPT, header rcode 0
        try:
            m = hl.dns.message.from_wire(raw)
        except Exception as e:  # noqa: BLE001
            return "unreadable BADVERS reply: %s" % e
        if m.rcode() != 16 or m.edns != 0:
            return "rcode %d, EDNS version %d, expected BADVERS (16) with version 0" % (
                m.rcode(), m.edns)
        return None
    want = {"formerr": 1, "notimp": 4}.get(expect)
    if want is not None and rcode != want:
        return "rcode %s, expected %s" % (dns_rcode(rcode), expect.upper())
    if expect == "answer" and rcode == 1:
        return "FORMERR for a valid query"
    return None


def dns_rcode(n):
    return {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
            4: "NOTIMP", 5: "REFUSED"}.get(n, str(n))


def pipelined(d, pname, paddr):
    """Every case of the table, and a valid query between each two, as
    frames on one TCP connection sent in one write: each non-drop frame is
    answered, with its ID and rcode, in any order (RFC 7766 6.2.1.1), and
    every valid query among them too: a malformed frame does not end the
    connection for the frames behind it."""
    frames = []
    want = {}
    for label, build, expect in build_cases():
        qid = len(frames) + 1
        pkt = build(qid)
        frames.append(pkt)
        if expect != "drop":
            want[qid] = (label, pkt, expect)
        qid = len(frames) + 1
        frames.append(hl.make_query(pname, qid=qid).to_wire())
        want[qid] = ("the valid query after " + label, None, "valid")
    s = socket.create_connection((d.addr, d.port), timeout=5)
    s.sendall(b"".join(struct.pack("!H", len(f)) + f for f in frames))
    got = {}
    s.settimeout(3)
    try:
        while len(got) < len(want):
            hdr_ = hl.recv_exact(s, 2)
            if hdr_ is None:
                break
            raw = hl.recv_exact(s, struct.unpack("!H", hdr_)[0])
            if raw is None or len(raw) < 2:
                break
            got[struct.unpack("!H", raw[:2])[0]] = raw
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    # Drop cases carry IDs that collide with nothing: their IDs are not in
    # want, and a reply to one shows as an unexpected ID.
    extra = sorted(set(got) - set(want))
    h.check(not extra, "%s TCP pipelined: replies to frames that deserve none (IDs %s)" %
            (d.label, extra))
    for qid, (label, pkt, expect) in sorted(want.items()):
        raw = got.get(qid)
        if expect == "valid":
            ok = raw is not None and hl.answer_addrs(hl.dns.message.from_wire(raw), pname) == {paddr}
            h.check(ok, "%s TCP pipelined: %s: no correct answer" % (d.label, label))
            continue
        opcode = (pkt[2] >> 3) & 0xF
        why = verdict(raw, qid, opcode, expect)
        h.check(why is None, "%s TCP pipelined: %s: %s" % (d.label, label, why))


# ---- the two tiers ----
upper_db = os.path.join(h.tmp, "upper")
local_db = os.path.join(h.tmp, "local")
h.zone_load(upper_db, os.path.join(hl.ZONES, "upper", "root.zone"),
            os.path.join(hl.ZONES, "upper", "site.zone"))
h.zone_load(local_db, os.path.join(hl.ZONES, "local", "home.arpa.zone"))
# The local tier's upstream answers NXDOMAIN to everything: only the valid
# odd queries reach it, and they must not wait for a timeout.
nx = hl.FakeUpstream(h, lambda up, s: [("send", hl.reply(s, rcode=3))] if s.msg else None)
upper = h.start_upper("UPPER", upper_db)
local = h.start_local("LOCAL", local_db, [nx.endpoint])

# (daemon, valid name, its address): the liveness probe after every case
TIERS = [(upper, "webapp.site.", "192.0.2.10"), (local, "router.home.arpa.", "198.51.100.1")]
DROP_WAIT = 0.25


def probe(d, name, addr, tcp, after):
    m, _ = hl.query(d, name, "A", tcp=tcp, timeout=2)
    h.check(d.alive(), "%s died after: %s" % (d.label, after))
    h.check(hl.answer_addrs(m, name) == {addr},
            "%s: no correct answer for %s after: %s (got %s)" %
            (d.label, name, after, hl.rcode_text(m)))


for d, pname, paddr in TIERS:
    for label, build, expect in build_cases():
        for tcp in (False, True):
            qid = random.randint(1, 65535)
            pkt = build(qid)
            opcode = (pkt[2] >> 3) & 0xF if len(pkt) >= 3 else 0
            wait = DROP_WAIT if expect == "drop" else 2.0
            try:
                raw = (hl.tcp_exchange(d.addr, d.port, pkt, wait) if tcp
                       else hl.udp_exchange(d.addr, d.port, pkt, wait))
            except OSError as e:
                raw = None
                h.check(expect == "drop", "%s %s: %s: connection error %s" %
                        (d.label, "TCP" if tcp else "UDP", label, e))
            why = verdict(raw, qid, opcode, expect)
            h.check(why is None, "%s %s: %s: %s" % (d.label, "TCP" if tcp else "UDP", label, why))
            probe(d, pname, paddr, tcp, label)

    # ---- TCP only ----
    pipelined(d, pname, paddr)

    # 64 KiB framed: a valid header (QDCOUNT 1, ANCOUNT 256), then garbage.
    qid = random.randint(1, 65535)
    big = hdr(qid, an=256) + os.urandom(65535 - 12)
    raw = hl.tcp_exchange(d.addr, d.port, big, 3)
    why = verdict(raw, qid, 0, "formerr")
    h.check(why is None, "%s TCP: 64 KiB frame of garbage after a header: %s" % (d.label, why))
    probe(d, pname, paddr, True, "64 KiB framed garbage")

    # 64 KiB unframed garbage: whatever the length prefixes happen to say,
    # the server must neither crash nor stop serving.
    s = socket.create_connection((d.addr, d.port), timeout=3)
    try:
        s.sendall(os.urandom(65536))
    except OSError:
        pass  # the server may close on us mid-stream: fine
    s.close()
    probe(d, pname, paddr, True, "64 KiB raw garbage stream")
    probe(d, pname, paddr, False, "64 KiB raw garbage stream")

    # A frame announcing 100 bytes that sends 10 and closes.
    s = socket.create_connection((d.addr, d.port), timeout=3)
    s.sendall(struct.pack("!H", 100) + (hdr(1) + QUESTION)[:10])
    s.close()
    probe(d, pname, paddr, True, "truncated TCP frame, then close")

    # The same, but the client stalls: no reply may come for a half frame,
    # and the server keeps serving others meanwhile.
    s = socket.create_connection((d.addr, d.port), timeout=3)
    s.sendall(struct.pack("!H", 100) + (hdr(2) + QUESTION)[:10])
    s.settimeout(0.5)
    try:
        got = s.recv(2)
    except socket.timeout:
        got = None
    h.check(not got, "%s TCP: a reply to a half frame: %r" % (d.label, got))
    probe(d, pname, paddr, True, "a stalled half TCP frame (still open)")
    probe(d, pname, paddr, False, "a stalled half TCP frame (still open)")
    s.close()

    # A frame of length 0.
    s = socket.create_connection((d.addr, d.port), timeout=3)
    s.sendall(b"\x00\x00")
    s.settimeout(DROP_WAIT)
    try:
        got = s.recv(2)
    except socket.timeout:
        got = None
    except ConnectionResetError:
        got = None
    h.check(not got, "%s TCP: a reply to a zero-length frame: %r" % (d.label, got))
    s.close()
    probe(d, pname, paddr, True, "a zero-length TCP frame")

for d, _, _ in TIERS:
    h.stop(d)
h.finish()
