#!/usr/bin/python3
"""The packet cache (--packet-cache, on by default): tierdns-local sends a
cache hit's reply again, with only the ID, the question's case and the TTLs
rewritten. Checked against the real daemon and a scripted upstream:
  - asked again in another case, with another ID, the reply is the first
    reply with that ID and case (the answer owner follows the question),
    and the replays are counted (cache.replays);
  - seconds later the TTLs are that much lower, as the cache says;
  - a query with an EDNS option (a client COOKIE) is answered fresh: its
    reply carries the server's cookie;
  - after `tierdns-control cache flush NAME` the name is asked upstream
    again, not replayed;
  - with --packet-cache 0 nothing is replayed."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.rdatatype  # noqa: E402

import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_packet_cache")


def answering(up, s):
    if s.msg is None:
        return None
    return [("send", hl.a_reply(s, "192.0.2.7", ttl=60))]


def exchange(d, q):
    """q (a dns.message) over UDP; the raw reply, or None."""
    return hl.udp_exchange(d.addr, d.port, q.to_wire(), 2.0)


def flip_case(name):
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))


ups = {on: hl.FakeUpstream(h, answering) for on in (False, True)}
sock = {on: os.path.join(h.tmp, "ctl-%d" % on) for on in (False, True)}
local = {on: h.start_local("LOCAL_%s" % ("PACKET" if on else "NONE"),
                           os.path.join(h.tmp, "db-%d" % on), [ups[on].endpoint],
                           *([] if on else ["--packet-cache", "0"]), "-t", "1",
                           "--control", sock[on])
         for on in (False, True)}

d = local[True]
q1 = hl.make_query("www.example.", edns=True, qid=0x1111)
first = exchange(d, q1)
h.check(first is not None and ups[True].count("www.example.") == 1, "the miss: %r" % first)
q2 = hl.make_query(flip_case("www.example."), edns=True, qid=0x2222)
second = exchange(d, q2)
h.check(second is not None, "the hit: no reply")
if first is not None and second is not None:
    qname_len = len(dns.name.from_text("www.example.").to_wire())
    ttl_at = 12 + qname_len + 4 + 6  # the answer's owner is a pointer
    want = bytearray(first)
    want[0:2] = b"\x22\x22"
    want[12:12 + qname_len] = q2.to_wire()[12:12 + qname_len]
    # Asked within the same second, or the next one (the TTL one lower).
    aged = bytearray(want)
    aged[ttl_at:ttl_at + 4] = (int.from_bytes(want[ttl_at:ttl_at + 4], "big") - 1).to_bytes(4, "big")
    h.check(second in (bytes(want), bytes(aged)),
            "the hit is not the first reply with the ID and case changed:\n%r\n%r" %
            (bytes(want), second))
    m = dns.message.from_wire(second)
    h.check(m.answer and m.answer[0].name.to_text() == flip_case("www.example."),
            "the answer owner does not follow the question: %s" % m)
for i in range(3):
    exchange(d, hl.make_query("www.example.", edns=True))
st = hl.control_stats(sock[True])
h.check(st.get("cache.replays", 0) >= 3 and st.get("cache.hits") == 4,
        "replays %s of hits %s, want >= 3 of 4" % (st.get("cache.replays"), st.get("cache.hits")))

# Seconds later: the TTL is that much lower.
t0 = time.time()
time.sleep(2.2)
m, _ = hl.query(d, "www.example.", edns=True)
left = m.answer[0].ttl if m is not None and m.answer else None
h.check(left is not None and 56 <= left <= 58,
        "2.2 s later the TTL is %s, want 56-58 (60 less the seconds since)" % left)

# A client COOKIE: answered fresh, with the server's cookie.
q = hl.make_query("www.example.", edns=True)
q.use_edns(0, options=[dns.edns.GenericOption(10, b"\x01\x02\x03\x04\x05\x06\x07\x08")])
raw = exchange(d, q)
m = dns.message.from_wire(raw) if raw is not None else None
cookies = [o for o in (m.options if m is not None else []) if o.otype == 10]
h.check(m is not None and len(cookies) == 1 and len(cookies[0].to_wire()) >= 16
        and hl.answer_addrs(m) == {"192.0.2.7"},
        "a query with a COOKIE: %s" % m)

# A flush: asked upstream again.
r = hl.subprocess.run([hl.CONTROL_BIN, "-s", sock[True], "cache", "flush", "www.example."],
                      capture_output=True, text=True, timeout=15)
h.check(r.returncode == 0, "cache flush: %s" % r.stderr)
m, _ = hl.query(d, "www.example.", edns=True)
h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.7"} and
        ups[True].count("www.example.") == 2,
        "after the flush: asked upstream %d times, want 2" % ups[True].count("www.example."))

# Without the packet cache: the same hits, no replay.
for i in range(4):
    m, _ = hl.query(local[False], "www.example.", edns=True)
    h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.7"}, "--packet-cache 0: %s" % m)
st = hl.control_stats(sock[False])
h.check(st.get("cache.hits") == 3 and st.get("cache.replays") == 0,
        "--packet-cache 0: hits %s, replays %s" % (st.get("cache.hits"), st.get("cache.replays")))
for on in (False, True):
    h.stop(local[on])
h.finish()
