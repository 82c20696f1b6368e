#!/usr/bin/python3
"""Two tierdns-local on one host, one LMDB store (same --db) and one port
(--reuse-port, SO_REUSEPORT across processes) (issue 13):

  - the second starts on the first one's port only with --reuse-port;
  - an answer cached by one is a cache hit in the other (the upstream is
    asked once, RD=0 is answered);
  - kill -9 of one loses nothing: the other keeps serving on the port,
    every cached answer still there, and new misses are cached;
  - a restarted process joins again.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_shared_store")


def handler(up, seen):
    if not seen.msg:
        return None
    return [("send", hl.a_reply(seen, "192.0.2.77", ttl=3600))]


up = hl.FakeUpstream(h, handler)
db = os.path.join(h.tmp, "shared")
ups = ["%s:%d" % (up.addr, up.port)]
a = h.start_local("LOCAL_A", db, ups, "-t", "1", "--reuse-port")

# Without --reuse-port a second daemon on the port is refused.
import subprocess  # noqa: E402
r = subprocess.run([hl.LOCAL_BIN, "--db", db, "--listen", a.addr, "--port", str(a.port),
                    "--upstream", ups[0], "-t", "1"], capture_output=True, text=True,
                   timeout=10)
h.check(r.returncode != 0 and "in use" in (r.stdout + r.stderr).lower() or
        "busy" in (r.stdout + r.stderr).lower(),
        "a second local on the port without --reuse-port is refused: %s" %
        (r.stdout + r.stderr)[-300:])

b = h.start_local("LOCAL_B", db, ups, "-t", "1", "--reuse-port", addr=a.addr, port=a.port)

# Fill the cache through the shared port: 20 names; each is asked of the
# upstream once, whichever process took it.
names = ["n%d.shared.test." % i for i in range(20)]
for n in names:
    m, _ = hl.query(a, n)
    h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.77"}, "%s answered" % n)
h.check(up.count() == 20, "each name asked upstream once: %d" % up.count())

# Again, many times from fresh source ports (spread over both processes):
# every one a cache hit, RD=0 answered from the cache.
for _ in range(3):
    for n in names:
        m, _ = hl.query(a, n, rd=False)
        h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.77"},
                "%s from the shared cache (RD=0)" % n)
h.check(up.count() == 20, "no second upstream query: %d" % up.count())

# kill -9 of one: the other serves everything, from the same cache.
h.kill9(a)
time.sleep(0.2)
lost = 0
for n in names:
    m, _ = hl.query(b, n, rd=False)
    lost += m is None or hl.answer_addrs(m) != {"192.0.2.77"}
h.check(lost == 0, "after kill -9 of one, the other answers every cached name (%d lost)"
        % lost)
m, _ = hl.query(b, "new.shared.test.")
h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.77"} and up.count() == 21,
        "and caches new misses")

# A restarted process joins the port and finds the cache.
a2 = h.start_local("LOCAL_A2", db, ups, "-t", "1", "--reuse-port", addr=b.addr, port=b.port)
# Its readiness probe reached b: wait for its own start line.
for _ in range(100):
    if "version" in a2.log_text():
        break
    time.sleep(0.05)
h.stop(b)
m, _ = hl.query(a2, "new.shared.test.", rd=False)
h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.77"} and up.count() == 21,
        "the restarted process answers what the killed one's neighbour cached")
h.stop(a2)
h.finish()
