#!/usr/bin/python3
"""Resolver differential: Unbound (iterator only, no validator, no trust
anchor, forward-zone "." to tierdns-upper) and tierdns-local (--upstream
tierdns-upper) forward to the same tierdns-upper, which serves the zones of
tests/interop/zones. Both get, in the same order (so their caches see the
same history), the generated query set of test_auth_diff with RD always
set (as a stub asks a recursive server; RD=0 cache snooping is not
compared), the protocol edge cases, and 61 queries pipelined on one TCP
connection; a UDP answer with TC from either is asked again over TCP.

Compared: rcode, opcode, QR/AA/TC/RD/RA/AD/CD, the question (case-exact),
EDNS version/payload/flags/options, and each section's RRsets as sets
(owners case-insensitive) - TTL values not exactly: both count down from
their own fetch times, so the TTLs of an RRset both hold may differ by at
most 3 s (a cap, a reset or a TTL served uncounted shows up).

Decided: AA is compared too and must be clear in both (RFC 1035 4.1.1: AA
belongs to the authoritative server; a caching forwarder relays data it
does not own) - except in the CHAOS identity answers, see RULE_CHAOS. RA
must be set by both in every answer to a query it served (Unbound clears it
in its own FORMERR/NOTIMP/REFUSED, see _ra_on_errors).

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


def _ra_on_errors(q, ub, ours):
    """RFC 1035 4.1.1: RA says whether recursion is available; tierdns-local
    sets it in every reply, Unbound clears it in the FORMERR/NOTIMP/
    REFUSED replies its front end makes. Deliberate for those rcodes."""
    if ours.get("rcode") not in ("FORMERR", "NOTIMP", "REFUSED") or "flags" not in ub:
        return None
    if ub["flags"]["RA"] or not ours.get("flags", {}).get("RA"):
        return None
    return ub, dict(ours, flags=dict(ours["flags"], RA=False))


def _tc_in_query(q, ub, ours):
    """RFC 1035 4.1.1 defines TC for responses only; a query with TC set is
    answered normally by tierdns-local (and by NSD, see test_auth_diff),
    Unbound answers FORMERR."""
    if q.key() != "edge:TC bit in query" or ub.get("rcode") != "FORMERR":
        return None
    if ours.get("rcode") != "NOERROR" or not ours.get("answer"):
        return None
    return {}, {}


def _mail_meta(q, ub, ours):
    """MAILA/MAILB (RFC 1035 3.2.3, obsolete QTYPEs) are relayed by
    tierdns-local and the upstream's NODATA passed on, as NSD and
    tierdns-upper answer them; Unbound answers FORMERR itself."""
    if q.key() not in ("edge:MAILA www.interop.", "edge:MAILB www.interop."):
        return None
    if ub.get("rcode") != "FORMERR" or ours.get("rcode") != "NOERROR" or ours.get("answer"):
        return None
    return {}, {}


def _formerr_no_opt(q, ub, ours):
    """RFC 6891 6.1.1: an OPT RR's owner MUST be the root; a query whose OPT
    is owned by another name is malformed and gets FORMERR. tierdns-local
    (like NSD and tierdns-upper, see test_auth_diff) puts no OPT in that
    reply, since the query had no valid one; Unbound adds its own."""
    if not q.key().startswith("edge:OPT owned by"):
        return None
    if ub.get("rcode") != "FORMERR" or ours.get("rcode") != "FORMERR" or ours.get("edns"):
        return None
    return dict(ub, edns=None), ours


def _servfail_partial_chain(q, ub, ours):
    """A CNAME chased to a target whose lookup fails ends in SERVFAIL (RFC
    1034 5.3.3 step 3). Unbound sometimes (once it has the CNAME cached,
    so depending on timing) puts the part of the chain it had in that
    SERVFAIL; tierdns-local's SERVFAIL never carries records, like
    Unbound's own first answer to the same question."""
    if ub.get("rcode") != "SERVFAIL" or ours.get("rcode") != "SERVFAIL":
        return None
    if not _sections(ub) or not _sections(ours) or ours["answer"] or not ub["answer"]:
        return None
    if any(k[2] != "CNAME" for k in ub["answer"]):
        return None
    a, b = dict(ub), dict(ours)
    a["answer"] = b["answer"] = frozenset()
    return a, b


def _ixfr_refused(q, ub, ours):
    """tierdns-local is the transfer source of no zone: it answers IXFR
    (RFC 1995) itself with REFUSED, as it does AXFR (RFC 5936 4.2), and
    forwards neither. The query is well formed, so not FORMERR (Unbound's
    answer, which also echoes the query's SOA in authority)."""
    if not q.key().startswith("edge:IXFR"):
        return None
    if ub.get("rcode") != "FORMERR" or ours.get("rcode") != "REFUSED":
        return None
    if not _sections(ours) or ours["answer"] or ours["authority"]:
        return None
    return dict(ub, rcode="REFUSED", answer=frozenset(), authority=frozenset(),
                additional=frozenset()), ours


DELIBERATE = [
    ic.RULE_NOTIMP_HEADER,
    ic.RULE_ERROR_QUESTION,
    ic.RULE_CHAOS,
    ("RFC 1995 / RFC 5936 4.2: IXFR REFUSED by tierdns-local itself (Unbound: FORMERR)",
     _ixfr_refused),
    ("RFC 1035 4.1.1: RA set in tierdns-local's FORMERR/NOTIMP/REFUSED replies, "
     "Unbound clears it", _ra_on_errors),
    ("RFC 1035 4.1.1: TC in a query ignored (Unbound: FORMERR)", _tc_in_query),
    ("RFC 1035 3.2.3: MAILA/MAILB relayed upstream (Unbound: FORMERR)", _mail_meta),
    ("RFC 6891 6.1.1: no OPT in the FORMERR for an OPT not owned by the root "
     "(Unbound adds one)", _formerr_no_opt),
    ("RFC 5452 6 / RFC 2181 5.4.1: tierdns-local relays only the CNAME chain and the "
     "negative SOA, no referral NS, glue or additional data", _minimal_relay),
    ic.RULE_ANY,
    ("RFC 1034 5.3.3: a chased CNAME whose target fails: SERVFAIL without records "
     "(Unbound at times adds the CNAME it had cached)", _servfail_partial_chain),
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


KNOWN_BUGS = []


def main():
    env = ic.Env("resolver")
    try:
        upper = env.start_upper()
        unbound = env.start_unbound("unbound", forward=upper)
        local = env.start_local("local", upper)
        upper.name, unbound.name, local.name = "tierdns-upper", "Unbound", "tierdns-local"
        queries = ic.make_queries(SEED, rd=True) + ic.edge_queries(rd=True)
        print("seed %d: %d generated queries; tierdns-upper on %s, Unbound on %s, "
              "tierdns-local on %s" % (SEED, len(queries), upper.endpoint(),
                                       unbound.endpoint(), local.endpoint()))
        d = ic.Diff("resolver differential (Unbound vs tierdns-local, both forwarding "
                    "to tierdns-upper)", unbound, local, ttl=False, ttl_slack=3,
                    origin=upper, rules=DELIBERATE, known_bugs=KNOWN_BUGS,
                    verbose="-v" in sys.argv).run(queries)
        pipe = ic.pipelined_queries(SEED + 1, rd=True)
        d.run_pipelined(pipe)
        env.stop(local)
        env.stop(unbound, expect_clean=False)
        env.stop(upper)
    except ic.Failure as e:
        print("FAIL: %s" % e, flush=True)
        env.show_logs()
        return 1
    return d.report()


if __name__ == "__main__":
    sys.exit(main())
