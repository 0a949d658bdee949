/* SPDX-License-Identifier: MIT */
/*
 * The VMM's control socket: a QMP-like protocol over a UNIX stream socket,
 * one JSON request per line, one JSON reply per line.
 *
 *   -> {"execute": "query-status", "arguments": {...}, "id": ANY}
 *   <- {"return": VALUE, "id": ANY}
 *   <- {"error": {"class": "GenericError", "desc": "..."}, "id": ANY}
 *
 * "arguments" (an object) and "id" (any JSON value, echoed back verbatim:
 * its text as sent, less whitespace) are optional; other members are
 * refused. Replies are compact JSON on one line. Error classes:
 *   InvalidRequest   the line is not JSON, not a request object, too long
 *   CommandNotFound  no such command
 *   GenericError     the arguments do not match the command's spec (desc
 *                    names the argument), or the handler failed (desc is
 *                    its message)
 *
 * One server thread ("control") serves up to CONTROL_MAX_CLIENTS clients
 * with poll(); handlers run on that thread, one at a time, so they must not
 * block for long and must lock whatever VMM state they share with other
 * threads. A request line longer than CONTROL_MAX_LINE bytes gets an
 * InvalidRequest reply and the connection is closed; malformed JSON gets an
 * InvalidRequest reply and the connection stays open.
 *
 * No client can hold up the others or take every slot for good:
 *  - Replies are queued per client and sent without waiting, as the socket
 *    takes them. While more than 256 KiB of replies wait for a client, its
 *    further requests are not read (backpressure: they are answered, in
 *    order, once it reads). A client whose replies make no progress for
 *    CONTROL_SEND_TIMEOUT_MS is dropped.
 *  - A client that has sent nothing and has no reply pending for the idle
 *    timeout (CONTROL_IDLE_TIMEOUT_MS unless set otherwise) is closed.
 *  - When every slot is taken, a new client takes the slot of the client
 *    idle longest if that one has been idle at least CONTROL_EVICT_IDLE_MS
 *    (or a quarter of the idle timeout, if shorter), which is closed;
 *    otherwise the newcomer gets a "too many clients" error and is closed.
 *
 * The built-in command "query-commands" returns
 * [{"name": ..., "help": ...}, ...] for the table plus itself.
 */
#ifndef VMIG_VMM_CONTROL_H
#define VMIG_VMM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_MAX_LINE (64 * 1024) /* bytes per request line, newline excluded */
#define CONTROL_SEND_TIMEOUT_MS 5000
#define CONTROL_IDLE_TIMEOUT_MS 60000 /* the default; see control_server_set_idle_timeout */
#define CONTROL_EVICT_IDLE_MS 5000

/*
 * A handler's return value beyond 0 / negative errno: success, and after the
 * reply has been sent the server stops serving (for "quit"): it closes every
 * client connection and the listening socket and unlinks the socket path;
 * the thread ends. control_server_stop() must still be called to free it.
 */
#define CONTROL_REPLY_AND_CLOSE 1

/*
 * A command's arguments are checked against its spec before its handler
 * runs, strictly: an argument the spec does not name, one of the wrong
 * JSON type, an integer out of [min, max] and a missing required argument
 * are each refused with a GenericError naming the command and the argument
 * ("migrate: unknown argument 'downtme_ms'", "migrate: 'downtime_ms' must
 * be an unsigned integer"). A command with no spec takes no arguments
 * ("arguments": {} is fine). Integers are JSON integers (300, not 300.0 or
 * "300") within int64: Jansson cannot hold one above INT64_MAX, so a u64
 * argument tops out there, and a larger one is refused as out of range.
 */
enum control_arg_type {
	CONTROL_ARG_STRING, /* stored as const char * (valid while the handler runs) */
	CONTROL_ARG_UINT,   /* an integer >= 0, stored as uint64_t */
	CONTROL_ARG_INT,    /* an integer, stored as int64_t */
	CONTROL_ARG_BOOL,   /* true or false, stored as bool */
};

