/*
 * status.h - the one error enum of tierdns.
 *
 * Every module that owns a foreign dependency (LMDB, ldns, the OS) translates
 * that dependency's error codes into enum tdns_status at its own boundary;
 * nothing above the owning module sees MDB_*, ldns_status or errno values.
 * A DNS rcode is not a C error and never travels in this enum.
 */
#ifndef TIERDNS_STATUS_H
#define TIERDNS_STATUS_H

enum tdns_status {
	TDNS_OK = 0,
	TDNS_ENOMEM,    /* allocation failed */
	TDNS_EINVAL,    /* bad argument or malformed input */
	TDNS_ENOTFOUND, /* key, name, zone or cache entry absent (or expired) */
	TDNS_EEXIST,    /* already present */
	TDNS_EIO,       /* file or socket I/O failed */
	TDNS_ESTORE,    /* LMDB failed in a way not listed below */
	TDNS_EFULL,     /* LMDB map full (the caller may evict and retry) */
	TDNS_ESCHEMA,   /* store written by another schema version */
	TDNS_EPARSE,    /* zone text or wire data could not be parsed */
	TDNS_ESPACE,    /* output buffer too small */
	TDNS_ETIMEOUT,  /* a peer did not answer in time */
	TDNS_ENET,      /* socket-level failure */
	TDNS_EBUSY,     /* resource limit reached (too many outstanding/conns) */
	TDNS_EACCES,    /* permission denied (a file, a directory or a port) */
	TDNS_EWRONGTIER, /* a store stamped for the other tier (store.h) */
};

/* Static string describing s; never NULL, never to be freed. */
const char *tdns_strerror(enum tdns_status s);

#endif
