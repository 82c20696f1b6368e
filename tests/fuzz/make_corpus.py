#!/usr/bin/python3
"""Write the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/.

Every seed is a meaningful input built with dnspython (or by hand where the
point is a broken packet), so the replay tests walk the main branches of each
target on every build and libFuzzer starts from there. The output is
deterministic; run it again after changing a target's input format and commit
the result. Files whose names start with "crash-" are reproducers of bugs the
fuzzers found, "limit-" ones show known limits of ldns; neither is written
here nor removed.

The names asked must match the zones inline in fuzz_auth.c and fuzz_local.c,
and QUESTIONS must match the table in fuzz_upstream.c.
"""
import os
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# The targets whose seeds this script writes (tests/fuzz/corpus/encode is
# made elsewhere and left alone).
TARGETS = ("auth", "local", "upstream", "msg", "rrset", "zoneload", "doh", "diff")


def clean():
    for target in TARGETS:
        d = os.path.join(OUT, target)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if not f.startswith(("crash-", "limit-")):
                os.remove(os.path.join(d, f))


def query(qname, qtype="A", qid=0x1000, tcp=False, rdclass="IN", edns=-1,
          payload=1232, do=False, options=None, rd=True, opcode=0):
    """A query; the low bit of the first byte selects TCP in fuzz_auth/local."""
    m = dns.message.make_query(qname, qtype, rdclass, use_edns=edns,
                               payload=payload, want_dnssec=do,
                               options=options)
    m.id = (qid & 0xfeff) | (0x0100 if tcp else 0)
    if not rd:
        m.flags &= ~dns.flags.RD
    m.set_opcode(opcode)
    return m.to_wire()


def hdr(qid=0x1000, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def wname(*labels):
    out = b""
    for l in labels:
        out += bytes([len(l)]) + l
    return out + b"\x00"


def malformed(qid=0x1000):
    """Broken queries both tiers must answer with FORMERR or drop."""
    www = wname(b"www", b"example")
    q = struct.pack("!HH", 1, 1)
    return {
        "empty": b"",
        "short-11": hdr(qid)[:11],
        "header-only-qd0": hdr(qid, qd=0),
        "qd0-with-question": hdr(qid, qd=0) + www + q,
        "qd2": hdr(qid, qd=2) + www + q + www + q,
        "truncated-name": hdr(qid) + b"\x03www\x07exa",
        "truncated-qtype": hdr(qid) + www + b"\x00",
        "pointer-loop": hdr(qid) + b"\xc0\x0c" + q,
        "pointer-forward": hdr(qid) + b"\xc0\x20" + q + b"\x00" * 16,
        "pointer-into-header": hdr(qid) + b"\x03www\xc0\x02" + q,
        "label-64": hdr(qid) + bytes([64]) + b"a" * 64 + b"\x00" + q,
        "name-256": hdr(qid) + (bytes([63]) + b"a" * 63) * 4 + b"\x03abc\x00" + q,
        "bad-label-type": hdr(qid) + b"\x43abc\x00" + q,
        "counts-lie": hdr(qid, an=3, ns=2, ar=5) + www + q,
        "answer-in-query": hdr(qid, an=1) + www + q + b"\xc0\x0c" + q +
            struct.pack("!IH", 60, 4) + b"\xc0\x00\x02\x01",
        "opt-twice": hdr(qid, ar=2) + www + q +
            (b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)) * 2,
        "opt-owner": hdr(qid, ar=1) + www + q + b"\xc0\x0c" +
            struct.pack("!HHIH", 41, 1232, 0, 0),
        "opt-rdlen-overrun": hdr(qid, ar=1) + www + q + b"\x00" +
            struct.pack("!HHIH", 41, 1232, 0, 40) + b"\x00\x0a",
        "qr-set": hdr(qid, flags=0x8100) + www + q,
        "garbage-64": bytes((i * 37 + 11) & 0xff for i in range(64)),
    }


# ---- fuzz_auth: queries to the upper tier --------------------------------

