/*
 * tierdns-zone - seed and inspect the LMDB store of a tier.
 *
 *   tierdns-zone [-d DIR] [-v] COMMAND ...
 *     load FILE...              parse, then replace each zone (one transaction)
 *     check FILE...             parse and validate only
 *     list                      zones, serials, counts; cache entries
 *     dump [ZONE]               master-file text of every zone or one
 *     add 'RR'                  add one record to its closest enclosing zone
 *     delete NAME TYPE [RDATA]  remove an RRset or one record (in a local
 *                               store, a cached answer outside every zone)
 *     remove-zone NAME          remove a zone and all its records
 *     sign ZONE KEY... [opts]   (re-)sign a zone in the store (zonesign.h)
 *     ds ZONE                   the DS records of the zone's KSKs
 *     verify ZONE               verify a signed zone in the store
 *
 * Exit status: 0 ok, 1 runtime error, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tierdns/cache.h"
#include "tierdns/clock.h"
#include "tierdns/journal.h"
#include "tierdns/log.h"
#include "tierdns/name.h"
#include "tierdns/status.h"
#include "tierdns/store.h"
#include "tierdns/zonedb.h"
#include "tierdns/zoneload.h"
#include "tierdns/zonesign.h"

#define EXIT_USAGE 2
#define DEFAULT_DB TDNS_STATE_DIR "/upper" /* the upper's default store */

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [-d DIR] [-v] COMMAND [ARG...]\n"
		"\n"
		"Seed and inspect the LMDB store of a tierdns tier.\n"
		"\n"
		"commands:\n"
		"  load FILE... [--force]    parse RFC 1035 master files and replace each\n"
		"                            zone (all files in one transaction: all or none);\n"
		"                            a changed zone whose serial is not above the\n"
		"                            stored one is refused (--force: stored with\n"
		"                            the stored serial + 1)\n"
		"  check FILE...             validate master files without writing (signed\n"
		"                            zones: verify their signatures and chain)\n"
		"  list                      zones with serial, RRset/record counts and load\n"
		"                            time, and the number of cache entries\n"
		"  dump [ZONE]               print every zone (or one) as master-file text\n"
		"  add 'RR'                  add one record, e.g.\n"
		"                            add 'www.site. 300 IN A 192.0.2.1'\n"
		"                            (to the closest enclosing zone in the store)\n"
		"  delete NAME TYPE [RDATA]  delete the RRset NAME TYPE, or the one record\n"
		"                            with that RDATA, e.g. delete www.site. A 192.0.2.1;\n"
		"                            in a local store, NAME TYPE outside every zone\n"
		"                            deletes the cached answer (a running tierdns-local:\n"
		"                            tierdns-control cache flush NAME TYPE)\n"
		"  remove-zone NAME          remove the zone NAME with all its records (the\n"
		"                            SOA included)\n"
		"  sign ZONE KEY... [--nsec3] [--optout] [--iterations N] [--salt HEX]\n"
		"       [--validity DAYS] [--refresh DAYS]\n"
		"                            sign (again) a zone of the store with ldns-keygen\n"
		"                            key pairs (Kzone+alg+tag, .key and .private;\n"
		"                            flags 257: KSK); NSEC unless --nsec3 (RFC 9276\n"
		"                            defaults: 0 iterations, no salt); new signatures\n"
		"                            valid %u days; a signature that expires later\n"
		"                            than --refresh days from now is kept (default\n"
		"                            a quarter of the validity; 0 renews all); the\n"
		"                            SOA serial goes up by one; add and delete sign\n"
		"                            what they change with the same keys and options\n"
		"  ds ZONE                   print the DS records of the zone's KSKs\n"
		"  verify ZONE               verify a signed zone of the store: signatures\n"
		"                            valid now, NSEC/NSEC3 chain complete\n"
		"                            (check FILE... does the same for signed files)\n"
		"\n"
		"options:\n"
		"  -d, --db DIR     LMDB environment directory, created if missing\n"
		"                   (default %s)\n"
		"  -s, --serial-policy increment|unixtime\n"
		"                   how add and delete raise the zone's SOA serial:\n"
		"                   by one, or to the time in seconds since the epoch\n"
		"                   when that is ahead (else by one); default: the\n"
		"                   zone's serial-policy in tierdns.conf (recorded in\n"
		"                   the store by tierdns-upper), else by one\n"
		"  -v, --verbose    more log output (repeat for debug)\n"
		"  -h, --help       this text\n"
		"  -V, --version    print the version\n"
		"\n"
		"exit status: 0 ok, 1 runtime error (bad zone file, store failure),\n"
		"2 usage error\n",
		prog, ZONESIGN_VALIDITY / 86400u, DEFAULT_DB);
}

