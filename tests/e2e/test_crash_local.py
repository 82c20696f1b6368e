#!/usr/bin/python3
"""kill -9 of tierdns-local during a stream of cache inserts (issue 4,
"crash safety"). Four clients query distinct names that the fake upstream
answers (TTL 3600); every answer a client received is "acknowledged".
After SIGKILL, `tierdns-zone --db DIR dump` must show every acknowledged
answer (the resolver stores in the cache before it answers, commit.c), and a daemon
restarted on the same store answers them from its cache, without asking
the upstream, and still resolves new names. Two rounds; then a third on
a 1 MiB cache, killed while it evicts: the store stays readable and right."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_crash_local")


def addr_of(name):
    i = int(name.split(".")[0][1:])
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


def bulk_addrs(name):
    """A .bulk.test name has 20 addresses: big entries fill a small cache."""
    return {addr_of(name)} | {"198.51.100.%d" % k for k in range(1, 20)}


def handler(u, s):
    if s.msg is None:
        return None
    if s.qname.endswith(".bulk.test."):
        return [("send", hl.reply(s, answer=["%s 3600 IN A %s" % (s.qname, a)
                                             for a in sorted(bulk_addrs(s.qname))]))]
    if s.qname.endswith(".crash.test."):
        return [("send", hl.a_reply(s, addr_of(s.qname), ttl=3600))]
    return None


up = hl.FakeUpstream(h, handler)
db = os.path.join(h.tmp, "local")
counter = [0]  # names asked so far (all rounds)
bulk_acked = [0]
lock = threading.Lock()
acked = {}


def stream(d, stop, suffix="crash.test."):
    while not stop.is_set():
        with lock:
            counter[0] += 1
            name = "n%d.%s" % (counter[0], suffix)
        m, _ = hl.query(d, name, timeout=0.5)
        if m is None:
            continue
        got = hl.answer_addrs(m, name)
        bulk = suffix == "bulk.test."
        want = bulk_addrs(name) if bulk else {addr_of(name)}
        if got == want and bulk:
            with lock:
                bulk_acked[0] += 1
        elif got == want:
            with lock:
                acked[name] = addr_of(name)
        elif got:
            h.check(False, "%s: wrong answer %s" % (name, got))


for rnd in range(2):
    d = h.start_local("LOCAL%d" % rnd, db, [up.endpoint], "--timeout", "1000")
    stop = threading.Event()
    threads = [threading.Thread(target=stream, args=(d, stop)) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    with lock:
        n_before = len(acked)
    h.kill9(d)
    stop.set()
    for t in threads:
        t.join()
    with lock:
        snapshot = dict(acked)
    h.log("round %d: %d answers acknowledged before SIGKILL (%d so far)" %
          (rnd, n_before, len(snapshot)))
    h.check(n_before >= 20, "round %d: only %d answers before the kill" % (rnd, n_before))

    r, recs = hl.dump_cache(h, db)
    h.check(r.returncode == 0, "dump after SIGKILL failed: %s" % r.stderr)
    cached = {}
    for f in recs:
        if len(f) >= 5 and f[3] == "A":
            cached.setdefault(f[0].lower(), set()).add(f[4])
    lost = sorted(n for n, a in snapshot.items() if cached.get(n) != {a})
    h.check(not lost, "round %d: %d of %d acknowledged answers missing from the store after "
            "kill -9: %s" % (rnd, len(lost), len(snapshot), lost[:10]))

    # restart on the same store: acknowledged names come from the cache
    d2 = h.start_local("AFTER%d" % rnd, db, [up.endpoint], "--timeout", "1000")
    sample = sorted(snapshot)[:: max(1, len(snapshot) // 20)]
    asked_before = up.count()
    for n in sample:
        m, _ = hl.query(d2, n)
        h.check(hl.answer_addrs(m, n) == {snapshot[n]},
                "after restart: %s: expected %s, got %s %s" %
                (n, snapshot[n], hl.rcode_text(m), hl.answer_addrs(m)))
    h.check(up.count() == asked_before,
            "after restart: %d of %d acknowledged names were asked upstream again" %
            (up.count() - asked_before, len(sample)))
    m, _ = hl.query(d2, "n999999.crash.test.")
    h.check(hl.answer_addrs(m) == {addr_of("n999999.crash.test.")},
            "after restart: a new name was not resolved: %s" % hl.rcode_text(m))
    h.stop(d2)

# A third round on a small cache (--cache-size 1M): eviction runs while
# the daemon is killed. Acknowledged answers may have been evicted, so
# only what is in the store is checked: readable, and every record right.
small = os.path.join(h.tmp, "small")
d = h.start_local("SMALL", small, [up.endpoint], "--timeout", "1000", "--cache-size", "1M")
stop = threading.Event()
threads = [threading.Thread(target=stream, args=(d, stop, "bulk.test.")) for _ in range(4)]
for t in threads:
    t.start()
# until the cache must have evicted (about 300 such entries fill it), or
# 8 s on a slow machine
t_end = time.monotonic() + 8
while bulk_acked[0] < 600 and time.monotonic() < t_end:
    time.sleep(0.1)
h.kill9(d)
stop.set()
for t in threads:
    t.join()
r, recs = hl.dump_cache(h, small)
h.check(r.returncode == 0, "small cache: dump after SIGKILL failed: %s" % r.stderr)
bulk = {}
for f in recs:
    if len(f) >= 5 and f[3] == "A" and f[0].endswith(".bulk.test."):
        bulk.setdefault(f[0].lower(), set()).add(f[4])
wrong = sorted(n for n, a in bulk.items() if a != bulk_addrs(n))
h.check(not wrong, "small cache: entries not whole or wrong after SIGKILL: %s" %
        [(n, sorted(bulk[n])) for n in wrong[:3]])
h.check(len(bulk) > 0, "small cache: nothing kept of %d answered" % bulk_acked[0])
if bulk_acked[0] <= len(bulk):
    h.log("note: small cache: only %d answered in 8 s, eviction not reached; "
          "the round checked consistency only" % bulk_acked[0])
h.log("small cache: %d entries in the store after SIGKILL, %d answered" %
      (len(bulk), bulk_acked[0]))
d2 = h.start_local("SMALL_AFTER", small, [up.endpoint], "--timeout", "1000", "--cache-size", "1M")
m, _ = hl.query(d2, "n999998.crash.test.")
h.check(hl.answer_addrs(m) == {addr_of("n999998.crash.test.")},
        "small cache: after restart a new name was not resolved: %s" % hl.rcode_text(m))
h.stop(d2)
h.finish()
