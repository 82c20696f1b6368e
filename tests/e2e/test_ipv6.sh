#!/usr/bin/env bash
# Both tiers over IPv6: listening on ::1, the local tier's upstream given in
# the [v6]:port form, UDP and TCP. Skipped (exit 77, ctest's SKIP_RETURN_CODE)
# when the machine has no IPv6 loopback.
. "$(dirname "$0")/lib.sh"
e2e_init

if ! (exec 3<>/dev/udp/::1/9) 2>/dev/null; then
	log "no IPv6 loopback here: skipped"
	exit 77
fi

zone_load "$T/upper" "$ZONES"/upper/*.zone
zone_load "$T/local" "$ZONES"/local/*.zone
E2E_FAMILY=6 start_upper UPPER "$T/upper"
E2E_FAMILY=6 start_local LOCAL "$T/local" "[::1]:$UPPER_PORT"

q UPPER webapp.site AAAA
expect_status NOERROR
expect_flag aa
expect_rr ANSWER webapp.site. AAAA 2001:db8::10
q LOCAL webapp.site A
expect_status NOERROR
expect_flag ra
expect_rr ANSWER webapp.site. A 192.0.2.10
q LOCAL +tcp mail.site AAAA
expect_status NOERROR
expect_rr ANSWER mail.site. AAAA 2001:db8::25
out=$("$QUERY_BIN" -s ::1 -p "$LOCAL_PORT" -t AAAA webapp.site) ||
	fail "tierdns-query -s ::1 failed: $out"
expect_lines "$out" '^webapp\.site\. [0-9]+ IN AAAA 2001:db8::10$'

stop_daemon LOCAL
stop_daemon UPPER
