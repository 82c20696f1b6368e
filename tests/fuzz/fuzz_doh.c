/*
 * fuzz_doh.c - DNS over HTTPS request parsing (doh.h): what a client sends
 * after the TLS handshake, fed to a server session as netio feeds it.
 *
 * Input: byte 0 picks the chunk size the rest is fed in (1 to 256 bytes,
 * so frames and HPACK blocks arrive cut at every place); the rest is the
 * client's byte stream (connection preface, frames). Queries the session
 * hands on are answered at once (even bytes of the first query byte) or
 * failed with 400, so that responses, their data and stream closes run.
 * Checked: every query handed on is 12 to 65535 bytes; the session's
 * output is whole HTTP/2 frames (9-byte headers whose lengths add up to
 * what was sent); the same bytes also go through doh_request directly as
 * a GET path and as a POST body, whose result must keep its contract
 * (200 only with a message of 12 to 65535 bytes within the buffer), and
 * through doh_min_ttl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tierdns/doh.h"

/* A reply to any query: header only, QR set, the query's ID. */
static void on_query(void *ctx, struct tdns_doh *d, int32_t stream, const uint8_t *msg,
		     size_t len)
{
	uint8_t ans[12];

	(void)ctx;
	FUZZ_CHECK(len >= 12 && len <= 65535);
	if (fuzz_verbose())
		fprintf(stderr, "query of %zu bytes on stream %d\n", len, (int)stream);
	if (msg[0] & 1) {
		doh_fail(d, stream, 400);
		return;
	}
	memcpy(ans, msg, sizeof(ans));
	ans[2] |= 0x80;
	doh_answer(d, stream, ans, sizeof(ans));
}

/* All the session wrote for one input (the first SETTINGS included). */
static uint8_t out[1 << 20];
static size_t out_len;
static bool out_over;

static void drain(struct tdns_doh *d)
{
	const uint8_t *p;
	size_t n;

	while ((n = doh_send(d, &p)) > 0) {
		if (out_len + n > sizeof(out)) {
			out_over = true;
			continue;
		}
		memcpy(out + out_len, p, n);
		out_len += n;
	}
}

/* The output is whole HTTP/2 frames: 9-byte headers whose lengths add
 * up to what was sent, none over the default SETTINGS_MAX_FRAME_SIZE. */
static void check_frames(void)
{
	size_t i = 0, len;

	if (out_over)
		return;
	while (i < out_len) {
		FUZZ_CHECK(out_len - i >= 9);
		len = (size_t)out[i] << 16 | (size_t)out[i + 1] << 8 | out[i + 2];
		FUZZ_CHECK(len <= 16384);
		i += 9 + len;
	}
	FUZZ_CHECK(i == out_len);
}

static void direct(const uint8_t *data, size_t size)
{
	static uint8_t msg[65536 * 2];
	static char path[65536 * 2];
	size_t len, plen;
	unsigned st;
	uint32_t ttl;

	plen = size < sizeof(path) - 16 ? size : sizeof(path) - 16;
	memcpy(path, "/dns-query?dns=", 15);
	memcpy(path + 15, data, plen);
	st = doh_request("GET", path, plen + 15, NULL, NULL, 0, false, msg, plen + 15, &len);
	FUZZ_CHECK(st != 200 || (len >= 12 && len <= 65535 && len <= plen + 15));
	st = doh_request("POST", DOH_PATH, strlen(DOH_PATH), "application/dns-message",
			 data, size, false, msg, sizeof(msg), &len);
	FUZZ_CHECK(st != 200 || (len == size && len >= 12 && len <= 65535));
	FUZZ_CHECK(st == 200 || st == 400 || st == 413);
	(void)doh_min_ttl(data, size, &ttl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct tdns_doh *d = NULL;
	size_t chunk, off, k;

	if (!init) {
		fuzz_init();
		init = true;
	}
	if (size == 0)
		return 0;
	direct(data + 1, size - 1);
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	out_len = 0;
	out_over = false;
	FUZZ_CHECK(doh_new(on_query, NULL, &d) == TDNS_OK);
	for (off = 0; off < size; off += chunk) {
		k = size - off < chunk ? size - off : chunk;
		if (doh_recv(d, data + off, k) != TDNS_OK) {
			drain(d);
			break;
		}
		drain(d);
	}
	drain(d);
	check_frames();
	if (fuzz_verbose())
		fprintf(stderr, "%zu bytes written, session %s\n", out_len,
			doh_alive(d) ? "open" : "over");
	doh_free(d);
	return 0;
}