def auth_corpus():
    t = "auth"
    ex = [
        ("www-a", "www.example.", "A"), ("www-aaaa", "www.example.", "AAAA"),
        ("apex-mx", "example.", "MX"), ("apex-txt", "example.", "TXT"),
        ("apex-soa", "example.", "SOA"), ("apex-ns", "example.", "NS"),
        ("apex-any", "example.", "ANY"), ("alias", "alias.example.", "A"),
        ("chain", "chain.example.", "AAAA"), ("out-cname", "out.example.", "A"),
        ("loop", "loop1.example.", "A"), ("nx", "nx.example.", "A"),
        ("nodata", "www.example.", "TXT"), ("ent", "c.ent.example.", "A"),
        ("wild", "foo.wild.example.", "A"), ("wild-txt", "x.y.wild.example.", "TXT"),
        ("wild-nodata", "foo.wild.example.", "MX"),
        ("referral", "host.sub.example.", "A"), ("referral-ns", "sub.example.", "NS"),
        ("glue", "ns.sub.example.", "A"), ("deep", "host.deep.example.", "A"),
        ("deep-cname-up", "cname-up.deep.example.", "A"),
        ("deep-soa", "deep.example.", "SOA"), ("srv", "_sip._udp.example.", "SRV"),
        ("unknown-type", "unk.example.", "TYPE65280"),
        ("refused", "www.example.org.", "A"), ("axfr", "example.", "AXFR"),
        ("ds", "sub.example.", "DS"), ("case", "WwW.ExAmPlE.", "A"),
        ("qtype0", "www.example.", "TYPE0"),
    ]
    for name, qn, qt in ex:
        write(t, name, query(qn, qt))
    write(t, "big-udp", query("big.example.", "TXT"))
    write(t, "big-edns", query("big.example.", "TXT", edns=0))
    write(t, "big-edns-512", query("big.example.", "TXT", edns=0, payload=512))
    write(t, "big-tcp", query("big.example.", "TXT", tcp=True))
    write(t, "any-tcp", query("example.", "ANY", tcp=True, edns=0))
    write(t, "edns-do", query("www.example.", "A", edns=0, do=True))
    write(t, "edns-v1", query("www.example.", "A", edns=1))
    write(t, "edns-payload-100", query("www.example.", "A", edns=0, payload=100))
    write(t, "edns-cookie", query("www.example.", "A", edns=0, options=[
        dns.edns.GenericOption(10, b"\x01\x02\x03\x04\x05\x06\x07\x08")]))
    write(t, "chaos-version", query("version.bind.", "TXT", rdclass="CH"))
    write(t, "chaos-id", query("id.server.", "TXT", rdclass="CH"))
    write(t, "chaos-hostname", query("hostname.bind.", "TXT", rdclass="CH"))
    write(t, "chaos-a", query("version.bind.", "A", rdclass="CH"))
    write(t, "class-hs", query("www.example.", "A", rdclass="HS"))
    write(t, "class-any", query("www.example.", "A", rdclass="ANY"))
    write(t, "opcode-notify", query("example.", "SOA", opcode=dns.opcode.NOTIFY))
    write(t, "opcode-update", query("example.", "SOA", opcode=dns.opcode.UPDATE))
    write(t, "no-rd", query("www.example.", "A", rd=False))
    for name, data in malformed().items():
        write(t, "bad-" + name, data)
    # The signed zones: qid bit 0x0200 makes the harness add DO.
    signed = [
        ("www", "A"), ("www", "AAAA"), ("nx", "A"), ("x.w", "A"), ("x.w", "MX"),
        ("ent", "A"), ("a.ent", "A"), ("host.kid", "A"), ("kid", "DS"),
        ("", "DNSKEY"), ("", "ANY"), ("www", "RRSIG"), ("a.b.nx", "TXT"),
        ("*.w", "A"), ("*.w", "TXT"),
    ]
    for zone in ("signed", "hashed"):
        for label, qt in signed:
            if zone == "hashed" and label.endswith("kid"):
                label = label.replace("kid", "secure")
            qn = (label + "." if label else "") + zone + "."
            base = "%s-%s-%s" % (zone, label.replace("*", "star").replace(".", "_") or "apex",
                                 qt.lower())
            write(t, base + "-do", query(qn, qt, qid=0x1200))
            write(t, base + "-do-edns", query(qn, qt, edns=0, do=True, payload=512))
        write(t, zone + "-deleg-do", query("host.deleg.%s." % zone, "A", qid=0x1200))
        write(t, zone + "-deleg-ds-do", query("deleg.%s." % zone, "DS", qid=0x1200))
        write(t, zone + "-tcp-do", query("nx.%s." % zone, "A", qid=0x1200, tcp=True))


# ---- fuzz_local: queries to the local tier -------------------------------

