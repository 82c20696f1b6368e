#!/usr/bin/python3
"""Zone transfers between tierdns-upper and NSD, Knot DNS and BIND on
loopback (issue 13), each pair with and without TSIG:

  tierdns primary -> PEER secondary: the initial AXFR; tierdns-zone add ->
      NOTIFY -> IXFR (tierdns's log says IXFR) -> the peer answers the new
      record (the time is asserted); with TSIG, a peer with a wrong secret
      gets no zone;
  PEER primary -> tierdns secondary: the initial AXFR, a change on the
      peer (file edited, serial raised, reloaded) -> the peer's NOTIFY ->
      tierdns transfers it; tierdns then answers exactly as the peer
      (answer, authority, rcode) for a set of names; with TSIG the peer
      transfers to the key only and tierdns signs its SOA queries too;
  PEER primary -> tierdns-local, a response policy zone (rpz: stanza with
      primary: and primary-key:, TSIG): the blocked name NXDOMAIN with EDE
      15 after the initial transfer; a change on the peer (serial raised,
      reloaded) -> its NOTIFY -> the local blocks the new name and resolves
      the removed one.

Prints one line per pair. A peer that is not installed is skipped.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import hostile_lib as hl  # noqa: E402
from interop_common import free_port  # noqa: E402

import dns.rcode  # noqa: E402

h = hl.Harness("test_xfr_interop")
SECRET = "J934A3sKT3aC5E+X2MgVcBklFlL50rx1FjqidLkztMY="
WRONG = "d3Jvbmd3cm9uZ3dyb25nd3Jvbmd3cm9uZ3dyb25nMTI="
PEERS = {"nsd": "/usr/sbin/nsd", "knot": "/usr/sbin/knotd", "bind": "/usr/sbin/named"}
RESULTS = []


def zone_text(origin, serial, extra=""):
    return """$ORIGIN %s
$TTL 300
@ SOA ns1 hostmaster %d 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.2
www AAAA 2001:db8::2
mail MX 10 www
txt TXT "some text"
sub NS ns.sub
ns.sub A 192.0.2.53
%s""" % (origin, serial, extra)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def answers(addr, port, name, rdtype="A"):
    class D:
        pass
    d = D()
    d.addr, d.port = addr, port
    m, _ = hl.query(d, name, rdtype)
    if m is None:
        return None
    return (dns.rcode.to_text(m.rcode()), sorted(r.to_text() for r in m.answer),
            sorted(r.to_text() for r in m.authority))


def wait_for(fn, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if fn():
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def spawn(label, argv, port):
    log = os.path.join(h.tmp, label + ".log")
    with open(log, "ab") as lf:
        p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT)
    h.children.append(p)
    d = hl.Daemon(label, p, "127.0.0.1", port, log)
    ok = wait_for(lambda: p.poll() is not None or answers("127.0.0.1", port, "version.bind",
                                                          "TXT") is not None, 10)
    if p.poll() is not None or ok is None:
        h.check(False, "%s did not start: %s" % (label, d.log_text()[-500:]))
        return None
    return d


def stop(p):
    if p is not None and p.proc.poll() is None:
        p.proc.send_signal(signal.SIGTERM)
        try:
            p.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.proc.kill()
            p.proc.wait()


# ---- peer configurations ----
def nsd_conf(d, port, zone, role, other_port, key_secret):
    key = "xfr-key" if key_secret else "NOKEY"
    if role == "secondary":
        z = ('    request-xfr: 127.0.0.1@%d %s\n    allow-notify: 127.0.0.1 NOKEY\n'
             % (other_port, key))
    else:
        # With a key, transfers only to its holder (and NOTIFY signed).
        z = ('    zonefile: "%szone"\n    provide-xfr: 127.0.0.1 %s\n'
             '    notify: 127.0.0.1@%d %s\n' % (zone, key, other_port, key))
    keytext = ('key:\n    name: "xfr-key"\n    algorithm: hmac-sha256\n'
               '    secret: "%s"\n' % key_secret) if key_secret else ""
    return """server:
    ip-address: 127.0.0.1@%d
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "%s"
    database: ""
    zonelistfile: "%s/zone.list"
    xfrdfile: "%s/xfrd.state"
    pidfile: "%s/nsd.pid"
    verbosity: 2
    server-count: 1
    rrl-ratelimit: 0
    minimal-responses: yes
    identity: "nsd"
    hide-version: no
    xfrd-reload-timeout: 0
remote-control:
    control-enable: no
%szone:
    name: "%s"
