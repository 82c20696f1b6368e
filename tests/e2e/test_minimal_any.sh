#!/usr/bin/env bash
# RFC 8482 on tierdns-upper (issue 18): ANY over UDP is answered with one
# RRset of the name (no amplification lever), over TCP with all of them;
# --full-any answers every RRset over UDP too.
. "$(dirname "$0")/lib.sh"
e2e_init

zone_load "$T/upper" "$ZONES"/upper/*.zone
start_upper UPPER "$T/upper"

q UPPER webapp.site ANY +notcp
expect_status NOERROR
expect_flag aa
expect_count ANSWER 1
udp_n=$(section ANSWER | grep -c .)

q UPPER webapp.site ANY +tcp
expect_status NOERROR
tcp_n=$(section ANSWER | grep -c .)
[ "$tcp_n" -gt "$udp_n" ] || fail "ANY over TCP: $tcp_n RRs, not more than over UDP ($udp_n)"
stop_daemon UPPER

start_upper FULL "$T/upper" --full-any
q FULL webapp.site ANY +notcp
expect_status NOERROR
expect_count ANSWER "$tcp_n"
stop_daemon FULL
echo "ok: ANY over UDP 1 RR, over TCP $tcp_n, --full-any $tcp_n"
