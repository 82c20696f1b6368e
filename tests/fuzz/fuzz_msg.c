/*
 * fuzz_msg.c - the message parser (msg.h) against ldns_wire2pkt on arbitrary
 * bytes, with the policy of msg_oracle.h: what msg_parse accepts, ldns
 * accepts with the same header, question and records (owner names, types,
 * classes, TTLs, rdata with its names uncompressed); msg_parse may refuse
 * more (forward pointers, rdata whose fields do not end at RDLENGTH, ...),
 * so ldns is asked only about what msg_parse accepts.
 * Every name offset of an accepted message is also read back through
 * msg_name, msg_name_eq and msg_name_skip, which must agree.
 *
 * Input: the message itself.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "msg_oracle.h"

static void check_names(const struct tdns_msg *m, size_t off)
{
	uint8_t name[NAME_WIRE_MAX];
	size_t n = msg_name(m, off, name);

	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(msg_name_eq(m, off, name, n));
	FUZZ_CHECK(!msg_name_eq(m, off, name, n - 1));
	FUZZ_CHECK(msg_name_skip(m, off) > off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdns_msg m;
	static bool init;
	struct msg_oracle o;

	if (!init) {
		fuzz_init();
		init = true;
	}
	msg_oracle_run(data, size, &m, false, &o);
	if (o.why != NULL) {
		fprintf(stderr, "msg_parse verdict %d, ldns %s: %s\n", o.verdict,
			o.ldns_ok ? "accepts" : "refuses", o.why);
		fuzz_fail(__FILE__, __LINE__, "msg_parse breaks the ldns policy");
	}
	if (o.verdict == MSG_OK) {
		size_t total = (size_t)m.ancount + m.nscount + m.arcount;

		if (m.qdcount > 0)
			check_names(&m, m.qname);
		for (size_t i = 0; i < total; i++)
			check_names(&m, m.rr[i].owner);
	}
	if (fuzz_verbose())
		fprintf(stderr, "msg %d\n", o.verdict);
	return 0;
}
