#!/usr/bin/env bash
# Opcodes the tiers do not implement (RFC 1035 4.1.1, RFC 8906 8): NOTIMP
# with QR and the opcode only - no RD, CD, AD, RA or AA even when the query
# set them - as BIND's own system test and ISC's EDNS compliance test
# expect; QUERY still answered with the flags it should have. Both tiers,
# UDP and TCP, with and without EDNS.
. "$(dirname "$0")/lib.sh"
e2e_init

zone_load "$T/upper" "$ZONES"/upper/*.zone
zone_load "$T/local" "$ZONES"/local/*.zone
start_upper UPPER "$T/upper"
start_local LOCAL "$T/local" "$UPPER_ADDR:$UPPER_PORT"

for tier in UPPER LOCAL; do
	for tcp in +notcp +tcp; do
		for edns in +noedns +edns=0; do
			for op in 1 2 3 5 15; do
				q "$tier" "$tcp" "$edns" +opcode=$op +rec +cdflag +adflag +zflag webapp.site SOA
				expect_status NOTIMP
				case $op in
				1) name=IQUERY ;; 2) name=STATUS ;; 5) name=UPDATE ;;
				*) name=RESERVED$op ;;
				esac
				grep -q "opcode: $name, status: NOTIMP" <<<"$OUT" ||
					fail "$tier opcode $op not echoed: $(grep HEADER <<<"$OUT")"
				expect_flag qr
				for f in rd cd ad ra aa; do expect_no_flag "$f"; done
			done
		done
	done
done

# QUERY is still answered as before: RD copied, RA on the local tier, CD
# copied, AA on the upper.
q UPPER +rec +cdflag webapp.site A
expect_status NOERROR
for f in qr aa rd cd; do expect_flag "$f"; done
expect_no_flag ra
q LOCAL +rec +cdflag nas.home.arpa A
expect_status NOERROR
for f in qr rd ra cd; do expect_flag "$f"; done

stop_daemon LOCAL
stop_daemon UPPER
log "ok"
