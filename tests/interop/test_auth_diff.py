#!/usr/bin/python3
"""Authoritative differential: NSD and tierdns-upper serve the same zone
files (tests/interop/zones); every query of the generated set
(interop_common.make_queries: every test name x every type, random case,
EDNS on/off, RD on/off, large answers without EDNS and over TCP) goes to
both over UDP; a TC answer from both is asked again over TCP.

Compared: rcode, opcode, the QR/AA/TC/RD/RA/AD/CD flags, the question
(case-exact: RFC 1035 4.1.2 echo), EDNS presence/version/payload size, and
each section's RRsets as sets (owner names case-insensitive, rdata in
canonical form, TTLs compared). When both set TC the sections are not
compared (RFC 2181 section 9: a truncated reply's data is not to be used);
the TCP retry is compared in full instead.

A difference is a failure unless DELIBERATE explains it (each with its RFC
reason) or KNOWN_BUGS lists it (a tierdns bug, reported to the lead; shown
as XFAIL, and as "no longer reproduces" once fixed).

Run: TDNS_BUILD=build tests/interop/test_auth_diff.py  [-v]
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_common as ic  # noqa: E402

SEED = int(os.environ.get("TDNS_INTEROP_SEED", "20261125"))


# --- deliberate differences ---------------------------------------------
#
# Each rule gets the query and both views (NSD first) and returns both
# views with what it explains removed, or None when it does not apply. A
# difference is deliberate when the views are equal after the rules.

def _any_subset(q, nsd, ours):
    """RFC 8482 section 4: a responder may answer ANY with a subset of the
    RRsets at the name. NSD returns one RRset over UDP; tierdns-upper
    returns every RRset (as NSD does over TCP). Deliberate when ours holds
    everything NSD gave and both agree on everything else."""
    if q.qtype != "ANY" or "answer" not in nsd or "answer" not in ours:
        return None
    if not nsd["answer"] <= ours["answer"]:
        return None
    a, b = dict(nsd), dict(ours)
    a["answer"] = b["answer"] = frozenset()
    return a, b


DELIBERATE = [
    ("RFC 8482 4.1/4.2: ANY answered with every RRset, NSD gives a subset", _any_subset),
]

# --- known tierdns bugs ---------------------------------------------------
#
# (query key "name type" in lower case, expected per RFC, what tierdns does)
KNOWN_BUGS = [
]


def apply_rules(q, a, b):
    used = []
    for why, rule in DELIBERATE:
        r = rule(q, a, b)
        if r is not None:
            a2, b2 = r
            if (a2, b2) != (a, b):
                used.append(why)
            a, b = a2, b2
    return a, b, used


def main():
    verbose = "-v" in sys.argv
    env = ic.Env("auth")
    failures = []
    counts = {"compared": 0, "identical": 0, "deliberate": 0, "known": 0, "tcp": 0}
    deliberate_seen = {}
    known_seen = set()
    t0 = time.monotonic()
    try:
        nsd = env.start_nsd()
        upper = env.start_upper()
        asker = ic.Asker()
        queue = ic.make_queries(SEED)
        print("seed %d: %d generated queries, NSD on %s, tierdns-upper on %s"
              % (SEED, len(queue), nsd.endpoint(), upper.endpoint()))
        i = 0
        while i < len(queue):
            q = queue[i]
            i += 1
            ra = asker.ask(nsd, q)
            rb = asker.ask(upper, q)
            va, vb = ic.view(ra, ttl=True), ic.view(rb, ttl=True)
            counts["compared"] += 1
            if q.tcp:
                counts["tcp"] += 1
            tc_a = va.get("flags", {}).get("TC")
            tc_b = vb.get("flags", {}).get("TC")
            if tc_a and tc_b:
                for v in (va, vb):
                    for s in ("answer", "authority", "additional"):
                        v.pop(s, None)
                if not q.tcp:
                    queue.append(q.tcp_copy())
            if va == vb:
                counts["identical"] += 1
                if verbose:
                    print("ok   %s" % q)
                continue
            a2, b2, used = apply_rules(q, va, vb)
            if a2 == b2:
                counts["deliberate"] += 1
                for why in used:
                    deliberate_seen[why] = deliberate_seen.get(why, 0) + 1
                if verbose:
                    print("DELIB %s: %s" % (q, "; ".join(used)))
                continue
            bug = next((kb for kb in KNOWN_BUGS if kb[0] == q.key()), None)
            fields = ic.diff_fields(a2, b2)
            text = ["%s %s: differs in %s" % ("XFAIL" if bug else "FAIL", q, ", ".join(fields))]
            for s in ("answer", "authority", "additional"):
                if s in fields and s in a2 and s in b2:
                    text.append("    %s section (first = NSD, second = tierdns-upper):" % s)
                    text.extend(ic.section_diff(a2[s], b2[s]))
            text.append("  NSD:")
            text.append(ic.describe(ra))
            text.append("  tierdns-upper:")
            text.append(ic.describe(rb))
            if bug:
                counts["known"] += 1
                known_seen.add(bug[0])
                text.insert(1, "    known bug: expected %s; got %s" % (bug[1], bug[2]))
                if verbose:
                    print("\n".join(text))
            else:
                failures.append("\n".join(text))
        env.stop(upper)
        env.stop(nsd, expect_clean=False)
    except ic.Failure as e:
        env.show_logs()
        print("FAIL: %s" % e)
        return 1
    for f in failures:
        print(f)
    for kb in KNOWN_BUGS:
        if kb[0] not in known_seen:
            print("note: KNOWN_BUGS entry '%s' no longer reproduces: remove it" % kb[0])
    print("authoritative differential: %d queries compared (%d over TCP) in %.1f s: "
          "%d identical, %d deliberate differences, %d known tierdns bugs, "
          "%d unexplained" % (counts["compared"], counts["tcp"], time.monotonic() - t0,
                              counts["identical"], counts["deliberate"], counts["known"],
                              len(failures)))
    for why, n in sorted(deliberate_seen.items()):
        print("  deliberate (%d queries): %s" % (n, why))
    if counts["compared"] < 300:
        print("FAIL: fewer than 300 queries compared")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
