#!/usr/bin/python3
"""Failures are cached briefly (issue 4, "Upstream faults"; RFC 9520: at
least 1 s): a burst of 100 queries for one failing name sends only a few
upstream queries (TsuNAME).
  a) the upstream answers SERVFAIL at once; 100 queries one after another
     (well under a second): at most 3 upstream queries (without a failure
     cache: 100);
  b) the upstream is silent (--timeout 300); 20 clients each send 5 queries
     one after another: at most 3 upstream queries (without a failure
     cache: at least one per wave, 5);
  c) a failure to reach the upstream lasts only until it answers again
     (issue 18): while silent, a name fails and is remembered; once the
     upstream answers another name, the failed one is asked again at once
     and answered (not SERVFAIL from memory for 5 s more); a failure the
     upstream returned (SERVFAIL) stays remembered meanwhile."""
import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_failcache")


def handler(up, s):
    if s.msg is None or s.qname.startswith("silent"):
        return None
    return [("send", hl.reply(s, rcode=2))]


up = hl.FakeUpstream(h, handler)
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [up.endpoint],
                      "--timeout", "300", "--threads", "1")

t0 = hl.now()
rcodes = [hl.rcode_text(hl.query(local, "servfail.burst.test.", timeout=2)[0]) for _ in range(100)]
elapsed = hl.now() - t0
h.check(all(r == "SERVFAIL" for r in rcodes), "SERVFAIL burst: not all SERVFAIL: %s" %
        sorted(set(rcodes)))
n = up.count("servfail.burst.test.")
h.check(n <= 3, "a burst of 100 queries (%.2f s) for a name the upstream answers SERVFAIL "
        "made %d upstream queries (want <= 3: RFC 9520 failure caching)" % (elapsed, n))


def client(_):
    return [hl.rcode_text(hl.query(local, "silent.burst.test.", timeout=2)[0]) for _ in range(5)]


t0 = hl.now()
with concurrent.futures.ThreadPoolExecutor(20) as ex:
    got = [r for rs in ex.map(client, range(20)) for r in rs]
elapsed = hl.now() - t0
h.check(all(r == "SERVFAIL" for r in got), "silent burst: not all SERVFAIL: %s" % sorted(set(got)))
n = up.count("silent.burst.test.")
h.check(n <= 3, "a burst of 100 queries (%.2f s) for a name whose upstream is silent "
        "made %d upstream queries (want <= 3: RFC 9520 failure caching)" % (elapsed, n))
h.check(local.alive(), "tierdns-local died")
h.stop(local)

down = {"on": True}


def handler_c(up, s):
    if s.msg is None:
        return None
    if s.qname.startswith("sf."):
        return [("send", hl.reply(s, rcode=2))]
    if down["on"]:
        return None
    return [("send", hl.a_reply(s, "192.0.2.77"))]


up_c = hl.FakeUpstream(h, handler_c)
local = h.start_local("LOCAL_C", os.path.join(h.tmp, "lc"), [up_c.endpoint],
                      "--timeout", "300", "--threads", "1")
m, _ = hl.query(local, "back.test.", timeout=2)
h.check(hl.rcode_text(m) == "SERVFAIL", "c) silent upstream: SERVFAIL (%s)" % hl.rcode_text(m))
n_back = up_c.count("back.test.")
m, _ = hl.query(local, "back.test.", timeout=2)
h.check(hl.rcode_text(m) == "SERVFAIL" and up_c.count("back.test.") == n_back,
        "c) while it is silent the failure is remembered (not asked again)")
down["on"] = False
m, _ = hl.query(local, "sf.test.", timeout=2)
h.check(hl.rcode_text(m) == "SERVFAIL",
        "c) the upstream answers again (SERVFAIL for sf.test.: %s)" % hl.rcode_text(m))
t0 = hl.now()
m, _ = hl.query(local, "back.test.", timeout=2)
h.check(hl.answer_addrs(m) == {"192.0.2.77"} and hl.now() - t0 < 1.0,
        "c) the name that could not be reached is answered at once (%s after %.2f s)"
        % (hl.rcode_text(m), hl.now() - t0))
n_sf = up_c.count("sf.test.")
m, _ = hl.query(local, "sf.test.", timeout=2)
h.check(hl.rcode_text(m) == "SERVFAIL" and up_c.count("sf.test.") == n_sf,
        "c) the SERVFAIL the upstream returned is still remembered")
h.check(local.alive(), "tierdns-local died")
h.stop(local)
h.finish()
