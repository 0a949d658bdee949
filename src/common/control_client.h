/* SPDX-License-Identifier: MIT */
/* The client side of the control socket (see src/vmm/control.h). */
#ifndef VMIG_CONTROL_CLIENT_H
#define VMIG_CONTROL_CLIENT_H

#include <stddef.h>

#include "common/json.h"

#define CONTROL_CALL_TIMEOUT_MS 10000
#define CONTROL_MAX_REPLY (16u << 20) /* longest reply line accepted */

/*
 * Connect to the control socket at path. *fd_out is a blocking, close-on-exec
 * socket for the caller to close. Errors, with a message in err:
 * -ENOENT (no socket there: is the VM running?), -ECONNREFUSED (a stale
 * socket: nothing listens), -ENAMETOOLONG, -EACCES, other -errno.
 */
int control_connect(const char *path, int *fd_out, char *err, size_t errlen);

/*
 * Send {"execute": command, "arguments": args, "id": N} as one line and
 * wait up to CONTROL_CALL_TIMEOUT_MS for the reply line. args is a JSON
 * object (borrowed, not taken), or NULL for none.
 *
 * On success returns 0 and, if reply_return is non-NULL, hands over the
 * reply's "return" value (a reference for the caller to json_decref). On
 * failure returns a negative errno with a message in err; for an error
 * reply err holds the server's desc and the result is -EOPNOTSUPP
 * (CommandNotFound), -EINVAL (InvalidRequest) or -EREMOTEIO (GenericError
 * and others). -ETIMEDOUT, -EPIPE/-ECONNRESET (server went away) and
 * -EPROTO (a reply that is not valid or answers another id) are possible
 * too; after any of those the connection should be closed.
 */
int control_call(int fd, const char *command, json_t *args, json_t **reply_return, char *err,
		 size_t errlen);

/* The same with a caller-chosen timeout in milliseconds. */
int control_call_timeout(int fd, const char *command, json_t *args, int timeout_ms,
			 json_t **reply_return, char *err, size_t errlen);

#endif