/*
 * As root, in a store that belongs to another user (the daemons' user: the
 * owner of the store directory, or of its parent when the directory is new,
 * as /var/lib/tierdns is under systemd's StateDirectory=), hand the
 * directory and the files LMDB created to that user: a data.mdb or
 * lock.mdb owned by root would lock the daemon out of its own store.
 */
static void follow_owner(const char *dir)
{
	static const char *const files[] = { "", "/data.mdb", "/lock.mdb" };
	char path[PATH_MAX], parent[PATH_MAX], *slash;
	struct stat d, f;
	size_t i;

	if (geteuid() != 0 || stat(dir, &d) != 0)
		return;
	if (d.st_uid == 0) {
		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash == NULL)
			snprintf(parent, sizeof(parent), ".");
		else if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(parent, &d) != 0 || d.st_uid == 0)
			return;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, files[i]);
		if (lstat(path, &f) != 0 || f.st_uid == d.st_uid ||
		    (!S_ISREG(f.st_mode) && !S_ISDIR(f.st_mode)))
			continue;
		if (chown(path, d.st_uid, d.st_gid) != 0)
			fprintf(stderr, "%s: cannot hand it to uid %u: %s\n", path,
				(unsigned)d.st_uid, strerror(errno));
	}
}

static int open_store(const char *dir, bool rdonly, struct tdns_store **s)
{
	struct tdns_store_opts opts = { 0, rdonly ? STORE_RDONLY : 0, 0 };
	enum tdns_status st;

	st = store_open(dir, &opts, s);
	if (st == TDNS_ENOTFOUND && rdonly) {
		fprintf(stderr, "%s: no store here (load a zone into it first)\n", dir);
		return 1;
	}
	if (st != TDNS_OK) {
		fprintf(stderr, "%s: cannot open store: %s\n", dir, tdns_strerror(st));
		return 1;
	}
	if (!rdonly)
		follow_owner(dir);
	return 0;
}

/* The store opened read-only with a read transaction on it, for the
 * commands that only look; prints why not. 0 on success. */
static int open_reading(const char *dir, struct tdns_store **s,
			struct tdns_txn **t)
{
	if (open_store(dir, true, s) != 0)
		return 1;
	if (store_begin(*s, false, t) != TDNS_OK) {
		fprintf(stderr, "%s: cannot read the store\n", dir);
		return 1;
	}
	return 0;
}

static int usage_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define DONE_MAX 2048
/* The line that says a parent followed the change of its delegation
 * (zonesign_follow_cut), appended to done, to print once t is committed. */
static void done_line(const struct journal_cut *cut, uint32_t serial, char *done)
{
	const uint8_t *parent;
	char name[4 * NAME_WIRE_MAX];
	size_t plen, len;

	parent = journal_cut_parent(cut, &plen);
	zoneload_key_str(parent, plen, name, sizeof(name));
	len = strlen(done);
	snprintf(done + len, DONE_MAX - len,
		 "zone %s: serial %u (its delegation of a zone below changed)\n", name,
		 (unsigned)serial);
}

/* After a change of a zone in t (its own diff written), its parent's
 * side (zonesign_follow_cut), its line into done. */
static enum tdns_status follow_cut(struct tdns_txn *t, struct journal_cut *cut, char *err,
				   size_t errlen, char *done)
{
	uint32_t serial = 0;
	bool followed;
	enum tdns_status st;

	st = zonesign_follow_cut(t, cut, &followed, &serial, err, errlen);
	if (st == TDNS_OK && followed)
		done_line(cut, serial, done);
	return st;
}

/* The cuts of the zones of zs held now (journal_cut_take), cuts[i] for zone
 * i (NULL: none). */
static enum tdns_status take_cuts(struct tdns_txn *t, struct tdns_zoneset *zs,
				  struct journal_cut **cuts)
{
	struct zoneload_info info;
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	enum tdns_status st = TDNS_OK;

