/*
 * pipeline.h - the stages every query goes through, in a fixed order:
 *
 *   parse (qctx.h)  -> edns -> access -> opcode dispatch -> answer
 *                   -> limit -> encode -> post-answer hooks
 *
 * A daemon describes its stages in a struct tdns_pipeline (constant: the
 * per-query state travels in the ctx argument); features plug
 * in as stages (an ACL or rate limit is an access stage, NOTIFY or UPDATE
 * an opcode handler, statistics and logging a hook), never as edits inside
 * a lookup. Bytes in, bytes out: no sockets here.
 *
 * What pipeline_run answers by itself:
 *   - QCTX_DROP: nothing;
 *   - malformed (QCTX_FORMERR): FORMERR, the question when it parsed;
 *   - EDNS version > 0: BADVERS with an OPT of version 0 (RFC 6891 6.1.3);
 *   - an opcode without a handler: NOTIMP, header only, no flags but QR
 *     (RFC 8906 8.1.4);
 *   - data that cannot be encoded (encode.h TDNS_EINVAL): SERVFAIL.
 * An answer that a stage gave as a replay (answer.h, replycache.h) is
 * written from it, not encoded.
 */
#ifndef TIERDNS_PIPELINE_H
#define TIERDNS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierdns/answer.h"
#include "tierdns/qctx.h"

enum pipeline_verdict {
	PIPELINE_ANSWER = 0, /* encode the answer */
	PIPELINE_DROP,       /* send nothing */
	PIPELINE_DEFER,      /* the stage took the query over: nothing is
			      * sent now, its owner answers later */
};

/* A stage sees the parsed query and fills (or edits) the answer. */
typedef enum pipeline_verdict (*pipeline_stage_fn)(void *ctx,
						   const struct tdns_qctx *q,
						   struct tdns_answer *a);
/* A hook sees what was sent (len 0: nothing was). */
typedef void (*pipeline_hook_fn)(void *ctx, const struct tdns_qctx *q,
				 const struct tdns_answer *a, size_t len);

#define PIPELINE_OPCODES 16

struct tdns_pipeline {
	pipeline_stage_fn edns;                       /* NULL: none. Sees every
						       * QUERY first: the EDNS
						       * options of its reply
						       * (cookies, keepalive) */
	pipeline_stage_fn access;                     /* NULL: everyone */
	pipeline_stage_fn opcode[PIPELINE_OPCODES];   /* NULL: NOTIMP */
	pipeline_stage_fn limit;                      /* NULL: none. Sees every
						       * answer to a query with a
						       * handler (a rate limit):
						       * may drop it or empty it */
	pipeline_hook_fn done;                        /* NULL: none */
	bool ra;                                      /* RA on every reply to a
						       * QUERY (recursion
						       * available) */
};

/*
 * Run in[0..len) through p, passing ctx to every stage: q->transport and q->peer must be set by the
 * caller; a is working memory (its contents are the answer sent). On
 * PIPELINE_ANSWER the reply is out[0..*out_len) (cap >= QCTX_MAX_MSG;
 * *out_len 0 when it could not be written: send nothing); on DROP and
 * DEFER nothing was written. The hooks run for ANSWER and DROP; a stage
 * that defers runs them itself when it answers.
 */
enum pipeline_verdict pipeline_run(const struct tdns_pipeline *p, void *ctx,
				   struct tdns_qctx *q,
		  struct tdns_answer *a, const uint8_t *in, size_t len,
		  uint8_t *out, size_t cap, size_t *out_len);

/*
 * Statistics, the hook every pipeline has: pipeline_run on the calling
 * thread counts into s (stats.h) from now on each query it answers (by
 * transport, rcode, opcode, qtype) or drops; a query a stage defers is
 * counted by its owner when answered (stats_answer_late). NULL: count nothing (the default). A worker binds
 * its own counters on its own thread, which keeps stats.h's rule that
 * only their thread writes them, and costs a query no lookup of them.
 */
struct tdns_stats;
void pipeline_bind_stats(struct tdns_stats *s);

#endif
