#!/usr/bin/python3
"""Prefetch (Unbound's prefetch: yes): tierdns-local --prefetch answers a
cache hit in the last tenth of the entry's TTL from the cache and refreshes
the entry in the background with one upstream query, however many hits
come meanwhile; without --prefetch the same hits ask nothing. Two daemons
on the same timeline, each with its own fake upstream (TTL 20 s: the last
tenth is the last 2 s). tierdns-control stats counts the refresh
(cache.prefetched)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.rdatatype  # noqa: E402

import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_prefetch")
serial = {"n": 0}


def answering(up, s):
    if s.msg is None:
        return None
    serial["n"] += 1
    return [("send", hl.a_reply(s, "192.0.2.%d" % serial["n"], ttl=20))]


ups = {on: hl.FakeUpstream(h, answering) for on in (False, True)}
sock = {on: os.path.join(h.tmp, "ctl-%d" % on) for on in (False, True)}
local = {on: h.start_local("LOCAL_%s" % ("PREFETCH" if on else "PLAIN"),
                           os.path.join(h.tmp, "db-%d" % on), [ups[on].endpoint],
                           *(["--prefetch"] if on else []), "-t", "1",
                           "--control", sock[on])
         for on in (False, True)}
first = {}
for on in (False, True):
    m, _ = hl.query(local[on], "www.example.")
    first[on] = hl.answer_addrs(m)
    h.check(len(first[on]) == 1, "first answer: %s" % m)
t0 = time.time()
# Early hits (18 s left and more): nothing asked.
for on in (False, True):
    hl.query(local[on], "www.example.")
    h.check(ups[on].count("www.example.") == 1, "an early hit asked upstream (prefetch %s)" % on)
time.sleep(max(0.0, t0 + 18.3 - time.time()))
# The last tenth: from the cache, and with --prefetch one refresh for all
# (once it is in, the next hits have the refreshed entry: not due).
for on in (False, True):
    m, _ = hl.query(local[on], "www.example.")
    h.check(hl.answer_addrs(m) == first[on] and m.answer[0].ttl <= 2,
            "the first late hit is the cached answer (prefetch %s): %s" % (on, m))
    for _ in range(5):
        m, _ = hl.query(local[on], "www.example.")
        h.check(m is not None and len(hl.answer_addrs(m)) == 1,
                "a late hit (prefetch %s): %s" % (on, m))
time.sleep(0.5)
h.check(ups[False].count("www.example.") == 1,
        "without --prefetch: asked %d times" % ups[False].count("www.example."))
h.check(ups[True].count("www.example.") == 2,
        "with --prefetch: asked %d times, want 2 (one refresh)" % ups[True].count("www.example."))
for on in (False, True):
    st = hl.control_stats(sock[on])
    h.check(st.get("cache.prefetched") == (1 if on else 0) and st.get("cache.hits") == 7,
            "prefetch %s: cache.prefetched %s, cache.hits %s" %
            (on, st.get("cache.prefetched"), st.get("cache.hits")))
# The refreshed entry answers once the old one would have expired.
time.sleep(max(0.0, t0 + 21 - time.time()))
m, _ = hl.query(local[True], "www.example.")
h.check(hl.answer_addrs(m) != first[True] and hl.answer_addrs(m) and m.answer[0].ttl > 10 and
        ups[True].count("www.example.") == 2,
        "after the old expiry: the prefetched answer from the cache, got %s" % m)
for on in (False, True):
    h.stop(local[on])
h.finish()
