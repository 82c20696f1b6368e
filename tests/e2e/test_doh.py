#!/usr/bin/python3
"""DNS over HTTPS on tierdns-local (issue 17, RFC 8484).

A test CA and a certificate for dns.test are made with openssl at test
time; the local forwards to an upper over clear UDP and serves DoH with
--https-listen. Cases:
  - kdig +https (POST) and +https-get (GET) answer correctly with
    verification on, and refuse the wrong hostname;
  - curl --http2: GET ?dns= and POST application/dns-message answer 200
    with the DNS answer, content-type, and cache-control max-age equal to
    the smallest TTL (the SOA's for NXDOMAIN); answers are padded;
  - the HTTP errors: 404 another path, 400 no dns= / bad base64url / a body
    under a header / a response sent as a query, 415 a wrong content type,
    413 a body over 65535 bytes, 405 another method;
  - 40 requests multiplexed on one connection (curl --parallel) answered;
  - malformed HTTP/2 (a table of raw frames after a verified handshake):
    the connection ends (GOAWAY or close) and the server still answers;
  - a connection that sends PINGs, or SETTINGS, and no request is closed
    after --tcp-idle (their ACKs are no activity);
  - the request bytes a connection holds at once are bounded: of five
    requests with 60,000-byte bodies (or paths) all held at once, the
    fifth gets 413 (414);
  - it exits 0 on SIGTERM (no sanitizer report).
"""
import base64
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402
import tls_lib as tl  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

h = hl.Harness("test_doh")
if shutil.which("curl") is None:
    h.skip("curl not installed")
    h.finish()
NAME = "dns.test"
pki = tl.Pki(h.tmp)
cert, key = pki.server(NAME)

udb = os.path.join(h.tmp, "upper")
h.zone_load(udb, os.path.join(hl.ZONES, "upper", "root.zone"),
            os.path.join(hl.ZONES, "upper", "site.zone"))
upper = h.start_upper("UPPER", udb, "-t", "1")
la = hl.rand_addr()
hp = tl.free_port(la)
local = h.start_local("LOCAL", os.path.join(h.tmp, "local"),
                      ["%s:%d" % (upper.addr, upper.port)],
                      "--https-listen", "%s:%d" % (la, hp), "--tls-cert", cert,
                      "--tls-key", key, "--tcp-idle", "3000", "-t", "2", addr=la)
h.check(tl.wait_listening(la, hp), "DoH port not listening")
URL = "https://%s:%d/dns-query" % (NAME, hp)
RESOLVE = "%s:%d:%s" % (NAME, hp, la)


def curl(*args, data=None):
    """curl over HTTP/2 with the test CA: (http status, headers, body)."""
    hdrs = os.path.join(h.tmp, "hdrs")
    body = os.path.join(h.tmp, "body")
    argv = ["curl", "-s", "--http2", "--cacert", pki.ca, "--resolve", RESOLVE,
            "-D", hdrs, "-o", body, "-w", "%{http_code}", "--max-time", "5"] + list(args)
    r = subprocess.run(argv, input=data, capture_output=True, timeout=20)
    try:
        code = int(r.stdout.decode().strip() or 0)
    except ValueError:
        code = 0
    hv = {}
    if os.path.exists(hdrs):
        for line in open(hdrs, errors="replace"):
            if ":" in line and not line.startswith("HTTP/"):
                k, v = line.split(":", 1)
                hv[k.strip().lower()] = v.strip()
        os.unlink(hdrs)
    b = b""
    if os.path.exists(body):
        with open(body, "rb") as f:
            b = f.read()
        os.unlink(body)
    return code, hv, b


def wire(name, rdtype="A", qid=0, edns=True):
    q = hl.make_query(name, rdtype, edns=edns)
    q.id = qid  # RFC 8484 4.1: ID 0 for cache friendliness
    return q.to_wire()


def b64(w):
    return base64.urlsafe_b64encode(w).decode().rstrip("=")


def get(name, rdtype="A"):
    return curl(URL + "?dns=" + b64(wire(name, rdtype)))


