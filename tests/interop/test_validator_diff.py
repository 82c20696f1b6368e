#!/usr/bin/python3
"""tierdns-local validating (issue 12) against Unbound validating, both
forwarding to the same tierdns-upper with the same trust anchor.

The interop zones are signed at test time as test_dnssec_validators.py
signs them (fresh keys; sub.interop. a signed child with its DS in
interop.; broken.interop. with one signature octet changed), once with NSEC
(ECDSA P-256) and once with NSEC3 (Ed25519, 0 iterations, empty salt); the
unsigned deleg.interop. zone is served by the same upper (a forwarder
cannot follow a referral), its delegation in interop. proven unsigned.
Unbound forwards "." to the upper with the DS of interop. as its trust
anchor; tierdns-local has --upstream the upper and --trust-anchor a file
with that DS.

Every name of interop_common.NAMES plus broken.interop., times every type
of TYPES, times DO on/off, times CD on/off, is asked of both (RD, EDNS);
the rcode and the AD bit must agree. Differences allowed, each with its
reason (explain()), are counted apart (printed with -v); any other
difference fails the test. Prints the counts.

Run: TDNS_BUILD=build tests/interop/test_validator_diff.py [-v]
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

import interop_common as ic  # noqa: E402

VARIANTS = ic.DNSSEC_VARIANTS


def explain(qname, qtype, do, cd, ref, ours):
    """The reason a difference is expected, or None."""
    if cd and ref[0] == ours[0] and ours[1] and not ref[1]:
        # RFC 6840 5.7, 5.9: with CD=1 the answer is the client's to
        # check; a resolver that validated the data may still say so.
        # tierdns validates every answer and keeps the verdict with the
        # entry; Unbound sets AD on a CD=1 answer only when the message it
        # cached was validated, which depends on the order of its fetches.
        return "CD=1: AD from the stored verdict"
    if (qname.endswith("deleg2.interop.") and ref[0] == "SERVFAIL" and
            ours == ("NOERROR", False, "")):
        # The upper answers a forwarder's question at or below the
        # delegation deleg2.interop. with a referral (no answer, no SOA).
        # tierdns caches nothing of it and judges the empty answer by the
        # DS proof of the cut, which shows an unsigned delegation:
        # insecure. Unbound (with NSEC3 only) takes the referral for a
        # NODATA answer whose proof fails ("nodata proof failed").
        return "referral below an unsigned delegation"
    return None


def ask(port, qname, qtype, do, cd):
    q = dns.message.make_query(qname, qtype, want_dnssec=do, use_edns=0)
    q.flags = dns.flags.RD | (dns.flags.CD if cd else 0)
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=4)
        if r.flags & dns.flags.TC:
            r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=4)
    except Exception as e:  # noqa: BLE001 - a silent server is a result too
        return ("TIMEOUT", False, str(e))
    return (dns.rcode.to_text(r.rcode()), bool(r.flags & dns.flags.AD), "")


def one_variant(name, alg, args, verbose, totals):
    env = ic.Env("validator-diff-" + name)
    failures = []
    try:
        parent, sub, deleg, ds, _ = ic.sign_interop(env, alg, args)
        upper = env.start_upper([("interop.", parent), ("sub.interop.", sub),
                                 ("deleg.interop.", deleg),
                                 ("2.0.192.in-addr.arpa.",
                                  os.path.join(ic.ZONES_DIR, "reverse.zone"))])
        anchor = env.path("anchor.ds")
        with open(anchor, "w") as f:
            f.write(ds + "\n")
        ub = env.start_unbound("unbound", forward=upper, trust_anchors=[" ".join(ds.split())])
        db = env.path("local-db")
        local = env._spawn("local", [env.bin("tierdns-local"), "--db", db, "--listen",
                                     "127.0.0.1", "--port", "@PORT@", "--upstream",
                                     upper.endpoint(), "--trust-anchor", anchor,
                                     # the interop reverse zone is RFC 6303's
                                     # 192.0.2/24, answered locally by default
                                     "--local-zone", "2.0.192.in-addr.arpa. nodefault"],
                           env._ready_tcp)
        names = [n for n, _ in ic.NAMES] + ["broken.interop."]
        same = explained = 0
        for qname in names:
            for qtype in ic.TYPES:
                for do in (False, True):
                    for cd in (False, True):
                        ref = ask(ub.port, qname, qtype, do, cd)
                        ours = ask(local.port, qname, qtype, do, cd)
                        case = "%s %s %s DO=%d CD=%d" % (name, qname, qtype, do, cd)
                        if ref[:2] == ours[:2]:
                            same += 1
                            if verbose:
                                print("same      %-60s %s AD=%d" % (case, ref[0], ref[1]))
                            continue
                        why = explain(qname, qtype, do, cd, ref, ours)
                        line = "%-60s unbound %s AD=%d, tierdns %s AD=%d" % (
                            case, ref[0], ref[1], ours[0], ours[1])
                        if why is not None:
                            explained += 1
                            if verbose:
                                print("explained %s (%s)" % (line, why))
                        else:
                            failures.append(line)
                            print("DIFF      %s" % line, flush=True)
        print("%s: %d the same, %d explained differences, %d unexplained"
              % (name, same, explained, len(failures)), flush=True)
        totals[0] += same
        totals[1] += explained
        env.stop(local)
        env.stop(ub, expect_clean=False)
        env.stop(upper)
    except (ic.Failure, subprocess.TimeoutExpired, OSError) as e:
        failures.append("%s: %s" % (name, e))
        print("FAIL: %s" % e, flush=True)
        env.show_logs()
    finally:
        env.cleanup()
    return failures


def main():
    verbose = "-v" in sys.argv
    totals = [0, 0]
    failures = []
    for name, alg, args in VARIANTS:
        failures += one_variant(name, alg, args, verbose, totals)
    print("validator differential: %d the same, %d explained, %d unexplained"
          % (totals[0], totals[1], len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
