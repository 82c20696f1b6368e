/*
 * daemon.c - threads, signals and shutdown shared by tierdns-upper and
 * tierdns-local (daemon.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "tierdns/daemon.h"
#include "tierdns/log.h"

struct daemon_run_state;

struct daemon_thread {
	struct daemon_run_state *rs;
	unsigned id;
	pthread_t thread;
	bool started;
};

struct daemon_run_state {
	daemon_run_fn run;
	void *ctx;
	atomic_bool failed;
};

static void signals_set(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGHUP);
	sigaddset(sigs, SIGUSR1);
}

/* SIGUSR1's hook (daemon_set_usr1); set before daemon_run. */
static void (*usr1_fn)(void *ctx);
static void *usr1_ctx;

void daemon_set_usr1(void (*fn)(void *ctx), void *ctx)
{
	usr1_fn = fn;
	usr1_ctx = ctx;
}

/* sd_notify(3): a no-op without NOTIFY_SOCKET (not started by systemd). */
static void notify(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_warn("sd_notify %s: %s", state, strerror(-rc));
}

/* RELOADING=1 carries the time it began (CLOCK_MONOTONIC, in us), which
 * systemd uses to tell this reload from an earlier one. */
static void notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
			 (unsigned long long)ts.tv_nsec / 1000ull);
	notify(msg);
}

void daemon_signals_init(void)
{
	sigset_t sigs;

	signal(SIGPIPE, SIG_IGN);
	/* A shell starting us in the background leaves SIGINT ignored, and an
	 * ignored signal is discarded even while blocked: sigwait() needs the
	 * default disposition. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL); /* nohup leaves it ignored */
	signal(SIGUSR1, SIG_DFL);
	signals_set(&sigs);
	/* Blocked before any thread exists, so every thread inherits it. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
}

static void *daemon_thread_main(void *arg)
{
	struct daemon_thread *t = arg;
	enum tdns_status st;

	st = t->rs->run(t->rs->ctx, t->id);
	if (st != TDNS_OK) {
		log_err("worker %u: %s", t->id, tdns_strerror(st));
		atomic_store(&t->rs->failed, true);
		/* Wake the main thread's sigwait() so the whole server exits. */
		kill(getpid(), SIGTERM);
	}
	return NULL;
}

/* SIGHUP and "tierdns-control reload" may come at once: one at a time. */
static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;

void daemon_reload(daemon_reload_fn reload, void *ctx, const char *why)
{
	pthread_mutex_lock(&reload_mu);
	notify_reloading();
	log_info("%s: reloading", why);
	if (reload != NULL)
		reload(ctx);
	log_info("reloaded");
	notify("READY=1");
	pthread_mutex_unlock(&reload_mu);
}

int daemon_run(unsigned n_threads, daemon_loop_fn loop, daemon_run_fn run,
	       daemon_reload_fn reload, void *ctx)
{
	struct daemon_run_state rs;
	struct daemon_thread *threads = NULL;
	sigset_t sigs;
	unsigned i;
	int rc = 1, sig = 0, err;

	rs.run = run;
	rs.ctx = ctx;
	atomic_init(&rs.failed, false);
	threads = calloc(n_threads, sizeof(*threads));
	if (threads == NULL) {
		log_err("%s", tdns_strerror(TDNS_ENOMEM));
		goto out;
	}
	for (i = 0; i < n_threads; i++) {
		threads[i].rs = &rs;
		threads[i].id = i;
		err = pthread_create(&threads[i].thread, NULL, daemon_thread_main,
				     &threads[i]);
		if (err != 0) {
			log_err("cannot start thread: %s", strerror(err));
			goto out;
		}
		threads[i].started = true;
	}
	signals_set(&sigs);
	notify("READY=1");
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGUSR1 && !atomic_load(&rs.failed)) {
			if (usr1_fn != NULL)
				usr1_fn(usr1_ctx);
			continue;
		}
		if (sig != SIGHUP || atomic_load(&rs.failed))
			break;
		/* SIGHUP (logrotate, systemctl reload) never stops the server. */
		daemon_reload(reload, ctx, "SIGHUP");
	}
	notify("STOPPING=1");
	if (!atomic_load(&rs.failed)) {
		log_info("stopping (%s)", sig == SIGINT ? "SIGINT" : "SIGTERM");
		rc = 0;
	}
out:
	if (threads != NULL) {
		for (i = 0; i < n_threads; i++) {
			if (threads[i].started)
				netio_loop_stop(loop(ctx, i));
		}
		for (i = 0; i < n_threads; i++) {
			if (threads[i].started)
				pthread_join(threads[i].thread, NULL);
		}
		free(threads);
	}
	return rc;
}

