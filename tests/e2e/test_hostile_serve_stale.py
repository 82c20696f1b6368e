#!/usr/bin/python3
"""Serve-stale (issue 4, RFC 8767, --serve-stale, off by default): an answer
cached with TTL 1; the upstream then goes silent; after expiry the stale
answer is returned with TTL 30 to ten concurrent clients, with one
upstream query (one refresh per name). Without --serve-stale, or with a
--stale-ttl shorter than the time since expiry, the same is SERVFAIL. Skipped while tierdns-local has no --serve-stale."""
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_serve_stale")
h.need_flag(hl.LOCAL_BIN, "--serve-stale", "serve-stale")
silent = set()


def handler(up, s):
    if s.msg is None or s.qname in silent:
        return None
    return [("send", hl.a_reply(s, "192.0.2.70", ttl=1))]


up = hl.FakeUpstream(h, handler)
# (label, options, stale expected, seconds to wait after the answer)
CASES = [("with --serve-stale", ["--serve-stale"], True, 2.2),
         ("by default", [], False, 2.2),
         # expired at least 2 whole seconds before, kept 1 s: too old
         ("with --serve-stale --stale-ttl 1", ["--serve-stale", "--stale-ttl", "1"], False, 3.2)]
for k, (label, args, want_stale, wait) in enumerate(CASES):
    name = "stale%d.test." % k
    d = h.start_local("LOCAL_%d" % k, os.path.join(h.tmp, "l%d" % k),
                      [up.endpoint], "--timeout", "1000", "--threads", "1", *args)
    m, _ = hl.query(d, name)
    h.check(hl.answer_addrs(m, name) == {"192.0.2.70"}, "%s: first answer %s" % (label, hl.rcode_text(m)))
    silent.add(name)
    time.sleep(wait)
    asked = up.count(name)
    # ten clients at once: one upstream query (one refresh per name)
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        got = list(ex.map(lambda _: hl.query(d, name, timeout=4), range(10)))
    m, dt = got[0]
    if want_stale:
        for m, dt in got:
            ttls = [rr.ttl for rr in m.answer] if m is not None else []
            h.check(hl.answer_addrs(m, name) == {"192.0.2.70"} and ttls == [30],
                    "%s: expected the stale 192.0.2.70 with TTL 30, got %s %s TTLs %s after %.2f s" %
                    (label, hl.rcode_text(m), hl.answer_addrs(m), ttls, dt))
        h.check(up.count(name) - asked == 1,
                "%s: 10 concurrent queries for a stale name made %d upstream queries (want 1)" %
                (label, up.count(name) - asked))
    else:
        h.check(hl.rcode_text(m) == "SERVFAIL",
                "%s: an expired answer with a silent upstream: expected SERVFAIL, got %s %s" %
                (label, hl.rcode_text(m), hl.answer_addrs(m)))
    h.stop(d)
h.finish()
