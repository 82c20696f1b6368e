"""Helpers for the DNS over TLS end-to-end tests (imported beside
hostile_lib): a test CA and server certificates made at test time with the
openssl command line (no key is ever committed), and raw DoT exchanges with
Python's ssl module.

  pki = Pki(h.tmp)                        CA in pki.ca
  cert, key = pki.server("dns.test")      a certificate for dns.test and
                                          127.0.0.1 signed by the CA
  s = tls_connect(addr, port, pki.ca, "dns.test")   verified TLS socket
  tls_send(s, wire); tls_recv(s) -> bytes or None
"""
import os
import socket
import ssl
import struct
import subprocess

import hostile_lib as hl


class Pki:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pki")
        os.makedirs(self.dir, exist_ok=True)
        self.ca = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.n = 0
        self._run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.ca_key,
                   "-out", self.ca, "-days", "2", "-subj", "/CN=tierdns test CA"])

    def _run(self, argv):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr))

    def server(self, name, ip="127.0.0.1", ca=None, ca_key=None):
        """A fresh key and certificate for name (and ip) signed by the CA
        (or by ca/ca_key); returns (cert_path, key_path)."""
        self.n += 1
        base = os.path.join(self.dir, "srv%d" % self.n)
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s,IP:%s\n" % (name, ip))
        self._run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", base + ".key",
                   "-out", base + ".csr", "-subj", "/CN=%s" % name])
        self._run(["openssl", "x509", "-req", "-in", base + ".csr",
                   "-CA", ca or self.ca, "-CAkey", ca_key or self.ca_key,
                   "-set_serial", str(1000 + self.n), "-out", base + ".pem",
                   "-days", "2", "-extfile", ext])
        return base + ".pem", base + ".key"


def client_ctx(ca, tls13=True):
    ctx = ssl.create_default_context(cafile=ca)
    if not tls13:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls_connect(addr, port, ca, name, timeout=3.0, session=None, ctx=None):
    """A verified TLS connection (raises on a failed handshake)."""
    raw = socket.create_connection((addr, port), timeout=timeout)
    ctx = ctx or client_ctx(ca)
    try:
        return ctx.wrap_socket(raw, server_hostname=name, session=session)
    except Exception:
        raw.close()
        raise


def tls_send(s, wire):
    s.sendall(struct.pack("!H", len(wire)) + wire)


def tls_recv(s):
    """One framed message, or None when the stream ended or timed out."""
    try:
        hdr = hl.recv_exact(s, 2)
        if hdr is None:
            return None
        return hl.recv_exact(s, struct.unpack("!H", hdr)[0])
    except (socket.timeout, ssl.SSLError, ConnectionError):
        return None


def closed_within(s, seconds):
    """True when the peer closes (or resets) s within seconds; whatever
    it sends first (handshake messages, an alert) is read and dropped."""
    import time
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            if s.recv(4096) == b"":
                return True
        except socket.timeout:
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            return True


def has_padding(msg):
    return any(o.otype == 12 for o in msg.options)


def free_port(addr):
    """A TCP port nothing listens on at addr now."""
    for _ in range(50):
        p = hl.rand_port()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((addr, p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port on %s" % addr)


def wait_listening(addr, port, tries=100):
    import time
    for _ in range(tries):
        try:
            with socket.create_connection((addr, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False
