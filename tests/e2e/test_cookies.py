#!/usr/bin/python3
"""DNS Cookies on tierdns-upper (issue 18; RFC 7873, RFC 9018 server
cookies): a query with a client cookie gets it back with a 16-byte RFC 9018
server cookie; a valid server cookie is echoed, a forged one replaced; a
COOKIE of a length RFC 7873 5.2.2 rules out is FORMERR; servers given the
same --cookie-secret accept each other's cookies, --cookie-secret-alt keeps
the previous secret's cookies valid during a rollover, and without it they
are replaced; --no-cookies answers without one. With rate limiting, a valid
server cookie is never limited, and a limited query that carries only a
client cookie is answered BADCOOKIE (with a server cookie to retry with)
instead of truncated. dig +cookie, as a user would run it, sees "(good)".
tierdns-control stats counts the queries by their server cookie (valid, bad,
missing) and the BADCOOKIE answers, and rate limiting's slipped responses
are exactly the BADCOOKIE and truncated answers the client got."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_cookies")
NAME, ADDR = "webapp.site.", "192.0.2.10"
CLIENT = bytes.fromhex("0123456789abcdef")
S1, S2 = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
db = os.path.join(h.tmp, "upper")
h.zone_load(db, os.path.join(hl.ZONES, "upper", "site.zone"))
src = hl.rand_addr()


def ask(d, cookie, src=src):
    """UDP query with COOKIE option data `cookie` (None: no EDNS option);
    returns (message or None, the reply's cookie bytes or None)."""
    q = hl.dns.message.make_query(NAME, "A", use_edns=0)
    if cookie is not None:
        q.use_edns(0, options=[hl.dns.edns.GenericOption(10, cookie)])
    raw = hl.udp_exchange(d.addr, d.port, q.to_wire(), timeout=2, src=src)
    if raw is None:
        return None, None
    m = hl.dns.message.from_wire(raw)
    for o in m.options:
        if o.otype == 10:
            return m, o.to_wire() if hasattr(o, "to_wire") else o.data
    return m, None


def rcode(m):
    return None if m is None else m.rcode()


sock = os.path.join(h.tmp, "upper.sock")


def cookie_stats():
    st = hl.control_stats(sock)
    return {k: st.get(k) for k in ("cookies.valid", "cookies.bad", "cookies.missing",
                                   "cookies.badcookie_sent", "rrl.slipped", "rrl.dropped")}


up = h.start_upper("UPPER", db, "--threads", "1", "--cookie-secret", S1, "--control", sock)
m, c = ask(up, CLIENT)
h.check(m is not None and hl.answer_addrs(m, NAME) == {ADDR}, "answered with a cookie")
h.check(c is not None and len(c) == 24 and c[:8] == CLIENT and c[8] == 1 and c[9:12] == b"\0\0\0",
        "the reply's COOKIE is our client cookie + an RFC 9018 server cookie: %s"
        % (c.hex() if c else None))
m2, c2 = ask(up, c)
h.check(rcode(m2) == 0 and c2 == c, "a valid server cookie is echoed unchanged")
forged = c[:16] + bytes(b ^ 0xff for b in c[16:])
m3, c3 = ask(up, forged)
h.check(rcode(m3) == 0 and c3 is not None and len(c3) == 24 and c3[:8] == CLIENT and
        c3 != forged,
        "a forged server cookie is answered and replaced (%s)" % (c3.hex() if c3 else None))
other_src = hl.rand_addr()
m4, c4 = ask(up, c, src=other_src)
h.check(c4 is not None and c4 != c,
        "the cookie of %s is not valid from %s: a new one is issued" % (src, other_src))
for bad in (CLIENT[:5], CLIENT + b"\1" * 4, CLIENT + b"\1" * 33):
    m5, _ = ask(up, bad)
    h.check(rcode(m5) == hl.dns.rcode.FORMERR,
            "a %d-byte COOKIE is FORMERR (%s)" % (len(bad), rcode(m5)))
m6, c6 = ask(up, None)
h.check(m6 is not None and c6 is None, "no cookie asked, none given")
st = cookie_stats()
h.check(st == {"cookies.valid": 1, "cookies.bad": 2, "cookies.missing": 1,
               "cookies.badcookie_sent": 0, "rrl.slipped": 0, "rrl.dropped": 0},
        "stats: 1 valid server cookie, 2 bad (forged, another address), 1 client cookie "
        "only; malformed ones and no cookie not counted: %s" % st)
r = subprocess.run(["dig", "@" + up.addr, "-p", str(up.port), NAME, "+cookie", "+tries=1"],
                   capture_output=True, text=True, timeout=10)
h.check("(good)" in r.stdout and "status: NOERROR" in r.stdout,
        "dig +cookie reports the server cookie good")
h.stop(up)

# The same secret on another server (a fleet behind one address), then a
# rollover: S2 signs, S1 still accepted; then S1 retired.
up = h.start_upper("UPPER2", db, "--threads", "1", "--cookie-secret", S1)
_, c7 = ask(up, c)
h.check(c7 == c, "a second server with the same secret accepts the first one's cookie")
h.stop(up)
up = h.start_upper("UPPER3", db, "--threads", "1", "--cookie-secret", S2,
                   "--cookie-secret-alt", S1)
_, c8 = ask(up, c)
h.check(c8 == c, "during a rollover the previous secret's cookie stays valid")
h.stop(up)
up = h.start_upper("UPPER4", db, "--threads", "1", "--cookie-secret", S2)
_, c9 = ask(up, c)
h.check(c9 is not None and c9 != c, "after the rollover the old cookie is replaced")
h.stop(up)
up = h.start_upper("UPPER5", db, "--threads", "1", "--no-cookies")
m10, c10 = ask(up, CLIENT)
h.check(rcode(m10) == 0 and c10 is None, "--no-cookies: answered without a cookie")
h.stop(up)

# Rate limiting: one response a second, every limited one slipped.
up = h.start_upper("UPPER_RRL", db, "--threads", "1", "--cookie-secret", S1,
                   "--rrl-rate", "1", "--rrl-slip", "1", "--control", sock)
_, good = ask(up, CLIENT)
full = 0
for _ in range(20):
    m, _ = ask(up, good)
    full += m is not None and hl.answer_addrs(m, NAME) == {ADDR} and not (m.flags & hl.dns.flags.TC)
h.check(full == 20, "queries with a valid server cookie are never limited (%d/20 full)" % full)
kinds = []
for _ in range(6):
    m, c = ask(up, CLIENT)
    kinds.append(rcode(m))
h.check(kinds.count(hl.dns.rcode.BADCOOKIE) >= 4,
        "limited queries with only a client cookie get BADCOOKIE: %s" % kinds)
m, c = ask(up, CLIENT)
kinds.append(rcode(m))
h.check(c is not None and len(c) == 24, "BADCOOKIE carries a server cookie to retry with")
m, _ = ask(up, c)
h.check(rcode(m) == 0 and hl.answer_addrs(m, NAME) == {ADDR},
        "the retry with that cookie is answered in full")
tcs = 0
for _ in range(6):
    m, _ = ask(up, None)
    tcs += m is not None and bool(m.flags & hl.dns.flags.TC)
h.check(tcs >= 4, "limited queries without a cookie are truncated (%d/6)" % tcs)
badcookies = kinds.count(hl.dns.rcode.BADCOOKIE)
st = cookie_stats()
want = {"cookies.valid": 21, "cookies.bad": 0, "cookies.missing": 8,
        "cookies.badcookie_sent": badcookies, "rrl.slipped": badcookies + tcs, "rrl.dropped": 0}
h.check(st == want, "stats: 21 valid, 8 with a client cookie only, the %d BADCOOKIE seen, "
        "slipped = BADCOOKIE + %d truncated: %s (expected %s)" % (badcookies, tcs, st, want))
h.stop(up)
h.finish()