%s""" % (port, d, d, d, d, keytext, zone, z)


def knot_conf(d, port, zone, role, other_port, key_secret):
    os.makedirs(os.path.join(d, "db"), exist_ok=True)  # the journal's
    key = ("key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: %s\n"
           % key_secret) if key_secret else ""
    keyref = "    key: xfr-key\n" if key_secret else ""
    if role == "secondary":
        z = ("remote:\n  - id: other\n    address: 127.0.0.1@%d\n%s"
             "acl:\n  - id: notify\n    address: 127.0.0.1\n    action: notify\n"
             "zone:\n  - domain: %s\n    master: other\n    acl: notify\n"
             "    file: %s/%%s.zone\n" % (other_port, keyref, zone, d))
    else:
        z = ("remote:\n  - id: other\n    address: 127.0.0.1@%d\n"
             "%sacl:\n  - id: xfr\n    address: 127.0.0.1\n    action: transfer\n%s"
             "zone:\n  - domain: %s\n    file: %s/%szone\n    notify: other\n"
             "    acl: xfr\n    zonefile-load: difference\n    journal-content: changes\n"
             % (other_port, keyref, keyref, zone, d, zone))
    return """server:
    listen: 127.0.0.1@%d
    rundir: %s
    identity: knot
    version: knot
database:
    storage: %s/db
log:
  - target: stderr
    any: info
%s%s""" % (port, d, d, key, z)


def bind_conf(d, port, zone, role, other_port, key_secret):
    key = ('key "xfr-key" { algorithm hmac-sha256; secret "%s"; };\n' % key_secret
           if key_secret else "")
    if role == "secondary":
        z = ('zone "%s" { type secondary; primaries port %d { 127.0.0.1%s; }; '
             'file "%s/%sdb"; allow-notify { 127.0.0.1; }; };\n'
             % (zone, other_port, " key xfr-key" if key_secret else "", d, zone))
    else:
        z = ('zone "%s" { type primary; file "%s/%szone"; allow-transfer { %s; }; '
             'also-notify { 127.0.0.1 port %d%s; }; notify explicit; '
             'ixfr-from-differences yes; };\n'
             % (zone, d, zone, "key xfr-key" if key_secret else "127.0.0.1", other_port,
                " key xfr-key" if key_secret else ""))
    return """options {
    directory "%s";
    listen-on port %d { 127.0.0.1; };
    listen-on-v6 { none; };
    pid-file "%s/named.pid";
    recursion no;
    dnssec-validation no;
    allow-query { any; };
    version "bind";
    notify-source 127.0.0.1;
    transfer-source 127.0.0.1;
};
controls { };
%s%s""" % (d, port, d, key, z)


def start_peer(peer, role, zone, other_port, key_secret, zonefile_text=None):
    d = os.path.join(h.tmp, "%s-%s-%s" % (peer, role, zone.rstrip(".")))
    os.makedirs(d, exist_ok=True)
    port = free_port()
    if zonefile_text is not None:
        write(os.path.join(d, zone + "zone"), zonefile_text)
    conf = os.path.join(d, "conf")
    if peer == "nsd":
        write(conf, nsd_conf(d, port, zone, role, other_port, key_secret))
        argv = [PEERS[peer], "-d", "-c", conf]
    elif peer == "knot":
        write(conf, knot_conf(d, port, zone, role, other_port, key_secret))
        argv = [PEERS[peer], "-c", conf]
    else:
        write(conf, bind_conf(d, port, zone, role, other_port, key_secret))
        argv = [PEERS[peer], "-g", "-c", conf]
    p = spawn("%s-%s" % (peer, role), argv, port)
    if p is not None:
        p.dir = d
        p.conf = conf
        p.peer = peer
    return p


def reload_peer(p, zone):
    if p.peer == "knot":
        subprocess.run(["/usr/sbin/knotc", "-c", p.conf, "zone-reload", zone],
                       capture_output=True, timeout=20)
    else:
        p.proc.send_signal(signal.SIGHUP)


# ---- tierdns primary -> peer secondary ----
def primary_pair(peer, tsig):
    zone = "ixp-%s-%s." % (peer, "tsig" if tsig else "plain")
    db = os.path.join(h.tmp, "db-" + zone.rstrip("."))
    h.zone_load(db, write(os.path.join(h.tmp, zone + "zone"), zone_text(zone, 1)))
    peer_port = free_port()
    conf = write(os.path.join(h.tmp, zone + "conf"), """keys:
  - name: xfr-key
    secret: "%s"
zones:
  - name: %s
    %s
    notify: ["127.0.0.1:%d"]