def post(w, ctype="application/dns-message"):
    return curl("-H", "content-type: " + ctype, "--data-binary", "@-", URL, data=w)


def check_answer(res, name, want, label):
    code, hv, body = res
    ok = code == 200 and hv.get("content-type") == "application/dns-message"
    m = None
    if ok:
        try:
            m = dns.message.from_wire(body)
        except Exception:  # noqa: BLE001
            m = None
    h.check(m is not None and hl.answer_addrs(m) == want,
            "%s: %s -> %s %r %r" % (label, name, code, hv, m))
    return m, hv


def alive(what):
    m, _ = check_answer(get("webapp.site"), "webapp.site", {"192.0.2.10"},
                        "GET after " + what)
    h.check(local.alive(), "local died after " + what)


# ---- real clients ----
tgt = ["@" + la, "-p", str(hp), "+tls-ca=" + pki.ca]
for mode in ("+https", "+https-get"):
    r = subprocess.run(["kdig"] + tgt + ["+tls-hostname=" + NAME, mode, "webapp.site",
                                         "A", "+short"], capture_output=True, text=True,
                       timeout=20)
    h.check(r.returncode == 0 and r.stdout.split() == ["192.0.2.10"],
            "kdig %s: rc %d %r %r" % (mode, r.returncode, r.stdout, r.stderr))
    r = subprocess.run(["kdig"] + tgt + ["+tls-hostname=wrong.test", mode, "webapp.site",
                                         "A", "+short"], capture_output=True, text=True,
                       timeout=20)
    h.check("192.0.2.10" not in r.stdout, "kdig %s accepted the wrong hostname" % mode)

# ---- GET and POST, cache-control, padding ----
m, hv = check_answer(get("webapp.site"), "webapp.site", {"192.0.2.10"}, "GET")
ma = hv.get("cache-control", "")
h.check(ma.startswith("max-age=") and 0 < int(ma[8:]) <= 300,
        "GET: cache-control %r, want max-age of the A record's TTL (<= 300)" % ma)
h.check(m is not None and tl.has_padding(m) and len(m.to_wire()) % 468 == 0,
        "GET: answer not padded to 468")
m, hv = check_answer(post(wire("api.site")), "api.site",
                     {"192.0.2.20", "192.0.2.21", "192.0.2.22"}, "POST")
m, hv = check_answer(post(wire("docs.site")), "docs.site", {"192.0.2.10"}, "POST CNAME")
ttls = [r.ttl for r in m.answer] if m else []
h.check(ttls and hv.get("cache-control") == "max-age=%d" % min(ttls),
        "POST: cache-control %r, want the smallest TTL %r" % (hv.get("cache-control"), ttls))
code, hv, body = get("nx-doh.site")
m = dns.message.from_wire(body) if code == 200 else None
h.check(m is not None and m.rcode() == dns.rcode.NXDOMAIN and m.authority and
        hv.get("cache-control") == "max-age=%d" % m.authority[0].ttl,
        "NXDOMAIN: %s %r %s" % (code, hv, m))

# ---- HTTP errors ----
errors = [
    ("another path", lambda: curl("https://%s:%d/other?dns=%s" % (NAME, hp, b64(wire("webapp.site"))))[0], 404),
    ("GET without dns=", lambda: curl(URL + "?ct=x")[0], 400),
    ("GET without a query string", lambda: curl(URL)[0], 400),
    ("GET with bad base64url", lambda: curl(URL + "?dns=%%%%%%")[0], 400),
    ("GET decoding to 5 bytes", lambda: curl(URL + "?dns=" + b64(b"12345"))[0], 400),
    ("POST text/plain", lambda: post(wire("webapp.site"), "text/plain")[0], 415),
    ("POST without content-type",
     lambda: curl("-H", "content-type:", "--data-binary", "@-", URL, data=wire("webapp.site"))[0], 415),
    ("POST of 70000 bytes", lambda: post(b"\x00" * 70000)[0], 413),
    ("POST of 5 bytes", lambda: post(b"\x00" * 5)[0], 400),
    ("POST of a response (QR=1)",
     lambda: post(b"\x00\x00\x81\x80" + wire("webapp.site")[4:])[0], 400),
    ("PUT", lambda: curl("-X", "PUT", "-H", "content-type: application/dns-message",
                         "--data-binary", "@-", URL, data=wire("webapp.site"))[0], 405),
]
for label, fn, want in errors:
    got = fn()
    h.check(got == want, "%s: HTTP %s, want %d" % (label, got, want))