	for (size_t i = 0; st == TDNS_OK && i < zoneload_count(zs); i++) {
		zoneload_info(zs, i, &info);
		st = zoneload_name_key(info.name, key, &klen);
		if (st == TDNS_OK)
			st = journal_cut_take(t, key, klen, &cuts[i]);
	}
	return st;
}

/* The zones of zs into the store in one write transaction; the signing
 * keys remembered for each are forgotten (zonesign_forget): the file is
 * the zone now, and only a `sign` after it chooses keys again. A parent
 * held here whose delegation to one of them changed gets a diff too
 * (follow_cut). */
static enum tdns_status load_txn(struct tdns_zoneset *zs, struct tdns_store *s)
{
	struct tdns_txn *t = NULL;
	struct zoneload_info info;
	struct journal_cut **cuts;
	uint8_t key[NAME_KEY_MAX];
	char err[ZONELOAD_ERR_MAX] = "", done[DONE_MAX] = "";
	size_t i, klen, n = zoneload_count(zs);
	enum tdns_status st;

	cuts = calloc(n ? n : 1, sizeof(*cuts));
	if (cuts == NULL)
		return TDNS_ENOMEM;
	st = store_begin(s, true, &t);
	if (st == TDNS_OK)
		st = take_cuts(t, zs, cuts);
	if (st == TDNS_OK)
		st = zoneload_apply(zs, t);
	for (i = 0; st == TDNS_OK && i < n; i++) {
		zoneload_info(zs, i, &info);
		st = zoneload_name_key(info.name, key, &klen);
		if (st == TDNS_OK)
			st = zonesign_forget(t, key, klen);
	}
	for (i = 0; st == TDNS_OK && i < n; i++)
		st = follow_cut(t, cuts[i], err, sizeof(err), done);
	if (st != TDNS_OK && err[0] != '\0')
		fprintf(stderr, "%s\n", err);
	if (st == TDNS_OK) {
		st = store_commit(t);
		t = NULL;
	}
	if (st == TDNS_OK)
		fputs(done, stdout);
	store_abort(t);
	for (i = 0; i < n; i++)
		journal_cut_free(cuts[i]);
	free(cuts);
	return st;
}

/* Parse every file; prints each error. Returns the set or NULL. */
static struct tdns_zoneset *parse_files(int argc, char **argv)
{
	struct tdns_zoneset *zs = zoneload_new();
	char err[ZONELOAD_ERR_MAX];
	bool ok = true;
	int i;

	if (zs == NULL) {
		fprintf(stderr, "out of memory\n");
		return NULL;
	}
	for (i = 0; i < argc; i++) {
		if (zoneload_file(zs, argv[i], err, sizeof(err)) != TDNS_OK) {
			fprintf(stderr, "%s\n", err);
			ok = false;
		}
	}
	if (!ok) {
		zoneload_free(zs);
		return NULL;
	}
	return zs;
}

/*
 * A signed zone among the files is verified too (zonesign_verify, as
 * ldns-verify-zone does), through a scratch store that is removed after.
 * Returns the number of zones that do not verify, -1 on a store error.
 */
static int check_signed(struct tdns_zoneset *zs)
{
	char dir[] = "/tmp/tierdns-check.XXXXXX", path[sizeof(dir) + 16];
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	struct zoneload_info info;
	enum tdns_status st;
	unsigned problems;
	int bad = -1;
	size_t i;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	if (store_open(dir, NULL, &s) != TDNS_OK || zoneload_commit(zs, s) != TDNS_OK ||
	    store_begin(s, false, &t) != TDNS_OK)
		goto out;
	bad = 0;
	for (i = 0; i < zoneload_count(zs); i++) {
		zoneload_info(zs, i, &info);
		st = zonesign_verify(t, info.name, clock_now(), stdout, &problems);
		if (st == TDNS_EINVAL)
			continue; /* not signed */
		if (st != TDNS_OK) {
			bad = -1;
			goto out;
		}
		printf("%s: zone %s: %s\n", info.file, info.name, problems == 0 ?
		       "signatures and chain verify" : "DNSSEC does NOT verify");
		bad += problems > 0;
	}
out:
	if (bad < 0)
		fprintf(stderr, "cannot verify the signed zones in %s\n", dir);
	store_abort(t);
	store_close(s);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	return bad;
}

