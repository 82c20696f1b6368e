/*
 * config.c - the YAML configuration file, see config.h. The whole file is
 * loaded as a libyaml document (nodes with their marks), then walked: the
 * top mapping, its sections and zones: stanzas, each value handed to the
 * option table through opts_key_set.
 */
#include "tierdns/config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

/* One walk over one document: where errors point. */
struct walk {
	struct opts_build *b;
	yaml_document_t *doc;
	const char *path;
	char *err;
	size_t cap;
};

/* "FILE:LINE:COLUMN: " + what (marks count from 0, editors from 1). */
static bool fail_at(struct walk *w, yaml_mark_t mark, const char *what)
{
	snprintf(w->err, w->cap, "%s:%zu:%zu: %s", w->path, mark.line + 1, mark.column + 1,
		 what);
	return false;
}

static bool fail_key(struct walk *w, yaml_mark_t mark, const char *key, const char *what)
{
	char msg[400];

	snprintf(msg, sizeof(msg), "key '%s': %s", key, what);
	return fail_at(w, mark, msg);
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a sequence";
	default: return "a value";
	}
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A plain ~, null or nothing: YAML's null (a quoted "null" is a string). */
static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
		strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
}

/* The keys of a mapping, checked for duplicates; calls each(w, key node,
 * value node, ctx) in file order. */
static bool walk_mapping(struct walk *w, yaml_node_t *map,
			 bool (*each)(struct walk *, yaml_node_t *, yaml_node_t *, void *),
			 void *ctx)
{
	yaml_node_pair_t *p, *q;
	yaml_node_t *k, *v, *k2;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(w->doc, p->key);
		v = yaml_document_get_node(w->doc, p->value);
		if (k == NULL || v == NULL)
			return fail_at(w, map->start_mark, "broken mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail_at(w, k->start_mark, "a key must be a plain name");
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			k2 = yaml_document_get_node(w->doc, q->key);
			if (k2 != NULL && k2->type == YAML_SCALAR_NODE &&
			    strcmp(scalar(k2), scalar(k)) == 0) {
				char msg[200];

				snprintf(msg, sizeof(msg), "duplicate key '%s' (first at line %zu)",
					 scalar(k), k2->start_mark.line + 1);
				return fail_at(w, k->start_mark, msg);
			}
		}
		if (!each(w, k, v, ctx))
			return false;
	}
	return true;
}

/* One value for key (label) from node v, which must be a scalar. */
static bool set_scalar(struct walk *w, const struct opts_def *d, const char *label,
		       yaml_node_t *v, bool first)
{
	char why[300], want[80];

	if (v->type != YAML_SCALAR_NODE) {
		snprintf(want, sizeof(want), "expected a single value, got %s", node_kind(v));
		return fail_key(w, v->start_mark, label, want);
	}
	if (!opts_key_set(w->b, d, is_null(v) ? NULL : scalar(v), first, why, sizeof(why)))
		return fail_key(w, v->start_mark, label, why);
	return true;
}

/* key: value, or key: [values] for a list. */
static bool set_key(struct walk *w, const char *section, yaml_node_t *k, yaml_node_t *v)
{
	const struct opts_def *d;
	yaml_node_item_t *it;
	yaml_node_t *item;
	char why[300], label[80];

	d = opts_key_find(w->b, section, scalar(k), why, sizeof(why));
	if (d == NULL)
		return fail_at(w, k->start_mark, why);
	opts_key_label(d, label, sizeof(label));
	if (opts_key_shape(d) == OPTS_SCALAR || v->type != YAML_SEQUENCE_NODE)
		return set_scalar(w, d, label, v, true);
	if (v->data.sequence.items.start == v->data.sequence.items.top)
		return fail_key(w, v->start_mark, label,
				"empty sequence (leave the key out for the default)");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		item = yaml_document_get_node(w->doc, *it);
		if (item == NULL || !set_scalar(w, d, label, item,
						it == v->data.sequence.items.start))
			return item == NULL ? fail_at(w, v->start_mark, "broken sequence") : false;
	}
	return true;
}

static bool section_key(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	return set_key(w, ctx, k, v);
}

/* One key of a zones: stanza; the name is kept for the stanza. The keys
 * other issues add to a stanza (opts.c zone_keys) are read here too. */