alive("the HTTP errors")

# ---- multiplexing: many requests on one connection ----
urls = []
names = ["webapp.site", "api.site", "www.site", "ns1.site"] * 10
for i, n in enumerate(names):
    urls += ["-o", os.path.join(h.tmp, "p%d" % i), URL + "?dns=" + b64(wire(n, qid=i))]
r = subprocess.run(["curl", "-s", "--http2", "--parallel", "--parallel-max", "40",
                    "--cacert", pki.ca, "--resolve", RESOLVE, "--max-time", "10"] + urls,
                   capture_output=True, timeout=30)
okn = 0
for i, n in enumerate(names):
    p = os.path.join(h.tmp, "p%d" % i)
    try:
        with open(p, "rb") as f:
            m = dns.message.from_wire(f.read())
        okn += m.question[0].name.to_text() == n + "." and bool(hl.answer_addrs(m))
    except Exception:  # noqa: BLE001
        pass
h.check(okn == len(names), "parallel: %d of %d answered correctly" % (okn, len(names)))


# ---- malformed HTTP/2 ----
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload, length=None):
    n = len(payload) if length is None else length
    return struct.pack("!I", n)[1:] + struct.pack("!BBI", ftype, flags, stream) + payload


def h2_split(buf):
    """The whole frames at the start of buf, as (type, flags, stream,
    payload), and the rest."""
    out = []
    while len(buf) >= 9:
        n = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + n:
            break
        out.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff,
                    buf[9:9 + n]))
        buf = buf[9 + n:]
    return out, buf


def hpack_lit(name, value):
    """A literal header field without indexing, new name, no Huffman."""
    def s(x):
        assert len(x) < 127
        return bytes([len(x)]) + x
    return b"\x00" + s(name) + s(value)


def request_headers(stream, end_stream, method=b"GET", path=b"/dns-query"):
    block = (hpack_lit(b":method", method) + hpack_lit(b":scheme", b"https") +
             hpack_lit(b":authority", NAME.encode()) + hpack_lit(b":path", path))
    return frame(1, 0x4 | (0x1 if end_stream else 0), stream, block)


def h2_open():
    """A verified TLS connection to the DoH listener with ALPN h2."""
    ctx = tl.client_ctx(pki.ca)
    ctx.set_alpn_protocols(["h2"])
    return tl.tls_connect(la, hp, pki.ca, NAME, ctx=ctx)


def h2_conn(payload, read_for=3.0):
    """Send payload on a new h2_open connection; True when the server ends
    the connection (GOAWAY and/or close) within read_for seconds."""
    s = h2_open()
    with s:
        s.sendall(payload)
        return tl.closed_within(s, read_for)


