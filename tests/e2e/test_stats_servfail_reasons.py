#!/usr/bin/python3
"""SERVFAIL by reason (issue 14): the reasons test_stats_servfail does not
provoke, each from outside against a scripted upstream, with the exact
change of every servfail.REASON counter of tierdns-control stats (the
others unchanged) and the reason's text in the client's EDE (RFC 8914):
  - garbage: a reply with our ID and QR=1 whose answer section is cut off
    (unparsable), and one whose header claims more records than the
    resolver takes (refused before parsing);
  - loop: a CNAME loop inside one reply (a -> b -> a), and one across two
    replies (a -> b asked upstream, b -> a);
  - chain: a reply with a CNAME chain longer than the chase limit;
  - overload: more clients waiting on one question than a query takes
    (64, resolve.h max_waiters), --max-outstanding 1 with a query out and
    a second name asked, and --max-outstanding 1 with a CNAME whose target
    needs a second upstream query.
servfail.store is provoked in test_stats_servfail_store. servfail.dead
has no outside cause: the last upstream of a set is asked even when it is
held dead, and a reply read after a query's time ran out is a timeout
(unit/test_resolve test_tc_after_deadline)."""
import os
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_stats_servfail_reasons")
# resolve.c: CHASE_MAX_HOPS CNAMEs are followed, one more is an error.
CHASE_MAX_HOPS = 8
# resolve.h: clients waiting on one upstream query (max_waiters default).
MAX_WAITERS = 64


def question_bytes(raw):
    """The question section of a query as sent (name, type, class)."""
    i = 12
    while raw[i] != 0:
        i += raw[i] + 1
    return raw[12:i + 5]


def raw_header(s, an, qd=1):
    """A reply header with the query's ID, QR RD RA, NOERROR."""
    return struct.pack("!HHHHHH", s.id, 0x8180, qd, an, 0, 0)


def truncated_answer(s):
    # one answer record announced, none there: the parse fails
    return raw_header(s, an=1) + question_bytes(s.raw)


def too_many_records(s):
    # the header alone claims 1000 answers (resolve.h max_records: 512)
    return raw_header(s, an=1000) + question_bytes(s.raw)


def cname_chain(owner, n):
    """n CNAMEs from owner: owner -> c1.owner -> c2.owner ..., no data at
    the end."""
    names = [owner] + ["c%d.%s" % (i, owner) for i in range(1, n + 1)]
    return ["%s 300 IN CNAME %s" % (names[i], names[i + 1]) for i in range(n)]


behaviors = {}


def handler(up, s):
    if s.msg is None:
        return None
    fn = behaviors.get(s.qname)
    return fn(s) if fn is not None else None  # unknown names: silence


def answer_with(*records):
    return lambda s: [("send", hl.reply(s, answer=list(records)))]


behaviors.update({
    "ok.test.": lambda s: [("send", hl.a_reply(s, "192.0.2.1"))],
    "cut.test.": lambda s: [("send", truncated_answer(s))],
    "huge.test.": lambda s: [("send", too_many_records(s))],
    "loop-a.test.": answer_with("loop-a.test. 300 IN CNAME loop-b.test.",
                                "loop-b.test. 300 IN CNAME loop-a.test."),
    "x-a.test.": answer_with("x-a.test. 300 IN CNAME x-b.test."),
    "x-b.test.": answer_with("x-b.test. 300 IN CNAME x-a.test."),
    "long.test.": answer_with(*cname_chain("long.test.", CHASE_MAX_HOPS + 1)),
    # the longest chain followed: answered, no failure
    "eight.test.": answer_with(*(cname_chain("eight.test.", CHASE_MAX_HOPS) +
                                 ["c%d.eight.test. 300 IN A 192.0.2.8" % CHASE_MAX_HOPS])),
    "cn.test.": answer_with("cn.test. 300 IN CNAME target.test."),
    "target.test.": lambda s: [("send", hl.a_reply(s, "192.0.2.9"))],
})

up = hl.FakeUpstream(h, handler)
sock = os.path.join(h.tmp, "local.sock")


def step(label, name, want, ede=None, want_rcode="SERVFAIL"):
    """Ask name (with EDNS) of the current local: want_rcode, the reasons
    grown by want (hostile_lib.servfail_step) and, for a SERVFAIL, the
    reason's text as the EDE's."""
    return hl.servfail_step(h, sock, label,
                            lambda: hl.query(local, name, edns=True, timeout=10)[0],
                            want_rcode, want, ede)


local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [up.endpoint], "--threads", "1",
                      "--timeout", "6000", "--control", sock)
zero, _ = hl.servfail_counts(sock)
h.check(all(v == 0 for v in zero.values()), "every reason is listed, all 0 at start: %s" % zero)
step("an answer", "ok.test.", {}, want_rcode="NOERROR")

