#!/usr/bin/python3
"""kill -9 of tierdns-local during a stream of cache inserts (issue 4,
"crash safety"). Four clients query distinct names that the fake upstream
answers (TTL 3600); every answer a client received is "acknowledged".
After SIGKILL, `tierdns-zone --db DIR dump` must show every acknowledged
answer (resolve.c stores in the cache before it answers), and a daemon
restarted on the same store answers them from its cache, without asking
the upstream, and still resolves new names. Two rounds."""
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


up = hl.FakeUpstream(h, lambda u, s: [("send", hl.a_reply(s, addr_of(s.qname), ttl=3600))]
                     if s.msg and s.qname.endswith(".crash.test.") else None)
db = os.path.join(h.tmp, "local")
counter = [0]
lock = threading.Lock()
acked = {}


def stream(d, stop):
    while not stop.is_set():
        with lock:
            counter[0] += 1
            name = "n%d.crash.test." % counter[0]
        m, _ = hl.query(d, name, timeout=0.5)
        if m is None:
            continue
        got = hl.answer_addrs(m, name)
        if got == {addr_of(name)}:
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
h.finish()