SETTINGS = frame(4, 0, 0, b"")
GOOD_GET = request_headers(1, True, path=b"/dns-query?dns=" + b64(wire("webapp.site")).encode())
malformed = [
    ("no connection preface", os.urandom(300)),
    ("preface then garbage", PREFACE + os.urandom(300)),
    ("SETTINGS of 5 bytes", PREFACE + frame(4, 0, 0, b"\x00" * 5)),
    ("a frame announcing 16 MiB", PREFACE + SETTINGS + frame(0, 0, 1, b"", length=0xffffff)),
    ("HEADERS on an even stream", PREFACE + SETTINGS + request_headers(2, True)),
    ("HEADERS on stream 0", PREFACE + SETTINGS + request_headers(0, True)),
    ("HPACK index 2^20", PREFACE + SETTINGS + frame(1, 0x5, 1, b"\xff\xff\xff\x7f")),
    ("DATA on stream 0", PREFACE + SETTINGS + frame(0, 1, 0, b"abc")),
    ("WINDOW_UPDATE of 0 on the connection", PREFACE + SETTINGS + frame(8, 0, 0, b"\x00\x00\x00\x00")),
    ("CONTINUATION without HEADERS", PREFACE + SETTINGS + frame(9, 4, 1, hpack_lit(b"a", b"b"))),
    # RFC 9113 6.1: a stream error (STREAM_CLOSED) may be all it gets.
    ("a good GET, then DATA after its END_STREAM",
     PREFACE + SETTINGS + GOOD_GET + frame(0, 1, 1, b"xyz"), None),
    # RFC 9113 5.1.1 makes this a connection error; nghttp2 may answer it
    # with a stream error instead when it no longer tells the lower ID
    # from a closed stream (it depends on how the frames arrive), so
    # either is fine here: the server must live on.
    ("stream IDs going backwards",
     PREFACE + SETTINGS + request_headers(5, True) + request_headers(3, True), None),
]
for case in malformed:
    label, data = case[0], case[1]
    must_end = case[2] if len(case) > 2 else True
    try:
        ended = h2_conn(data)
    except (OSError, ssl.SSLError) as e:
        ended = "error %r" % e
    if must_end:
        h.check(ended is True, "HTTP/2 %s: connection not ended (%r)" % (label, ended))
    alive("HTTP/2 " + label)

# Legal but busy: 500 PINGs are answered (nghttp2 ends the connection
# only when the ACKs pile up unsent) and a GET after them on the same
# connection is still served.
s = h2_open()
s.sendall(PREFACE + SETTINGS + frame(6, 0, 0, b"12345678") * 500 + GOOD_GET)
seen, acks, got = b"", 0, False
s.settimeout(3)
try:
    while not got:
        chunk = s.recv(65536)
        if not chunk:
            break
        frames, seen = h2_split(seen + chunk)
        for ftype, flags, sid, _ in frames:
            acks += ftype == 6 and flags & 1 != 0
            got = got or (ftype == 1 and sid == 1)
except (socket.timeout, OSError, ssl.SSLError):
    pass
s.close()
h.check(acks == 500 and got, "500 PINGs then a GET: %d ACKs, response %s" % (acks, got))
alive("500 PINGs")

def h2_status(block):
    """:status of a response header block: a static entry (RFC 7541
    appendix A: 200 to 500), or a literal with the :status name (nghttp2
    writes 413 and 414 so, not Huffman-coded: it is no shorter)."""
    static = {0x88: "200", 0x89: "204", 0x8a: "206", 0x8b: "304", 0x8c: "400",
              0x8d: "404", 0x8e: "500"}
    if block and block[0] in static:
        return static[block[0]]
    if block and block[0] & 0xc0 == 0x40 and block[0] & 0x3f == 8 and not block[1] & 0x80:
        return block[2:2 + block[1]].decode()
    return "?%r" % block[:8]


def hpack_long(name, value):
    """hpack_lit for a value of any length (RFC 7541 5.1 integers)."""
    n, tail = len(value), b""
    if n < 127:
        head = bytes([n])
    else:
        head, n = b"\x7f", n - 127
        while n >= 128:
            tail += bytes([n % 128 + 128])
            n //= 128
        tail += bytes([n])
    return b"\x00" + bytes([len(name)]) + name + head + tail + value


class H2Client:
    """A raw HTTP/2 client on h2_open that keeps the connection's flow
    control window and collects each stream's response :status."""

    def __init__(self):
        self.s = h2_open()
        self.s.settimeout(3)
        self.pending, self.win, self.status = b"", 65535, {}
        self.s.sendall(PREFACE + SETTINGS)

    def read(self):
        self.pending += self.s.recv(65536)
        frames, self.pending = h2_split(self.pending)
        for ftype, flags, sid, payload in frames:
            if ftype == 8 and sid == 0:
                self.win += int.from_bytes(payload[:4], "big") & 0x7fffffff
            elif ftype == 4 and not flags & 1:
                self.s.sendall(frame(4, 1, 0, b""))
            elif ftype == 1:
                self.status[sid] = h2_status(payload)

    def headers(self, sid, block):
        """A header block, without END_STREAM, in frames of 16384 bytes."""
        chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)]
        for i, c in enumerate(chunks):
            last = 0x4 if i == len(chunks) - 1 else 0
            self.s.sendall(frame(1 if i == 0 else 9, last, sid, c))

    def data(self, sid, n):
        """n bytes of body, as the window lets them go."""
        while n > 0:
            k = min(16384, n, self.win)
            if k <= 0:
                self.read()
                continue
            self.s.sendall(frame(0, 0, sid, b"\x00" * k))
            self.win -= k
            n -= k

    def finish(self, sids):
        """End every stream; the statuses that came within 5 s."""
        for sid in sids:
            self.s.sendall(frame(0, 1, sid, b""))
        t0 = time.monotonic()
        while len(self.status) < len(sids) and time.monotonic() - t0 < 5:
            self.read()
        return self.status


