/*
 * config.h - the configuration file: YAML 1.1 read with libyaml (the parser
 * Knot DNS and Knot Resolver 6 use; it gives each node's line and column).
 * The only module that names yaml_* types.
 *
 * The file is one mapping. Its keys are those of the option table in opts.c
 * (the long flag's name: port, max-ttl, ...), plus the sections control:
 * and metrics: (mappings of keys) and zones: (a sequence of mappings, one
 * per zone). A repeatable option takes a sequence (a single scalar is a
 * sequence of one); an optional string takes ~ (null) for "none".
 *
 * Every error is one line "FILE:LINE:COLUMN: ..." naming the key: YAML
 * syntax, unknown key (with "did you mean 'x'?" for a near miss), a key
 * of the other daemon, duplicate key, wrong type, bad value.
 *
 * The interface below is what opts.c gives this module (struct
 * opts_build is opts.c's); the daemons use opts.h only.
 */
#ifndef TIERDNS_CONFIG_H
#define TIERDNS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct opts_build;
struct opts_def;

/* Read the file at path into b. A missing file is an error unless
 * missing_ok (then *found is false and b is unchanged). On error err
 * (cap bytes) holds the one-line message and false is returned. */
bool config_read(struct opts_build *b, const char *path, bool missing_ok, bool *found,
		 char *err, size_t cap);

/* --- provided by opts.c --- */

/* What a key takes. */
enum opts_shape {
	OPTS_SCALAR,   /* one value */
	OPTS_LIST,     /* a sequence of values (or one scalar) */
};

/* The row of key in section (NULL: top level) for this daemon, or NULL
 * with why (cap bytes) saying so: "unknown key 'x' (did you mean 'y'?)" or
 * "key 'x' applies to tierdns-local only". */
const struct opts_def *opts_key_find(struct opts_build *b, const char *section,
				     const char *key, char *why, size_t cap);
/* True when name is a section (control, metrics) at the top level. */
bool opts_is_section(const char *name);
enum opts_shape opts_key_shape(const struct opts_def *d);
/* The full name of d's key for messages: "port", "control.socket". */
const char *opts_key_label(const struct opts_def *d, char *buf, size_t cap);
/* Set d's value from text (NULL: a YAML null). first: the first value of a
 * list from this source (the list is emptied first). On error the message
 * (without position and key) goes into err. The text is copied. */
bool opts_key_set(struct opts_build *b, const struct opts_def *d, const char *text,
		  bool first, char *err, size_t cap);
/* Suggest a key of a zones: stanza, as opts_key_find does. false: unknown. */
bool opts_zone_key(const char *key, char *why, size_t cap);
/* Add a zones: stanza named name (copied). */
bool opts_zone_add(struct opts_build *b, const char *name, char *err, size_t cap);
/* Add a TSIG key of the keys: section (tsig.h; copied). */
bool opts_tsig_add(struct opts_build *b, const char *name, const char *algorithm,
		   const char *secret, char *err, size_t cap);
/* Set key (not name) of the stanza added last from text (NULL: a YAML
 * null); first: the first value of a sequence. */
bool opts_zone_set(struct opts_build *b, const char *key, const char *text,
		   bool first, char *err, size_t cap);
/* Set primary-key or zonefile (key) of the RPZ primary zone the last
 * rpz-primary value named, from text. */
bool opts_rpz_set(struct opts_build *b, const char *key, const char *text, char *err,
		  size_t cap);

#endif
