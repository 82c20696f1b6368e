#!/usr/bin/python3
"""allow-transfer entries that name a key (issue 13: transfers allowed to
configured addresses and/or TSIG keys; NSD's "provide-xfr: ADDR KEY"):
"ADDR key NAME" allows a transfer from that address signed with that key,
and nothing else.

  - from the entry's address: unsigned REFUSED, signed with the entry's
    key answered (and the answer signed), signed with another known key
    REFUSED;
  - from another address, signed with the entry's key: REFUSED;
  - a plain address entry beside it still allows unsigned transfers;
  - --check-config prints the entries with their key, and the printed
    configuration reads back; an entry without a key name or with an
    unknown one is refused.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.tsigkeyring  # noqa: E402

h = hl.Harness("test_xfr_acl_key")
S1 = "c2VjcmV0LW9uZS1zZWNyZXQtb25lLXNlY3JldC1vbmU="
S2 = "c2VjcmV0LXR3by1zZWNyZXQtdHdvLXNlY3JldC10d28="
keyed, plain, other, up_addr = hl.rand_addr(), hl.rand_addr(), hl.rand_addr(), hl.rand_addr()


def write(name, text):
    path = os.path.join(h.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


KEYS = ("keys:\n"
        "  - name: k1.\n    algorithm: hmac-sha256\n    secret: \"%s\"\n"
        "  - name: k2.\n    algorithm: hmac-sha256\n    secret: \"%s\"\n" % (S1, S2))
conf = write("upper.conf", KEYS + (
    "zones:\n  - name: x.test.\n    allow-transfer: [\"%s key k1.\", \"%s\"]\n" % (keyed, plain)))
db = os.path.join(h.tmp, "db")
h.zone_load(db, write("x.zone", "$ORIGIN x.test.\n$TTL 300\n@ SOA ns hm 1 3600 600 86400 300\n"
                      "@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\n"))
up = h.start_upper("UPPER", db, "-c", conf, "-t", "1", addr=up_addr)


def axfr(src, keyname=None, secret=None):
    """The rcode of the first message of an AXFR from src (None: no
    answer), and whether it carries a TSIG that verifies."""
    q = dns.message.make_query("x.test.", "AXFR")
    ring = None
    if keyname:
        ring = dns.tsigkeyring.from_text({keyname: secret})
        q.use_tsig(ring, keyname=keyname, algorithm="hmac-sha256")
    a = hl.tcp_exchange(up.addr, up.port, q.to_wire(), timeout=5, src=src)
    if a is None:
        return None, False
    try:
        m = dns.message.from_wire(a, keyring=ring, request_mac=q.mac if keyname else b"",
                                  xfr=True)
    except Exception as e:  # noqa: BLE001 - a reply that does not verify
        return "unverified (%s)" % e, False
    return dns.rcode.to_text(m.rcode()), m.had_tsig


for label, src, key, want, signed in [
        ("the entry's address, unsigned", keyed, None, "REFUSED", False),
        ("the entry's address, signed with k1", keyed, ("k1.", S1), "NOERROR", True),
        ("the entry's address, signed with k2", keyed, ("k2.", S2), "REFUSED", True),
        ("another address, signed with k1", other, ("k1.", S1), "REFUSED", True),
        ("the plain entry's address, unsigned", plain, None, "NOERROR", False)]:
    got = axfr(src, *(key or ()))
    h.check(got == (want, signed), "AXFR from %s: %s%s, got %s" %
            (label, want, " (signed)" if signed else "", got))

# The effective configuration keeps the key, and reads back.
r = subprocess.run([hl.UPPER_BIN, "-c", conf, "--check-config"], capture_output=True,
                   text=True, timeout=30)
h.check(r.returncode == 0 and ("%s/32 key k1." % keyed) in r.stdout,
        "--check-config prints the entry with its key: %s" % (r.stdout + r.stderr)[-400:])
again = write("again.conf", r.stdout)
r2 = subprocess.run([hl.UPPER_BIN, "-c", again, "--check-config"], capture_output=True,
                    text=True, timeout=30)
h.check(r2.returncode == 0 and r2.stdout.split("\n", 1)[1] == r.stdout.split("\n", 1)[1],
        "the printed configuration reads back the same: %s" % r2.stderr)
for bad, says in [("127.0.0.1 key", "invalid address or prefix"), ("127.0.0.1 key nope.", "no key"),
                  ("127.0.0.1 k1.", "invalid address or prefix")]:
    path = write("bad.conf", KEYS + "zones:\n  - name: x.test.\n    allow-transfer: [\"%s\"]\n"
                 % bad)
    r = subprocess.run([hl.UPPER_BIN, "-c", path, "--check-config"], capture_output=True,
                       text=True, timeout=30)
    h.check(r.returncode != 0 and says in r.stderr and "allow-transfer" in r.stderr,
            "allow-transfer: '%s' refused (%s): %s" % (bad, says, r.stderr.strip()))
h.stop(up)
h.finish()
