#!/usr/bin/python3
"""Server cookies and TCP keepalive on tierdns-local (issue 18; RFC 7873,
RFC 9018, RFC 7828), on every way an answer leaves it:
  a) a cache hit: the client cookie comes back with a 16-byte RFC 9018
     server cookie; that cookie sent again is valid and echoed; a forged
     one is replaced; it is not valid from another address;
  b) a miss answered later (the client waited on the upstream) carries the
     cookie too, and so does a miss answered at once (RD=0: REFUSED);
  c) two locals with the same --cookie-secret accept each other's cookies;
     --cookie-secret-alt keeps the previous secret's cookies valid;
  d) --no-cookies: no COOKIE in the reply;
  e) over TCP a query with edns-tcp-keepalive gets the idle timeout
     (--tcp-idle in 100 ms units), over UDP never;
  f) dig +cookie, as a user runs it, reports the server cookie good;
  g) tierdns-control stats counts the queries of a) and b) by their server
     cookie: valid, bad (forged, another address), missing (client only)."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_local_cookies")
CLIENT = bytes.fromhex("0123456789abcdef")
S1, S2 = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
updb = os.path.join(h.tmp, "upper")
h.zone_load(updb, os.path.join(hl.ZONES, "upper", "site.zone"))
up = h.start_upper("UPPER", updb, "--threads", "1")
UPEP = "%s:%d" % (up.addr, up.port)
src = hl.rand_addr()


def options_of(m, code):
    for o in m.options:
        if o.otype == code:
            return o.to_wire() if hasattr(o, "to_wire") else o.data
    return None


def ask(d, name, cookie, src=src, rd=True, tcp=False, keepalive=False):
    """A query with COOKIE data `cookie` (None: none); returns (message or
    None, the reply's COOKIE bytes or None)."""
    q = hl.make_query(name, "A", edns=True, rd=rd)
    opts = []
    if cookie is not None:
        opts.append(hl.dns.edns.GenericOption(10, cookie))
    if keepalive:
        opts.append(hl.dns.edns.GenericOption(11, b""))
    q.use_edns(0, options=opts)
    wire = q.to_wire()
    raw = (hl.tcp_exchange(d.addr, d.port, wire, timeout=3, src=src) if tcp
           else hl.udp_exchange(d.addr, d.port, wire, timeout=3, src=src))
    if raw is None:
        return None, None
    m = hl.dns.message.from_wire(raw)
    return m, options_of(m, 10)


def rcode(m):
    return None if m is None else m.rcode()


def good_cookie(c):
    return (c is not None and len(c) == 24 and c[:8] == CLIENT and c[8] == 1 and
            c[9:12] == b"\0\0\0")


sock = os.path.join(h.tmp, "l1.sock")
loc = h.start_local("LOCAL", os.path.join(h.tmp, "l1"), [UPEP], "--threads", "1",
                    "--cookie-secret", S1, "--control", sock)
# a) prime webapp.site. without a cookie, then hit the cache with one.
m, _ = hl.query(loc, "webapp.site.", timeout=3)
h.check(hl.answer_addrs(m) == {"192.0.2.10"}, "a) webapp.site. answered (cache primed)")
m, c = ask(loc, "webapp.site.", CLIENT)
h.check(hl.answer_addrs(m) == {"192.0.2.10"} and good_cookie(c),
        "a) a cache hit carries our client cookie + an RFC 9018 server cookie: %s"
        % (c.hex() if c else None))
m2, c2 = ask(loc, "webapp.site.", c)
h.check(rcode(m2) == 0 and c2 == c, "a) the valid server cookie is echoed unchanged")
forged = c[:16] + bytes(b ^ 0xff for b in c[16:])
m3, c3 = ask(loc, "webapp.site.", forged)
h.check(rcode(m3) == 0 and good_cookie(c3) and c3 != forged,
        "a) a forged server cookie is answered and replaced")
_, c4 = ask(loc, "webapp.site.", c, src=hl.rand_addr())
h.check(good_cookie(c4) and c4 != c, "a) the cookie is not valid from another address")

# b) a miss that waits on the upstream, and one answered at once.
m5, c5 = ask(loc, "api.site.", c)
h.check(m5 is not None and "192.0.2.20" in hl.answer_addrs(m5) and c5 == c,
        "b) an answer that waited on the upstream echoes the valid cookie (%s)"
        % (c5.hex() if c5 else None))
m6, c6 = ask(loc, "ns2.site.", CLIENT, rd=False)
h.check(rcode(m6) == hl.dns.rcode.REFUSED and good_cookie(c6),
        "b) a miss refused at once (RD=0) carries a server cookie (%s, %s)"
        % (rcode(m6), c6.hex() if c6 else None))
st = hl.control_stats(sock)
got = {k: st.get("cookies." + k) for k in ("valid", "bad", "missing", "badcookie_sent")}
h.check(got == {"valid": 2, "bad": 2, "missing": 2, "badcookie_sent": 0},
        "g) stats: 2 valid (echoed, the waited answer), 2 bad (forged, another address), "
        "2 client cookie only, no BADCOOKIE: %s" % got)
h.stop(loc)

# c) a fleet: the same secret; then a rollover to S2 with S1 still accepted.
loc2 = h.start_local("LOCAL2", os.path.join(h.tmp, "l2"), [UPEP], "--threads", "1",
                     "--cookie-secret", S1)
_, c7 = ask(loc2, "webapp.site.", c)
h.check(c7 == c, "c) a second local with the same secret accepts the first one's cookie")
h.stop(loc2)
loc3 = h.start_local("LOCAL3", os.path.join(h.tmp, "l3"), [UPEP], "--threads", "1",
                     "--cookie-secret", S2, "--cookie-secret-alt", S1)
_, c8 = ask(loc3, "webapp.site.", c)
h.check(c8 == c, "c) during a rollover the previous secret's cookie stays valid")
h.stop(loc3)
loc4 = h.start_local("LOCAL4", os.path.join(h.tmp, "l4"), [UPEP], "--threads", "1",
                     "--cookie-secret", S2)
_, c9 = ask(loc4, "webapp.site.", c)
h.check(good_cookie(c9) and c9 != c, "c) after the rollover the old cookie is replaced")
h.stop(loc4)

# d) cookies off.
loc5 = h.start_local("LOCAL5", os.path.join(h.tmp, "l5"), [UPEP], "--threads", "1",
                     "--no-cookies")
m10, c10 = ask(loc5, "webapp.site.", CLIENT)
h.check(hl.answer_addrs(m10) == {"192.0.2.10"} and c10 is None,
        "d) --no-cookies: answered without a COOKIE")
h.stop(loc5)

# e) keepalive over TCP (RFC 7828 3.3.2), never over UDP.
loc6 = h.start_local("LOCAL6", os.path.join(h.tmp, "l6"), [UPEP], "--threads", "1",
                     "--tcp-idle", "7000")
m11, _ = ask(loc6, "webapp.site.", None, tcp=True, keepalive=True)
ka = options_of(m11, 11) if m11 is not None else None
h.check(ka is not None and len(ka) == 2 and struct.unpack("!H", ka)[0] == 70,
        "e) TCP: edns-tcp-keepalive 70 (7000 ms in 100 ms units): %s"
        % (ka.hex() if ka is not None else None))
m12, _ = ask(loc6, "webapp.site.", None, tcp=True, keepalive=False)
h.check(m12 is not None and options_of(m12, 11) is None,
        "e) TCP without the option asked: none given")
m13, _ = ask(loc6, "webapp.site.", None, keepalive=True)
h.check(m13 is not None and options_of(m13, 11) is None, "e) UDP: no keepalive option")
m14, _ = ask(loc6, "nokeep.site.", None, tcp=True, keepalive=True)
ka = options_of(m14, 11) if m14 is not None else None
h.check(rcode(m14) == hl.dns.rcode.NXDOMAIN and ka is not None and len(ka) == 2,
        "e) TCP: an answer that waited on the upstream has it too (%s)" % rcode(m14))

# f) dig +cookie.
r = subprocess.run(["dig", "@" + loc6.addr, "-p", str(loc6.port), "webapp.site.", "+cookie",
                    "+tries=1"], capture_output=True, text=True, timeout=10)
h.check("(good)" in r.stdout and "status: NOERROR" in r.stdout,
        "f) dig +cookie reports the local's server cookie good")
h.stop(loc6)
h.stop(up)
h.finish()