static bool zone_key(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	yaml_node_t **name = ctx;
	char why[300], want[80];

	if (!opts_zone_key(scalar(k), why, sizeof(why)))
		return fail_at(w, k->start_mark, why);
	if (strcmp(scalar(k), "name") != 0)
		return true;
	if (v->type != YAML_SCALAR_NODE || is_null(v)) {
		snprintf(want, sizeof(want), "expected a zone name, got %s",
			 v->type == YAML_SCALAR_NODE ? "nothing" : node_kind(v));
		return fail_key(w, v->start_mark, "zones.name", want);
	}
	*name = v;
	return true;
}

/* The other keys of a zones: stanza, once the zone is added: a scalar or
 * a sequence of scalars each. */
static bool zone_value(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	yaml_node_item_t *it;
	yaml_node_t *item;
	char why[300], label[80];

	(void)ctx;
	if (strcmp(scalar(k), "name") == 0)
		return true;
	snprintf(label, sizeof(label), "zones.%s", scalar(k));
	if (v->type == YAML_SCALAR_NODE) {
		if (!opts_zone_set(w->b, scalar(k), is_null(v) ? NULL : scalar(v), true,
				   why, sizeof(why)))
			return fail_key(w, v->start_mark, label, why);
		return true;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_key(w, v->start_mark, label, "expected a value or a sequence");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		item = yaml_document_get_node(w->doc, *it);
		if (item == NULL || item->type != YAML_SCALAR_NODE)
			return fail_key(w, v->start_mark, label, "expected a sequence of values");
		if (!opts_zone_set(w->b, scalar(k), scalar(item),
				   it == v->data.sequence.items.start, why, sizeof(why)))
			return fail_key(w, item->start_mark, label, why);
	}
	return true;
}

static bool zones(struct walk *w, yaml_node_t *v)
{
	yaml_node_item_t *it;
	yaml_node_t *z, *name;
	char why[300];

	if (v->type == YAML_SCALAR_NODE && is_null(v))
		return true;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_key(w, v->start_mark, "zones",
				"expected a sequence of zones (- name: example.)");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		z = yaml_document_get_node(w->doc, *it);
		if (z == NULL || z->type != YAML_MAPPING_NODE)
			return fail_key(w, z != NULL ? z->start_mark : v->start_mark, "zones",
					"expected a zone stanza (- name: example.)");
		name = NULL;
		if (!walk_mapping(w, z, zone_key, &name))
			return false;
		if (name == NULL)
			return fail_key(w, z->start_mark, "zones", "a zone stanza needs a name:");
		if (!opts_zone_add(w->b, scalar(name), why, sizeof(why)))
			return fail_key(w, name->start_mark, "zones.name", why);
		if (!walk_mapping(w, z, zone_value, NULL))
			return false;
	}
	return true;
}

/* One key of a keys: entry: name, algorithm, secret. */
static bool tsig_field(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	yaml_node_t **f = ctx;
	char why[300], label[40];
	const char *key = scalar(k);
	int i = strcmp(key, "name") == 0 ? 0 : strcmp(key, "algorithm") == 0 ? 1
		: strcmp(key, "secret") == 0 ? 2 : -1;

	if (i < 0) {
		snprintf(why, sizeof(why), "unknown key '%s' in a TSIG key (name, "
			 "algorithm, secret)", key);
		return fail_at(w, k->start_mark, why);
	}
	snprintf(label, sizeof(label), "keys.%s", key);
	if (v->type != YAML_SCALAR_NODE || is_null(v))
		return fail_key(w, v->start_mark, label, "expected a value");
	f[i] = v;
	return true;
}

/* keys: a sequence of TSIG keys (tsig.h), read before the zones: that
 * name them. */
static bool tsig_keys(struct walk *w, yaml_node_t *v)
{
	yaml_node_item_t *it;
	yaml_node_t *e, *f[3];
	char why[300];

	if (v->type == YAML_SCALAR_NODE && is_null(v))
		return true;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_key(w, v->start_mark, "keys", "expected a sequence of keys "
				"(- name: k. algorithm: hmac-sha256 secret: BASE64)");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		e = yaml_document_get_node(w->doc, *it);
		if (e == NULL || e->type != YAML_MAPPING_NODE)
			return fail_key(w, e != NULL ? e->start_mark : v->start_mark, "keys",
					"expected a key (- name: k. algorithm: hmac-sha256 "
					"secret: BASE64)");
		f[0] = f[1] = f[2] = NULL;
		if (!walk_mapping(w, e, tsig_field, f))
			return false;
		if (f[0] == NULL || f[2] == NULL)
			return fail_key(w, e->start_mark, "keys", "a key needs a name: and a "
					"secret:");
		if (!opts_tsig_add(w->b, scalar(f[0]), f[1] ? scalar(f[1]) : "hmac-sha256",
				   scalar(f[2]), why, sizeof(why)))
			return fail_key(w, e->start_mark, "keys", why);
	}
	return true;
}

