"""A deliberately misbehaving DNS server for testing tierdns-query alone.

Standard library only. For every UDP query it first sends replies the client
must ignore (RFC 5452 9.1): one with the wrong ID, one with QR clear, one
for another question (all claiming 192.0.2.66); then the real answer. Names:
  ok.test.  A 192.0.2.77 (after the decoys)
  tc.test.  over UDP: TC set, no answer; over TCP: A 192.0.2.78
  other     NXDOMAIN
Usage: fake_server.py ADDR PORTFILE  (binds port 0, writes the port to
PORTFILE once both sockets listen, serves until killed).
"""
import socket
import struct
import sys
import threading


def parse_question(msg):
    """Return (qname labels lower-cased, end offset of the question)."""
    i = 12
    labels = []
    while msg[i] != 0:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].lower())
        i += 1 + n
    return labels, i + 1 + 4


def answer(query, tcp):
    qid, flags = struct.unpack("!HH", query[:4])
    labels, qend = parse_question(query)
    question = query[12:qend]
    rd = flags & 0x0100
    name = b".".join(labels)
    hdr_flags = 0x8000 | 0x0400 | rd  # QR AA RD
    rr = b""
    ancount = 0
    rcode = 0
    if name == b"ok.test":
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 77])
        ancount = 1
    elif name == b"tc.test":
        if tcp:
            rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 78])
            ancount = 1
        else:
            hdr_flags |= 0x0200  # TC
    else:
        rcode = 3
    good = struct.pack("!HHHHHH", qid, hdr_flags | rcode, 1, ancount, 0, 0) + question + rr
    decoys = []
    if not tcp:
        # Decoys carry another address, so accepting one shows in the output.
        bad_rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 66])
        bad = struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, 1, 0, 0) + question + bad_rr
        wrong_id = struct.pack("!H", (qid + 1) & 0xFFFF) + bad[2:]
        no_qr = bad[:2] + struct.pack("!H", 0x0400 | rd) + bad[4:]
        other_q = (struct.pack("!HHHHHH", qid, 0x8400 | rd | 3, 1, 0, 0, 0)
                   + b"\x05other\x04test\x00" + question[-4:])
        decoys = [wrong_id, no_qr, other_q]
    return decoys, good


def serve_udp(sock):
    while True:
        msg, peer = sock.recvfrom(65535)
        try:
            decoys, good = answer(msg, False)
        except (IndexError, struct.error):
            continue
        for d in decoys:
            sock.sendto(d, peer)
        sock.sendto(good, peer)


def serve_tcp_conn(conn):
    with conn:
        try:
            hdr = conn.recv(2, socket.MSG_WAITALL)
            (n,) = struct.unpack("!H", hdr)
            msg = conn.recv(n, socket.MSG_WAITALL)
            _, good = answer(msg, True)
            conn.sendall(struct.pack("!H", len(good)) + good)
        except (OSError, IndexError, struct.error):
            pass


def main():
    addr, portfile = sys.argv[1], sys.argv[2]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind((addr, 0))
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((addr, port))
    tcp.listen(16)
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % port)
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