static int cmd_check(int argc, char **argv)
{
	struct tdns_zoneset *zs = parse_files(argc, argv);
	struct zoneload_info info;
	size_t i;
	int bad;

	if (zs == NULL)
		return 1;
	for (i = 0; i < zoneload_count(zs); i++) {
		zoneload_info(zs, i, &info);
		printf("%s: zone %s serial %u: %u records in %u RRsets, OK\n",
		       info.file, info.name, (unsigned)info.serial,
		       (unsigned)info.records, (unsigned)info.rrsets);
	}
	bad = check_signed(zs);
	zoneload_free(zs);
	return bad == 0 ? 0 : 1;
}

static int cmd_load(const char *dir, int argc, char **argv)
{
	struct tdns_zoneset *zs = NULL;
	struct tdns_store *s = NULL;
	struct zoneload_info info;
	enum tdns_status st;
	size_t i;
	int rc = 1, nfiles = 0;
	bool force = false;

	/* --force: a changed zone whose serial did not go up is stored with
	 * the old serial + 1 instead of being refused. */
	for (i = 0; i < (size_t)argc; i++)
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else
			argv[nfiles++] = argv[i];
	if (nfiles == 0) {
		rc = usage_line("no zone files given (tierdns-zone load FILE...)");
		goto out;
	}
	zs = parse_files(nfiles, argv);
	if (zs == NULL) {
		fprintf(stderr, "nothing loaded\n");
		goto out;
	}
	if (!force)
		zoneload_refuse_old_serial(zs);
	if (open_store(dir, false, &s) != 0)
		goto out;
	st = load_txn(zs, s);
	if (st != TDNS_OK) {
		fprintf(stderr, "%s: cannot store the zones: %s; nothing loaded\n",
			dir, tdns_strerror(st));
		goto out;
	}
	for (i = 0; i < zoneload_count(zs); i++) {
		zoneload_info(zs, i, &info);
		printf("%s: zone %s serial %u: %u records loaded into %s",
		       info.file, info.name, (unsigned)info.serial,
		       (unsigned)(info.records - info.occluded), dir);
		if (info.occluded > 0)
			printf(" (%u at or below deeper zones not stored)",
			       (unsigned)info.occluded);
		printf("\n");
	}
	rc = 0;
out:
	store_close(s);
	zoneload_free(zs);
	return rc;
}

static int list_one(void *ctx, const uint8_t *apex, size_t apex_len,
		    const struct tdns_zone_meta *m)
{
	(void)ctx;
	zonedb_print_zone(stdout, apex, apex_len, m);
	return 0;
}

static int cmd_list(const char *dir)
{
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	int rc = 1;

	if (open_reading(dir, &s, &t) != 0)
		goto out;
	zonedb_print_zone(stdout, NULL, 0, NULL);
	if (zonedb_list(t, list_one, NULL, NULL) != TDNS_OK) {
		fprintf(stderr, "%s: cannot list the zones\n", dir);
		goto out;
	}
	printf("cache entries: %zu\n", store_count(t, TDNS_DB_CACHE));
	rc = 0;
out:
	store_abort(t);
	store_close(s);
	return rc;
}

struct dump_all {
	struct tdns_txn *t;
	enum tdns_status st;
};

static int dump_zone(void *ctx, const uint8_t *apex, size_t apex_len,
		     const struct tdns_zone_meta *m)
{
	struct dump_all *d = ctx;

	(void)m;
	d->st = zoneload_dump(d->t, apex, apex_len, stdout);
	return d->st != TDNS_OK;
}

static int cmd_dump(const char *dir, const char *zone)
{
	struct tdns_store *s = NULL;
	struct dump_all d = { NULL, TDNS_OK };
	uint8_t key[NAME_KEY_MAX];
	size_t klen;
	enum tdns_status st;
	int rc = 1;

	if (zone != NULL && zoneload_name_key(zone, key, &klen) != TDNS_OK) {
		fprintf(stderr, "'%s' is not a valid zone name\n", zone);
		return EXIT_USAGE;
	}
	if (open_reading(dir, &s, &d.t) != 0)
		goto out;
	if (zone != NULL) {
		d.st = zoneload_dump(d.t, key, klen, stdout);
		if (d.st == TDNS_ENOTFOUND) {
			fprintf(stderr, "%s: no zone %s in the store\n", dir, zone);
			goto out;
		}
	} else {
		st = zonedb_list(d.t, dump_zone, &d, NULL);
		if (st != TDNS_OK) {
			d.st = st;
		} else if (d.st == TDNS_OK && cache_count(d.t) > 0) {
			/* A local tier's store: after its static zones, what
			 * it has cached, with the TTL each record has left
			 * now (SPEC "Programs"). */
			printf("; cache\n");
			d.st = cache_dump(d.t, clock_now(), stdout);
		}
	}
	if (d.st != TDNS_OK) {
		fprintf(stderr, "%s: dump failed: %s\n", dir, tdns_strerror(d.st));
		goto out;
	}
	if (fflush(stdout) != 0) {
		perror("stdout");
		goto out;
	}
	rc = 0;
out:
	store_abort(d.t);
	store_close(s);
	return rc;
}

