#!/usr/bin/python3
"""DNS cookies (RFC 7873, RFC 9018) between tierdns and the peers that
implement them (issue 18). A recording UDP relay sits between client and
server, so that what each side sent is seen, not inferred:

  a) tierdns-local -> BIND 9 with require-server-cookie: BIND answers the
     first query BADCOOKIE with its server cookie; the local asks again
     with it (RFC 7873 5.3) and every name is answered; later queries
     carry BIND's cookie from the start;
  b) tierdns-local -> Knot DNS with mod-cookies (which answers a query
     without its server cookie BADCOOKIE too): Knot's server cookie is sent
     back on every later query, every name answered;
  c) BIND as a forwarding resolver -> tierdns-upper with rate limiting
     that drops everything over 1 response a second: BIND sends the
     upper's RFC 9018 server cookie back, those queries are never limited,
     so 20 NXDOMAIN names asked at once are all answered; with BIND's send-cookie off
     the same load is mostly dropped.

NSD 4.6.1 and Unbound 1.17.1, the Debian 12 versions, do not implement
DNS cookies (NSD from 4.8.0, Unbound's answer-cookie from 1.18.0): they
are not peers here. A peer that is not installed is skipped."""
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import hostile_lib as hl  # noqa: E402
from interop_common import free_port  # noqa: E402

h = hl.Harness("test_cookie_interop")
NAMED, KNOTD = "/usr/sbin/named", "/usr/sbin/knotd"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def cookie_and_rcode(wire):
    """(COOKIE option bytes or None, full rcode) of a message."""
    try:
        m = hl.dns.message.from_wire(wire)
    except Exception:  # noqa: BLE001 - the relay records what it can read
        return None, None
    for o in m.options:
        if o.otype == 10:
            return (o.to_wire() if hasattr(o, "to_wire") else o.data), m.rcode()
    return None, m.rcode()


class Relay:
    """UDP relay 127.0.0.1:port -> target port; records every query's and
    reply's COOKIE and rcode in order, as ("q"|"r", cookie, rcode)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.clients = {}
        self.log = []
        self.lock = threading.Lock()
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            r, _, _ = select.select([self.front, self.back], [], [], 0.2)
            for s in r:
                data, addr = s.recvfrom(65535)
                if len(data) < 12:
                    continue
                qid = struct.unpack("!H", data[:2])[0]
                c, rc = cookie_and_rcode(data)
                with self.lock:
                    if s is self.front:
                        self.clients[qid] = addr
                        self.log.append(("q", c, rc))
                        self.back.sendto(data, self.target)
                    elif qid in self.clients:
                        self.log.append(("r", c, rc))
                        self.front.sendto(data, self.clients.pop(qid))

    def entries(self):
        with self.lock:
            return list(self.log)

    def close(self):
        self.stop = True
        self.t.join()


def spawn(label, argv, port, probe="version.bind", probe_type="TXT", probe_class="CH"):
    log = os.path.join(h.tmp, label + ".log")
    with open(log, "ab") as lf:
        p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT)
    h.children.append(p)
    d = hl.Daemon(label, p, "127.0.0.1", port, log)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 15:
        if p.poll() is not None:
            break
        q = hl.dns.message.make_query("ck.", "SOA")
        if hl.udp_exchange("127.0.0.1", port, q.to_wire(), timeout=0.5) is not None:
            return d
        time.sleep(0.1)
    h.check(False, "%s did not start: %s" % (label, d.log_text()[-800:]))
    return None


ZONE = """$ORIGIN ck.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
%s
""" % "\n".join("n%d A 192.0.2.%d" % (i, 10 + i) for i in range(6))


def local_through(label, relay_port, names):
    """A tierdns-local whose only upstream is the relay; asks names, returns
    how many were answered with the zone's address."""
    loc = h.start_local(label, os.path.join(h.tmp, label), ["127.0.0.1:%d" % relay_port],
                        "--threads", "1", "--timeout", "3000")
    ok = 0
    for i in names:
        m, _ = hl.query(loc, "n%d.ck." % i, timeout=4)
        ok += m is not None and hl.answer_addrs(m) == {"192.0.2.%d" % (10 + i)}
    h.stop(loc)
    return ok


