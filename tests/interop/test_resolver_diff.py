#!/usr/bin/python3
"""Resolver differential: Unbound (iterator only, no validator, no trust
anchor, forward-zone "." to tierdns-upper) and tierdns-local (--upstream
tierdns-upper) forward to the same tierdns-upper, which serves the zones of
tests/interop/zones. The same generated query set
(interop_common.make_queries, with RD always set, as a stub resolver asks a
recursive one) goes to both, in the same order, so their caches see the
same history; a TC answer from both is asked again over TCP.

Compared: rcode, opcode, QR/AA/TC/RD/RA/AD/CD, the question (case-exact),
EDNS presence/version/payload, and each section's RRsets as sets (owners
case-insensitive) - TTL values excepted: both count down from their own
fetch times.

Decided: AA is compared too and must be clear in both (RFC 1035 4.1.1: AA
belongs to the authoritative server; a caching forwarder relays data it
does not own). RA must be set by both.

A difference is a failure unless DELIBERATE explains it (with its RFC
reason) or KNOWN_BUGS lists it (XFAIL, reported to the lead).

Run: TDNS_BUILD=build tests/interop/test_resolver_diff.py  [-v]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_common as ic  # noqa: E402

SEED = int(os.environ.get("TDNS_INTEROP_SEED", "20261126"))


# --- deliberate differences ---------------------------------------------
#
# Each rule gets the query and both views (Unbound first) and returns both
# views with what it explains removed, or None when it does not apply.

def _sections(v):
    return all(s in v for s in ("answer", "authority", "additional"))


def _minimal_relay(q, ub, ours):
    """tierdns-local relays (and caches) only the CNAME chain from the
    question and, for a negative answer, the SOA; everything else in the
    upstream's reply is dropped (SPEC "Upstream safety"; RFC 5452 section
    6 and RFC 2181 section 5.4.1: authority and additional data is of the
    lowest trust; RFC 1034 section 4.3.2 step 6: additional data is
    optional). Unbound passes on referral NS RRsets, glue and NS-address
    additional data. Deliberate when ours is a subset of Unbound's in both
    sections and no SOA is missing."""
    if not (_sections(ub) and _sections(ours)):
        return None
    if not (ours["authority"] <= ub["authority"] and ours["additional"] <= ub["additional"]):
        return None
    if any(k[2] == "SOA" for k in ub["authority"] - ours["authority"]):
        return None
    a, b = dict(ub), dict(ours)
    a["authority"] = b["authority"] = frozenset()
    a["additional"] = b["additional"] = frozenset()
    return a, b


def _payload_cap(q, ub, ours):
    """RFC 6891 section 6.2.5 lets a responder use a UDP payload size
    below the requestor's; tierdns-local never sends more than the 1232
    bytes it advertises (DNS flag day 2020), and sets TC (the TCP retry of
    the same query is compared in full). Unbound answered a client
    offering more than 1232 with a bigger UDP message."""
    if q.tcp or q.edns is None or not ours.get("edns"):
        return None
    if not ours["flags"]["TC"] or ub["flags"]["TC"] or q.edns <= ours["edns"][1]:
        return None
    a, b = dict(ub), dict(ours)
    a["flags"], b["flags"] = dict(ub["flags"]), dict(ours["flags"])
    b["flags"]["TC"] = False
    for s in ("answer", "authority", "additional"):
        a.pop(s, None)
        b.pop(s, None)
    return a, b


DELIBERATE = [
    ("RFC 5452 6 / RFC 2181 5.4.1: tierdns-local relays only the CNAME chain and the "
     "negative SOA, no referral NS, glue or additional data", _minimal_relay),
    ic.RULE_ANY,
    ("RFC 6891 6.2.5: UDP answers capped at the 1232 bytes tierdns-local advertises "
     "(TC; the TCP retry is compared)", _payload_cap),
]

# --- known tierdns bugs ---------------------------------------------------
#
# Differences that are tierdns-local bugs, reported to the lead:
# {"id", "key": "name type" in lower case (None = any type at that name),
#  "expected" (per RFC), "got"}. Shown as XFAIL.

def _kb(bug_id, name, expected, got):
    return [{"id": bug_id, "key": "%s %s" % (name, t), "expected": expected, "got": got}
            for t in ic.TYPES]


KNOWN_BUGS = (
    _kb("LOCAL-1", "outside.interop.",
        "the CNAME target www.elsewhere.test. asked for in turn (RFC 1034 5.3.3 step 3, "
        "4.3.2 step 3a: a recursive answer follows the chain); the upstream REFUSES it, "
        "so SERVFAIL, as Unbound answers",
        "NOERROR with only the CNAME, the target never asked for")
    + _kb("LOCAL-2", "loop1.interop.",
          "SERVFAIL: a CNAME loop is detected and is an error (RFC 1034 3.6.2, "
          "RFC 1035 7.1's loop bound), as Unbound answers",
          "NOERROR relaying the looping chain loop1 -> loop2 -> loop1")
)


def main():
    env = ic.Env("resolver")
    try:
        upper = env.start_upper()
        unbound = env.start_unbound("unbound", forward=upper)
        local = env.start_local("local", upper)
        upper.name, unbound.name, local.name = "tierdns-upper", "Unbound", "tierdns-local"
        queries = ic.make_queries(SEED, rd=True)
        print("seed %d: %d generated queries; tierdns-upper on %s, Unbound on %s, "
              "tierdns-local on %s" % (SEED, len(queries), upper.endpoint(),
                                       unbound.endpoint(), local.endpoint()))
        d = ic.Diff("resolver differential (Unbound vs tierdns-local, both forwarding "
                    "to tierdns-upper)", unbound, local, ttl=False, rules=DELIBERATE,
                    known_bugs=KNOWN_BUGS, verbose="-v" in sys.argv).run(queries)
        env.stop(local)
        env.stop(unbound, expect_clean=False)
        env.stop(upper)
    except ic.Failure as e:
        env.show_logs()
        print("FAIL: %s" % e)
        return 1
    return d.report()


if __name__ == "__main__":
    sys.exit(main())