/* One key of a forward: or stub: stanza. */
static bool forward_key(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	yaml_node_t **keys = ctx; /* name, upstream, local */
	static const char *const names[] = { "name", "upstream", "local" };

	for (size_t i = 0; i < 3; i++) {
		if (strcmp(scalar(k), names[i]) == 0) {
			keys[i] = v;
			return true;
		}
	}
	return fail_at(w, k->start_mark, "unknown key of a forward: or stub: stanza (name, "
		       "upstream, local)");
}

/* Each address of a stanza's key, v (one address or a sequence of them),
 * as the value "NAME@ADDR" of row d, name being the stanza's name:; sub
 * names the key in errors. *first: d's list not begun by this source. */
static bool stanza_addrs(struct walk *w, const struct opts_def *d, yaml_node_t *name,
			 yaml_node_t *v, const char *sub, bool *first)
{
	yaml_node_item_t *it, *start = NULL, *top = NULL;
	yaml_node_t *up;
	char text[600], why[300];

	if (v->type == YAML_SEQUENCE_NODE) {
		start = v->data.sequence.items.start;
		top = v->data.sequence.items.top;
		if (start == top)
			return fail_key(w, v->start_mark, sub, "empty sequence");
	} else if (v->type != YAML_SCALAR_NODE || is_null(v)) {
		return fail_key(w, v->start_mark, sub,
				"expected an address or a sequence of them");
	}
	for (it = start; start == NULL || it < top; it++) {
		up = start == NULL ? v : yaml_document_get_node(w->doc, *it);
		if (up == NULL || up->type != YAML_SCALAR_NODE)
			return fail_key(w, v->start_mark, sub, "expected an address");
		snprintf(text, sizeof(text), "%s@%s", scalar(name), scalar(up));
		if (!opts_key_set(w->b, d, text, *first, why, sizeof(why)))
			return fail_key(w, up->start_mark, sub, why);
		*first = false;
		if (start == NULL)
			break;
	}
	return true;
}

/* One item of forward: (or stub:, key): "NAME@ADDR" text, or a stanza
 * {name, upstream: [ADDR...]} or (forward: only) {name, local:
 * nxdomain|refused}, each upstream one NAME@ADDR value of the option. */
static bool forward_item(struct walk *w, const struct opts_def *d, const char *key,
			 yaml_node_t *item, bool first)
{
	yaml_node_t *keys[3] = { NULL, NULL, NULL };
	char text[600], why[300], sub[32];
	bool stub = strcmp(key, "stub") == 0;

	if (item->type == YAML_SCALAR_NODE)
		return set_scalar(w, d, key, item, first);
	if (item->type != YAML_MAPPING_NODE)
		return fail_key(w, item->start_mark, key,
				"expected a stanza (- name: corp.) or NAME@ADDR");
	if (!walk_mapping(w, item, forward_key, keys))
		return false;
	if (keys[0] == NULL || keys[0]->type != YAML_SCALAR_NODE || is_null(keys[0]))
		return fail_key(w, item->start_mark, key, "a stanza needs a name:");
	if (stub && (keys[1] == NULL || keys[2] != NULL))
		return fail_key(w, item->start_mark, key, "a stanza needs upstream: "
				"(the zone's servers) and no local:");
	if ((keys[1] == NULL) == (keys[2] == NULL))
		return fail_key(w, item->start_mark, key,
				"a stanza needs upstream: or local:, not both");
	if (keys[2] != NULL) {
		if (keys[2]->type != YAML_SCALAR_NODE)
			return fail_key(w, keys[2]->start_mark, "forward.local",
					"nxdomain or refused is expected");
		snprintf(text, sizeof(text), "%s@%s", scalar(keys[0]), scalar(keys[2]));
		if (strcmp(scalar(keys[2]), "nxdomain") != 0 &&
		    strcmp(scalar(keys[2]), "refused") != 0)
			return fail_key(w, keys[2]->start_mark, "forward.local",
					"nxdomain or refused is expected");
		if (!opts_key_set(w->b, d, text, first, why, sizeof(why)))
			return fail_key(w, keys[2]->start_mark, "forward.local", why);
		return true;
	}
	snprintf(sub, sizeof(sub), "%s.upstream", key);
	return stanza_addrs(w, d, keys[0], keys[1], sub, &first);
}

