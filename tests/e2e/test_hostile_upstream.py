#!/usr/bin/python3
"""tierdns-local against a scripted hostile upstream (issue 4, "Cache-
poisoning defences" and "Malformed input": the table of upstream replies).

The fake upstream (hostile_lib.FakeUpstream) decides per question name what
to send. Cases:
  forged replies   wrong ID, wrong question (name, type), another source
                   port or address, QR=0, 1000 wrong IDs: each ignored; the true reply that follows is
                   the answer; with no true reply the client gets SERVFAIL
                   (counted as servfail.timeout);
                   the forged data is never served or cached, nor is a
                   reply that comes after the timeout;
  poisoning        unrelated records in answer/authority/additional (an A
                   for victim.test, an NS for ".", glue) are not cached: a
                   later query for victim.test goes to the upstream and gets
                   its own answer; NXDOMAIN with an unrelated SOA, two
                   CNAMEs at one name and a CNAME loop are not cached;
  malformed        empty, 5 and 11 bytes, RDLENGTH overrun, pointer loop,
                   ANCOUNT larger than present, QDCOUNT 0, 5000 records over
                   UDP, a 64 KiB reply over TCP after TC: SERVFAIL as soon
                   as the reply is read (counted as servfail.garbage; junk
                   that cannot be matched to the query is ignored, so its
                   SERVFAIL is a servfail.timeout), nothing cached, the
                   daemon lives;
  TC=1             retried over TCP, the whole answer cached;
  coalescing       20 identical concurrent queries: the upstream sees 1
                   (--threads 1; with 2 workers at most 2, one per worker);
  randomness       50 upstream queries: IDs and source ports distinct.
"""
import concurrent.futures
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_upstream")
TIMEOUT_MS = 1500
EVIL = "6.6.6.6"

behaviors = {}   # qname -> fn(up, seen) -> actions


def handler(up, s):
    if s.msg is None or not s.msg.question:
        return None
    fn = behaviors.get(s.qname)
    if fn is None:
        return [("send", hl.reply(s, rcode=3))]
    return fn(up, s)


def qsection(s):
    """The raw question of the query as received (no compression in it)."""
    m = s.raw
    i = 12
    while m[i] != 0:
        i += 1 + m[i]
    return m[12:i + 5]


def a_rr(addr, owner=b"\xc0\x0c", ttl=300):
    return owner + struct.pack("!HHIH", 1, 1, ttl, 4) + bytes(int(x) for x in addr.split("."))


def raw_reply(s, body=b"", an=0, ns=0, ar=0, flags=0x8580, qd=1, question=None):
    q = qsection(s) if question is None else question
    return struct.pack("!HHHHHH", s.id, flags, qd, an, ns, ar) + q + body


def good(s, addr):
    return raw_reply(s, a_rr(addr), an=1)


up = hl.FakeUpstream(h, handler)
db = os.path.join(h.tmp, "local")
local = h.start_local("LOCAL", db, [up.endpoint], "--threads", "1",
                      "--timeout", str(TIMEOUT_MS))
# Timeouts and garbage count against an upstream (resolve.h: it may be
# marked dead and backed off): the cases that cause them run on a daemon of
# their own, so that they cannot change the outcome of the others.
db_t = os.path.join(h.tmp, "local_t")
ctl_t = os.path.join(h.tmp, "ctl_t")
local_t = h.start_local("LOCAL_T", db_t, [up.endpoint], "--threads", "1",
                        "--timeout", str(TIMEOUT_MS), "--control", ctl_t)


def cache_records(db):
    r, recs = hl.dump_cache(h, db)
    h.check(r.returncode == 0, "tierdns-zone dump failed: %s" % r.stderr)
    return recs


# ---- forged replies, each followed by the true one or by nothing ----
def forge_wrong_id(s):
    b = bytearray(good(s, EVIL))
    b[0:2] = struct.pack("!H", s.id ^ 0x5a5a)
    return [("send", bytes(b))]


def forge_wrong_name(s):
    other = b"\x05other\x04test\x00" + qsection(s)[-4:]
    return [("send", raw_reply(s, a_rr(EVIL), an=1, question=other))]