""" % (SECRET, zone, "allow-transfer-key: [xfr-key]" if tsig else
       "allow-transfer: [127.0.0.1]", peer_port))
    up = h.start_upper("tierdns-for-" + zone, db, "-c", conf, "-t", "1", addr="127.0.0.1")
    sec = None
    label = "tierdns -> %s, TSIG %s" % (peer, "yes" if tsig else "no")
    try:
        sec = start_peer_at(peer, "secondary", zone, up.port, SECRET if tsig else None,
                            peer_port)
        if sec is None:
            RESULTS.append("%s: peer did not start" % label)
            return
        www = "www." + zone
        dt = wait_for(lambda: (answers("127.0.0.1", sec.port, www) or ("",))[0] ==
                      "NOERROR", 15)
        ok1 = h.check(dt is not None, "%s: initial AXFR: %s" % (label, sec.log_text()[-600:]))
        t0 = time.monotonic()
        r = h.zone(db, "add", "fresh.%s 300 IN A 192.0.2.123" % zone)
        h.check(r.returncode == 0, "add: %s" % r.stderr)
        dt = wait_for(lambda: (answers("127.0.0.1", sec.port, "fresh." + zone) or
                               ("", []))[1] == ["fresh.%s 300 IN A 192.0.2.123" % zone], 15)
        took = time.monotonic() - t0
        ok2 = h.check(dt is not None and took < 5.0,
                      "%s: add -> NOTIFY -> IXFR -> served (%.2f s): %s" %
                      (label, took, sec.log_text()[-600:]))
        ok3 = h.check("zone transfer: IXFR to" in up.log_text(),
                      "%s: the change went by IXFR: %s" % (label, up.log_text()[-800:]))
        RESULTS.append("%s: AXFR %s, IXFR %s (add -> served in %.0f ms)" %
                       (label, "ok" if ok1 else "FAIL", "ok" if ok2 and ok3 else "FAIL",
                        took * 1000))
        if tsig:
            stop(sec)
            sec = start_peer_at(peer, "secondary", zone, up.port, WRONG, peer_port,
                                tag="wrongkey")
            time.sleep(3)
            a = answers("127.0.0.1", sec.port, www) if sec else None
            ok = h.check(a is None or a[0] != "NOERROR",
                         "%s: a wrong key gets no zone: %s" % (label, a))
            RESULTS.append("%s: wrong key refused: %s" % (label, "ok" if ok else "FAIL"))
    finally:
        stop(sec)
        h.stop(up)


def start_peer_at(peer, role, zone, other_port, key_secret, port, tag=""):
    """start_peer on a given port (the primary's notify target)."""
    d = os.path.join(h.tmp, "%s-%s-%s%s" % (peer, role, zone.rstrip("."), tag))
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "conf")
    maker = {"nsd": nsd_conf, "knot": knot_conf, "bind": bind_conf}[peer]
    write(conf, maker(d, port, zone, role, other_port, key_secret))
    argv = {"nsd": [PEERS[peer], "-d", "-c", conf], "knot": [PEERS[peer], "-c", conf],
            "bind": [PEERS[peer], "-g", "-c", conf]}[peer]
    p = spawn("%s-%s%s" % (peer, role, tag), argv, port)
    if p is not None:
        p.dir, p.conf, p.peer = d, conf, peer
    return p


# ---- peer primary -> tierdns secondary ----
NAMES = [("www", "A"), ("www", "AAAA"), ("@", "SOA"), ("@", "NS"), ("mail", "MX"),
         ("txt", "TXT"), ("nope", "A"), ("www", "TXT"), ("x.sub", "A"), ("fresh", "A")]