struct control_arg {
	const char *name; /* NULL ends a spec */
	enum control_arg_type type;
	bool required;
	int64_t min, max; /* integers: the range accepted, inclusive */
	size_t offset;    /* where control_args_unpack stores it in the handler's struct */
};

/*
 * Spec entries named after the field of the handler's argument struct that
 * receives them, e.g. CONTROL_ARG_U(struct migrate_args, channels, false, 0, 16).
 * A field of another type than the kind stores fails to compile.
 */
/* clang-format off */
#define CONTROL_ARG_FIELD_(st, f, T)                                                      \
	(offsetof(st, f) + 0 * sizeof(char[_Generic(((st *)0)->f, T: 1, default: -1)]))
#define CONTROL_ARG_S(st, f, req)                                                         \
	{#f, CONTROL_ARG_STRING, req, 0, 0, CONTROL_ARG_FIELD_(st, f, const char *)}
#define CONTROL_ARG_U(st, f, req, lo, hi)                                                 \
	{#f, CONTROL_ARG_UINT, req, lo, hi, CONTROL_ARG_FIELD_(st, f, uint64_t)}
#define CONTROL_ARG_I(st, f, req, lo, hi)                                                 \
	{#f, CONTROL_ARG_INT, req, lo, hi, CONTROL_ARG_FIELD_(st, f, int64_t)}
#define CONTROL_ARG_B(st, f, req)                                                         \
	{#f, CONTROL_ARG_BOOL, req, 0, 0, CONTROL_ARG_FIELD_(st, f, bool)}
/* clang-format on */

/*
 * Check args (an object, or NULL for none) against spec (NULL: takes none)
 * and, if dest is not NULL, store each argument given in its field of dest;
 * fields of arguments not given are left alone (so a handler sets its
 * defaults first). Returns 0, or -EINVAL with "CMD: ..." in err. The server
 * checks before calling a handler, so a handler's unpack with its own spec
 * cannot fail.
 */
int control_args_unpack(const char *cmd, const json_t *args, const struct control_arg *spec,
			void *dest, char *err, size_t errlen);

/*
 * args is the request's "arguments" object (checked against the command's
 * spec), or NULL if there was none. On success set *ret to the reply's
 * value (a new reference; left NULL it replies {}) and return 0 or
 * CONTROL_REPLY_AND_CLOSE. On failure return a negative errno and fill err
 * (if left empty, strerror is used); *ret is then discarded.
 */
typedef int (*control_handler)(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen);

struct control_command {
	const char *name;
	control_handler fn;
	const char *help;               /* one line, may be NULL */
	const struct control_arg *args; /* ended by {NULL}; NULL: takes no arguments */
};

struct control_server;

/*
 * Bind path (mode 0600) and start the server thread. cmds (and the strings
 * it points to) must outlive the server; ctx is passed to every handler.
 * A stale socket file (connecting to it is refused) is replaced; a live
 * server at path, a non-socket file at path, or a path longer than a
 * sockaddr_un allows are refused with a message in err.
 * Returns 0 or a negative errno (-EADDRINUSE for a live server,
 * -ENAMETOOLONG, -EEXIST for a non-socket file, ...).
 */
int control_server_start(struct control_server **out, const char *path,
			 const struct control_command *cmds, size_t ncmds, void *ctx, char *err,
			 size_t errlen);

/*
 * Stop the thread, close every connection, unlink the socket path (if it
 * is still ours) and free. NULL is fine. Must not be called from a handler.
 */
void control_server_stop(struct control_server *srv);

/*
 * Close clients idle for ms milliseconds instead of CONTROL_IDLE_TIMEOUT_MS
 * (0: never; eviction by a newcomer when full still applies). Takes effect
 * at once, from any thread. Returns 0, or -EINVAL for a NULL srv or ms < 0.
 */
int control_server_set_idle_timeout(struct control_server *srv, int ms);

#endif