# ---- garbage ----
step("a reply cut off in its answer section", "cut.test.", {"garbage": 1},
     "malformed upstream reply")
step("a reply claiming 1000 records", "huge.test.", {"garbage": 1},
     "malformed upstream reply")
# An answer after the garbage: the counters stay (nothing else counted).
step("an answer after the garbage", "ok.test.", {}, want_rcode="NOERROR")

# ---- loop and chain ----
step("a CNAME loop in one reply", "loop-a.test.", {"loop": 1}, "CNAME loop")
step("a CNAME loop across two replies", "x-a.test.", {"loop": 1}, "CNAME loop")
h.check(up.count("x-a.test.") == 1 and up.count("x-b.test.") == 1,
        "the loop across replies asked x-a and x-b once each: %d, %d"
        % (up.count("x-a.test."), up.count("x-b.test.")))
step("a chain of %d CNAMEs" % (CHASE_MAX_HOPS + 1), "long.test.", {"chain": 1},
     "CNAME chain too long")
step("a chain of %d CNAMEs" % CHASE_MAX_HOPS, "eight.test.", {}, want_rcode="NOERROR")

# ---- overload: more clients on one question than may wait ----
# A silent upstream holds the query for --timeout (6 s); the clients all
# ask within it (they start together; their outer bound is generous).
N = MAX_WAITERS + 6
before, _ = hl.servfail_counts(sock)
barrier = threading.Barrier(N)
results = [None] * N


def crowd(i):
    barrier.wait()
    m, _ = hl.query(local, "crowd.test.", edns=True, timeout=20)
    results[i] = (hl.rcode_text(m), hl.ede_text(m))


threads = [threading.Thread(target=crowd, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
after, _ = hl.servfail_counts(sock)
d = hl.servfail_delta(before, after)
h.check(d == {"overload": N - MAX_WAITERS, "timeout": MAX_WAITERS},
        "%d clients on one question: reasons grew by %s, expected %d overload and %d timeout"
        % (N, d, N - MAX_WAITERS, MAX_WAITERS))
h.check(sorted(results) == sorted([("SERVFAIL", "resolver overloaded")] * (N - MAX_WAITERS) +
                                  [("SERVFAIL", "upstream timed out")] * MAX_WAITERS),
        "%d clients on one question: answers %s" % (N, sorted(set(results))))
h.check(up.count("crowd.test.") == 1,
        "one upstream query for the crowd, got %d" % up.count("crowd.test."))
h.check(local.alive(), "tierdns-local lives")
h.stop(local)

# ---- overload: --max-outstanding 1 ----
local = h.start_local("LOCAL_ONE", os.path.join(h.tmp, "l1"), [up.endpoint], "--threads",
                      "1", "--timeout", "3000", "--max-outstanding", "1", "--control", sock)
step("one query out at a time: an answer", "ok.test.", {}, want_rcode="NOERROR")
# The CNAME's target needs a second upstream query while the first holds
# the only slot.
step("a CNAME whose target needs a second query", "cn.test.", {"overload": 1},
     "resolver overloaded")
h.check(up.count("target.test.") == 0, "the target was never asked upstream: %d"
        % up.count("target.test."))
# A silent name holds the slot; a second name meanwhile fails at once.
before, _ = hl.servfail_counts(sock)
held = {}


def ask_held():
    held["m"], _ = hl.query(local, "held.test.", edns=True, timeout=20)


t = threading.Thread(target=ask_held)
t.start()
h.check(hl.wait_for(lambda: up.count("held.test.") == 1, 10) is not None,
        "the silent name was asked upstream")
m, _ = hl.query(local, "second.test.", edns=True, timeout=10)
h.check(hl.rcode_text(m) == "SERVFAIL" and hl.ede_text(m) == "resolver overloaded",
        "a second name while the slot is held: %s %r" % (hl.rcode_text(m), hl.ede_text(m)))
h.check(up.count("second.test.") == 0, "the second name was never asked upstream")
t.join()
h.check(hl.rcode_text(held.get("m")) == "SERVFAIL" and
        hl.ede_text(held.get("m")) == "upstream timed out",
        "the silent name: %s %r" % (hl.rcode_text(held.get("m")), hl.ede_text(held.get("m"))))
after, _ = hl.servfail_counts(sock)
d = hl.servfail_delta(before, after)
h.check(d == {"overload": 1, "timeout": 1},
        "--max-outstanding 1, a second name while one is out: reasons grew by %s, "
        "expected overload 1 and timeout 1" % d)
# Overload is not remembered (resolve.c upq_fail): the same name is asked
# upstream once the slot is free.
step("the CNAME again, the slot free", "cn.test.", {"overload": 1}, "resolver overloaded")
h.check(up.count("cn.test.") == 2, "the overloaded name was asked again: %d"
        % up.count("cn.test."))
h.check(local.alive(), "tierdns-local lives")
h.stop(local)
h.finish()