static bool forward(struct walk *w, yaml_node_t *k, yaml_node_t *v)
{
	const struct opts_def *d;
	yaml_node_item_t *it;
	yaml_node_t *item;
	char why[300];

	d = opts_key_find(w->b, NULL, scalar(k), why, sizeof(why));
	if (d == NULL)
		return fail_at(w, k->start_mark, why);
	if (v->type != YAML_SEQUENCE_NODE)
		return forward_item(w, d, scalar(k), v, true);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		item = yaml_document_get_node(w->doc, *it);
		if (item == NULL)
			return fail_at(w, v->start_mark, "broken sequence");
		if (!forward_item(w, d, scalar(k), item, it == v->data.sequence.items.start))
			return false;
	}
	return true;
}

/* One key of an rpz: or rpz-primary: stanza: Unbound's rpz: keys (name,
 * primary, zonefile) and zones:'s primary-key. */
static bool rpz_key(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	yaml_node_t **keys = ctx;
	static const char *const names[] = { "name", "primary", "primary-key", "zonefile" };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(scalar(k), names[i]) == 0) {
			if (i != 1 && (v->type != YAML_SCALAR_NODE || is_null(v)))
				return fail_at(w, v->start_mark, "expected a value");
			keys[i] = v;
			return true;
		}
	}
	return fail_at(w, k->start_mark, "unknown key of an rpz: stanza (name, primary, "
		       "primary-key, zonefile)");
}

/* One item of rpz: (a FILE, or a stanza) or rpz-primary: (ZONE@ADDR, or
 * a stanza). A stanza with primary: becomes one rpz-primary value per
 * address, then its primary-key: and zonefile:; an rpz: stanza without
 * primary: is its zonefile: read as a file. first[0]: rpz:'s list not
 * begun yet, first[1]: rpz-primary:'s. */
static bool rpz_item(struct walk *w, const char *key, yaml_node_t *item, bool first[2])
{
	yaml_node_t *keys[4] = { NULL, NULL, NULL, NULL };
	const struct opts_def *files, *prim;
	bool is_rpz = strcmp(key, "rpz") == 0;
	char why[300], sub[40], sub_key[40];

	files = opts_key_find(w->b, NULL, "rpz", why, sizeof(why));
	prim = opts_key_find(w->b, NULL, "rpz-primary", why, sizeof(why));
	if (files == NULL || prim == NULL)
		return fail_at(w, item->start_mark, why);
	if (item->type == YAML_SCALAR_NODE) {
		bool *f = &first[is_rpz ? 0 : 1];

		if (!set_scalar(w, is_rpz ? files : prim, key, item, *f))
			return false;
		*f = false;
		return true;
	}
	if (item->type != YAML_MAPPING_NODE)
		return fail_key(w, item->start_mark, key, "expected a stanza (- name: rpz.example.)");
	if (!walk_mapping(w, item, rpz_key, keys))
		return false;
	if (keys[0] == NULL)
		return fail_key(w, item->start_mark, key, "a stanza needs a name:");
	if (keys[1] == NULL) {
		if (!is_rpz || keys[3] == NULL || keys[2] != NULL)
			return fail_key(w, item->start_mark, key,
					is_rpz ? "a stanza needs primary: or zonefile:, and "
						 "primary-key: only with primary:"
					       : "a stanza needs primary:");
		if (!set_scalar(w, files, "rpz.zonefile", keys[3], first[0]))
			return false;
		first[0] = false;
		return true;
	}
	snprintf(sub, sizeof(sub), "%s.primary", key);
	if (!stanza_addrs(w, prim, keys[0], keys[1], sub, &first[1]))
		return false;
	for (size_t i = 2; i < 4; i++) {
		const char *name = i == 2 ? "primary-key" : "zonefile";

		snprintf(sub_key, sizeof(sub_key), "%s.%s", key, name);
		if (keys[i] != NULL && !opts_rpz_set(w->b, name, scalar(keys[i]), why, sizeof(why)))
			return fail_key(w, keys[i]->start_mark, sub_key, why);
	}
	return true;
}