def forge_wrong_type(s):
    q = bytearray(qsection(s))
    q[-4:-2] = struct.pack("!H", 28)  # AAAA
    return [("send", raw_reply(s, a_rr(EVIL), an=1, question=bytes(q)))]


def forge_other_port(s):
    return [("send_other", good(s, EVIL))]


def forge_other_addr(s):
    return [("send_other_addr", good(s, EVIL))]


def forge_flood(s):
    # 1000 replies with wrong IDs from the right address and port
    # (a Kaminsky-style race); all must be read and ignored.
    acts = []
    b = bytearray(good(s, EVIL))
    for i in range(1000):
        b[0:2] = struct.pack("!H", (s.id + 1 + i) & 0xFFFF)
        acts.append(("send", bytes(b)))
    return acts


def forge_qr0(s):
    return [("send", raw_reply(s, a_rr(EVIL), an=1, flags=0x0580))]


FORGERIES = [("wrong ID", forge_wrong_id), ("wrong question name", forge_wrong_name),
             ("wrong question type", forge_wrong_type),
             ("another source port", forge_other_port),
             ("another source address", forge_other_addr), ("QR=0", forge_qr0),
             ("1000 replies with wrong IDs", forge_flood)]


def forged_case(i, label, forge):
    """The forgery then the true reply: the true one is the answer."""
    name = "forged%d.test." % i
    behaviors[name] = lambda u, s: forge(s) + [("sleep", 0.1), ("send", good(s, "192.0.2.1"))]
    m, _ = hl.query(local, name, timeout=3)
    h.check(hl.answer_addrs(m, name) == {"192.0.2.1"},
            "forged reply (%s) then the true one: expected 192.0.2.1, got %s %s" %
            (label, hl.rcode_text(m), hl.answer_addrs(m)))


def forged_alone_case(i, label, forge):
    """Only the forgery: SERVFAIL once the upstream times out."""
    name = "forgedonly%d.test." % i
    behaviors[name] = lambda u, s: forge(s)
    m, _ = hl.query(local_t, name, timeout=TIMEOUT_MS / 1000 + 10)
    h.check(hl.rcode_text(m) == "SERVFAIL" and not hl.answer_addrs(m),
            "only a forged reply (%s): expected SERVFAIL, got %s %s" %
            (label, hl.rcode_text(m), hl.answer_addrs(m)))


def servfails(before):
    """The SERVFAIL reasons of local_t counted since `before` (a stats
    snapshot), the nonzero ones."""
    after = hl.control_stats(ctl_t)
    return {k[len("servfail."):]: after[k] - before.get(k, 0) for k in after
            if k.startswith("servfail.") and after[k] != before.get(k, 0)}


for i, (label, forge) in enumerate(FORGERIES):
    forged_case(i, label, forge)
# Each forgery was ignored, not taken for the upstream's reply: every
# SERVFAIL is a timeout (an event counted by the daemon, not a wall-clock
# bound that a loaded machine breaks).
before = hl.control_stats(ctl_t)
with concurrent.futures.ThreadPoolExecutor(len(FORGERIES)) as ex:
    list(ex.map(lambda a: forged_alone_case(a[0], *a[1]), enumerate(FORGERIES)))
why = servfails(before)
h.check(why == {"timeout": len(FORGERIES)},
        "only forged replies: SERVFAIL reasons %s, want %d timeouts" % (why, len(FORGERIES)))

# A reply that comes after the query timed out (the client has its
# SERVFAIL) is not cached.
behaviors["late.test."] = lambda u, s: [("sleep", TIMEOUT_MS / 1000 + 0.5),
                                        ("send", good(s, EVIL))]
m, _ = hl.query(local_t, "late.test.", timeout=TIMEOUT_MS / 1000 + 3)
h.check(hl.rcode_text(m) == "SERVFAIL", "late.test: expected SERVFAIL, got %s" % hl.rcode_text(m))
time.sleep(0.8)  # the late reply has arrived (checked with the dump below)