/*
 * delete NAME TYPE for a name no zone in the store encloses: in a local
 * store that is a cached answer (the question NAME TYPE), removed whole.
 * Returns 1 when it removed one, 0 when there is no zone and no such
 * answer either (err says so), -1 when a zone encloses the name (the
 * caller deletes from the zone) or on an error (err set).
 */
static int delete_cached(struct tdns_txn *t, int argc, char **argv, char *err,
			 size_t errlen)
{
	uint8_t key[NAME_KEY_MAX];
	struct tdns_zone_meta m;
	size_t klen, apex_len, n = 0;
	int type;

	if (zoneload_name_key(argv[0], key, &klen) != TDNS_OK)
		return -1; /* zoneload_delete says why */
	if (zonedb_find(t, key, klen, &apex_len, &m) != TDNS_ENOTFOUND)
		return -1;
	type = (int)ldns_get_rr_type_by_name(argv[1]);
	if (type <= 0)
		return -1;
	if (argc > 2) {
		snprintf(err, errlen, "%s: no zone in the store encloses this name "
			 "(a cached answer is deleted whole: delete NAME TYPE)", argv[0]);
		return 0;
	}
	if (cache_flush(t, CACHE_FLUSH_NAME, key, klen, (uint16_t)type, &n) != TDNS_OK) {
		snprintf(err, errlen, "%s %s: cannot delete the cached answer", argv[0],
			 argv[1]);
		return 0;
	}
	if (n == 0)
		snprintf(err, errlen, "%s: no zone in the store encloses this name, "
			 "and no answer to %s %s is cached", argv[0], argv[0], argv[1]);
	return n > 0 ? 1 : 0;
}

/* The apex of the zone the edit is in (add: the owner of the record,
 * its first word). Nonzero when there is none: the edit says why. */
static int edit_apex(struct tdns_txn *t, const char *name, uint8_t *key, size_t *apex_len)
{
	char owner[4 * NAME_WIRE_MAX + 2];
	size_t n = strcspn(name, " \t"), klen;

	if (n >= sizeof(owner))
		return -1;
	memcpy(owner, name, n);
	owner[n] = '\0';
	if (zoneload_name_key(owner, key, &klen) != TDNS_OK)
		return -1;
	return zonedb_find(t, key, klen, apex_len, NULL) == TDNS_OK ? 0 : -1;
}

/*
 * One edit of a zone, and of a signed zone its signing again with the
 * keys its last `sign` used (zonesign_resign), both in one journal diff;
 * then its parent's, when the edit changed the delegation (follow_cut,
 * its line into done).
 */
static enum tdns_status edit_zone(struct tdns_txn *t, int argc, char **argv, bool add,
				  char *err, size_t errlen, char *done)
{
	uint8_t apex[NAME_KEY_MAX];
	struct journal_cut *cut = NULL;
	size_t alen = 0;
	bool followed, resigned = false;
	enum tdns_status st;

	followed = edit_apex(t, argv[0], apex, &alen) == 0;
	st = followed ? journal_cut_take(t, apex, alen, &cut) : TDNS_OK;
	if (st == TDNS_OK && followed)
		st = journal_begin(t, apex, alen);
	if (st != TDNS_OK) {
		journal_cut_free(cut);
		return st;
	}
	if (add)
		st = zoneload_add(t, argv[0], err, errlen);
	else
		st = zoneload_delete(t, argv[0], argv[1], argc > 2 ? argv[2] : NULL, err,
				     errlen);
	if (st == TDNS_OK && followed)
		st = zonesign_resign(t, apex, alen, clock_now(), &resigned, err, errlen);
	if (followed) {
		if (st == TDNS_OK)
			st = journal_end(t, true);
		else
			journal_end(t, false);
	}
	if (st == TDNS_OK)
		st = follow_cut(t, cut, err, errlen, done);
	journal_cut_free(cut);
	return st;
}