static enum tdns_status user_check(const struct tdns_opts *o)
{
	struct passwd *pw;
	struct stat sb;

	if (o->user != NULL) {
		errno = 0;
		pw = getpwnam(o->user);
		if (pw == NULL) {
			log_err("--user %s: %s", o->user,
				errno != 0 ? strerror(errno) : "no such user");
			return TDNS_ENOTFOUND;
		}
		if (geteuid() != 0 && pw->pw_uid != geteuid()) {
			log_err("--user %s needs root (this process runs as uid %u)",
				o->user, (unsigned)geteuid());
			return TDNS_EACCES;
		}
	}
	if (o->chroot_dir != NULL) {
		if (stat(o->chroot_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			log_err("--chroot %s: not a directory", o->chroot_dir);
			return TDNS_ENOTFOUND;
		}
		if (geteuid() != 0) {
			log_err("--chroot %s needs root", o->chroot_dir);
			return TDNS_EACCES;
		}
	}
	return TDNS_OK;
}

/* The store's directory and LMDB files to uid:gid, so that the daemon can
 * still write them (and open them after a restart) once it is uid. */
static enum tdns_status store_chown(const char *dir, uid_t uid, gid_t gid)
{
	static const char *const files[] = { "", "/data.mdb", "/lock.mdb" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s%s", dir, files[i]) >=
		    sizeof(path))
			return TDNS_EINVAL;
		if (lchown(path, uid, gid) != 0) {
			log_err("cannot hand %s to uid %u: %s", path, (unsigned)uid,
				strerror(errno));
			return TDNS_EIO;
		}
	}
	return TDNS_OK;
}

/* Only a pid file this process wrote is removed at exit (not that of
 * another instance whose start this one failed to repeat). */
static bool pid_file_written;

static enum tdns_status pid_file_write(const char *path)
{
	char text[32];
	int fd, n;
	bool ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err("--pid-file %s: %s", path, strerror(errno));
		return errno == EACCES ? TDNS_EACCES : TDNS_EIO;
	}
	n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	ok = write(fd, text, (size_t)n) == n;
	if (close(fd) != 0)
		ok = false;
	if (!ok) {
		log_err("--pid-file %s: %s", path, strerror(errno));
		return TDNS_EIO;
	}
	pid_file_written = true;
	return TDNS_OK;
}

enum tdns_status daemon_drop(const struct tdns_opts *o)
{
	struct passwd *pw = NULL;
	enum tdns_status st;
	uid_t uid = 0;
	gid_t gid = 0;

