#!/usr/bin/python3
"""Upstream health is learnt once for all workers (infra.h; issue 10 "The
resolver, split by responsibility": a dead upstream is discovered once,
not once per worker). tierdns-local with two worker threads and two
upstreams, the first silent: queries for 16 new names from 16 source
ports (spread over both workers' SO_REUSEPORT sockets) all get the second
upstream's answer, the silent one is declared dead in exactly one log
line, and it is asked only for its first failures and the probes after,
not twice more by every worker."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_shared_health")
silent = hl.FakeUpstream(h, lambda up, s: None)
good = hl.FakeUpstream(h, lambda up, s: [("send", hl.a_reply(s, "192.0.2.62"))] if s.msg else None)
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [silent.endpoint, good.endpoint],
                      "--timeout", "3000", "--threads", "2")
for i in range(16):
    name = "n%d.shared.test." % i
    m, dt = hl.query(local, name, timeout=7)
    h.check(hl.answer_addrs(m) == {"192.0.2.62"},
            "%s: expected 192.0.2.62, got %s after %.2f s" % (name, hl.rcode_text(m), dt))
log = local.log_text()
dead = [line for line in log.splitlines()
        if "upstream #1 (" in line and "failures in a row" in line]
h.check(len(dead) == 1, "upstream #1 declared dead %d times (want once for all workers):\n%s" %
        (len(dead), "\n".join(dead)))
# Two failures make it dead; a probe may follow within the run (backoff
# 1 s). Per-worker tables would need two failures in each worker.
asked = silent.count()
h.check(asked <= 3, "the silent upstream was asked %d times" % asked)
h.stop(local)
h.finish()