/* add and delete: one write transaction around one edit. */
static int cmd_edit(const char *dir, int argc, char **argv, bool add)
{
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	char err[ZONELOAD_ERR_MAX] = "", done[DONE_MAX] = "";
	enum tdns_status st;
	int rc = 1, cached = -1;

	if (open_store(dir, false, &s) != 0)
		goto out;
	st = store_begin(s, true, &t);
	if (st == TDNS_OK && !add) {
		cached = delete_cached(t, argc, argv, err, sizeof(err));
		if (cached == 0)
			st = TDNS_ENOTFOUND;
	}
	if (st == TDNS_OK && cached < 0)
		st = edit_zone(t, argc, argv, add, err, sizeof(err), done);
	if (st != TDNS_OK) {
		fprintf(stderr, "%s\n", err[0] ? err : tdns_strerror(st));
		if (!add && strcasecmp(argv[1], "SOA") == 0)
			fprintf(stderr, "(tierdns-zone remove-zone NAME removes a whole "
				"zone, its SOA included)\n");
		goto out;
	}
	st = store_commit(t);
	t = NULL;
	if (st != TDNS_OK) {
		fprintf(stderr, "%s: commit failed: %s\n", dir, tdns_strerror(st));
		goto out;
	}
	if (add)
		printf("%s: added %s\n", dir, argv[0]);
	else if (cached > 0)
		printf("%s: deleted the cached answer to %s %s\n", dir, argv[0], argv[1]);
	else
		printf("%s: deleted %s %s%s%s\n", dir, argv[0], argv[1],
		       argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
	fputs(done, stdout);
	rc = 0;
out:
	store_abort(t);
	store_close(s);
	return rc;
}


/* sign ZONE KEY... with its options anywhere after ZONE. */
static int cmd_sign(const char *dir, int argc, char **argv)
{
	struct zonesign_opts o = { .now = clock_now() };
	static uint8_t salt[255];
	const char **keys = NULL;
	struct tdns_store *s = NULL;
	char err[ZONELOAD_ERR_MAX] = "";
	size_t nkeys = 0;
	long refresh = -1;
	enum tdns_status st;
	int i, rc = 1;

	keys = calloc((size_t)argc, sizeof(*keys));
	if (keys == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end;
		unsigned long v;

		if (strcmp(a, "--nsec3") == 0) {
			o.nsec3 = true;
		} else if (strcmp(a, "--optout") == 0) {
			o.nsec3 = o.optout = true;
		} else if (strcmp(a, "--iterations") == 0 && i + 1 < argc) {
			v = strtoul(argv[++i], &end, 10);
			/* RFC 9276 3.1: more than 0 buys nothing; 2500 was
			 * RFC 5155's highest. */
			if (*end != '\0' || v > 2500) {
				rc = usage_line("sign: --iterations takes 0 to 2500");
				goto out;
			}
			o.iterations = (uint16_t)v;
			o.nsec3 = true;
		} else if (strcmp(a, "--salt") == 0 && i + 1 < argc) {
			const char *h = argv[++i];
			size_t n = strcmp(h, "-") == 0 ? 0 : strlen(h), j;

			if (n % 2 != 0 || n / 2 > sizeof(salt)) {
				rc = usage_line("sign: --salt takes hex octets or -");
				goto out;
			}
			for (j = 0; j < n; j += 2) {
				char b[3] = { h[j], h[j + 1], 0 };

				salt[j / 2] = (uint8_t)strtoul(b, &end, 16);
				if (*end != '\0') {
					rc = usage_line("sign: --salt takes hex octets or -");
					goto out;
				}
			}
			o.salt = salt;
			o.salt_len = (uint8_t)(n / 2);
			o.nsec3 = true;
		} else if (strcmp(a, "--validity") == 0 && i + 1 < argc) {
			v = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || v == 0 || v > 3650) {
				rc = usage_line("sign: --validity takes 1 to 3650 days");
				goto out;
			}
			o.validity = (uint32_t)(v * 86400u);
		} else if (strcmp(a, "--refresh") == 0 && i + 1 < argc) {
			v = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || v > 3650) {
				rc = usage_line("sign: --refresh takes 0 to 3650 days");
				goto out;
			}
			refresh = (long)v;
		} else if (a[0] == '-') {
			rc = usage_line("sign: unknown option %s", a);
			goto out;
		} else {
			keys[nkeys++] = a;
		}
	}
	/* BIND's default: renew what expires within a quarter of the
	 * validity (sig-validity-interval 30 days, refresh 7.5). */
	if (refresh < 0)
		o.refresh = (o.validity ? o.validity : ZONESIGN_VALIDITY) / 4u;
	else
		o.refresh = (uint32_t)refresh * 86400u;
	if (nkeys == 0) {
		rc = usage_line("sign: no key files given (tierdns-zone sign ZONE "
				"Kzone+013+12345...)");
		goto out;
	}
	if (open_store(dir, false, &s) != 0)
		goto out;
	st = zonesign_sign(s, argv[0], keys, nkeys, &o, err, sizeof(err));
	if (st != TDNS_OK) {
		fprintf(stderr, "%s\n", err[0] ? err : tdns_strerror(st));
		goto out;
	}
	printf("%s: zone %s signed with %zu key(s), %s\n", dir, argv[0], nkeys,
	       o.nsec3 ? (o.optout ? "NSEC3 opt-out" : "NSEC3") : "NSEC");
	rc = 0;