def server_part(c):
    return c[8:] if c is not None and len(c) > 8 else b""


def echoes_last_cookie(log):
    """Does every query after the first reply carry the server cookie of
    the reply that came last before it (a server may renew its cookie in
    any reply, RFC 9018 4.3)?"""
    last = None
    for kind, c, _ in log:
        if kind == "r":
            last = server_part(c)
        elif last is not None and server_part(c) != last:
            return False
    return last is not None and len(last) >= 8


# ---- a) tierdns-local -> BIND with require-server-cookie ----
if not os.access(NAMED, os.X_OK):
    h.skip("a) BIND (bind9) is not installed")
else:
    d = os.path.join(h.tmp, "bind-auth")
    os.makedirs(d)
    write(os.path.join(d, "ck.zone"), ZONE)
    port = free_port()
    write(os.path.join(d, "named.conf"), """options {
    directory "%s"; pid-file "%s/named.pid";
    listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };
    recursion no; dnssec-validation no; allow-query { any; };
    answer-cookie yes; require-server-cookie yes;
};
controls { };
zone "ck." { type primary; file "%s/ck.zone"; };
""" % (d, d, port, d))
    bind = spawn("bind-auth", [NAMED, "-g", "-c", os.path.join(d, "named.conf")], port)
    if bind is not None:
        relay = Relay(port)
        ok = local_through("local-bind", relay.port, range(3))
        log = relay.entries()
        relay.close()
        h.check(ok == 3, "a) tierdns-local -> BIND (require-server-cookie): 3/3 names "
                "answered (%d)" % ok)
        bad = [i for i, e in enumerate(log) if e[0] == "r" and e[2] == hl.dns.rcode.BADCOOKIE]
        h.check(len(bad) >= 1, "a) BIND answered BADCOOKIE to the first query: %s"
                % [(e[0], e[2]) for e in log[:4]])
        if bad:
            sc = server_part(log[bad[0]][1])
            after = [e for e in log[bad[0] + 1:] if e[0] == "q"]
            h.check(len(sc) >= 8 and after and server_part(after[0][1]) == sc,
                    "a) the retry carries the server cookie BADCOOKIE gave (%s)" % sc.hex())
            h.check(echoes_last_cookie(log), "a) every later query carries the server "
                    "cookie of BIND's last reply: %s"
                    % [(e[0], server_part(e[1]).hex()) for e in log])
            h.check(sum(1 for e in log if e[0] == "r" and e[2] == 0) == 3,
                    "a) 3 NOERROR replies through the relay: %s"
                    % [(e[0], e[2]) for e in log])
        h.log("a) relay saw: %s" % [(e[0], len(e[1]) if e[1] else 0, e[2]) for e in log])
        h.stop(bind)

# ---- b) tierdns-local -> Knot DNS with mod-cookies ----
if not os.access(KNOTD, os.X_OK):
    h.skip("b) Knot DNS (knot) is not installed")
else:
    d = os.path.join(h.tmp, "knot-auth")
    os.makedirs(os.path.join(d, "db"))
    write(os.path.join(d, "ck.zone"), ZONE)
    port = free_port()
    conf = write(os.path.join(d, "knot.conf"), """server:
    listen: 127.0.0.1@%d
    rundir: %s
database:
    storage: %s/db
log:
  - target: stderr
    any: info
mod-cookies:
  - id: default
template:
  - id: default
    global-module: mod-cookies/default
zone:
  - domain: ck.
    file: %s/ck.zone
""" % (port, d, d, d))
    knot = spawn("knot-auth", [KNOTD, "-c", conf], port)
    if knot is not None:
        relay = Relay(port)
        ok = local_through("local-knot", relay.port, range(4))
        log = relay.entries()
        relay.close()
        h.check(ok == 4, "b) tierdns-local -> Knot (mod-cookies): 4/4 names answered (%d)" % ok)
        replies = [e for e in log if e[0] == "r"]
        queries = [e for e in log if e[0] == "q"]
        sc = server_part(replies[0][1]) if replies else b""
        h.check(len(sc) >= 8, "b) Knot gave a server cookie (%s)" % sc.hex())
        h.check(len(queries) >= 2 and len(server_part(queries[0][1])) == 0 and
                echoes_last_cookie(log),
                "b) the first query has only the client cookie, the later ones Knot's "
                "server cookie: %s" % [len(q[1]) if q[1] else 0 for q in queries])
        # Knot's module answers a query without its server cookie
        # BADCOOKIE (RFC 7873 5.2.3 leaves it to the server): the retry
        # with the cookie is answered.
        h.check(all(e[2] == 0 for e in replies[1:]) and
                replies[0][2] in (0, hl.dns.rcode.BADCOOKIE),
                "b) every reply after the first NOERROR: %s"
                % [(e[0], len(e[1]) if e[1] else 0, e[2]) for e in log])
        h.stop(knot)