def secondary_pair(peer, tsig):
    zone = "ixs-%s-%s." % (peer, "tsig" if tsig else "plain")
    sec_port = free_port()
    pr = start_peer(peer, "primary", zone, sec_port, SECRET if tsig else None,
                    zone_text(zone, 1))
    label = "%s -> tierdns, TSIG %s" % (peer, "yes" if tsig else "no")
    if pr is None:
        RESULTS.append("%s: peer did not start" % label)
        return
    db = os.path.join(h.tmp, "sdb-" + zone)
    # With TSIG the primary transfers to the key only; tierdns signs its
    # SOA queries and transfers with it and checks the signed answers.
    conf = write(os.path.join(h.tmp, "s-%s.conf" % zone), """keys:
  - name: xfr-key
    secret: "%s"
zones:
  - name: %s
    primaries: ["127.0.0.1:%d"]
%s""" % (SECRET, zone, pr.port, "    primary-key: xfr-key\n" if tsig else ""))
    sec = h.start_upper("tierdns-sec-" + zone, db, "-c", conf, "-t", "1", addr="127.0.0.1",
                        port=sec_port)
    try:
        dt = wait_for(lambda: (answers(sec.addr, sec.port, "www." + zone) or ("",))[0] ==
                      "NOERROR", 10)
        ok1 = h.check(dt is not None, "%s: initial AXFR: %s" % (label, sec.log_text()[-500:]))
        write(os.path.join(pr.dir, zone + "zone"),
              zone_text(zone, 2, "fresh A 192.0.2.123\n").replace("www AAAA 2001:db8::2\n",
                                                                  ""))
        t0 = time.monotonic()
        reload_peer(pr, zone)
        dt = wait_for(lambda: (answers(sec.addr, sec.port, "fresh." + zone) or ("",))[0] ==
                      "NOERROR", 15)
        took = time.monotonic() - t0
        ok2 = h.check(dt is not None, "%s: the change reaches tierdns: %s / %s" %
                      (label, sec.log_text()[-600:], pr.log_text()[-600:]))
        kind = "IXFR" if "(IXFR" in sec.log_text() else "AXFR"
        same = True
        for n, t in NAMES:
            name = zone if n == "@" else "%s.%s" % (n, zone)
            a = answers("127.0.0.1", pr.port, name, t)
            b = answers(sec.addr, sec.port, name, t)
            same = h.check(a == b and a is not None, "%s: %s %s: peer %s, tierdns %s" %
                           (label, name, t, a, b)) and same
        RESULTS.append("%s: AXFR %s, change by %s %s (%.0f ms after reload), answers "
                       "%s" % (label, "ok" if ok1 else "FAIL", kind,
                               "ok" if ok2 else "FAIL", took * 1000,
                               "identical" if same else "DIFFER"))
    finally:
        h.stop(sec)
        stop(pr)


# ---- peer primary -> tierdns-local, RPZ ----
def rpz_text(origin, serial, name):
    return """$ORIGIN %s
$TTL 300
@ SOA ns1 hostmaster %d 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
%s CNAME .
""" % (origin, serial, name)


def blocked(addr, port, name):
    class D:
        pass
    d = D()
    d.addr, d.port = addr, port
    m, _ = hl.query(d, name, "A", edns=True)
    return (m is not None and m.rcode() == dns.rcode.NXDOMAIN and
            any(o.otype == 15 for o in m.options))


def rpz_pair(peer, upstream):
    zone = "rpz-%s." % peer
    local_port = free_port()
    pr = start_peer(peer, "primary", zone, local_port, SECRET,
                    rpz_text(zone, 1, "blocked.example"))
    label = "%s -> tierdns-local (RPZ), TSIG yes" % peer
    if pr is None:
        RESULTS.append("%s: peer did not start" % label)
        return
    conf = write(os.path.join(h.tmp, "l-%s.conf" % zone), """keys:
  - name: xfr-key
    secret: "%s"
rpz:
  - name: %s
    primary: 127.0.0.1:%d
    primary-key: xfr-key
""" % (SECRET, zone, pr.port))
    local = h.start_local("tierdns-local-" + zone, os.path.join(h.tmp, "ldb-" + zone),
                          [upstream], "-c", conf, "-t", "1", addr="127.0.0.1",
                          port=local_port)
    try:
        dt = wait_for(lambda: blocked(local.addr, local.port, "blocked.example."), 10)
        ok1 = h.check(dt is not None, "%s: initial transfer: %s" %
                      (label, local.log_text()[-500:]))
        write(os.path.join(pr.dir, zone + "zone"), rpz_text(zone, 2, "fresh.example"))
        t0 = time.monotonic()
        reload_peer(pr, zone)
        dt = wait_for(lambda: blocked(local.addr, local.port, "fresh.example.") and
                      not blocked(local.addr, local.port, "blocked.example."), 15)
        took = time.monotonic() - t0
        ok2 = h.check(dt is not None, "%s: the change reaches the local: %s / %s" %
                      (label, local.log_text()[-600:], pr.log_text()[-600:]))
        kind = "IXFR" if "applied (IXFR" in local.log_text() else "AXFR"
        RESULTS.append("%s: first transfer %s, change by %s %s (%.0f ms after reload)" %
                       (label, "ok" if ok1 else "FAIL", kind, "ok" if ok2 else "FAIL",
                        took * 1000))
    finally:
        h.stop(local)
        stop(pr)


fake = hl.FakeUpstream(h, lambda u, s: [("send", hl.a_reply(s, "192.0.2.1"))]
                       if s.msg else None)
for peer, binary in PEERS.items():
    if not os.access(binary, os.X_OK):
        h.skip("%s is not installed" % peer)
        continue
    primary_pair(peer, False)
    primary_pair(peer, True)
    secondary_pair(peer, False)
    secondary_pair(peer, True)
    rpz_pair(peer, fake.endpoint)

for line in RESULTS:
    print(line)
sys.stdout.flush()
h.finish()
