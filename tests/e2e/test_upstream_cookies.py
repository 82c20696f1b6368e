#!/usr/bin/python3
"""DNS cookies from tierdns-local to its upstreams (issue 18, RFC 7873):
  a) every upstream query carries an 8-byte client cookie, the same for one
     upstream; once the upstream gave a server cookie, the next queries
     carry it too;
  b) a reply whose COOKIE is not ours is dropped as forged: the query waits
     for the real answer, which is taken, and counted
     (upstream.cookie_forged in tierdns-control stats);
  d) BADCOOKIE from the upstream: asked again at once over UDP with the
     server cookie it gave, and over TCP after a second BADCOOKIE;
  c) against tierdns-upper with rate limiting that drops everything over 1
     response a second, the local's queries, which carry the upper's valid
     server cookie, are never limited: 30 fresh names that do not exist
     (NXDOMAIN, limited per zone) all answered; with --no-cookies the same
     load is mostly dropped. The upper counts the first query with a client
     cookie only and the 29 others with its valid server cookie."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_upstream_cookies")
SERVER = bytes.fromhex("0100000012345678aabbccddeeff0011")
seen_cookies = []
mode = {"forge": False}


def cookie_of(msg):
    for o in msg.options:
        if o.otype == 10:
            return o.to_wire() if hasattr(o, "to_wire") else o.data
    return None


def handler(up, s):
    if s.msg is None:
        return None
    c = cookie_of(s.msg)
    seen_cookies.append(c)
    r = hl.dns.message.make_response(s.msg)
    r.flags |= hl.dns.flags.AA
    r.answer.append(hl.dns.rrset.from_text(s.qname, 300, "IN", "A", "192.0.2.7"))
    out = []
    if mode["forge"] and c is not None:
        f = hl.dns.message.make_response(s.msg)
        f.answer.append(hl.dns.rrset.from_text(s.qname, 300, "IN", "A", "6.6.6.6"))
        f.use_edns(0, options=[hl.dns.edns.GenericOption(10, bytes(8) + SERVER)])
        out.append(("send", f.to_wire()))
    if c is not None:
        r.use_edns(0, options=[hl.dns.edns.GenericOption(10, c[:8] + SERVER)])
    out.append(("send", r.to_wire()))
    return out


up = hl.FakeUpstream(h, handler)
lsock = os.path.join(h.tmp, "local.sock")
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [up.endpoint], "--threads", "1",
                      "--control", lsock)
for i in range(3):
    m, _ = hl.query(local, "c%d.test." % i, timeout=3)
    h.check(hl.answer_addrs(m) == {"192.0.2.7"}, "a) c%d.test. answered" % i)
h.check(len(seen_cookies) == 3 and all(c is not None for c in seen_cookies),
        "a) every upstream query has a COOKIE: %s" % [c.hex() if c else None for c in seen_cookies])
h.check(all(len(c) >= 8 and c[:8] == seen_cookies[0][:8] for c in seen_cookies if c),
        "a) one client cookie for the upstream")
h.check(len(seen_cookies[0]) == 8 and seen_cookies[1] == seen_cookies[0][:8] + SERVER,
        "a) the first has the client cookie only, the next the server's too")

before = hl.control_stats(lsock).get("upstream.cookie_forged")
mode["forge"] = True
m, _ = hl.query(local, "forged.test.", timeout=3)
h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.7"},
        "b) a reply with another client cookie is dropped, the real one taken: %s"
        % (hl.answer_addrs(m) if m else None))
after = hl.control_stats(lsock).get("upstream.cookie_forged")
h.check(before == 0 and after == 1,
        "b) the forged reply is counted: upstream.cookie_forged %s -> %s" % (before, after))
h.check(local.alive(), "tierdns-local lives")
h.stop(local)

# d) BADCOOKIE (RFC 7873 5.3): a server that wants its cookie answers a
# query without it BADCOOKIE with a fresh one; the local asks again at
# once with it. A server that answers BADCOOKIE whatever comes is asked
# over TCP after the second.
bad_log = []


def badcookie_handler(always):
    def handler(up, s):
        if s.msg is None:
            return None
        c = cookie_of(s.msg)
        bad_log.append((always, s.tcp, c))
        r = hl.dns.message.make_response(s.msg)
        if c is not None:
            r.use_edns(0, options=[hl.dns.edns.GenericOption(10, c[:8] + SERVER)])
        if not s.tcp and c is not None and (always or c[8:] != SERVER):
            r.set_rcode(hl.dns.rcode.BADCOOKIE)  # after use_edns, which resets it
        else:
            r.answer.append(hl.dns.rrset.from_text(s.qname, 300, "IN", "A", "192.0.2.8"))
        return [("send", r.to_wire())]
    return handler


for always in (False, True):
    bad_log.clear()
    bup = hl.FakeUpstream(h, badcookie_handler(always))
    loc = h.start_local("L_BAD%d" % always, os.path.join(h.tmp, "lb%d" % always),
                        [bup.endpoint], "--threads", "1")
    m, _ = hl.query(loc, "bc.test.", timeout=3)
    h.check(hl.answer_addrs(m) == {"192.0.2.8"},
            "d) %s: answered after BADCOOKIE (%s)"
            % ("BADCOOKIE always" if always else "BADCOOKIE without the server cookie",
               hl.rcode_text(m)))
    udp = [c for a, tcp, c in bad_log if not tcp]
    if not always:
        h.check(len(bad_log) == 2 and not bad_log[1][1] and udp[1][8:] == SERVER,
                "d) the retry is over UDP with the server cookie BADCOOKIE gave: %s"
                % [(tcp, c.hex() if c else None) for _, tcp, c in bad_log])
    else:
        h.check(len(udp) == 2 and len(bad_log) == 3 and bad_log[2][1],
                "d) after a second BADCOOKIE the query goes over TCP: %s"
                % [("tcp" if tcp else "udp") for _, tcp, _ in bad_log])
    h.stop(loc)

# c) the real server side: tierdns-upper with RRL that drops all over 1/s.
db = os.path.join(h.tmp, "upper")
zone = os.path.join(h.tmp, "many.zone")
with open(zone, "w") as f:
    f.write("$ORIGIN many.\n$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n"
            "@ NS ns\nns A 192.0.2.1\n")
    for i in range(100):
        f.write("n%d A 10.0.0.%d\n" % (i, i))
h.zone_load(db, zone)
usock = os.path.join(h.tmp, "upper.sock")
upper = h.start_upper("UPPER", db, "--threads", "1", "--rrl-rate", "1", "--rrl-slip", "0",
                      "--control", usock)
for label, extra, want_all in (("with cookies", [], True), ("--no-cookies", ["--no-cookies"], False)):
    loc = h.start_local("L_" + label.strip("-").replace(" ", "_"),
                        os.path.join(h.tmp, "l2" + label.replace(" ", "")),
                        ["%s:%d" % (upper.addr, upper.port)], "--threads", "1",
                        "--timeout", "800", *extra)
    # Names that do not exist: NXDOMAIN is limited per zone (rrl.h), so
    # 30 fresh misses in a few seconds are far over 1 a second.
    ok = 0
    for i in range(30):
        m, _ = hl.query(loc, "x%d-%s.many." % (i, "c" if want_all else "n"), timeout=3)
        ok += m is not None and hl.rcode_text(m) == "NXDOMAIN"
    if want_all:
        h.check(ok == 30, "c) %s: the upper's cookie exempts the local from RRL: %d/30 answered"
                % (label, ok))
        st = hl.control_stats(usock)
        got = (st.get("cookies.missing"), st.get("cookies.valid"), st.get("rrl.dropped"))
        h.check(got == (1, 29, 0),
                "c) the upper counts 1 query with a client cookie only, 29 with its valid "
                "server cookie, none limited: %s" % (got,))
    else:
        h.check(ok < 20, "c) %s: rate limited: only %d/30 answered" % (label, ok))
    h.stop(loc)
h.stop(upper)
h.finish()