# ---- c) BIND resolver -> tierdns-upper with RRL ----
if not os.access(NAMED, os.X_OK):
    h.skip("c) BIND (bind9) is not installed")
else:
    db = os.path.join(h.tmp, "upper")
    h.zone_load(db, os.path.join(hl.ZONES, "upper", "site.zone"))
    up = h.start_upper("UPPER", db, "--threads", "1", "--rrl-rate", "1", "--rrl-slip", "0",
                       addr="127.0.0.1")

    def bind_resolver(label, send_cookie, relay_port, n, first):
        d = os.path.join(h.tmp, label)
        os.makedirs(d)
        port = free_port()
        write(os.path.join(d, "named.conf"), """options {
    directory "%s"; pid-file "%s/named.pid";
    listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };
    recursion yes; allow-recursion { any; }; dnssec-validation no;
    send-cookie %s; minimal-responses yes; qname-minimization off;
};
controls { };
zone "site." { type forward; forward only; forwarders { 127.0.0.1 port %d; }; };
zone "ck." { type primary; file "%s/ck.zone"; };
""" % (d, d, port, "yes" if send_cookie else "no", relay_port, d))
        write(os.path.join(d, "ck.zone"), ZONE)
        named = spawn(label, [NAMED, "-g", "-c", os.path.join(d, "named.conf")], port)
        if named is None:
            return None
        # One question first (BIND learns the upper's cookie, if it sends
        # them), then n at once: far over the limit of 1 a second.
        dig = ["dig", "@127.0.0.1", "-p", str(port), "+tries=1", "+time=6"]
        subprocess.run(dig + ["warm%d.site." % first], capture_output=True, timeout=15)
        procs = [subprocess.Popen(dig + ["nx%d.site." % i], stdout=subprocess.PIPE, text=True)
                 for i in range(first, first + n)]
        ok = sum("status: NXDOMAIN" in p.communicate(timeout=20)[0] for p in procs)
        h.stop(named)
        return ok

    relay = Relay(up.port)
    ok = bind_resolver("bind-cookie", True, relay.port, 20, 0)
    log = relay.entries()
    relay.close()
    ups = [e for e in log if e[0] == "r"]
    sc = server_part(ups[0][1]) if ups else b""
    qs = [e for e in log if e[0] == "q"]
    h.check(len(sc) == 16 and sc[0] == 1,
            "c) tierdns-upper gave BIND an RFC 9018 server cookie (%s)" % sc.hex())
    h.check(len(qs) >= 20 and sum(1 for q in qs[1:] if len(server_part(q[1])) == 16) >=
            len(qs) - 2,
            "c) BIND sends it back on its later queries (%d of %d queries with it)"
            % (sum(1 for q in qs if len(server_part(q[1])) == 16), len(qs)))
    h.check(ok == 20, "c) BIND with cookies through RRL at 1/s (slip 0): %d/20 NXDOMAIN "
            "answered" % (ok or 0))
    h.log("c) with cookies %s/20 answered, %d queries through the relay" % (ok, len(qs)))
    time.sleep(1.5)
    relay = Relay(up.port)
    ok2 = bind_resolver("bind-nocookie", False, relay.port, 20, 100)
    relay.close()
    h.check(ok2 is not None and ok2 <= 10,
            "c) the same with BIND's send-cookie off: %s/20 answered (mostly dropped)" % ok2)
    h.log("c) without cookies %s/20 answered" % ok2)
    h.stop(up)
h.finish()