# The request bytes a connection holds at once are bounded (256 KiB, not
# 100 streams of 64 KiB): five requests whose 60,000-byte bodies, or
# paths, are all held at once, then ended: the first four are answered,
# the fifth, which would go past, gets 413 (body) or 414 (path).
SIDS = [1, 3, 5, 7, 9]
for what, want in (("bodies", "413"), ("paths", "414")):
    c = H2Client()
    try:
        for sid in SIDS:
            path = b"/dns-query"
            if what == "paths":
                path += b"?dns=" + b"A" * (60000 - len(path) - 5)
            c.headers(sid, hpack_lit(b":method", b"POST" if what == "bodies" else b"GET") +
                      hpack_lit(b":scheme", b"https") + hpack_lit(b":authority", NAME.encode()) +
                      hpack_long(b":path", path) +
                      hpack_lit(b"content-type", b"application/dns-message"))
        for sid in SIDS:
            if what == "bodies":
                c.data(sid, 60000)
        status = c.finish(SIDS)
    except (OSError, ssl.SSLError) as e:
        status = dict(c.status, error=repr(e))
    c.s.close()
    h.check(status.get(9) == want and all(status.get(i) not in (None, want) for i in SIDS[:4]),
            "five held 60,000-byte %s on one connection: statuses %r, want %s for the "
            "fifth only" % (what, status, want))
    alive("five held " + what)

# A PING or a SETTINGS is no request (RFC 7766 6.2.3): a connection that
# sends one every 0.5 s and asks nothing is closed after --tcp-idle (3 s)
# like a silent one, though each makes the server write its ACK.
for what, ping in (("PINGs", frame(6, 0, 0, b"12345678")), ("SETTINGS", SETTINGS)):
    s = h2_open()
    s.settimeout(0.1)
    t0 = time.monotonic()
    closed_after = None
    try:
        s.sendall(PREFACE + SETTINGS)
        nxt = t0
        while closed_after is None and time.monotonic() - t0 < 10:
            if time.monotonic() >= nxt:
                s.sendall(ping)
                nxt += 0.5
            try:
                if not s.recv(65536):
                    closed_after = time.monotonic() - t0
            except socket.timeout:
                pass
    except (OSError, ssl.SSLError):
        closed_after = time.monotonic() - t0
    s.close()
    h.check(closed_after is not None and 2.5 <= closed_after <= 6,
            "a connection that only sends %s: closed after %s s, want about 3 "
            "(--tcp-idle)" % (what, closed_after))
    alive(what + " without requests")

# 150 streams at once (more than the 100 offered): the extra ones are
# refused, the connection and the server go on.
payload = PREFACE + SETTINGS + b"".join(
    request_headers(2 * i + 1, True,
                    path=b"/dns-query?dns=" + b64(wire("webapp.site", qid=i)).encode())
    for i in range(150))
s = h2_open()
s.sendall(payload)
s.close()
alive("150 streams at once")

# A DoT client on the DoH port: no preface, so the connection ends.
s = tl.tls_connect(la, hp, pki.ca, NAME)
tl.tls_send(s, wire("webapp.site"))
h.check(tl.closed_within(s, 3), "a DoT client on the DoH port: not closed")
s.close()
alive("a DoT client on the DoH port")

h.stop(local)
h.stop(upper)
h.finish()