# ---- poisoning: unrelated records are never cached ----
POISON = {
    "answer": ["poison.test. 300 IN A 192.0.2.2", "victim1.test. 300 IN A " + EVIL],
    "authority": [". 86400 IN NS ns.evil.example.", "test. 86400 IN NS ns.evil.example.",
                  "victim2.test. 300 IN A " + EVIL],
    "additional": ["victim3.test. 300 IN A " + EVIL, "ns.evil.example. 86400 IN A " + EVIL],
}
behaviors["poison.test."] = lambda u, s: [("send", hl.reply(s, **POISON))]
m, _ = hl.query(local, "poison.test.")
h.check(hl.answer_addrs(m, "poison.test.") == {"192.0.2.2"},
        "poison.test: expected 192.0.2.2, got %s %s" % (hl.rcode_text(m), hl.answer_addrs(m)))
for n, victim in enumerate(["victim1.test.", "victim2.test.", "victim3.test.", "ns.evil.example."]):
    addr = "192.0.2.%d" % (30 + n)
    behaviors[victim] = lambda u, s, addr=addr: [("send", good(s, addr))]
    before = up.count(victim)
    m, _ = hl.query(local, victim)
    h.check(hl.answer_addrs(m, victim) == {addr},
            "%s after a reply that smuggled it: expected %s from the upstream, got %s %s" %
            (victim, addr, hl.rcode_text(m), hl.answer_addrs(m)))
    h.check(up.count(victim) == before + 1,
            "%s was not asked upstream (served from a poisoned cache?)" % victim)
# An NS for "." or test. must not be served either.
for zone in (".", "test."):
    behaviors[zone] = lambda u, s: [("send", hl.reply(s, answer=[s.qname_raw + " 300 IN NS ns.good.example."]))]
    m, _ = hl.query(local, zone, "NS")
    txt = m.to_text() if m is not None else ""
    h.check("evil" not in txt, "NS %s served the smuggled NS: %s" % (zone, txt))

# Replies that must be answered (or failed) but never cached:
#   NXDOMAIN whose SOA is from an unrelated zone (RFC 2308 5: the SOA must
#   be the denying zone's; RFC 5452 5),
#   two CNAMEs at one name (RFC 2181 10.1),
#   a CNAME loop.
NOCACHE = {
    "negsoa.test.": dict(rcode=3, authority=["evil.example. 3600 IN SOA ns.evil.example. "
                                             "h.evil.example. 1 3600 900 604800 3600"]),
    "twocname.test.": dict(answer=["twocname.test. 300 IN CNAME a.test.",
                                   "twocname.test. 300 IN CNAME b.test.",
                                   "a.test. 300 IN A " + EVIL]),
    "loop1.test.": dict(answer=["loop1.test. 300 IN CNAME loop2.test.",
                                "loop2.test. 300 IN CNAME loop1.test."]),
}
for name, kw in NOCACHE.items():
    behaviors[name] = lambda u, s, kw=kw: [("send", hl.reply(s, **kw))]
    m, _ = hl.query(local, name)
    h.check(m is not None and local.alive(), "%s: no reply (%s)" % (name, hl.rcode_text(m)))
    m, _ = hl.query(local, name)
    # asked again, or a remembered failure (RFC 9520): no data kept either way
    h.check(up.count(name) == 2 or (hl.rcode_text(m) == "SERVFAIL" and not m.answer),
            "%s: the second query was served from the cache (%s, upstream asked %d "
            "times, want 2)" % (name, hl.rcode_text(m), up.count(name)))
behaviors["evil.example."] = lambda u, s: [("send", hl.reply(s, rcode=3))]
m, _ = hl.query(local, "evil.example.", "SOA")
h.check(m is not None and not m.answer and up.count("evil.example.") == 1,
        "evil.example SOA was served from the cache: %s" % (m.to_text() if m else None))

# ---- malformed replies ----
def rdlength_overrun(s):
    b = bytearray(good(s, "192.0.2.5"))
    b[-6:-4] = struct.pack("!H", 200)
    return [("send", bytes(b))]


def pointer_loop(s):
    off = 12 + len(qsection(s))
    owner = struct.pack("!H", 0xC000 | off)  # the answer's owner points at itself
    return [("send", raw_reply(s, a_rr("192.0.2.5", owner=owner), an=1))]


def pointer_loop2(s):
    off = 12 + len(qsection(s))
    owner = b"\x01a" + struct.pack("!H", 0xC000 | off)
    return [("send", raw_reply(s, a_rr("192.0.2.5", owner=owner), an=1))]