def local_corpus():
    t = "local"
    ex = [
        ("static-a", "nas.home.arpa.", "A"), ("static-aaaa", "nas.home.arpa.", "AAAA"),
        ("static-cname", "printer.home.arpa.", "A"),
        ("static-cname-to-cache", "away.home.arpa.", "A"),
        ("static-wild", "pc1.dyn.home.arpa.", "A"),
        ("static-referral", "host.lab.home.arpa.", "A"),
        ("static-nx", "nx.home.arpa.", "A"), ("static-soa", "home.arpa.", "SOA"),
        ("static-nodata", "nas.home.arpa.", "MX"),
        ("cache-hit", "cached.test.", "A"), ("cache-nodata", "cached.test.", "AAAA"),
        ("cache-chain", "www.test.", "A"), ("cache-nx", "nx.test.", "A"),
        ("cache-mx", "test.", "MX"), ("cache-expired", "old.test.", "A"),
        ("miss", "www.example.com.", "A"), ("miss-any", "example.com.", "ANY"),
        ("miss-axfr", "example.com.", "AXFR"), ("case", "CaChEd.TeSt.", "A"),
    ]
    for name, qn, qt in ex:
        write(t, name, query(qn, qt))
    write(t, "cache-hit-tcp", query("cached.test.", "A", tcp=True))
    write(t, "cache-hit-edns-do", query("cached.test.", "A", edns=0, do=True))
    write(t, "cache-chain-no-rd", query("www.test.", "A", rd=False))
    write(t, "miss-edns", query("www.example.com.", "A", edns=0))
    write(t, "edns-v1", query("cached.test.", "A", edns=1))
    write(t, "chaos-version", query("version.bind.", "TXT", rdclass="CH"))
    write(t, "chaos-id", query("id.server.", "TXT", rdclass="CH"))
    write(t, "class-hs", query("cached.test.", "A", rdclass="HS"))
    write(t, "opcode-notify", query("test.", "SOA", opcode=dns.opcode.NOTIFY))
    for name, data in malformed().items():
        write(t, "bad-" + name, data)


# ---- fuzz_upstream: control byte + upstream reply ------------------------

QUESTIONS = [
    ("www.example.com.", "A"), ("example.com.", "MX"),
    ("alias.example.com.", "A"), ("example.com.", "ANY"),
    ("nx.example.com.", "A"), ("www.example.com.", "AAAA"),
    ("example.com.", "TXT"), ("_sip._udp.example.com.", "SRV"),
]
CTL_EDNS, CTL_KEEP_ID, CTL_KEEP_Q, CTL_TCP, CTL_HARDENED = 0x08, 0x10, 0x20, 0x40, 0x80
SOA = "example.com. 3600 IN SOA ns1.example.com. admin.example.com. 1 7200 900 1209600 300"


def rr(text):
    name, ttl, cls, typ, rdata = text.split(None, 4)
    return dns.rrset.from_text(name, int(ttl), cls, typ, rdata)


def reply(qi, an=(), ns=(), ar=(), rcode=0, flags=None, edns=-1):
    """An upstream reply to question qi, as the body fuzz_upstream patches:
    header + sections, the question left out (the target puts in the one it
    sent; dnspython's compression pointers into it stay valid, since the
    resolver sends the question in lower case, as written here)."""
    qn, qt = QUESTIONS[qi]
    q = dns.message.make_query(qn, qt)
    q.id = 0x5151  # fixed, for a deterministic corpus (the target patches it)
    m = dns.message.make_response(q)
    m.set_rcode(rcode)
    if edns >= 0:
        m.use_edns(edns, payload=1232)
    for sec, texts in ((m.answer, an), (m.authority, ns), (m.additional, ar)):
        for text in texts:
            sec.append(rr(text))
    if flags is not None:
        m.flags = flags
    wire = m.to_wire()
    qlen = len(dns.name.from_text(qn).to_wire()) + 4
    return wire[:12] + wire[12 + qlen:], wire


def up(name, ctl, body):
    write("upstream", name, bytes([ctl]) + body)


