/* SPDX-License-Identifier: MIT */
#include "common/control_client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/errmsg.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int control_connect(const char *path, int *fd_out, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = CONTROL_CALL_TIMEOUT_MS / 1000};
	size_t plen;
	int fd, e;

	if (err && errlen)
		err[0] = 0;
	*fd_out = -1;
	if (!path || !path[0]) {
		errmsg_set(err, errlen, "no control socket path given");
		return -EINVAL;
	}
	plen = strlen(path);
	if (plen >= sizeof(addr.sun_path)) {
		errmsg_set(err, errlen, "control socket path is too long (%zu bytes, at most %zu): %s",
			plen, sizeof(addr.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, plen + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		errmsg_set(err, errlen, "cannot create a socket: %s", strerror(e));
		return -e;
	}
	/* A UNIX connect() waits for room in the backlog this long at most. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
		e = errno;
		if (e == EINTR)
			continue;
		close(fd);
		switch (e) {
		case ENOENT:
			errmsg_set(err, errlen, "no control socket at %s (is the VM running?)", path);
			break;
		case ECONNREFUSED:
			errmsg_set(err, errlen,
				"nothing is listening on %s (the VM has exited or it is not a "
				"control socket)",
				path);
			break;
		case EACCES:
		case EPERM:
			errmsg_set(err, errlen, "permission denied connecting to control socket %s",
				path);
			break;
		case EAGAIN:
			errmsg_set(err, errlen, "control socket %s is not accepting connections",
				path);
			e = ETIMEDOUT;
			break;
		default:
			errmsg_set(err, errlen, "cannot connect to control socket %s: %s", path,
				strerror(e));
			break;
		}
		return -e;
	}
	*fd_out = fd;
	return 0;
}

/* Wait for events on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *data, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int rc = wait_fd(fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Read one line (without its newline) into a malloc'd, NUL-terminated
 * buffer. Peeks first so that no byte past the newline is consumed.
 */
static int read_line(int fd, int64_t deadline, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	for (;;) {
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			if (ncap > CONTROL_MAX_REPLY + 1)
				ncap = CONTROL_MAX_REPLY + 1;
			if (ncap - len <= 1) {
				rc = -EMSGSIZE;
				goto fail;
			}
			char *nb = realloc(buf, ncap);
			if (!nb) {
				rc = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0)
			goto fail;
		ssize_t n = recv(fd, buf + len, cap - len - 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0) {
			rc = -ECONNRESET;
			goto fail;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			rc = -errno;
			goto fail;
		}
		char *nl = memchr(buf + len, '\n', (size_t)n);
		size_t want = nl ? (size_t)(nl - (buf + len)) + 1 : (size_t)n;
		while (want) {
			ssize_t got = recv(fd, buf + len, want, MSG_DONTWAIT);
			if (got <= 0) {
				if (got < 0 && errno == EINTR)
					continue;
				rc = got == 0 ? -ECONNRESET : -errno;
				goto fail;
			}
			len += (size_t)got;
			want -= (size_t)got;
		}
		if (nl) {
			buf[--len] = 0; /* drop the newline */
			*out = buf;
			*out_len = len;
			return 0;
		}
	}
fail:
	free(buf);
	return rc;
}

/* Send the request line for command; *id is what its reply must carry. */
static int send_request(int fd, const char *command, json_t *args, int64_t deadline, uint64_t *id,
			char *err, size_t errlen)
{
	struct timespec ts;
	json_t *req;
	char *text;
	int rc;

	if (args && !json_is_object(args)) {
		errmsg_set(err, errlen, "arguments for %s must be a JSON object", command);
		return -EINVAL;
	}
	/* Monotonic nanoseconds: unique per connection, and within json_int_t for centuries. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	*id = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	req = json_pack("{s:s, s:O*, s:I}", "execute", command, "arguments", args, "id",
			(json_int_t)*id);
	text = req ? json_dumps(req, VMIG_JSON_DUMP) : NULL;
	json_decref(req);
	if (!text) {
		errmsg_set(err, errlen, "cannot encode the %s request (out of memory, or not UTF-8)",
			command);
		return -EINVAL;
	}
	rc = send_all(fd, text, strlen(text), deadline);
	if (rc == 0)
		rc = send_all(fd, "\n", 1, deadline);
	free(text);
	if (rc == -EPIPE || rc == -ECONNRESET)
		errmsg_set(err, errlen, "the control socket closed the connection (the VM may have exited)");
	else if (rc < 0)
		errmsg_set(err, errlen, "cannot send the %s request: %s", command, strerror(-rc));
	return rc;
}

/* Read reply lines until one that is not an asynchronous event: *reply. */
static int read_reply(int fd, const char *command, int64_t deadline, int timeout_ms,
		      json_t **reply, char *err, size_t errlen)
{
	json_error_t e;
	char *line = NULL; /* gcc -O3 cannot see read_line set both on success */
	size_t len = 0;
	int rc;

	for (;;) {
		rc = read_line(fd, deadline, &line, &len);
		if (rc == -ETIMEDOUT)
			errmsg_set(err, errlen, "no reply to %s within %d ms", command, timeout_ms);
		else if (rc == -ECONNRESET)
			errmsg_set(err, errlen,
				"the control socket closed the connection before replying to %s "
				"(the VM may have exited)",
				command);
		else if (rc == -EMSGSIZE)
			errmsg_set(err, errlen, "the reply to %s is longer than %u bytes", command,
				CONTROL_MAX_REPLY);
		else if (rc < 0)
			errmsg_set(err, errlen, "cannot read the reply to %s: %s", command,
				strerror(-rc));
		if (rc < 0)
			return rc == -EMSGSIZE ? -EPROTO : rc;
		*reply = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
		free(line);
		if (!*reply) {
			errmsg_set(err, errlen, "invalid reply to %s: %s", command, e.text);
			return -EPROTO;
		}
		if (!json_object_get(*reply, "event") || json_object_get(*reply, "return") ||
		    json_object_get(*reply, "error"))
			return 0;
		json_decref(*reply); /* an asynchronous event: not ours */
	}
}

static int class_errno(const char *cls)
{
	if (cls && strcmp(cls, "CommandNotFound") == 0)
		return -EOPNOTSUPP;
	if (cls && strcmp(cls, "InvalidRequest") == 0)
		return -EINVAL;
	return -EREMOTEIO;
}

int control_call_timeout(int fd, const char *command, json_t *args, int timeout_ms,
			 json_t **reply_return, char *err, size_t errlen)
{
	json_t *reply = NULL, *error, *rid;
	uint64_t id;
	int rc;

	if (timeout_ms <= 0)
		timeout_ms = CONTROL_CALL_TIMEOUT_MS;
	int64_t deadline = now_ms() + timeout_ms;
	if (err && errlen)
		err[0] = 0;
	if (reply_return)
		*reply_return = NULL;
	if (fd < 0 || !command || !command[0]) {
		errmsg_set(err, errlen, "control_call: no connection or no command");
		return -EINVAL;
	}
	rc = send_request(fd, command, args, deadline, &id, err, errlen);
	if (rc == 0)
		rc = read_reply(fd, command, deadline, timeout_ms, &reply, err, errlen);
	if (rc < 0)
		return rc;

	error = json_object_get(reply, "error");
	rid = json_object_get(reply, "id");
	if (!error && !json_object_get(reply, "return")) {
		errmsg_set(err, errlen, "invalid reply to %s: neither return nor error", command);
		rc = -EPROTO;
	} else if (!json_is_integer(rid) || (uint64_t)json_integer_value(rid) != id) {
		/* Replies to malformed requests carry no id; ours is always well formed. */
		const char *desc = json_string_value(json_object_get(error, "desc"));
		if (error)
			errmsg_set(err, errlen, "%s", desc ? desc : "?");
		else
			errmsg_set(err, errlen, "the reply to %s answers another request", command);
		rc = -EPROTO;
	} else if (error) {
		const char *desc = json_string_value(json_object_get(error, "desc"));
		errmsg_set(err, errlen, "%s", desc ? desc : "unknown error");
		rc = class_errno(json_string_value(json_object_get(error, "class")));
	} else if (reply_return) {
		*reply_return = json_incref(json_object_get(reply, "return"));
	}
	json_decref(reply);
	return rc;
}

int control_call(int fd, const char *command, json_t *args, json_t **reply_return, char *err,
		 size_t errlen)
{
	return control_call_timeout(fd, command, args, CONTROL_CALL_TIMEOUT_MS, reply_return, err,
				    errlen);
}