def many_records(s):
    # the true A, then 4999 empty NULL records owned by the root: 55 KB
    junk = (b"\x00" + struct.pack("!HHIH", 10, 1, 0, 0)) * 4999
    return [("send", raw_reply(s, a_rr("192.0.2.5") + junk, an=1, ar=4999))]


def tc_then_huge(s):
    if not s.tcp:
        return [("send", raw_reply(s, flags=0x8780))]  # QR AA TC RD RA
    junk = (b"\x00" + struct.pack("!HHIH", 10, 1, 0, 0)) * 5900
    return [("send", raw_reply(s, a_rr("192.0.2.5") + junk, an=1, ar=5900))]


# (label, fn, matched): matched replies carry the query's ID and can be
# rejected at once; unmatched junk must be ignored until the timeout.
MALFORMED = [
    ("empty datagram", lambda s: [("send", b"")], False),
    ("5 bytes", lambda s: [("send", good(s, "192.0.2.5")[:5])], False),
    ("11 bytes", lambda s: [("send", good(s, "192.0.2.5")[:11])], False),
    ("header only, QDCOUNT 1, nothing after it",
     lambda s: [("send", good(s, "192.0.2.5")[:12])], True),
    ("RDLENGTH past the end", rdlength_overrun, True),
    ("answer owner: a pointer to itself", pointer_loop, True),
    ("answer owner: a pointer loop through a label", pointer_loop2, True),
    ("ANCOUNT 3, one record present",
     lambda s: [("send", raw_reply(s, a_rr("192.0.2.5"), an=3))], True),
    ("ARCOUNT 2, nothing present",
     lambda s: [("send", raw_reply(s, a_rr("192.0.2.5"), an=1, ar=2))], True),
    ("answer cut in the middle of its RDATA",
     lambda s: [("send", good(s, "192.0.2.5")[:-2])], True),
    ("QDCOUNT 0 with NOERROR and an answer",
     lambda s: [("send", raw_reply(s, a_rr("192.0.2.5", owner=b"\x05other\x04test\x00"),
                                   an=1, qd=0, question=b""))], False),
    ("5000 records over UDP", many_records, True),
    ("TC, then a 64 KiB reply over TCP", tc_then_huge, True),
]


def malformed_case(i, label, fn, matched):
    name = "bad%d.test." % i
    behaviors[name] = lambda u, s: fn(s)
    m, _ = hl.query(local_t, name, timeout=TIMEOUT_MS / 1000 + 10)
    h.check(hl.rcode_text(m) == "SERVFAIL",
            "malformed upstream reply (%s): expected SERVFAIL, got %s %s" %
            (label, hl.rcode_text(m), hl.answer_addrs(m)))
    h.check(up.sent_at.get(name) is not None,
            "malformed upstream reply (%s): the upstream was never asked" % label)
    h.check(local_t.alive(), "tierdns-local died on a malformed reply (%s)" % label)


# A matched malformed reply ends its query at once (servfail.garbage); an
# unmatched one is ignored until the timeout (servfail.timeout).
before = hl.control_stats(ctl_t)
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    list(ex.map(lambda a: malformed_case(a[0], *a[1]), enumerate(MALFORMED)))
why = servfails(before)
n_matched = sum(1 for _, _, matched in MALFORMED if matched)
h.check(why == {"garbage": n_matched, "timeout": len(MALFORMED) - n_matched},
        "malformed replies: SERVFAIL reasons %s, want %d garbage (the matched ones, at "
        "once) and %d timeouts" % (why, n_matched, len(MALFORMED) - n_matched))

# ---- TC=1: retried over TCP, the whole answer cached ----
TC_ADDRS = {"192.0.2.11", "192.0.2.12", "192.0.2.13"}


def tc_behavior(u, s):
    if not s.tcp:
        return [("send", raw_reply(s, flags=0x8780))]
    return [("send", raw_reply(s, b"".join(a_rr(a) for a in sorted(TC_ADDRS)), an=3))]


behaviors["tc.test."] = tc_behavior
m, _ = hl.query(local, "tc.test.", timeout=3)
h.check(hl.answer_addrs(m, "tc.test.") == TC_ADDRS,
        "TC=1 upstream: expected %s, got %s %s" % (TC_ADDRS, hl.rcode_text(m), hl.answer_addrs(m)))