	if (o->pid_file != NULL) {
		st = pid_file_write(o->pid_file);
		if (st != TDNS_OK)
			return st;
	}
	if (o->user != NULL) {
		pw = getpwnam(o->user);
		if (pw == NULL) {
			log_err("--user %s: no such user", o->user);
			return TDNS_ENOTFOUND;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (o->user != NULL && geteuid() == 0) {
		st = store_chown(o->db_dir, uid, gid);
		if (st != TDNS_OK)
			return st;
		/* Before chroot: initgroups reads the group database. */
		if (initgroups(o->user, gid) != 0 || setgid(gid) != 0) {
			log_err("--user %s: cannot set its groups: %s", o->user,
				strerror(errno));
			return TDNS_EACCES;
		}
	}
	if (o->chroot_dir != NULL) {
		if (chroot(o->chroot_dir) != 0 || chdir("/") != 0) {
			log_err("--chroot %s: %s", o->chroot_dir, strerror(errno));
			return TDNS_EACCES;
		}
		log_info("root directory is now %s", o->chroot_dir);
	}
	if (o->user != NULL && geteuid() == 0) {
		if (setuid(uid) != 0) {
			log_err("--user %s: %s", o->user, strerror(errno));
			return TDNS_EACCES;
		}
		/* Root must be gone for good, not only for now. */
		if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
			log_err("--user %s: root could be regained; stopping", o->user);
			return TDNS_EACCES;
		}
#ifdef __SANITIZE_ADDRESS__
		/* A credential change makes the process undumpable, and then
		 * LeakSanitizer cannot inspect its own threads at exit. Only
		 * in sanitizer (test) builds. */
		prctl(PR_SET_DUMPABLE, 1);
#endif
		log_info("running as user %s (uid %u, gid %u)", o->user, (unsigned)uid,
			 (unsigned)gid);
	} else if (geteuid() == 0) {
		log_info("running as root (--user NAME drops root once the sockets "
			 "are bound)");
	}
	return TDNS_OK;
}

void daemon_cleanup(const struct tdns_opts *o)
{
	/* Best effort: after --user or --chroot the file may be out of
	 * reach (its directory is root's, or outside the new root). */
	if (pid_file_written && unlink(o->pid_file) != 0)
		log_debug("--pid-file %s not removed: %s", o->pid_file, strerror(errno));
}

/* One line naming the store and the cause, and for a permission problem
 * what to do about it. */
static void report_open_error(const char *dir, enum tdns_status st)
{
	struct passwd *pw;
	struct stat sb;

	if (st != TDNS_EACCES) {
		log_err("cannot open store %s: %s", dir, tdns_strerror(st));
		return;
	}
	if (stat(dir, &sb) == 0 && sb.st_uid != geteuid()) {
		pw = getpwuid(sb.st_uid);
		if (sb.st_uid == 0)
			log_err("cannot open store %s: %s (it belongs to root: start as "
				"root, and --user NAME hands it to NAME after binding)",
				dir, tdns_strerror(st));
		else if (pw != NULL)
			log_err("cannot open store %s: %s (it belongs to user %s: run as "
				"that user, or start as root with --user %s)", dir,
				tdns_strerror(st), pw->pw_name, pw->pw_name);
		else
			log_err("cannot open store %s: %s (it belongs to uid %u)", dir,
				tdns_strerror(st), (unsigned)sb.st_uid);
		return;
	}
	log_err("cannot open store %s: %s (this user may not create or write it; "
		"choose a writable --db DIR)", dir, tdns_strerror(st));
}

enum tdns_status daemon_open(const struct tdns_opts *o,
			     const struct tdns_store_opts *so,
			     struct tdns_store **out)
{
	struct tdns_store *store = NULL;
	enum tdns_status st;

	/* --user and --chroot are checked before anything is opened, so
	 * that a typo fails at once rather than after binding. */
	st = user_check(o);
	if (st != TDNS_OK)
		goto out;
	st = store_open(o->db_dir, so, &store);
	if (st != TDNS_OK) {
		report_open_error(o->db_dir, st);
		goto out;
	}
	/* --reuse-port: other processes on the port are the point. */
	for (unsigned i = 0; i < o->n_listen && !o->reuse_port; i++) {
		st = netio_listen_probe(&o->listen[i]);
		if (st != TDNS_OK)
			goto out;
	}
	*out = store;
	store = NULL;
out:
	store_close(store);
	return st;
}

/* ---- periodic work ------------------------------------------------- */

struct daemon_ticker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	uint64_t interval_ms;
	void (*fn)(void *ctx);
	void *ctx;
};

static void *ticker_main(void *arg)
{
	struct daemon_ticker *t = arg;
	struct timespec until;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(t->interval_ms / 1000u);
		until.tv_nsec += (long)(t->interval_ms % 1000u) * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!t->stop &&
		       pthread_cond_timedwait(&t->cond, &t->mu, &until) != ETIMEDOUT)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->mu);
		t->fn(t->ctx);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

enum tdns_status daemon_ticker_start(uint64_t interval_ms, void (*fn)(void *ctx),
				     void *ctx, struct daemon_ticker **out)
{
	struct daemon_ticker *t;
	pthread_condattr_t ca;
	int err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return TDNS_ENOMEM;
	t->interval_ms = interval_ms > 0 ? interval_ms : 1;
	t->fn = fn;
	t->ctx = ctx;
	pthread_mutex_init(&t->mu, NULL);
	/* Monotonic: a clock step does not skip or repeat a period. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&t->thread, NULL, ticker_main, t);
	if (err != 0) {
		log_err("cannot start a thread: %s", strerror(err));
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return TDNS_EIO;
	}
	*out = t;
	return TDNS_OK;
}

void daemon_ticker_stop(struct daemon_ticker *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void daemon_identity(const struct tdns_opts *o, char *host, size_t cap, const char **ident,
		     struct tdns_auth_cfg *chaos)
{
	*ident = o->identity;
	if (*ident == NULL && cap > 0 && gethostname(host, cap) == 0) {
		host[cap - 1] = '\0';
		*ident = host;
	}
	chaos->identity = o->hide_identity ? NULL : *ident;
	if (o->hide_version)
		chaos->version = NULL;
	else if (o->version_string != NULL)
		chaos->version = o->version_string;
	else
		chaos->version = "tierdns " TDNS_VERSION;
}
