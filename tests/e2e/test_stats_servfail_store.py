#!/usr/bin/python3
"""SERVFAIL by reason (issue 14): servfail.store, a local store that cannot
be read, provoked from outside as an operator can meet it. tierdns-local
maps its store with a size derived from --cache-size (main_local.c: 4 x
cache + 64 MiB, 68 MiB for 1M); tierdns-zone, loading a static zone into
the same store while the daemon runs, maps 1 GiB. Once the data outgrows
the daemon's map, LMDB refuses its read transactions (MDB_MAP_RESIZED):
  - every question is then SERVFAIL with EDE "store unavailable", counted
    under servfail.store and no other reason, whether the name is cached,
    in the static zone or neither; none is asked upstream (a store that
    cannot be read is no miss: a static zone in it may say otherwise);
  - the daemon stops cleanly, and started again on the same store it
    serves the zone (LMDB maps at least the data it finds)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_stats_servfail_store")
# 1400 TXT records of 240 strings of 250 bytes: about 85 MB of zone data,
# more than the 68 MiB map of --cache-size 1M.
N_TXT, N_STRINGS = 1400, 240
TXT = " ".join(['"' + "x" * 250 + '"'] * N_STRINGS)


def handler(up, s):
    if s.msg is None:
        return None
    return [("send", hl.a_reply(s, "192.0.2.1"))]


up = hl.FakeUpstream(h, handler)
sock = os.path.join(h.tmp, "local.sock")
db = os.path.join(h.tmp, "l")


def step(label, name, rdtype, want_rcode, want, ede=None):
    """Ask name over TCP with EDNS of the current local (hostile_lib.
    servfail_step): want_rcode, the reasons grown by want, the EDE text."""
    return hl.servfail_step(h, sock, label,
                            lambda: hl.query(local, name, rdtype, tcp=True, edns=True,
                                             timeout=10)[0],
                            want_rcode, want, ede)


local = h.start_local("LOCAL", db, [up.endpoint], "--threads", "1", "--cache-size", "1M",
                      "--control", sock)
zero, st = hl.servfail_counts(sock)
h.check(all(v == 0 for v in zero.values()) and st.get("answers.servfail") == 0,
        "every reason is listed, all 0 at start: %s" % zero)
step("an answer", "cached.test.", "A", "NOERROR", {})
h.check(up.count("cached.test.") == 1, "cached.test. asked upstream once")

zone = os.path.join(h.tmp, "big.zone")
with open(zone, "w") as f:
    f.write("$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hm 1 3600 900 604800 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.53\n")
    for i in range(N_TXT):
        f.write("t%d IN TXT %s\n" % (i, TXT))
r = h.zone(db, "load", zone, timeout=240)
h.check(r.returncode == 0, "tierdns-zone load of the big zone into the running local's store: "
        "%s" % (r.stdout + r.stderr)[-300:])
os.unlink(zone)
size = os.path.getsize(os.path.join(db, "data.mdb"))
h.check(size > (4 + 64) << 20, "data.mdb (%d bytes) outgrew the local's 68 MiB map" % size)

STORE = {"store": 1}
step("a new name", "new.test.", "A", "SERVFAIL", STORE, "store unavailable")
step("a cached name", "cached.test.", "A", "SERVFAIL", STORE, "store unavailable")
step("a name of the static zone", "t1.big.test.", "TXT", "SERVFAIL", STORE, "store unavailable")
h.check(up.count("new.test.") == 0 and up.count("cached.test.") == 1 and
        up.count("t1.big.test.") == 0,
        "nothing asked upstream while the store is unreadable: new %d, cached %d, static %d"
        % (up.count("new.test."), up.count("cached.test."), up.count("t1.big.test.")))
h.check(local.alive(), "tierdns-local lives")
h.stop(local)

# Started again on the same store: it maps what it finds and serves it.
local = h.start_local("LOCAL_AGAIN", db, [up.endpoint], "--threads", "1", "--cache-size",
                      "1M", "--control", sock)
m = step("a name of the static zone, after a restart", "t1.big.test.", "TXT", "NOERROR", {})
txt = [rr for rrset in (m.answer if m is not None else []) for rr in rrset]
h.check(len(txt) == 1 and len(txt[0].strings) == N_STRINGS,
        "the static zone's TXT after a restart: %d records" % len(txt))
step("a cached name, after a restart", "cached.test.", "A", "NOERROR", {})
h.check(up.count("cached.test.") == 1, "cached.test. still from the cache after the restart: "
        "asked upstream %d times" % up.count("cached.test."))
step("a new name, after a restart", "fresh.test.", "A", "NOERROR", {})
h.check(up.count("fresh.test.") == 1, "fresh.test. asked upstream once: %d"
        % up.count("fresh.test."))
h.stop(local)
h.finish()
