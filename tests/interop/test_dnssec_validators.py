#!/usr/bin/python3
"""Real validators against tierdns-upper serving signed zones (issue 11).

The interop zones are signed at test time (fresh keys in the temporary
directory): sub.interop. is a signed child with its DS in interop.,
deleg.interop. an unsigned child (its own zone on a second tierdns-upper,
no DS: the parent proves that), and broken.interop. an A record whose
RRSIG has one signature octet changed (bogus). Once with NSEC (ECDSA
P-256, algorithm 13) and once with NSEC3 (RFC 9276: 0 iterations, empty
salt; Ed25519, algorithm 15).

Verdicts checked, per validator:
  - Unbound (validator iterator, the DS of interop. as trust anchor,
    stub-zones to the uppers): AD on the secure answer, NXDOMAIN, NODATA,
    wildcard and the answer through the signed child; NOERROR without AD
    through the unsigned child (insecure); SERVFAIL for the bogus name.
  - delv (bind9-dnsutils, -a with the same DS, +root=interop.): "fully
    validated" for the secure cases (answer, NXDOMAIN, NODATA, wildcard,
    signed child, no DS at the unsigned child); the bogus name fails.
  - drill -S (ldnsutils, the KSK as trusted key): "Chase successful" for
    the secure cases, not for the bogus name.

Run: TDNS_BUILD=build tests/interop/test_dnssec_validators.py [-v]
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

# (query name, type, what it shows, expected verdict)
SECURE = [
    ("www.interop.", "A", "answer"),
    ("nothing.interop.", "A", "NXDOMAIN"),
    ("www.interop.", "MX", "NODATA"),
    ("foo.wild.interop.", "A", "wildcard answer"),
    ("x.c.ent.interop.", "A", "NXDOMAIN under an empty non-terminal"),
    ("host.sub.interop.", "A", "answer in the signed child (DS in the parent)"),
]


class Checker:
    def __init__(self, verbose):
        self.verbose = verbose
        self.failures = []
        self.passed = 0

    def check(self, tool, case, ok, detail):
        verdict = "ok" if ok else "FAIL"
        if self.verbose or not ok:
            print("%-8s %-55s %s%s" % (tool, case, verdict, "" if ok else ": " + detail),
                  flush=True)
        if ok:
            self.passed += 1
        else:
            self.failures.append("%s %s: %s" % (tool, case, detail))


def tool(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return r.stdout.decode(errors="replace")


def one_variant(name, alg, args, c):
    env = ic.Env("dnssec-validators-" + name)
    try:
        parent, sub, deleg, ds, ksk = ic.sign_interop(env, alg, args)
        d = env.path("keys")
        upper = env.start_upper([("interop.", parent), ("sub.interop.", sub)])
        child = env.start_upper([("deleg.interop.", deleg)], name="upper-child")
        ub = env.start_unbound("unbound", stubs=[("interop.", upper), ("sub.interop.", upper),
                                                  ("deleg.interop.", child)],
                               trust_anchors=[" ".join(ds.split())])
        print("%s: tierdns-upper on %s, unbound on %s, trust anchor %s"
              % (name, upper.endpoint(), ub.endpoint(), " ".join(ds.split()[:5])), flush=True)

        def ask(qname, qtype):
            q = dns.message.make_query(qname, qtype, want_dnssec=True)
            return dns.query.udp(q, "127.0.0.1", port=ub.port, timeout=5)

        for qname, qtype, what in SECURE:
            r = ask(qname, qtype)
            want = dns.rcode.NXDOMAIN if "NXDOMAIN" in what else dns.rcode.NOERROR
            c.check("unbound", "%s %s %s (%s)" % (name, qname, qtype, what),
                    r.rcode() == want and bool(r.flags & dns.flags.AD)
                    and (what in ("NODATA",) or "NXDOMAIN" in what or len(r.answer) > 0),
                    "rcode %s, AD %s, %d answer RRsets" % (dns.rcode.to_text(r.rcode()),
                                                          bool(r.flags & dns.flags.AD),
                                                          len(r.answer)))
        r = ask("host.deleg.interop.", "A")
        c.check("unbound", "%s host.deleg.interop. A (unsigned child: insecure)" % name,
                r.rcode() == dns.rcode.NOERROR and not (r.flags & dns.flags.AD)
                and len(r.answer) == 1,
                "rcode %s, AD %s" % (dns.rcode.to_text(r.rcode()), bool(r.flags & dns.flags.AD)))
        r = ask("broken.interop.", "A")
        c.check("unbound", "%s broken.interop. A (bad signature: bogus)" % name,
                r.rcode() == dns.rcode.SERVFAIL, "rcode %s" % dns.rcode.to_text(r.rcode()))

        anchors = env.path("anchors.conf")
        f = ds.split()
        with open(anchors, "w") as fh:
            fh.write('trust-anchors { "%s" static-ds %s %s %s "%s"; };\n'
                     % (f[0], f[3], f[4], f[5], f[6]))
        delv = ["delv", "@127.0.0.1", "-p", str(upper.port), "-a", anchors, "+root=interop."]
        for qname, qtype, what in SECURE + [("deleg.interop.", "DS",
                                             "no DS at the unsigned child")]:
            out = tool(delv + [qname, qtype])
            c.check("delv", "%s %s %s (%s)" % (name, qname, qtype, what),
                    "fully validated" in out, out.strip().splitlines()[0] if out.strip() else "")
        out = tool(delv + ["broken.interop.", "A"])
        c.check("delv", "%s broken.interop. A (bogus)" % name,
                "fully validated" not in out and "resolution failed" in out,
                out.strip().splitlines()[0] if out.strip() else "")

        key = env.path("trusted.key")
        with open(os.path.join(d, ksk + ".key")) as src, open(key, "w") as dst:
            dst.writelines(l for l in src if not l.startswith(";"))
        drill = ["drill", "-S", "-k", key, "-p", str(upper.port), "@127.0.0.1"]
        for qname, qtype, what in SECURE:
            out = tool(drill + [qname, qtype])
            c.check("drill", "%s %s %s (%s)" % (name, qname, qtype, what),
                    "Chase successful" in out, out.strip().splitlines()[-1] if out.strip() else "")
        out = tool(drill + ["broken.interop.", "A"])
        c.check("drill", "%s broken.interop. A (bogus)" % name,
                "Chase successful" not in out, out.strip().splitlines()[-1] if out.strip() else "")
        env.stop(ub, expect_clean=False)
        env.stop(child)
        env.stop(upper)
    except (ic.Failure, subprocess.TimeoutExpired, OSError) as e:
        c.failures.append("%s: %s" % (name, e))
        print("FAIL: %s" % e, flush=True)
        env.show_logs()
    finally:
        env.cleanup()


def main():
    c = Checker("-v" in sys.argv)
    for name, alg, args in VARIANTS:
        one_variant(name, alg, args, c)
    print("DNSSEC validators: %d verdicts as expected, %d not" % (c.passed, len(c.failures)))
    for f in c.failures:
        print("  FAIL " + f)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