def upstream_corpus():
    A = ["www.example.com. 300 IN A 192.0.2.1", "www.example.com. 300 IN A 192.0.2.2"]
    good = [
        ("a", 0, dict(an=A)),
        ("a-extra", 0, dict(an=A + ["evil.example.net. 300 IN A 203.0.113.66"],
                            ns=["example.com. 300 IN NS ns1.example.com.",
                                "com. 300 IN NS evil.example.net."],
                            ar=["ns1.example.com. 300 IN A 192.0.2.53"])),
        ("mx", 1, dict(an=["example.com. 3600 IN MX 10 mail.example.com.",
                           "example.com. 3600 IN MX 20 mail2.example.com."],
                       ar=["mail.example.com. 3600 IN A 192.0.2.25"])),
        ("cname-chain", 2, dict(an=["alias.example.com. 600 IN CNAME mid.example.com.",
                                    "mid.example.com. 600 IN CNAME www.example.com."] + A)),
        ("cname-broken", 2, dict(an=["alias.example.com. 600 IN CNAME mid.example.com."] + A)),
        ("cname-loop", 2, dict(an=["alias.example.com. 600 IN CNAME mid.example.com.",
                                   "mid.example.com. 600 IN CNAME alias.example.com."])),
        ("cname-long", 2, dict(an=["alias.example.com. 600 IN CNAME c1.example.com."] +
                               ["c%d.example.com. 600 IN CNAME c%d.example.com." % (i, i + 1)
                                for i in range(1, 20)])),
        ("cname-nx", 2, dict(rcode=3, an=["alias.example.com. 600 IN CNAME gone.example.com."],
                             ns=[SOA])),
        ("any", 3, dict(an=["example.com. 3600 IN MX 10 mail.example.com.",
                            "example.com. 3600 IN TXT \"hello\"", SOA,
                            "example.com. 3600 IN NS ns1.example.com."])),
        ("nxdomain", 4, dict(rcode=3, ns=[SOA])),
        ("nxdomain-no-soa", 4, dict(rcode=3)),
        ("nxdomain-foreign-soa", 4, dict(rcode=3, ns=[
            "example.net. 3600 IN SOA ns.example.net. a.example.net. 1 2 3 4 5"])),
        ("nodata", 5, dict(ns=[SOA])),
        ("nodata-no-soa", 5, dict()),
        ("txt", 6, dict(an=['example.com. 300 IN TXT "v=spf1 -all" "second string"',
                            'example.com. 300 IN TXT "' + "x" * 200 + '"'])),
        ("srv", 7, dict(an=["_sip._udp.example.com. 300 IN SRV 10 60 5060 www.example.com."])),
        ("ttl-zero", 0, dict(an=["www.example.com. 0 IN A 192.0.2.1"])),
        ("ttl-top-bit", 0, dict(an=["www.example.com. 2147483648 IN A 192.0.2.1"])),
        ("ttl-huge", 0, dict(an=["www.example.com. 2147483647 IN A 192.0.2.1"])),
        ("wrong-class", 0, dict(an=["www.example.com. 300 CH TXT \"chaos\""])),
        ("wrong-type", 0, dict(an=["www.example.com. 300 IN AAAA 2001:db8::1"])),
        ("servfail", 0, dict(rcode=2)),
        ("refused", 0, dict(rcode=5)),
        ("formerr", 0, dict(rcode=1)),
        ("notimp", 0, dict(rcode=4)),
        ("badvers-edns", 0, dict(rcode=16, edns=0)),
        ("edns-reply", 0, dict(an=A, edns=0)),
        ("tc", 0, dict(flags=dns.flags.QR | dns.flags.TC | dns.flags.RD | dns.flags.RA)),
        ("qr-clear", 0, dict(an=A, flags=dns.flags.RD)),
    ]
    for name, qi, kw in good:
        body, full = reply(qi, **kw)
        up(name, qi, body)
        if name in ("a", "cname-chain", "nxdomain", "tc", "formerr"):
            up(name + "-edns", qi | CTL_EDNS, body)
            up(name + "-tcp-client", qi | CTL_TCP, body)
        if name in ("a", "cname-chain", "nxdomain", "servfail", "txt"):
            up(name + "-hardened", qi | CTL_HARDENED, body)
        if name in ("a", "cname-chain"):
            up(name + "-full", qi | CTL_KEEP_Q, full)
            up(name + "-wrong-id", qi | CTL_KEEP_ID, body)
    # a spoofed reply: right ID, another question
    body, full = reply(1, an=["example.com. 3600 IN MX 10 evil.example.net."])
    up("wrong-question", 0 | CTL_KEEP_Q, full)
    # a large reply: 300 records
    body, _ = reply(0, an=["www.example.com. 300 IN A 192.0.%d.%d" % (i // 250, i % 250 + 1)
                           for i in range(300)])
    up("many-records", 0 | CTL_TCP, body)
    up("many-records-hardened", 0 | CTL_TCP | CTL_HARDENED, body)
    # broken replies
    www = A[0]
    body, _ = reply(0, an=[www])
    up("short-0", 0, b"")
    up("short-5", 0, b"\x00\x00\x81\x80\x00")
    up("header-only", 0, body[:12])
    up("counts-lie", 0, body[:6] + b"\x00\x09" + body[8:])
    up("rdlength-overrun", 0, body[:-6] + b"\x00\x40" + body[-4:])
    up("truncated-rr", 0, body[:-3])
    # the answer owner points at itself (offset 12 + 21 once the question is in)
    up("answer-pointer-loop", 0, body[:12] + b"\xc0\x21" + body[14:])
    up("garbage", 0, bytes((i * 91 + 7) & 0xff for i in range(200)))


# ---- fuzz_msg: whole messages, parsed by msg_parse and by ldns -----------

def msg_corpus():
    t = "msg"
    A = ["www.example.com. 300 IN A 192.0.2.1", "www.example.com. 300 IN A 192.0.2.2"]
    replies = [
        ("a", 0, dict(an=A)),
        ("a-edns", 0, dict(an=A, edns=0)),
        ("referral-glue", 1, dict(ns=["example.com. 300 IN NS ns1.example.com.",
                                      "example.com. 300 IN NS ns2.example.com."],
                                  ar=["ns1.example.com. 300 IN A 192.0.2.53",
                                      "ns2.example.com. 300 IN AAAA 2001:db8::53"])),
        ("cname-chain", 2, dict(an=["alias.example.com. 600 IN CNAME mid.example.com.",
                                    "mid.example.com. 600 IN CNAME www.example.com."] + A)),
        ("nxdomain", 4, dict(rcode=3, ns=[SOA])),
        ("mx", 1, dict(an=["example.com. 3600 IN MX 10 mail.example.com."])),
        ("txt", 6, dict(an=['example.com. 300 IN TXT "v=spf1 -all" "second"'])),
        ("srv", 7, dict(an=["_sip._udp.example.com. 300 IN SRV 10 60 5060 www.example.com."])),
        ("any", 3, dict(an=["example.com. 3600 IN MX 10 mail.example.com.",
                            "example.com. 3600 IN NAPTR 100 10 \"u\" \"E2U+sip\" "
                            "\"!^.*$!sip:a@example.com!\" .",
                            "example.com. 3600 IN RRSIG A 8 2 300 20300101000000 "
                            "20200101000000 1 example.com. AQID",
                            "example.com. 3600 IN NSEC www.example.com. A NS SOA",
                            "example.com. 3600 IN CAA 0 issue \"ca.example\"",
                            "example.com. 3600 IN TYPE65280 \\# 2 abcd", SOA])),
        ("badvers", 0, dict(rcode=16, edns=0)),
    ]
    for name, qi, kw in replies:
        _, full = reply(qi, **kw)
        write(t, name, full)
    _, www = reply(0, an=[A[0]])
    write(t, "short-11", www[:11])
    write(t, "header-only", www[:12])
    write(t, "counts-lie", www[:6] + b"\x00\x09" + www[8:])
    write(t, "rdlength-overrun", www[:-6] + b"\x00\x40" + www[-4:])
    write(t, "trailing-garbage", www + b"\xde\xad\xbe\xef")
    write(t, "owner-pointer-self", www[:33] + b"\xc0\x21" + www[35:])
    write(t, "owner-pointer-forward", www[:33] + b"\xc0\x30" + www[35:])
    write(t, "owner-pointer-header", www[:33] + b"\xc0\x02" + www[35:])
    write(t, "label-64", hdr(flags=0x8180) + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01")
    write(t, "two-opt", hdr(flags=0x8180, qd=0, ar=2) + (b"\x00\x00\x29\x04\x00" + b"\x00" * 6) * 2)
    write(t, "a-rdata-5", www[:-6] + b"\x00\x05" + www[-4:] + b"\x00")
    write(t, "too-many", hdr(flags=0x8180, qd=0, an=600))
    write(t, "garbage", bytes((i * 91 + 7) & 0xff for i in range(200)))


# ---- fuzz_rrset: stored RRset values and cache values --------------------

def rrset_value(ttl, rdatas):
    out = struct.pack("!IH", ttl, len(rdatas))
    for r in rdatas:
        out += struct.pack("!H", len(r)) + r
    return out


TYPES = ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "SRV", "NAPTR", "DS",
         "CAA", "TYPE65280"]


def rdata_wire(typ, text):
    return dns.rdata.from_text("IN", typ, text).to_wire()


def cache_value(rcode, expiry, an, ns, version=1):
    out = struct.pack("!BBQHH", version, rcode, expiry, len(an), len(ns))
    for owner, typ, exp, rd in an + ns:
        out += dns.name.from_text(owner).to_wire()
        out += struct.pack("!HHQH", dns.rdatatype.from_text(typ), 1, exp, len(rd)) + rd
    return out


def rrset_corpus():
    t = "rrset"
    samples = {
        "A": ["192.0.2.1", "192.0.2.2"], "NS": ["ns1.example.", "NS2.Example."],
        "CNAME": ["www.example."],
        "SOA": ["ns1.example. admin.example. 2024010101 7200 900 1209600 300"],
        "MX": ["10 mail.example.", "20 mail2.example."],
        "TXT": ['"v=spf1 -all" "two"', '""'], "AAAA": ["2001:db8::1"],
        "SRV": ["10 60 5060 sip.example."],
        "NAPTR": ['100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .'],
        "DS": ["12345 8 2 " + "ab" * 32], "CAA": ['0 issue "ca.example"'],
        "TYPE65280": [r"\# 4 deadbeef"],
    }
    for i, typ in enumerate(TYPES):
        ttl = 3600 - 3600 % len(TYPES) + i  # ttl % 12 selects the type
        write(t, "rr-" + typ.lower(), rrset_value(ttl, [rdata_wire(typ, x)
                                                    for x in samples[typ]]))
    # rdata that does not fit the selected type's layout
    write(t, "rr-a-bad-len", rrset_value(3600 - 3600 % 12, [b"\x01\x02\x03"]))
    write(t, "rr-mx-bad-name", rrset_value(3600 - 3600 % 12 + 4, [b"\x00\x0a\x05ab"]))
    write(t, "rr-soa-short", rrset_value(3600 - 3600 % 12 + 3, [b"\x00\x00"]))
    write(t, "rr-empty-rdata", rrset_value(3600 - 3600 % 12 + 5, [b""]))
    write(t, "rr-count-0", rrset_value(60, []))
    write(t, "rr-count-lies", struct.pack("!IH", 60, 3) + b"\x00\x04\xc0\x00\x02\x01")
    write(t, "rr-rdlen-overrun", struct.pack("!IHH", 60, 1, 200) + b"\xc0\x00\x02\x01")
    write(t, "rr-short-header", b"\x00\x00\x0e")
    exp = 1700000000 + 300
    a = rdata_wire("A", "192.0.2.1")
    write(t, "cache-a", cache_value(0, exp, [("www.example.", "A", exp, a)], []))
    write(t, "cache-chain", cache_value(0, exp, [
        ("www.example.", "CNAME", exp, rdata_wire("CNAME", "web.example.")),
        ("web.example.", "A", exp - 200, a)], []))
    soa = rdata_wire("SOA", "ns1.example. admin.example. 1 7200 900 1209600 300")
    write(t, "cache-nx", cache_value(3, exp, [], [("example.", "SOA", exp, soa)]))
    write(t, "cache-nodata", cache_value(0, exp, [], [("example.", "SOA", exp, soa)]))
    write(t, "cache-expired", cache_value(0, 1700000000 - 5,
                                          [("www.example.", "A", 1700000000 - 5, a)], []))
    write(t, "cache-version-2", cache_value(0, exp, [("www.example.", "A", exp, a)], [],
                                            version=2))
    write(t, "cache-truncated", cache_value(0, exp, [("www.example.", "A", exp, a)], [])[:-2])
    write(t, "cache-count-lies", cache_value(0, exp, [("www.example.", "A", exp, a)], [])[:10]
          + b"\x00\x05\x00\x00" + cache_value(0, exp, [("www.example.", "A", exp, a)], [])[14:])
    write(t, "cache-bad-owner", cache_value(0, exp, [], [])[:10] + b"\x00\x01\x00\x00"
          + b"\x40" + b"a" * 64 + b"\x00" + struct.pack("!HHQH", 1, 1, exp, 4) + a)


# ---- fuzz_zoneload: master-file text -------------------------------------

ZONES = {
    "basic": """$ORIGIN example.
$TTL 3600
@ IN SOA ns1 hostmaster ( 2024010101 ; serial
        7200 900 1209600 300 )
@ NS ns1
@ MX 10 mail
ns1 A 192.0.2.53
www A 192.0.2.1
www AAAA 2001:db8::1
alias CNAME www
*.wild TXT "wild card" "two strings"
sub NS ns.sub
ns.sub A 192.0.2.200
""",
    "types": """example. 300 IN SOA ns1.example. a.example. 1 2 3 4 5
example. 300 IN NS ns1.example.
example. 300 IN CAA 0 issue "ca.example"
example. 300 IN DS 12345 8 2 abababababababababababababababababababababababababababababababab
_sip._udp.example. 300 IN SRV 10 60 5060 www.example.
example. 300 IN NAPTR 100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .
example. 300 IN HINFO "PC" "Linux"
example. 300 IN SSHFP 1 1 0123456789abcdef0123456789abcdef01234567
_443._tcp.example. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
unk.example. 300 IN TYPE65280 \\# 3 abcdef
empty.example. 300 IN TYPE65281 \\# 0
example. 300 IN LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
""",
    "escapes": """$ORIGIN example.
@ 60 SOA ns1 a\\.b 1 2 3 4 5
a\\032b TXT "quote \\" backslash \\\\ tab\\009"
\\046dot A 192.0.2.1
ÄÖ TXT "high bytes"
""",
    "ttls": """$TTL 1d
example. IN SOA ns1.example. a.example. 1 1h 15m 2w 5m
www 60 IN A 192.0.2.1
www 120 IN A 192.0.2.2
www IN A 192.0.2.1
""",
    "root": """. 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
. 518400 IN NS a.root-servers.net.
com. 172800 IN NS a.gtld-servers.net.
a.root-servers.net. 518400 IN A 198.41.0.4
""",
    "err-two-soa": "example. 60 IN SOA a. b. 1 2 3 4 5\nexample. 60 IN SOA a. b. 2 2 3 4 5\n",
    "err-no-soa": "www.example. 60 IN A 192.0.2.1\n",
    "err-out-of-zone": "example. 60 IN SOA a. b. 1 2 3 4 5\nwww.other. 60 IN A 192.0.2.1\n",
    "err-cname-and-a": "example. 60 IN SOA a. b. 1 2 3 4 5\nx.example. 60 IN CNAME y.example.\nx.example. 60 IN A 192.0.2.1\n",
    "err-class-ch": "example. 60 CH SOA a. b. 1 2 3 4 5\n",
    "err-include": "$INCLUDE /etc/passwd\nexample. 60 IN SOA a. b. 1 2 3 4 5\n",
    "err-bad-rdata": "example. 60 IN SOA a. b. 1 2 3 4 5\nwww.example. 60 IN A 300.1.2.3\n",
    "err-opt": "example. 60 IN SOA a. b. 1 2 3 4 5\nexample. 60 IN OPT \\# 0\n",
    "err-unbalanced": "example. 60 IN SOA a. b. ( 1 2 3 4 5\n",
    "err-long-label": "example. 60 IN SOA a. b. 1 2 3 4 5\n" + "a" * 64 + ".example. 60 IN A 192.0.2.1\n",
    "err-empty": "",
}


def zoneload_corpus():
    for name, text in ZONES.items():
        write("zoneload", name, text)


# ---- doh: byte 0 is the chunk size - 1, then the client's HTTP/2 bytes ----

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, stream, payload):
    return struct.pack("!I", len(payload))[1:] + struct.pack("!BBI", ftype, flags, stream) + payload