out:
	store_close(s);
	free(keys);
	return rc;
}

/* ds ZONE and verify ZONE: read-only looks at one zone. */
static int cmd_zone_dnssec(const char *dir, const char *zone, bool verify)
{
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	enum tdns_status st;
	unsigned problems = 0;
	int rc = 1;

	if (open_reading(dir, &s, &t) != 0)
		goto out;
	st = verify ? zonesign_verify(t, zone, clock_now(), stdout, &problems)
		    : zonesign_ds(t, zone, stdout);
	if (st == TDNS_ENOTFOUND) {
		fprintf(stderr, "%s: %s\n", zone, verify ? "no such zone in the store"
			: "no such zone or no DNSKEY at its apex");
		goto out;
	}
	if (st == TDNS_EINVAL) {
		fprintf(stderr, "%s: %s\n", zone, verify ? "not signed (no DNSKEY "
			"at its apex)" : "not a zone name");
		goto out;
	}
	if (st != TDNS_OK) {
		fprintf(stderr, "%s: %s\n", zone, tdns_strerror(st));
		goto out;
	}
	if (verify)
		printf("%s: %s\n", zone, problems == 0 ? "signatures and chain verify"
			: "does NOT verify");
	rc = problems == 0 ? 0 : 1;
out:
	store_abort(t);
	store_close(s);
	return rc;
}

/* remove-zone NAME: the zone's metadata and every RRset of it, SOA
 * included, in one transaction (deeper zones stay); its parent's
 * transfers lose the delegation, a diff of the parent (zonesign_remove_zone). */
static int cmd_remove_zone(const char *dir, const char *zone)
{
	struct tdns_store *s = NULL;
	struct tdns_txn *t = NULL;
	struct tdns_zone_meta m;
	struct journal_cut *cut = NULL;
	uint8_t key[NAME_KEY_MAX];
	char err[ZONELOAD_ERR_MAX] = "", done[DONE_MAX] = "";
	size_t klen;
	uint32_t serial = 0;
	bool followed = false;
	enum tdns_status st;
	int rc = 1;

	if (zoneload_name_key(zone, key, &klen) != TDNS_OK) {
		fprintf(stderr, "'%s' is not a valid zone name\n", zone);
		return EXIT_USAGE;
	}
	if (open_store(dir, false, &s) != 0)
		goto out;
	st = store_begin(s, true, &t);
	if (st == TDNS_OK)
		st = zonedb_get_meta(t, key, klen, &m);
	if (st == TDNS_ENOTFOUND) {
		fprintf(stderr, "%s: no zone %s in the store (tierdns-zone list shows "
			"them)\n", dir, zone);
		goto out;
	}
	if (st == TDNS_OK)
		st = zonesign_remove_zone(t, key, klen, &cut, &followed, &serial, err,
					  sizeof(err));
	if (st == TDNS_OK && followed)
		done_line(cut, serial, done);
	if (st == TDNS_OK) {
		st = store_commit(t);
		t = NULL;
	}
	if (st != TDNS_OK) {
		fprintf(stderr, "%s: cannot remove zone %s: %s\n", dir, zone,
			err[0] != '\0' ? err : tdns_strerror(st));
		goto out;
	}
	printf("%s: removed zone %s (%u RRsets, %u records)\n", dir, zone,
	       (unsigned)m.rrsets, (unsigned)m.records);
	fputs(done, stdout);
	rc = 0;
out:
	journal_cut_free(cut);
	store_abort(t);
	store_close(s);
	return rc;
}