seen_tc = up.queries("tc.test.")
h.check([s.tcp for s in seen_tc] == [False, True],
        "TC=1 upstream: expected one UDP then one TCP query, got %s" %
        ["TCP" if s.tcp else "UDP" for s in seen_tc])
m, _ = hl.query(local, "tc.test.")
h.check(hl.answer_addrs(m, "tc.test.") == TC_ADDRS and up.count("tc.test.") == 2,
        "tc.test: the second query was not answered wholly from the cache (%s, %d upstream queries)" %
        (hl.answer_addrs(m), up.count("tc.test.")))

# ---- coalescing ----
def coalesce(d, name, expect_max):
    behaviors[name] = lambda u, s: [("sleep", 0.5), ("send", good(s, "192.0.2.20"))]
    barrier = threading.Barrier(20)

    def one(_):
        barrier.wait()
        # an outer bound: 20 clients at once answered by an ASan build on
        # a loaded machine may take seconds; what is asserted is counts
        return hl.query(d, name, timeout=10)[0]
    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        got = list(ex.map(one, range(20)))
    ok = sum(1 for m in got if hl.answer_addrs(m, name) == {"192.0.2.20"})
    h.check(ok == 20, "coalescing %s: %d of 20 clients got the answer" % (name, ok))
    n = up.count(name)
    h.check(1 <= n <= expect_max,
            "coalescing %s: 20 identical concurrent queries made %d upstream queries (want 1..%d)" %
            (name, n, expect_max))


coalesce(local, "coalesce.test.", 1)

# ---- IDs and source ports (RFC 5452 9.2, 10) ----
names = ["r%d.rand.test." % i for i in range(50)]
for n in names:
    behaviors[n] = lambda u, s: [("send", good(s, "192.0.2.40"))]
with concurrent.futures.ThreadPoolExecutor(5) as ex:
    list(ex.map(lambda n: hl.query(local, n), names))
seen = [s for n in names for s in up.queries(n)]
seen.sort(key=lambda s: s.time)
h.check(len(seen) == 50, "randomness: expected 50 upstream queries, saw %d" % len(seen))
for what, vals in (("IDs", [s.id for s in seen]), ("source ports", [s.peer[1] for s in seen])):
    # 50 random values collide by chance (ID: p ~ 2 %, port: ~ 4 %); three
    # collisions or a counting pattern would not happen by chance.
    distinct = len(set(vals))
    steps = sum(1 for a, b in zip(vals, vals[1:]) if abs(a - b) <= 2)
    h.check(distinct >= 48, "randomness: only %d distinct %s of 50: %s" % (distinct, what, vals))
    h.check(steps <= 2, "randomness: %s count up (%d steps of <= 2): %s" % (what, steps, vals))

# ---- nothing forged or malformed was cached ----
recs = cache_records(db) + cache_records(db_t)
h.check(up.sent_at.get("late.test.") is not None, "late.test: the late reply was never sent")
h.check(not any(EVIL in f for f in recs), "the cache holds forged data: %s" %
        [f for f in recs if EVIL in f])
smuggled = [f for f in recs if len(f) > 4 and f[3] == "NS" and "evil" in f[4]]
h.check(not smuggled, "the cache holds smuggled NS records: %s" % smuggled)
names_cached = hl.cached_names(recs)
for i, (label, _, _) in enumerate(MALFORMED):
    h.check("bad%d.test." % i not in names_cached,
            "malformed upstream reply (%s): its data was cached: %s" %
            (label, [f for f in recs if f[0].lower() == "bad%d.test." % i]))
for i, (label, _) in enumerate(FORGERIES):
    h.check("forgedonly%d.test." % i not in names_cached,
            "only a forged reply (%s): something was cached for the name" % label)
h.check("tc.test." in names_cached and
        {f[4] for f in recs if f[0].lower() == "tc.test." and f[3] == "A"} == TC_ADDRS,
        "tc.test: the cache does not hold the whole TCP answer")
h.stop(local)
h.stop(local_t)

# ---- coalescing with two workers: at most one upstream query each ----
local2 = h.start_local("LOCAL2", os.path.join(h.tmp, "local2"), [up.endpoint], "--threads", "2",
                       "--timeout", str(TIMEOUT_MS))
coalesce(local2, "coalesce2.test.", 2)
h.stop(local2)
h.finish()