def hpack_lit(name, value):
    """A literal header field without indexing, new name, no Huffman."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_request(stream, method, path, ctype=None, body=None, indexed=False):
    if indexed:
        # static table: 2 :method GET, 3 :method POST, 7 :scheme https
        block = (b"\x82" if method == b"GET" else b"\x83") + b"\x87"
    else:
        block = hpack_lit(b":method", method) + hpack_lit(b":scheme", b"https")
    block += hpack_lit(b":authority", b"dns.test") + hpack_lit(b":path", path)
    if ctype is not None:
        block += hpack_lit(b"content-type", ctype)
    out = h2_frame(1, 0x4 | (0x1 if body is None else 0), stream, block)
    if body is not None:
        out += h2_frame(0, 0x1, stream, body)
    return out


def b64url(b):
    import base64
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def doh_corpus():
    q = dns.message.make_query("webapp.site", "A")
    q.id = 0
    w = q.to_wire()
    start = H2_PREFACE + h2_frame(4, 0, 0, b"")
    get = h2_request(1, b"GET", b"/dns-query?dns=" + b64url(w))
    post = h2_request(3, b"POST", b"/dns-query", b"application/dns-message", w)
    for chunk in (255, 0, 8):
        write("doh", "get-chunk%d" % (chunk + 1), bytes([chunk]) + start + get)
    write("doh", "get-indexed", b"\xff" + start +
          h2_request(1, b"GET", b"/dns-query?ct=x&dns=" + b64url(w), indexed=True))
    write("doh", "post", b"\xff" + start + post)
    write("doh", "post-indexed", b"\xff" + start +
          h2_request(1, b"POST", b"/dns-query", b"application/dns-message; x=y", w,
                     indexed=True))
    write("doh", "get-post-pipelined", b"\xff" + start + get + post)
    write("doh", "post-text-plain", b"\xff" + start +
          h2_request(1, b"POST", b"/dns-query", b"text/plain", w))
    write("doh", "post-short", b"\xff" + start +
          h2_request(1, b"POST", b"/dns-query", b"application/dns-message", b"12345"))
    write("doh", "get-other-path", b"\xff" + start + h2_request(1, b"GET", b"/other"))
    write("doh", "get-bad-base64", b"\xff" + start +
          h2_request(1, b"GET", b"/dns-query?dns=%%%%"))
    write("doh", "get-no-dns", b"\xff" + start + h2_request(1, b"GET", b"/dns-query"))
    write("doh", "put", b"\xff" + start +
          h2_request(1, b"PUT", b"/dns-query", b"application/dns-message", w))
    write("doh", "query-odd-id", b"\xff" + start +
          h2_request(1, b"GET", b"/dns-query?dns=" + b64url(b"\x01" + w[1:])))
    write("doh", "control-frames", b"\xff" + start +
          h2_frame(6, 0, 0, b"12345678") + h2_frame(4, 1, 0, b"") +
          h2_frame(8, 0, 0, b"\x00\x00\x10\x00") + get + h2_frame(3, 0, 1, b"\x00\x00\x00\x08"))
    write("doh", "bad-preface", b"\xff" + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    write("doh", "even-stream", b"\xff" + start + h2_request(2, b"GET", b"/dns-query"))


def diff_record(text):
    """One record in wire form, names uncompressed (fuzz_diff.c's input)."""
    name, ttl, cls, typ, rdata = text.split(None, 4)
    rd = dns.rdata.from_text(cls, typ, rdata)
    out = dns.name.from_text(name).to_wire()
    body = rd.to_wire()
    return out + struct.pack("!HHIH", rd.rdtype, rd.rdclass, int(ttl), len(body)) + body


def diff_seq(dels, adds):
    return bytes([len(dels)]) + b"".join(diff_record(r) for r in dels + adds)


def diff_corpus():
    """Sequences against fuzz_diff.c's example. zone (serial 10)."""
    old = "example. 300 IN SOA ns1.example. hm.example. 10 3600 600 86400 300"
    new = "example. 300 IN SOA ns1.example. hm.example. 11 3600 600 86400 300"
    write("diff", "change-a", diff_seq([old, "www.example. 300 IN A 192.0.2.2"],
                                       [new, "www.example. 300 IN A 192.0.2.3"]))
    write("diff", "add-only", diff_seq([old], [new, "new.example. 60 IN TXT \"n\""]))
    write("diff", "delete-rrset", diff_seq([old, "www.example. 300 IN AAAA 2001:db8::2"],
                                           [new]))
    write("diff", "new-cut", diff_seq([old], [new, "cut.example. 300 IN NS ns.cut.example.",
                                              "ns.cut.example. 300 IN A 192.0.2.60"]))
    write("diff", "drop-cut", diff_seq([old, "sub.example. 300 IN NS ns.sub.example.",
                                        "ns.sub.example. 300 IN A 192.0.2.53"], [new]))
    write("diff", "below-deeper-zone", diff_seq([old], [new, "y.deep.example. 300 IN A 192.0.2.9"]))
    write("diff", "wildcard", diff_seq([old, "*.wild.example. 300 IN TXT \"w\""],
                                       [new, "*.wild.example. 300 IN TXT \"v\""]))
    write("diff", "signed-rrsig", diff_seq([old], [new, "www.example. 300 IN RRSIG A 13 2 300 "
                                                   "20300101000000 20200101000000 1 example. "
                                                   "AAAA"]))
    write("diff", "nsec", diff_seq([old], [new, "www.example. 300 IN NSEC zz.example. A RRSIG NSEC"]))
    write("diff", "missing-delete", diff_seq([old, "nope.example. 300 IN A 192.0.2.99"], [new]))
    write("diff", "out-of-zone", diff_seq([old], [new, "other.test. 300 IN A 192.0.2.1"]))
    write("diff", "two-soas", diff_seq([old], [new, new.replace(" 11 ", " 12 ")]))
    write("diff", "no-new-soa", diff_seq([old], ["www.example. 300 IN A 192.0.2.4"]))
    write("diff", "empty", b"\x00")


def main():
    clean()
    auth_corpus()
    local_corpus()
    upstream_corpus()
    msg_corpus()
    rrset_corpus()
    zoneload_corpus()
    doh_corpus()
    diff_corpus()
    total = 0
    for target in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, target)
        files = os.listdir(d)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
        total += size
        print("%-10s %3d files %7d bytes" % (target, len(files), size))
    print("total %d bytes" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
