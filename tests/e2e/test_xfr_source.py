#!/usr/bin/python3
"""notify-source and transfer-source (issue 13): the local address the
upper's outgoing replication traffic comes from.

- NOTIFY: a scripted secondary on its own loopback address records where
  each NOTIFY came from. With the top-level notify-source 127.a.b.c the
  NOTIFY of a zone comes from that address; a zone whose stanza gives its
  own notify-source comes from that one; without the key the kernel
  chooses (127.0.0.1 for a loopback target), so the key is what moves it.
- Transfers: a tierdns primary allows the transfer of its zone to one
  address 127.d.e.f only. A tierdns secondary with transfer-source
  127.d.e.f gets the zone (its SOA query and its AXFR come from there, as
  the primary's log says); one without it is refused and holds nothing;
  a stanza's own transfer-source overrides the top-level key.
- An address that is not a local one cannot be bound: the NOTIFY fails
  with a log line naming it, and the server keeps running.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

h = hl.Harness("test_xfr_source")


def write(name, text):
    path = os.path.join(h.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def distinct_addrs(n):
    """n random 127/8 addresses, none 127.0.0.1 and no two the same."""
    out = set()
    while len(out) < n:
        out.add(hl.rand_addr())
    return sorted(out)


class Receiver:
    """A UDP socket on a random loopback address that a zone's notify:
    names; it answers every NOTIFY (so the sender stops retrying) and
    records (zone, source address) of each."""

    def __init__(self):
        for _ in range(10):
            self.addr = hl.rand_addr()
            self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.s.bind((self.addr, 0))
                break
            except OSError:
                self.s.close()
        self.port = self.s.getsockname()[1]
        h.closers.append(self.s.close)

    def collect(self, want, timeout):
        """{zone: source address} of the NOTIFY messages until every zone
        of want was seen or timeout seconds passed."""
        got = {}
        end = time.monotonic() + timeout
        while not want <= set(got) and time.monotonic() < end:
            self.s.settimeout(max(0.05, end - time.monotonic()))
            try:
                data, peer = self.s.recvfrom(600)
            except socket.timeout:
                break
            m = dns.message.from_wire(data)
            if m.opcode() != 4 or not m.question:
                continue
            got[m.question[0].name.to_text()] = peer[0]
            self.s.sendto(data[:2] + bytes([data[2] | 0x80, data[3]]) + data[4:], peer)
        return got


zone_a = write("a.zone", "$ORIGIN a.test.\n$TTL 300\n@ SOA ns hm 1 3600 600 86400 300\n"
               "@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.80\n")
zone_b = write("b.zone", "$ORIGIN b.test.\n$TTL 300\n@ SOA ns hm 1 3600 600 86400 300\n"
               "@ NS ns\nns A 192.0.2.1\n")
db = os.path.join(h.tmp, "primary")
h.zone_load(db, zone_a, zone_b)

# ---- notify-source ----
src_global, src_zone, sec_addr, other = distinct_addrs(4)
rx = Receiver()
target = "%s:%d" % (rx.addr, rx.port)
conf = write("notify.conf", """notify-source: "%s"
zones:
  - name: a.test.
    notify: ["%s"]
  - name: b.test.
    notify: ["%s"]
    notify-source: "%s"
""" % (src_global, target, target, src_zone))
up = h.start_upper("NOTIFIER", db, "-c", conf, "-t", "1")
got = rx.collect({"a.test.", "b.test."}, 10)
h.check(got.get("a.test.") == src_global,
        "NOTIFY of a.test. comes from notify-source %s: %s" % (src_global, got))
h.check(got.get("b.test.") == src_zone,
        "NOTIFY of b.test. comes from its stanza's notify-source %s: %s" % (src_zone, got))
t0 = time.monotonic()
r = h.zone(db, "add", "n1.a.test. 300 IN A 192.0.2.11")
got = rx.collect({"a.test."}, 5)
h.check(r.returncode == 0 and got.get("a.test.") == src_global,
        "NOTIFY after tierdns-zone add comes from %s too (%.2f s): %s" %
        (src_global, time.monotonic() - t0, got))
h.stop(up)

conf = write("plain.conf", 'zones:\n  - name: a.test.\n    notify: ["%s"]\n' % target)
up = h.start_upper("PLAIN", db, "-c", conf, "-t", "1")
got = rx.collect({"a.test."}, 10)
h.check(got.get("a.test.") not in (None, src_global, src_zone),
        "without notify-source the kernel chooses: %s" % got)
h.stop(up)

# A source that is no local address: logged, the server lives on.
conf = write("bad.conf", 'notify-source: "192.0.2.254"\nzones:\n  - name: a.test.\n'
             '    notify: ["%s"]\n' % target)
up = h.start_upper("BADSOURCE", db, "-c", conf, "-t", "1")
hl.wait_for(lambda: "192.0.2.254" in up.log_text(), 5)
h.check("cannot bind the source address 192.0.2.254" in up.log_text(),
        "a source that cannot be bound is logged: %s" % up.log_text()[-600:])
m, _ = hl.query(up, "www.a.test.", "A", rd=False)
h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.80"},
        "the server still answers after a failed bind")
h.stop(up)

# ---- transfer-source ----
conf = write("primary.conf", "zones:\n  - name: a.test.\n    allow-transfer: [%s/32]\n"
             % sec_addr)
prim = h.start_upper("PRIMARY", db, "-c", conf, "-t", "1")
primary = '["%s:%d"]' % (prim.addr, prim.port)


def secondary(label, text):
    return h.start_upper(label, os.path.join(h.tmp, label.lower()), "-c",
                         write(label + ".conf", text), "-t", "1")


def serves(d, timeout):
    """Whether d answers www.a.test. from the transferred zone within
    timeout seconds."""
    def ok():
        m, _ = hl.query(d, "www.a.test.", "A", rd=False)
        return m is not None and hl.answer_addrs(m) == {"192.0.2.80"}
    return hl.wait_for(ok, timeout) is not None


s_global = secondary("SEC_GLOBAL", 'transfer-source: "%s"\nzones:\n  - name: a.test.\n'
                     '    primaries: %s\n' % (sec_addr, primary))
s_zone = secondary("SEC_ZONE", 'transfer-source: "%s"\nzones:\n  - name: a.test.\n'
                   '    primaries: %s\n    transfer-source: "%s"\n' % (other, primary, sec_addr))
s_none = secondary("SEC_NONE", 'zones:\n  - name: a.test.\n    primaries: %s\n' % primary)
h.check(serves(s_global, 15), "a secondary with transfer-source %s gets the zone" % sec_addr)
h.check(serves(s_zone, 15), "a stanza's transfer-source overrides the top-level one")
plog = prim.log_text()
h.check(plog.count("to %s:" % sec_addr) >= 2,
        "the primary saw the transfers come from %s: %s" % (sec_addr, plog[-800:]))
time.sleep(1.0)
m, _ = hl.query(s_none, "www.a.test.", "A", rd=False)
h.check(m is not None and m.rcode() == dns.rcode.REFUSED and not m.answer,
        "a secondary without transfer-source is refused and holds nothing: %s" % m)
h.check("transfer refused" in s_none.log_text(),
        "its log says the transfer was refused: %s" % s_none.log_text()[-600:])
for d in (s_global, s_zone, s_none, prim):
    h.stop(d)
h.finish()