/* Each command's argument count, and what its one-line error says. */
static const struct command {
	const char *name;
	int min_args, max_args;
	const char *need;
} commands[] = {
	{ "load", 1, INT_MAX, "no zone files given (tierdns-zone load FILE...)" },
	{ "check", 1, INT_MAX, "no zone files given (tierdns-zone check FILE...)" },
	{ "list", 0, 0, "takes no arguments" },
	{ "dump", 0, 1, "takes at most one zone name (tierdns-zone dump [ZONE])" },
	{ "add", 1, 1, "needs one record in quotes (tierdns-zone add "
		       "'www.site. 300 IN A 192.0.2.1')" },
	{ "delete", 2, 3, "needs NAME TYPE [RDATA] (tierdns-zone delete www.site. A)" },
	{ "sign", 2, INT_MAX, "needs ZONE KEY... (tierdns-zone sign site. "
			      "Ksite.+013+12345 Ksite.+013+23456)" },
	{ "ds", 1, 1, "needs one zone name (tierdns-zone ds site.)" },
	{ "verify", 1, 1, "needs one zone name (tierdns-zone verify site.)" },
	{ "remove-zone", 1, 1, "needs one zone name (tierdns-zone remove-zone site.)" },
};

/* A usage error: one line (--help has the rest). */
__attribute__((format(printf, 1, 2)))
static int usage_line(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tierdns-zone: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see tierdns-zone --help\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "serial-policy", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = DEFAULT_DB, *cmd;
	int level = TDNS_LOG_WARN, c, nargs;
	char **args;

	opterr = 0; /* usage_line says it, in one line */
	while ((c = getopt_long(argc, argv, "+d:s:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 's':
			if (strcmp(optarg, "increment") == 0)
				zoneload_serial_policy = ZONEDB_SERIAL_INCREMENT;
			else if (strcmp(optarg, "unixtime") == 0)
				zoneload_serial_policy = ZONEDB_SERIAL_UNIXTIME;
			else
				return usage_line("--serial-policy: increment or unixtime, "
						  "not '%s'", optarg);
			break;
		case 'v':
			if (level < TDNS_LOG_DEBUG)
				level++;
			break;
		case 'h':
			usage(stdout, "tierdns-zone");
			return 0;
		case 'V':
			printf("tierdns-zone %s\n", TDNS_VERSION);
			return 0;
		default:
			return usage_line("unknown option or missing value: %s",
					  argv[optind - 1]);
		}
	}
	log_init("tierdns-zone", (enum tdns_log_level)level);
	if (optind >= argc)
		return usage_line("a command is required (load, check, list, dump, "
				  "add, delete, remove-zone, sign, ds, verify)");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	for (c = 0; c < (int)(sizeof(commands) / sizeof(commands[0])); c++) {
		if (strcmp(cmd, commands[c].name) != 0)
			continue;
		if (nargs < commands[c].min_args || nargs > commands[c].max_args)
			return usage_line("%s: %s", commands[c].name, commands[c].need);
		break;
	}
	if (strcmp(cmd, "load") == 0)
		return cmd_load(dir, nargs, args);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(nargs, args);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(dir);
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(dir, nargs == 1 ? args[0] : NULL);
	if (strcmp(cmd, "add") == 0)
		return cmd_edit(dir, nargs, args, true);
	if (strcmp(cmd, "delete") == 0)
		return cmd_edit(dir, nargs, args, false);
	if (strcmp(cmd, "remove-zone") == 0)
		return cmd_remove_zone(dir, args[0]);
	if (strcmp(cmd, "sign") == 0)
		return cmd_sign(dir, nargs, args);
	if (strcmp(cmd, "ds") == 0)
		return cmd_zone_dnssec(dir, args[0], false);
	if (strcmp(cmd, "verify") == 0)
		return cmd_zone_dnssec(dir, args[0], true);
	return usage_line("unknown command '%s' (load, check, list, dump, add, "
			  "delete, remove-zone, sign, ds, verify)", cmd);
}