/* rpz: and rpz-primary:, a value or a sequence of them. */
static bool rpz(struct walk *w, yaml_node_t *k, yaml_node_t *v)
{
	yaml_node_item_t *it;
	yaml_node_t *item;
	bool first[2] = { true, true };
	char why[300];
	const struct opts_def *d = opts_key_find(w->b, NULL, scalar(k), why, sizeof(why));

	if (d == NULL)
		return fail_at(w, k->start_mark, why);
	if (v->type != YAML_SEQUENCE_NODE)
		return rpz_item(w, scalar(k), v, first);
	if (v->data.sequence.items.start == v->data.sequence.items.top)
		return fail_key(w, v->start_mark, scalar(k),
				"empty sequence (leave the key out for the default)");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		item = yaml_document_get_node(w->doc, *it);
		if (item == NULL)
			return fail_at(w, v->start_mark, "broken sequence");
		if (!rpz_item(w, scalar(k), item, first))
			return false;
	}
	return true;
}

/* The keys: section first (zones: refer to its keys by name). */
static bool top_tsig(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	(void)ctx;
	return strcmp(scalar(k), "keys") != 0 || tsig_keys(w, v);
}

static bool top_key(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	char want[80];

	(void)ctx;
	if (strcmp(scalar(k), "keys") == 0)
		return true; /* top_tsig read it */
	if (strcmp(scalar(k), "zones") == 0)
		return zones(w, v);
	if (strcmp(scalar(k), "forward") == 0 || strcmp(scalar(k), "stub") == 0)
		return forward(w, k, v);
	if (strcmp(scalar(k), "rpz") == 0 || strcmp(scalar(k), "rpz-primary") == 0)
		return rpz(w, k, v);
	if (!opts_is_section(scalar(k)))
		return set_key(w, NULL, k, v);
	if (v->type == YAML_SCALAR_NODE && is_null(v))
		return true;
	if (v->type != YAML_MAPPING_NODE) {
		snprintf(want, sizeof(want), "expected a mapping of keys, got %s", node_kind(v));
		return fail_key(w, v->start_mark, scalar(k), want);
	}
	return walk_mapping(w, v, section_key, (void *)scalar(k));
}

bool config_read(struct opts_build *b, const char *path, bool missing_ok, bool *found,
		 char *err, size_t cap)
{
	yaml_parser_t parser;
	yaml_document_t doc, more;
	struct walk w = { b, &doc, path, err, cap };
	bool parser_ok = false, doc_ok = false, ok = false;
	yaml_node_t *root;
	yaml_mark_t m;
	struct stat sb;
	FILE *f;

	*found = false;
	f = fopen(path, "r");
	if (f == NULL) {
		if (missing_ok && errno == ENOENT)
			return true;
		snprintf(err, cap, "cannot read configuration file %s: %s", path, strerror(errno));
		return false;
	}
	*found = true;
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(err, cap, "cannot read configuration file %s: %s", path, strerror(EISDIR));
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, cap, "%s: out of memory", path);
		goto out;
	}
	parser_ok = true;
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc))
		goto syntax;
	doc_ok = true;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) { /* an empty file: every default */
		ok = true;
		goto out;
	}
	if (root->type == YAML_SCALAR_NODE && is_null(root)) {
		ok = true;
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		fail_at(&w, root->start_mark, "expected a mapping of keys (key: value) at the top");
		goto out;
	}
	if (!walk_mapping(&w, root, top_tsig, NULL) ||
	    !walk_mapping(&w, root, top_key, NULL))
		goto out;
	/* One document per file: a second one would be silently ignored. */
	if (!yaml_parser_load(&parser, &more))
		goto syntax;
	root = yaml_document_get_root_node(&more);
	m = root != NULL ? root->start_mark : parser.mark;
	yaml_document_delete(&more);
	if (root != NULL) {
		fail_at(&w, m, "a second YAML document (one per file)");
		goto out;
	}
	ok = true;
	goto out;
syntax:
	m = parser.problem_mark;
	if (parser.error == YAML_READER_ERROR || parser.error == YAML_MEMORY_ERROR)
		snprintf(err, cap, "%s: %s", path,
			 parser.problem ? parser.problem : "cannot read the file");
	else if (parser.context != NULL)
		snprintf(err, cap, "%s:%zu:%zu: YAML syntax error: %s %s (line %zu)", path,
			 m.line + 1, m.column + 1, parser.problem, parser.context,
			 parser.context_mark.line + 1);
	else
		snprintf(err, cap, "%s:%zu:%zu: YAML syntax error: %s", path, m.line + 1,
			 m.column + 1, parser.problem ? parser.problem : "invalid");
out:
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	fclose(f);
	return ok;
}
