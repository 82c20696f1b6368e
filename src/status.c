#include "tierdns/status.h"

const char *tdns_strerror(enum tdns_status s)
{
	switch (s) {
	case TDNS_OK: return "success";
	case TDNS_ENOMEM: return "out of memory";
	case TDNS_EINVAL: return "invalid argument or input";
	case TDNS_ENOTFOUND: return "not found";
	case TDNS_EEXIST: return "already exists";
	case TDNS_EIO: return "I/O error";
	case TDNS_ESTORE: return "storage (LMDB) error";
	case TDNS_EFULL: return "storage map is full";
	case TDNS_ESCHEMA: return "store has an unsupported schema version";
	case TDNS_EPARSE: return "parse error";
	case TDNS_ESPACE: return "buffer too small";
	case TDNS_ETIMEOUT: return "timed out";
	case TDNS_ENET: return "network error";
	case TDNS_EBUSY: return "resource limit reached";
	case TDNS_EACCES: return "permission denied";
	case TDNS_EWRONGTIER: return "store belongs to the other tier";
	}
	return "unknown error";
}
