/*
 * pipeline.c - the fixed order of stages a query goes through (pipeline.h).
 */
#include "tierdns/pipeline.h"

#include "tierdns/dnsproto.h"
#include "tierdns/encode.h"
#include "tierdns/log.h"
#include "tierdns/replycache.h"
#include "tierdns/stats.h"

static _Thread_local struct tdns_stats *bound;

void pipeline_bind_stats(struct tdns_stats *s)
{
	bound = s;
}

enum pipeline_verdict pipeline_run(const struct tdns_pipeline *p, void *ctx,
				   struct tdns_qctx *q,
		  struct tdns_answer *a, const uint8_t *in, size_t len,
		  uint8_t *out, size_t cap, size_t *out_len)
{
	struct tdns_stats *stats = bound;
	enum pipeline_verdict v = PIPELINE_ANSWER;
	enum tdns_status st;

	*out_len = 0;
	answer_reset(a);
	switch (qctx_parse(q, in, len)) {
	case QCTX_DROP:
		if (stats != NULL)
			stats_answered(stats, q->transport != QCTX_UDP, false, 0, 0,
				       false, 0);
		return PIPELINE_DROP;
	case QCTX_FORMERR:
		a->rcode = DNS_RCODE_FORMERR;
		a->ra = p->ra;
		goto encode;
	case QCTX_BADVERS:
		a->rcode = DNS_RCODE_BADVERS;
		a->ra = p->ra;
		goto encode;
	case QCTX_OPCODE:
	case QCTX_OK:
		break;
	}
	if (p->opcode[q->opcode] == NULL) {
		/* RFC 8906 8.1.4: NOTIMP, header only. */
		q->has_q = false;
		q->edns = false;
		a->rcode = DNS_RCODE_NOTIMP;
		goto encode;
	}
	a->ra = p->ra;
	if (p->edns != NULL)
		v = p->edns(ctx, q, a);
	if (v == PIPELINE_ANSWER && a->rcode == DNS_RCODE_NOERROR && p->access != NULL)
		v = p->access(ctx, q, a);
	if (v == PIPELINE_ANSWER && a->rcode == DNS_RCODE_NOERROR)
		v = p->opcode[q->opcode](ctx, q, a);
	if (v == PIPELINE_DEFER)
		return v;
	if (v == PIPELINE_ANSWER && p->limit != NULL)
		v = p->limit(ctx, q, a);
	if (v == PIPELINE_DROP)
		goto done;
	if (a->replay != NULL) {
		*out_len = replycache_write(a, q, out, cap);
		goto done;
	}
encode:
	st = encode_reply(q, a, out, cap, out_len);
	if (st == TDNS_EINVAL) {
		log_err("stored data does not encode; answering SERVFAIL");
		answer_fail(a, DNS_RCODE_SERVFAIL, EDE_OTHER, "stored data is corrupt");
		st = encode_reply(q, a, out, cap, out_len);
	}
	if (st != TDNS_OK)
		*out_len = 0;
done:
	if (stats != NULL)
		stats_answered(stats, q->transport != QCTX_UDP, *out_len > 0,
			       a->rcode, q->opcode, q->has_q, q->qtype);
	if (p->done != NULL)
		p->done(ctx, q, a, *out_len);
	return v;
}
