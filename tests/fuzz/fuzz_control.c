/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the control socket's request parser (src/vmm/control.c's
 * handle_line: Jansson's parse and the raw-text id echo in
 * control_request.c, the request's shape, the argument specs in
 * control_args.c), driven as a client drives it: the input is
 * sent as request lines to a real control server over its UNIX socket,
 * one connection per run, followed by a sync request whose reply ends the
 * run. The command table has a spec of every argument kind.
 *
 * Invariants besides the sanitizers:
 *  - every reply is one JSON object with exactly one of "return"/"error";
 *  - a handler runs only with arguments that its own control_args_unpack
 *    accepts (the server checked them against the same spec);
 *  - the server answers: a run that gets no sync reply within
 *    SYNC_WAIT_MS, without the server closing the connection, is a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "fuzz_target.h"
#include "vmig/vmig.h"
#include "vmm/control.h"

#define SYNC_WAIT_MS 5000

/* Arguments of every kind, some required, integers with ranges. */
struct all_args {
	const char *name;
	uint64_t count;
	int64_t offset;
	bool flag;
};

static const struct control_arg all_spec[] = {
    CONTROL_ARG_S(struct all_args, name, true),
    CONTROL_ARG_U(struct all_args, count, false, 1, 1000),
    CONTROL_ARG_I(struct all_args, offset, false, -5, INT64_MAX),
    CONTROL_ARG_B(struct all_args, flag, false),
    {.name = NULL},
};

struct big_args {
	uint64_t bytes;
};

static const struct control_arg big_spec[] = {
    CONTROL_ARG_U(struct big_args, bytes, true, 0, INT64_MAX),
    {.name = NULL},
};

static int on_all(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct all_args a = {0};
	FUZZ_ASSERT(control_args_unpack("all-kinds", args, all_spec, &a, err, errlen) == 0);
	FUZZ_ASSERT(a.name != NULL);
	FUZZ_ASSERT(a.count == 0 || (a.count >= 1 && a.count <= 1000));
	FUZZ_ASSERT(a.offset >= -5);
	*ret = json_pack("{s:s, s:I}", "name", a.name, "count", (json_int_t)a.count);
	return 0;
}

static int on_big(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct big_args a = {0};
	FUZZ_ASSERT(control_args_unpack("big", args, big_spec, &a, err, errlen) == 0);
	return 0;
}

static int on_none(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	FUZZ_ASSERT(control_args_unpack("no-args", args, NULL, NULL, err, errlen) == 0);
	return 0;
}

static int on_fail(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	snprintf(err, errlen, "failing as asked");
	return -EIO;
}

static const struct control_command commands[] = {
    {"all-kinds", on_all, "arguments of every kind", all_spec},
    {"big", on_big, "a u64 up to INT64_MAX", big_spec},
    {"no-args", on_none, "takes none", NULL},
    {"fail", on_fail, "its handler fails", NULL},
};

static void quiet_log(void *opaque, enum vmig_log_level level, const char *line)
{
}

static const char *server_path(void)
{
	static char path[108];
	static struct control_server *srv;
	char err[256];
	if (!srv) {
		vmig_set_log_handler(quiet_log, NULL, VMIG_LOG_ERROR);
		snprintf(path, sizeof(path), "/tmp/vmig-fuzz-control-%d.sock", (int)getpid());
		FUZZ_ASSERT(control_server_start(&srv, path, commands,
						 sizeof(commands) / sizeof(commands[0]), NULL, err,
						 sizeof(err)) == 0);
		control_server_set_idle_timeout(srv, 0);
	}
	return path;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	FUZZ_ASSERT(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

/* One reply line: a JSON object with "return" or "error" (and maybe "id"). */
static void check_reply(const char *line, size_t len)
{
	json_error_t e;
	json_t *r = json_loadb(line, len, 0, &e);
	if (!r && json_error_code(&e) == json_error_numeric_overflow) /* an id echoed as sent */
		r = json_loadb(line, len, JSON_DECODE_INT_AS_REAL, &e);
	if (!r)
		fprintf(stderr, "unparsable reply: %.*s\n", (int)len, line);
	FUZZ_ASSERT(r && json_is_object(r));
	FUZZ_ASSERT(!json_object_get(r, "return") != !json_object_get(r, "error"));
	json_decref(r);
}

/* Sends everything while reading the replies (the server stops reading a
 * client whose replies pile up); checks each reply line until the one
 * carrying sync_id, or until the server closes the connection. */
static void converse(int fd, const struct vbuf *out, const char *sync_id)
{
	struct vbuf in;
	size_t sent = 0, checked = 0;
	vbuf_init(&in);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (sent < out->len ? POLLOUT : 0)};
		int n = poll(&p, 1, SYNC_WAIT_MS);
		if (n < 0 && errno == EINTR)
			continue; /* libFuzzer's -timeout alarm */
		FUZZ_ASSERT(n > 0); /* else the server hangs */
		if (p.revents & POLLOUT) {
			ssize_t w = send(fd, out->data + sent, out->len - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			sent = w > 0			  ? sent + (size_t)w
			       : w < 0 && errno != EAGAIN ? out->len
							  : sent;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char buf[4096];
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			break; /* closed: after a too-long line */
		if (r > 0)
			vbuf_put(&in, buf, (size_t)r);
		char *nl;
		bool synced = false;
		while ((nl = memchr(in.data + checked, '\n', in.len - checked))) {
			size_t len = (size_t)(nl - (char *)in.data) - checked;
			check_reply((char *)in.data + checked, len);
			synced |= memmem(in.data + checked, len, sync_id, strlen(sync_id)) != NULL;
			checked += len + 1;
		}
		if (synced)
			break;
	}
	vbuf_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long run;
	char sync[128], sync_id[64];
	struct vbuf out;
	int fd = connect_to(server_path());
	snprintf(sync_id, sizeof(sync_id), "\"fuzz-sync-%lu\"", ++run);
	snprintf(sync, sizeof(sync), "\n{\"execute\":\"no-args\",\"id\":%s}\n", sync_id);
	vbuf_init(&out);
	vbuf_put(&out, data, size);
	vbuf_put(&out, sync, strlen(sync));
	converse(fd, &out, sync_id);
	vbuf_free(&out);
	close(fd);
	return 0;
}
