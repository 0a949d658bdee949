/* SPDX-License-Identifier: MIT */
/* The control socket: server (src/vmm/control.c), client, and vmig status. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/control_client.h"
#include "common/json.h"
#include "unittest.h"
#include "vmm/control.h"
#include "vmm/vm.h"

int cmd_status(int argc, char **argv);

/* ------------------------------------------------------------------------ */
/* The test double: a command table over a small context. */

struct tctx {
	atomic_int calls;
	int sparse; /* query-status / query-guest return few fields */
	int ring;   /* query-status says the dirty ring tracks, under a dirty limit */
};

/* What the tests below give echo. */
struct echo_args {
	int64_t x, i;
	const char *s, *k, *who;
};

static const struct control_arg echo_spec[] = {
	CONTROL_ARG_I(struct echo_args, x, false, INT64_MIN, INT64_MAX),
	CONTROL_ARG_I(struct echo_args, i, false, INT64_MIN, INT64_MAX),
	CONTROL_ARG_S(struct echo_args, s, false),
	CONTROL_ARG_S(struct echo_args, k, false),
	CONTROL_ARG_S(struct echo_args, who, false),
	{NULL},
};

static int h_echo(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct tctx *t = ctx;
	atomic_fetch_add(&t->calls, 1);
	*ret = json_pack("{s:O?}", "args", args);
	return *ret ? 0 : -ENOMEM;
}

static int h_fail(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	*ret = json_object(); /* discarded */
	snprintf(err, errlen, "boom: %s", "the disk is on fire");
	return -EIO;
}

static int h_fail_quiet(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	return -ENOSPC;
}

/* A buggy handler: a string that is not UTF-8, which JSON cannot carry. */
static int h_bad_reply(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	*ret = json_string_nocheck("\xff\xfe");
	return 0;
}

static int h_nothing(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	return 0;
}

struct sleep_args {
	uint64_t ms;
};

static const struct control_arg sleep_spec[] = {
	CONTROL_ARG_U(struct sleep_args, ms, true, 0, 10000),
	{NULL},
};

static int h_sleep(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct sleep_args a = {0};
	int rc = control_args_unpack("sleep", args, sleep_spec, &a, err, errlen);
	if (rc)
		return rc;
	struct timespec ts = {.tv_sec = (time_t)(a.ms / 1000), .tv_nsec = (long)(a.ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
	*ret = json_true();
	return 0;
}

static int h_big(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	*ret = json_array();
	for (int i = 0; *ret && i < 20000; i++)
		if (json_array_append_new(*ret, json_string("a fairly long string to make the reply large")))
			return -ENOMEM;
	return *ret ? 0 : -ENOMEM;
}

static int h_quit(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	return CONTROL_REPLY_AND_CLOSE;
}

static int h_query_status(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct tctx *t = ctx;
	if (t->sparse)
		*ret = json_pack("{s:s}", "status", "running");
	else
		*ret = json_pack("{s:s, s:I, s:I, s:I}", "status", "running", "uptime_ms",
				 (json_int_t)12345, "vcpus", (json_int_t)2, "mem_bytes",
				 (json_int_t)(1024ll << 20));
	if (*ret && t->ring)
		json_object_update_new(*ret, json_pack("{s:s, s:I, s:I}", "dirty_tracking", "ring",
						       "dirty_ring_entries", (json_int_t)4096,
						       "dirty_limit", (json_int_t)(32 << 20)));
	return *ret ? 0 : -ENOMEM;
}

static int h_query_guest(void *ctx, json_t *args, json_t **ret, char *err, size_t errlen)
{
	struct tctx *t = ctx;
	if (t->sparse)
		*ret = json_pack("{s:b, s:s, s:I}", "progress_seen", 0, "last_line", "booting\x1b[2J",
				 "heartbeats", (json_int_t)0);
	else
		*ret = json_pack("{s:b, s:I, s:I, s:f, s:I, s:s, s:I, s:f, s:f}", "progress_seen", 1,
				 "t_s", (json_int_t)12, "passes", (json_int_t)340, "dirty_mibs", 812.3,
				 "errors", (json_int_t)0, "last_line", "PROGRESS t=12\x1b[31m",
				 "heartbeats", (json_int_t)11873, "heartbeat_last_ms_ago", 0.4,
				 "heartbeat_max_gap_ms", 3.1);
	return *ret ? 0 : -ENOMEM;
}

static const struct control_command cmds[] = {
	{"echo", h_echo, "return the arguments", echo_spec},
	{"fail", h_fail, "always fails", NULL},
	{"fail-quiet", h_fail_quiet, NULL, NULL},
	{"bad-reply", h_bad_reply, "a buggy handler", NULL},
	{"nothing", h_nothing, "writes nothing", NULL},
	{"sleep", h_sleep, "sleep ms", sleep_spec},
	{"big", h_big, "a large reply", NULL},
	{"quit", h_quit, "reply, then close", NULL},
	{"query-status", h_query_status, "VM state", NULL},
	{"query-guest", h_query_guest, "guest state", NULL},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* ------------------------------------------------------------------------ */
/* Helpers */

struct tdir {
	char dir[32];
	char path[96];
};

static int tdir_make(struct tdir *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/vmig-ctl-XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	snprintf(d->path, sizeof(d->path), "%s/c.sock", d->dir);
	return 0;
}

static void tdir_clean(struct tdir *d)
{
	unlink(d->path);
	rmdir(d->dir);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int raw_send(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int raw_sends(int fd, const char *s)
{
	return raw_send(fd, s, strlen(s));
}

/* One line (newline stripped) within 5 s: its length, -1 on EOF/timeout/overflow. */
static long raw_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			return -1;
		char c;
		ssize_t n = recv(fd, &c, 1, 0);
		if (n <= 0)
			return -1;
		if (c == '\n') {
			buf[len] = 0;
			return (long)len;
		}
		if (len + 1 >= cap)
			return -1;
		buf[len++] = c;
	}
}

/*
 * 1 if the peer closed the connection within 5 s and sent nothing more. A
 * UNIX socket closed with unread data in it reads as ECONNRESET, not EOF.
 */
static int raw_eof(int fd)
{
	char c;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 5000) <= 0)
		return 0;
	ssize_t n = recv(fd, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Parse a reply line and check its error class (NULL: a "return" reply). */
static int reply_is(const char *line, const char *cls)
{
	json_t *v = json_loads(line, 0, NULL);
	const char *c = json_string_value(json_object_get(json_object_get(v, "error"), "class"));
	int ok;
	if (!cls)
		ok = json_object_get(v, "return") != NULL && json_object_get(v, "error") == NULL;
	else
		ok = c && strcmp(c, cls) == 0;
	json_decref(v);
	return ok;
}

/* The "desc" of an error reply line (into buf), or "" if there is none. */
static const char *reply_desc(const char *line, char *buf, size_t cap)
{
	json_t *v = json_loads(line, 0, NULL);
	const char *d = json_string_value(json_object_get(json_object_get(v, "error"), "desc"));
	snprintf(buf, cap, "%s", d ? d : "");
	json_decref(v);
	return buf;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* A buffered line reader, for reading many replies without a syscall per byte. */
struct lreader {
	int fd;
	char buf[16384];
	size_t off, len;
};

static struct lreader *lr_new(int fd)
{
	struct lreader *r = calloc(1, sizeof(*r));
	if (r)
		r->fd = fd;
	return r;
}

/* Like raw_line, through r. */
static long lr_line(struct lreader *r, char *out, size_t cap)
{
	size_t n = 0;
	for (;;) {
		if (r->off == r->len) {
			struct pollfd p = {.fd = r->fd, .events = POLLIN};
			if (poll(&p, 1, 5000) <= 0)
				return -1;
			ssize_t k = recv(r->fd, r->buf, sizeof(r->buf), 0);
			if (k <= 0)
				return -1;
			r->off = 0;
			r->len = (size_t)k;
		}
		char c = r->buf[r->off++];
		if (c == '\n') {
			out[n] = 0;
			return (long)n;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
}

/*
 * Read a "big" reply with id 1, then a reply to line2_want exactly: 1 if
 * both came. They queue behind each other in the server's output.
 */
static int big_then(int fd, const char *line2_want)
{
	struct lreader *r = lr_new(fd);
	size_t cap = 4 << 20;
	char *line = malloc(cap);
	int ok = r && line && lr_line(r, line, cap) > 0 && reply_is(line, NULL) &&
		 strstr(line, "],\"id\":1}") != NULL;
	ok = ok && lr_line(r, line, cap) > 0 && strcmp(line, line2_want) == 0;
	free(line);
	free(r);
	return ok;
}

/* Send a request without an id and check that a "return" reply comes back. */
static int served(int fd)
{
	char line[4096];
	return raw_sends(fd, "{\"execute\":\"nothing\"}\n") == 0 &&
	       raw_line(fd, line, sizeof(line)) > 0 && reply_is(line, NULL);
}

/* Like served(), waiting up to ms for the reply: the server may have a backlog first. */
static int served_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char line[4096];
	return raw_sends(fd, "{\"execute\":\"nothing\"}\n") == 0 && poll(&p, 1, ms) == 1 &&
	       raw_line(fd, line, sizeof(line)) > 0 && reply_is(line, NULL);
}

static struct control_server *start(struct tdir *d, struct tctx *t)
{
	struct control_server *srv = NULL;
	char err[256];
	if (control_server_start(&srv, d->path, cmds, NCMDS, t, err, sizeof(err)) < 0) {
		fprintf(stderr, "start: %s\n", err);
		return NULL;
	}
	return srv;
}

/* ------------------------------------------------------------------------ */
/* The fixture: a fresh server in a temporary directory, for one case. */

struct fixture {
	struct tdir d;
	struct tctx t;
	struct control_server *srv;   /* NULL where none runs (stop_server) */
	int fd;                       /* a raw connection to srv, or -1 */
	int fds[CONTROL_MAX_CLIENTS]; /* more clients a case opens, -1 where none */
	char line[4096];              /* the reply line ask() read last */
};

static int fixture_start(struct fixture *f, bool with_server)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		f->fds[i] = -1;
	if (tdir_make(&f->d) < 0)
		return -1;
	if (!with_server)
		return 0;
	f->srv = start(&f->d, &f->t);
	f->fd = f->srv ? raw_connect(f->d.path) : -1;
	return f->fd >= 0 ? 0 : -1;
}

/* Closes every client and stops the server, whatever state the case left. */
static void fixture_stop(struct fixture *f)
{
	if (f->fd >= 0)
		close(f->fd);
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	control_server_stop(f->srv);
	tdir_clean(&f->d);
}

/* For a case about stopping: fixture_stop then finds no server to stop. */
static void stop_server(struct fixture *f)
{
	control_server_stop(f->srv);
	f->srv = NULL;
}

/*
 * A case run in a fixture f: the body's CHECKs return to the wrapper, which
 * cleans up even after a failure. SERVER_TEST: a server over cmds and a raw
 * connection f->fd to it. DIR_TEST: the directory alone; a server the case
 * starts in f->srv is stopped.
 */
#define FIXTURE_TEST(name, with_server)                                                    \
	static void name##_body(struct ut_state *ut_, struct fixture *f);                  \
	TEST(name)                                                                         \
	{                                                                                  \
		struct fixture fixture;                                                    \
		int started = fixture_start(&fixture, with_server) == 0;                   \
		if (started)                                                               \
			name##_body(ut_, &fixture);                                        \
		fixture_stop(&fixture);                                                    \
		CHECK(started);                                                            \
	}                                                                                  \
	static void name##_body(struct ut_state *ut_, struct fixture *f)
#define SERVER_TEST(name) FIXTURE_TEST(name, true)
#define DIR_TEST(name) FIXTURE_TEST(name, false)

/* Send req (its lines newline-terminated) on f->fd and read one reply line into f->line. */
static int ask(struct fixture *f, const char *req)
{
	return raw_sends(f->fd, req) == 0 && raw_line(f->fd, f->line, sizeof(f->line)) > 0;
}

/* f->line is an error reply of class cls carrying no id. */
static int error_without_id(struct fixture *f, const char *cls)
{
	return reply_is(f->line, cls) && strstr(f->line, "\"id\"") == NULL;
}

/* ------------------------------------------------------------------------ */
/* Calls through the client library (src/common/control_client.c). */

SERVER_TEST(server_socket_is_a_socket_only_its_owner_may_use)
{
	struct stat st;
	CHECK(lstat(f->d.path, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
}

SERVER_TEST(call_carries_the_arguments_and_the_reply_unchanged)
{
	json_t *r = NULL, *args = json_loads("{\"x\": -7, \"s\": \"\\u00e9\"}", 0, NULL);
	char err[256];
	CHECK(args);
	int rc = control_call(f->fd, "echo", args, &r, err, sizeof(err));
	int same = json_is_object(r) && json_equal(json_object_get(r, "args"), args);
	const char *s = json_string_value(json_object_get(json_object_get(r, "args"), "s"));
	int e_acute = s && strcmp(s, "\xc3\xa9") == 0;
	int args_still_callers = args->refcount == 1;
	json_decref(r);
	json_decref(args);
	CHECK_EQ_INT(rc, 0);
	CHECK(same);
	CHECK(e_acute);
	CHECK(args_still_callers);
	CHECK_EQ_INT(atomic_load(&f->t.calls), 1);
}

SERVER_TEST(call_without_arguments_gives_the_handler_null)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "echo", NULL, &r, err, sizeof(err)), 0);
	int null_args = json_is_null(json_object_get(r, "args"));
	json_decref(r);
	CHECK(null_args);
}

SERVER_TEST(call_may_leave_the_reply_unread)
{
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "echo", NULL, NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(atomic_load(&f->t.calls), 1);
}

SERVER_TEST(call_to_an_unknown_command_is_eopnotsupp_naming_it)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "no-such-command", NULL, &r, err, sizeof(err)),
		     -EOPNOTSUPP);
	CHECK(r == NULL);
	CHECK(strstr(err, "no-such-command") != NULL);
}

SERVER_TEST(handler_error_reaches_the_caller_with_its_message)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "fail", NULL, &r, err, sizeof(err)), -EREMOTEIO);
	CHECK_STR(err, "boom: the disk is on fire");
}

SERVER_TEST(handler_error_without_message_reads_as_its_errno)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "fail-quiet", NULL, &r, err, sizeof(err)), -EREMOTEIO);
	CHECK_STR(err, strerror(ENOSPC));
}

SERVER_TEST(reply_that_json_cannot_carry_is_an_error)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "bad-reply", NULL, &r, err, sizeof(err)), -EREMOTEIO);
	CHECK(strstr(err, "cannot be encoded") != NULL);
}

SERVER_TEST(call_with_arguments_not_an_object_is_einval)
{
	json_t *r = NULL, *array = json_pack("[i]", 1);
	char err[256];
	CHECK(array);
	int rc = control_call(f->fd, "echo", array, &r, err, sizeof(err));
	json_decref(array);
	CHECK_EQ_INT(rc, -EINVAL);
}

SERVER_TEST(call_of_an_empty_command_name_is_einval)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "", NULL, &r, err, sizeof(err)), -EINVAL);
}

SERVER_TEST(handler_that_returns_nothing_returns_an_empty_object)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "nothing", NULL, &r, err, sizeof(err)), 0);
	int empty = json_is_object(r) && json_object_size(r) == 0;
	json_decref(r);
	CHECK(empty);
}

SERVER_TEST(large_reply_arrives_whole)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "big", NULL, &r, err, sizeof(err)), 0); /* about 1 MiB */
	size_t n = json_array_size(r);
	json_decref(r);
	CHECK_EQ_INT(n, 20000);
}

SERVER_TEST(query_commands_lists_the_table_then_itself)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_call(f->fd, "query-commands", NULL, &r, err, sizeof(err)), 0);
	size_t n = json_array_size(r);
	const char *first = json_string_value(json_object_get(json_array_get(r, 0), "name"));
	const char *help = json_string_value(json_object_get(json_array_get(r, 0), "help"));
	const char *last = json_string_value(json_object_get(json_array_get(r, NCMDS), "name"));
	int ok = first && strcmp(first, "echo") == 0 && help &&
		 strcmp(help, "return the arguments") == 0 && last &&
		 strcmp(last, "query-commands") == 0;
	json_decref(r);
	CHECK_EQ_INT(n, NCMDS + 1);
	CHECK(ok);
}

SERVER_TEST(call_times_out_on_a_slow_handler)
{
	json_t *r = NULL, *args = json_pack("{s:i}", "ms", 400);
	char err[256];
	CHECK(args);
	int rc = control_call_timeout(f->fd, "sleep", args, 100, &r, err, sizeof(err));
	json_decref(args);
	CHECK_EQ_INT(rc, -ETIMEDOUT);
}

SERVER_TEST(stop_unlinks_the_socket)
{
	stop_server(f);
	CHECK(access(f->d.path, F_OK) < 0 && errno == ENOENT);
}

/* ------------------------------------------------------------------------ */
/* The protocol on the wire (docs/control.md), through raw connections. */

SERVER_TEST(malformed_json_is_invalid_request_and_keeps_the_connection)
{
	CHECK(ask(f, "{\"execute\": \n"));
	CHECK(error_without_id(f, "InvalidRequest"));
	CHECK(served(f->fd));
}

SERVER_TEST(bytes_that_are_not_json_are_invalid_request)
{
	CHECK(ask(f, "\x01\xff garbage\n"));
	CHECK(reply_is(f->line, "InvalidRequest"));
}

SERVER_TEST(request_that_is_not_an_object_is_invalid_request)
{
	CHECK(ask(f, "[1,2]\n"));
	CHECK(reply_is(f->line, "InvalidRequest"));
}

SERVER_TEST(request_without_execute_is_invalid_request_with_the_id)
{
	CHECK(ask(f, "{\"id\": 5}\n"));
	CHECK(reply_is(f->line, "InvalidRequest"));
	CHECK(strstr(f->line, "\"id\":5}") != NULL);
}

SERVER_TEST(execute_that_is_not_a_string_is_invalid_request_with_the_id)
{
	CHECK(ask(f, "{\"execute\": 5, \"id\": 5}\n"));
	CHECK(reply_is(f->line, "InvalidRequest"));
	CHECK(strstr(f->line, "\"id\":5}") != NULL);
}

SERVER_TEST(arguments_that_are_not_an_object_are_invalid_request_with_the_id)
{
	CHECK(ask(f, "{\"execute\": \"echo\", \"arguments\": [1], \"id\": 5}\n"));
	CHECK(reply_is(f->line, "InvalidRequest"));
	CHECK(strstr(f->line, "\"id\":5}") != NULL);
}

SERVER_TEST(unknown_request_member_is_invalid_request_with_the_id)
{
	CHECK(ask(f, "{\"execute\": \"echo\", \"argument\": {}, \"id\": 5}\n"));
	CHECK(reply_is(f->line, "InvalidRequest"));
	CHECK(strstr(f->line, "\"id\":5}") != NULL);
}

SERVER_TEST(unknown_command_is_command_not_found_with_the_id)
{
	CHECK(ask(f, "{\"execute\": \"nope\", \"id\": \"abc\"}\n"));
	CHECK(reply_is(f->line, "CommandNotFound"));
	CHECK(strstr(f->line, "\"id\":\"abc\"") != NULL);
}

SERVER_TEST(handler_failure_is_generic_error_with_its_message)
{
	CHECK(ask(f, "{\"execute\": \"fail\", \"id\": 1}\n"));
	CHECK(reply_is(f->line, "GenericError"));
	CHECK(strstr(f->line, "boom") != NULL);
}

/*
 * Ids come back as written, less whitespace outside strings (Jansson would
 * write 1.50 as 1.5, and cannot hold 2^64 at all). 1 if a request with id
 * gets {"return":{},"id":want}; else it says on stderr what came, so that a
 * case trying a few ids shows every one that fails.
 */
static int id_echoed(struct fixture *f, const char *id, const char *want)
{
	char req[256], want_line[256];
	snprintf(req, sizeof(req), "{\"execute\":\"nothing\",\"id\":%s}\n", id);
	snprintf(want_line, sizeof(want_line), "{\"return\":{},\"id\":%s}", want);
	if (ask(f, req) && strcmp(f->line, want_line) == 0)
		return 1;
	fprintf(stderr, "id %s: got %s, want %s\n", id, f->line, want_line);
	return 0;
}

SERVER_TEST(id_numbers_are_echoed_as_written)
{
	int echoed = id_echoed(f, "1.50", "1.50");
	echoed += id_echoed(f, "-0", "-0");
	echoed += id_echoed(f, "18446744073709551616123", "18446744073709551616123");
	CHECK_EQ_INT(echoed, 3);
}

SERVER_TEST(id_string_is_echoed_with_its_escapes)
{
	CHECK(id_echoed(f, "\"s\\u00e9\\n\"", "\"s\\u00e9\\n\""));
}

SERVER_TEST(id_null_and_true_are_echoed)
{
	int echoed = id_echoed(f, "null", "null");
	echoed += id_echoed(f, "true", "true");
	CHECK_EQ_INT(echoed, 2);
}

SERVER_TEST(id_arrays_and_objects_are_echoed_as_written)
{
	int echoed = id_echoed(f, "{\"a\":[1,{\"b\":null}]}", "{\"a\":[1,{\"b\":null}]}");
	echoed += id_echoed(f, "[-1.5E+300,{\"id\":2}]", "[-1.5E+300,{\"id\":2}]");
	CHECK_EQ_INT(echoed, 2);
}

SERVER_TEST(id_loses_whitespace_outside_its_strings_only)
{
	int echoed = id_echoed(f, "[ ]", "[]");
	echoed += id_echoed(f, "{ \"a\" : [ 1e3 , \"x } \\\" y\" ] }",
			    "{\"a\":[1e3,\"x } \\\" y\"]}");
	CHECK_EQ_INT(echoed, 2);
}

SERVER_TEST(id_is_found_wherever_it_is_its_key_escaped_or_not)
{
	CHECK(ask(f, "{ \"\\u0069d\" : \"first\" , \"execute\" : \"echo\", "
		     "\"arguments\": {\"k\": \"id\"}}\n"));
	CHECK_STR(f->line, "{\"return\":{\"args\":{\"k\":\"id\"}},\"id\":\"first\"}");
}

SERVER_TEST(duplicate_members_are_malformed)
{
	CHECK(ask(f, "{\"execute\":\"nothing\",\"execute\":\"nothing\"}\n"));
	CHECK(reply_is(f->line, "InvalidRequest"));
}

SERVER_TEST(trailing_garbage_is_malformed)
{
	CHECK(ask(f, "{\"execute\":\"nothing\"} x\n"));
	CHECK(reply_is(f->line, "InvalidRequest"));
}

/* An integer beyond int64 is not (see id_numbers_are_echoed_as_written). */
SERVER_TEST(number_beyond_a_doubles_range_is_malformed)
{
	CHECK(ask(f, "{\"execute\":\"nothing\",\"id\":1e400}\n"));
	CHECK(error_without_id(f, "InvalidRequest"));
}

SERVER_TEST(request_without_id_gets_a_reply_without_id)
{
	CHECK(ask(f, "{\"execute\":\"nothing\"}\n"));
	CHECK_STR(f->line, "{\"return\":{}}");
}

SERVER_TEST(blank_lines_are_ignored)
{
	CHECK(ask(f, "\n  \r\n{\"execute\":\"nothing\",\"id\":1}\n"));
	CHECK_STR(f->line, "{\"return\":{},\"id\":1}");
}

SERVER_TEST(crlf_ends_a_request)
{
	CHECK(ask(f, "{\"execute\":\"nothing\",\"id\":1}\r\n"));
	CHECK_STR(f->line, "{\"return\":{},\"id\":1}");
}

SERVER_TEST(two_requests_in_one_write_get_two_replies_in_order)
{
	CHECK(ask(f, "{\"execute\":\"nothing\",\"id\":1}\n{\"execute\":\"nothing\",\"id\":2}\n"));
	CHECK_STR(f->line, "{\"return\":{},\"id\":1}");
	CHECK(raw_line(f->fd, f->line, sizeof(f->line)) > 0);
	CHECK_STR(f->line, "{\"return\":{},\"id\":2}");
}

SERVER_TEST(request_sent_in_pieces_is_served_whole)
{
	const char *req = "{\"execute\":\"echo\",\"arguments\":{\"k\":\"v\"},\"id\":3}\n";
	for (size_t i = 0; req[i]; i++) {
		CHECK(raw_send(f->fd, req + i, 1) == 0);
		if (i % 7 == 0)
			sleep_ms(1);
	}
	CHECK(raw_line(f->fd, f->line, sizeof(f->line)) > 0);
	CHECK_STR(f->line, "{\"return\":{\"args\":{\"k\":\"v\"}},\"id\":3}");
}

/* Even a reply still queued in the server when it sees the EOF. */
SERVER_TEST(half_closed_client_gets_every_reply)
{
	CHECK(raw_sends(f->fd, "{\"execute\":\"big\",\"id\":1}\n"
			      "{\"execute\":\"nothing\",\"id\":2}\n") == 0);
	CHECK(shutdown(f->fd, SHUT_WR) == 0);
	sleep_ms(50);
	CHECK(big_then(f->fd, "{\"return\":{},\"id\":2}"));
	CHECK(raw_eof(f->fd));
}

/* ------------------------------------------------------------------------ */
/* Request lines up to CONTROL_MAX_LINE bytes. */

static char long_line[CONTROL_MAX_LINE + 16];

/* A "nothing" request with id 9, padded to len bytes, and its newline, in long_line. */
static void padded_request(size_t len)
{
	const char *head = "{\"execute\":\"nothing\",\"id\":9";
	size_t hl = strlen(head);
	memcpy(long_line, head, hl);
	memset(long_line + hl, ' ', len - hl - 1);
	long_line[len - 1] = '}';
	long_line[len] = '\n';
}

SERVER_TEST(line_of_the_longest_length_is_served)
{
	padded_request(CONTROL_MAX_LINE);
	CHECK(raw_send(f->fd, long_line, CONTROL_MAX_LINE + 1) == 0);
	CHECK(raw_line(f->fd, f->line, sizeof(f->line)) > 0);
	CHECK_STR(f->line, "{\"return\":{},\"id\":9}");
}

SERVER_TEST(line_one_byte_too_long_is_refused_and_the_connection_closed)
{
	padded_request(CONTROL_MAX_LINE + 1);
	raw_send(f->fd, long_line, CONTROL_MAX_LINE + 2); /* may fail once the server closes */
	CHECK(raw_line(f->fd, f->line, sizeof(f->line)) > 0);
	CHECK(reply_is(f->line, "InvalidRequest"));
	CHECK(strstr(f->line, "longer than") != NULL);
	CHECK(raw_eof(f->fd));
}

/* Send a line with no newline at all, longer than any allowed, in pieces. */
static void send_endless_line(int fd)
{
	memset(long_line, 'a', sizeof(long_line));
	for (size_t off = 0; off < sizeof(long_line); off += 1000) {
		size_t k = sizeof(long_line) - off < 1000 ? sizeof(long_line) - off : 1000;
		if (raw_send(fd, long_line + off, k) < 0)
			break;
	}
}

SERVER_TEST(endless_line_is_refused_and_the_connection_closed)
{
	send_endless_line(f->fd);
	CHECK(raw_line(f->fd, f->line, sizeof(f->line)) > 0);
	CHECK(reply_is(f->line, "InvalidRequest"));
	CHECK(raw_eof(f->fd));
}

SERVER_TEST(server_serves_others_after_a_too_long_line)
{
	send_endless_line(f->fd);
	CHECK(raw_line(f->fd, f->line, sizeof(f->line)) > 0);
	CHECK(raw_eof(f->fd));
	f->fds[0] = raw_connect(f->d.path);
	CHECK(f->fds[0] >= 0);
	CHECK(served(f->fds[0]));
}

/* ------------------------------------------------------------------------ */
/* Many clients at once, and clients that misbehave. */

struct worker {
	const char *path;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char err[256];
	int fd;

	if (control_connect(w->path, &fd, err, sizeof(err)) < 0)
		return NULL;
	for (int i = 0; i < 200; i++) {
		json_t *r, *args = json_pack("{s:i}", "i", i);
		int rc = control_call(fd, "echo", args, &r, err, sizeof(err));
		json_decref(args);
		if (rc < 0)
			break;
		json_t *v = json_object_get(json_object_get(r, "args"), "i");
		if (json_is_integer(v) && json_integer_value(v) == i)
			w->ok++;
		json_decref(r);
	}
	close(fd);
	return NULL;
}

TEST(concurrent_clients)
{
	struct tdir d;
	struct tctx t = {0};
	char line[4096], err[256];
	json_t *r;

	CHECK(tdir_make(&d) == 0);
	struct control_server *srv = start(&d, &t);
	CHECK(srv);

	/* A sends half a request; B is served meanwhile; then A completes. */
	int a = raw_connect(d.path), b;
	CHECK(a >= 0);
	CHECK(raw_sends(a, "{\"execute\":\"echo\",\"argu") == 0);
	CHECK_EQ_INT(control_connect(d.path, &b, err, sizeof(err)), 0);
	CHECK_EQ_INT(control_call(b, "nothing", NULL, &r, err, sizeof(err)), 0);
	json_decref(r);
	CHECK(raw_sends(a, "ments\":{\"who\":\"a\"},\"id\":\"A\"}\n") == 0);
	CHECK(raw_line(a, line, sizeof(line)) > 0);
	CHECK_STR(line, "{\"return\":{\"args\":{\"who\":\"a\"}},\"id\":\"A\"}");
	close(a);
	close(b);

	/* Two threads hammering at once, each on its own connection. */
	struct worker w1 = {d.path, 0}, w2 = {d.path, 0};
	pthread_t t1, t2;
	atomic_store(&t.calls, 0);
	CHECK(pthread_create(&t1, NULL, worker_main, &w1) == 0);
	CHECK(pthread_create(&t2, NULL, worker_main, &w2) == 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	CHECK_EQ_INT(w1.ok, 200);
	CHECK_EQ_INT(w2.ok, 200);
	CHECK_EQ_INT(atomic_load(&t.calls), 400);

	control_server_stop(srv);
	tdir_clean(&d);
}

/* A new client, served within ms (retried while the server is full): its fd, or -1. */
static int served_newcomer(struct fixture *f, int ms)
{
	int64_t deadline = mono_ms() + ms;
	for (;;) {
		int fd = raw_connect(f->d.path);
		if (fd >= 0 && served(fd))
			return fd;
		if (fd >= 0)
			close(fd);
		if (mono_ms() >= deadline)
			return -1;
		sleep_ms(20);
	}
}

/*
 * Take every client slot: f->fds[0] is f->fd, the others new, each served.
 * The newcomers wait up to patience_ms for a slot. 1 if all were served.
 */
static int fill_every_slot(struct fixture *f, int patience_ms)
{
	f->fds[0] = f->fd;
	f->fd = -1;
	if (!served(f->fds[0]))
		return 0;
	for (int i = 1; i < CONTROL_MAX_CLIENTS; i++)
		if ((f->fds[i] = served_newcomer(f, patience_ms)) < 0)
			return 0;
	return 1;
}

/* Each of these opens half a request, then vanishes. */
SERVER_TEST(clients_vanishing_mid_request_do_no_harm)
{
	for (int i = 0; i < 15; i++) {
		int fd = raw_connect(f->d.path);
		CHECK(fd >= 0);
		raw_sends(fd, "{\"execute\":\"echo\",\"argum");
		close(fd);
	}
	CHECK(fill_every_slot(f, 60000)); /* their slots are freed */
}

/* Without MSG_NOSIGNAL the server's SIGPIPE would kill this test. */
SERVER_TEST(clients_vanishing_before_a_large_reply_do_no_harm)
{
	for (int i = 0; i < 15; i++) {
		int fd = raw_connect(f->d.path);
		CHECK(fd >= 0);
		raw_sends(fd, "{\"execute\":\"big\"}\n{\"execute\":\"big\"}\n");
		close(fd);
	}
	/* Their replies take the server seconds under TSan on a loaded machine. */
	CHECK(served_within(f->fd, 60000));
	CHECK(fill_every_slot(f, 60000)); /* their slots are freed */
}

/* 1 if a client connecting now is refused, told why, and closed. */
static int newcomer_refused(struct fixture *f)
{
	int fd = raw_connect(f->d.path);
	int refused = fd >= 0 && raw_line(fd, f->line, sizeof(f->line)) > 0 &&
		      reply_is(f->line, "GenericError") &&
		      strstr(f->line, "too many clients") != NULL && raw_eof(fd);
	if (fd >= 0)
		close(fd);
	return refused;
}

SERVER_TEST(client_over_the_limit_is_told_off_and_closed)
{
	CHECK(fill_every_slot(f, 0));
	CHECK(newcomer_refused(f));
}

SERVER_TEST(freed_client_slot_is_reused)
{
	CHECK(fill_every_slot(f, 0));
	close(f->fds[0]);
	sleep_ms(50);
	f->fds[0] = raw_connect(f->d.path);
	CHECK(f->fds[0] >= 0);
	CHECK(served(f->fds[0]));
}

SERVER_TEST(stop_closes_every_client_even_one_mid_request)
{
	CHECK(fill_every_slot(f, 0));
	CHECK(raw_sends(f->fds[1], "{\"execute\":") == 0);
	stop_server(f);
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		CHECK(raw_eof(f->fds[i]));
}

TEST(idle_clients_time_out)
{
	struct tdir d;
	struct tctx t = {0};
	int fds[CONTROL_MAX_CLIENTS];

	CHECK(tdir_make(&d) == 0);
	struct control_server *srv = start(&d, &t);
	CHECK(srv);
	CHECK_EQ_INT(control_server_set_idle_timeout(srv, -1), -EINVAL);
	CHECK_EQ_INT(control_server_set_idle_timeout(srv, 300), 0);

	/* Every slot taken: some clients were served, some never spoke, one is mid-request. */
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = raw_connect(d.path);
		CHECK(fds[i] >= 0);
		if (i % 2)
			CHECK(served(fds[i]));
	}
	CHECK(raw_sends(fds[0], "{\"execute\":") == 0);

	/* A client that keeps talking, more often than the timeout, is not idle. */
	int busy = fds[CONTROL_MAX_CLIENTS - 1];
	for (int k = 0; k < 9; k++) {
		sleep_ms(100);
		CHECK(served(busy));
	}
	/* The others have been idle for 900 ms: closed. */
	for (int i = 0; i < CONTROL_MAX_CLIENTS - 1; i++) {
		CHECK(raw_eof(fds[i]));
		close(fds[i]);
	}
	/* Their slots are free: a newcomer is served, and so is the busy client still. */
	int fd = raw_connect(d.path);
	CHECK(fd >= 0);
	CHECK(served(fd));
	CHECK(served(busy));
	close(fd);
	close(busy);
	control_server_stop(srv);
	tdir_clean(&d);
}

TEST(full_server_evicts_longest_idle)
{
	struct tdir d;
	struct tctx t = {0};
	char line[4096];
	int fds[CONTROL_MAX_CLIENTS];

	CHECK(tdir_make(&d) == 0);
	struct control_server *srv = start(&d, &t);
	CHECK(srv);
	/* Idle timeout 4 s, so eviction needs 1 s of idleness (a quarter) and none times out. */
	CHECK_EQ_INT(control_server_set_idle_timeout(srv, 4000), 0);

	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = raw_connect(d.path);
		CHECK(fds[i] >= 0);
		CHECK(served(fds[i]));
	}
	/* fds[1] ends up idle longest (1.4 s), fds[0] idle 1.1 s, the rest busy. */
	sleep_ms(300);
	CHECK(served(fds[0]));
	sleep_ms(1100);
	for (int i = 2; i < CONTROL_MAX_CLIENTS; i++)
		CHECK(served(fds[i]));

	/* A newcomer is served in the slot of fds[1], which is closed. */
	int a = raw_connect(d.path);
	CHECK(a >= 0);
	CHECK(served(a));
	CHECK(raw_eof(fds[1]));
	close(fds[1]);
	CHECK(served(fds[0])); /* idle, but not the longest */

	/* Nobody idle long enough: the next newcomer is refused as before. */
	int b = raw_connect(d.path);
	CHECK(b >= 0);
	CHECK(raw_line(b, line, sizeof(line)) > 0);
	CHECK(reply_is(line, "GenericError"));
	CHECK(strstr(line, "too many clients") != NULL);
	CHECK(raw_eof(b));
	close(b);
	CHECK(served(a));

	close(a);
	close(fds[0]);
	for (int i = 2; i < CONTROL_MAX_CLIENTS; i++)
		close(fds[i]);
	control_server_stop(srv);
	tdir_clean(&d);
}

#define FLOOD_REQUESTS 20000

struct flood {
	int fd;
	int rc;
	atomic_int done;
};

/* Send every request in one go, never reading: the server must not wait on us. */
static void *flood_main(void *arg)
{
	struct flood *f = arg;
	size_t cap = (size_t)FLOOD_REQUESTS * 48, len = 0;
	char *buf = malloc(cap);

	f->rc = -1;
	if (buf) {
		for (int i = 0; i < FLOOD_REQUESTS; i++)
			len += (size_t)snprintf(buf + len, cap - len,
						"{\"execute\":\"query-commands\",\"id\":%d}\n", i);
		f->rc = raw_send(f->fd, buf, len);
	}
	free(buf);
	atomic_store(&f->done, 1);
	return NULL;
}

/* Read n query-commands replies in order; the count that checks out. */
static int flood_replies(int fd, int n)
{
	struct lreader *r = lr_new(fd);
	char line[4096], want[32];
	int good = 0;

	for (int i = 0; r && i < n; i++) {
		long len = lr_line(r, line, sizeof(line));
		int wl = snprintf(want, sizeof(want), ",\"id\":%d}", i);
		if (len < wl || strncmp(line, "{\"return\":[", 11) != 0 ||
		    strcmp(line + len - wl, want) != 0)
			break;
		if (i < 500) { /* the first ones in full */
			json_t *v = json_loadb(line, (size_t)len, 0, NULL);
			int ok = json_array_size(json_object_get(v, "return")) == NCMDS + 1;
			json_decref(v);
			if (!ok)
				break;
		}
		good++;
	}
	free(r);
	return good;
}

TEST(flooding_client_does_not_block_others)
{
	struct tdir d;
	struct tctx t = {0};
	struct flood f = {0};
	pthread_t th;
	char line[4096];

	CHECK(tdir_make(&d) == 0);
	struct control_server *srv = start(&d, &t);
	CHECK(srv);
	f.fd = raw_connect(d.path);
	CHECK(f.fd >= 0);
	/* A small send buffer, so that the check on backpressure below does not
	 * depend on the host's default socket buffer sizes. */
	int sndbuf = 64 * 1024;
	CHECK(setsockopt(f.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == 0);
	CHECK(pthread_create(&th, NULL, flood_main, &f) == 0);
	sleep_ms(300); /* the server has long filled the flooder's socket by now */

	/* Another client is answered promptly. */
	int other = raw_connect(d.path);
	int64_t t0 = mono_ms();
	int asked = other >= 0 && raw_sends(other, "{\"execute\":\"nothing\",\"id\":\"other\"}\n") == 0;
	long got = asked ? raw_line(other, line, sizeof(line)) : -1;
	int64_t other_ms = mono_ms() - t0;
	/* Backpressure: the server stopped reading the flood (about 700 KB of
	 * requests, far more than its 64 KiB line buffer and our socket hold). */
	int writer_blocked = !atomic_load(&f.done);

	/* The flooder reads at last: every reply, in order. */
	int good = flood_replies(f.fd, FLOOD_REQUESTS);
	shutdown(f.fd, SHUT_RDWR); /* unblocks the writer if something went wrong */
	pthread_join(th, NULL);
	close(f.fd);

	CHECK(got > 0);
	CHECK_STR(line, "{\"return\":{},\"id\":\"other\"}");
	if (other_ms >= 500)
		fprintf(stderr, "the other client waited %lld ms\n", (long long)other_ms);
	CHECK(other_ms < 500);
	CHECK(writer_blocked);
	CHECK_EQ_INT(good, FLOOD_REQUESTS);
	CHECK_EQ_INT(f.rc, 0);
	CHECK(served(other)); /* still served */
	close(other);
	control_server_stop(srv);
	tdir_clean(&d);
}

/* ------------------------------------------------------------------------ */
/* The socket's path; starting and stopping the server. */

SERVER_TEST(second_server_on_the_same_path_is_refused_and_the_first_serves_on)
{
	struct control_server *srv2 = NULL;
	char err[256];
	CHECK_EQ_INT(control_server_start(&srv2, f->d.path, cmds, NCMDS, &f->t, err, sizeof(err)),
		     -EADDRINUSE);
	CHECK(srv2 == NULL);
	CHECK(strstr(err, "already listening") != NULL);
	CHECK(served(f->fd));
}

/* Leave a socket file at path that nobody listens on, as a VMM that crashed would. */
static int make_stale_socket(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -1;
	if (s >= 0)
		close(s);
	return rc;
}

DIR_TEST(connect_to_a_stale_socket_says_nothing_is_listening)
{
	char err[256];
	CHECK(make_stale_socket(f->d.path) == 0);
	CHECK(access(f->d.path, F_OK) == 0);
	CHECK_EQ_INT(control_connect(f->d.path, &f->fd, err, sizeof(err)), -ECONNREFUSED);
	CHECK(strstr(err, "nothing is listening") != NULL);
}

DIR_TEST(stale_socket_file_is_replaced)
{
	char err[256];
	CHECK(make_stale_socket(f->d.path) == 0);
	f->srv = start(&f->d, &f->t);
	CHECK(f->srv);
	CHECK_EQ_INT(control_connect(f->d.path, &f->fd, err, sizeof(err)), 0);
	CHECK_EQ_INT(control_call(f->fd, "nothing", NULL, NULL, err, sizeof(err)), 0);
}

DIR_TEST(regular_file_at_the_path_is_never_replaced)
{
	char err[256];
	struct stat st;
	int fd = open(f->d.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(control_server_start(&f->srv, f->d.path, cmds, NCMDS, &f->t, err, sizeof(err)),
		     -EEXIST);
	CHECK(strstr(err, "not a socket") != NULL);
	CHECK(lstat(f->d.path, &st) == 0 && S_ISREG(st.st_mode));
}

DIR_TEST(too_long_a_path_is_refused_by_server_and_client)
{
	char err[256], longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	CHECK_EQ_INT(control_server_start(&f->srv, longp, cmds, NCMDS, &f->t, err, sizeof(err)),
		     -ENAMETOOLONG);
	CHECK(strstr(err, "too long") != NULL);
	CHECK_EQ_INT(control_connect(longp, &f->fd, err, sizeof(err)), -ENAMETOOLONG);
	CHECK(strstr(err, "too long") != NULL);
}

DIR_TEST(server_refuses_an_empty_path)
{
	char err[256];
	CHECK_EQ_INT(control_server_start(&f->srv, "", cmds, NCMDS, &f->t, err, sizeof(err)),
		     -EINVAL);
}

/* 1 if starting a server over table is refused with -EINVAL, leaving no socket; else says why. */
static int table_refused(struct fixture *f, const char *what, const struct control_command *table,
			 size_t n)
{
	char err[256];
	int rc = control_server_start(&f->srv, f->d.path, table, n, &f->t, err, sizeof(err));
	if (rc == -EINVAL && access(f->d.path, F_OK) < 0)
		return 1;
	fprintf(stderr, "a table with %s: start returned %d (%s)\n", what, rc, err);
	stop_server(f);
	return 0;
}

DIR_TEST(server_refuses_a_bad_command_table)
{
	static const struct control_command dup[] = {{"a", h_nothing, NULL, NULL},
						     {"a", h_nothing, NULL, NULL}};
	static const struct control_command nofn[] = {{"a", NULL, NULL, NULL}};
	int refused = table_refused(f, "two commands of one name", dup, 2);
	refused += table_refused(f, "a command without a handler", nofn, 1);
	CHECK_EQ_INT(refused, 2);
}

DIR_TEST(connect_to_a_missing_socket_says_there_is_none)
{
	char err[256];
	CHECK_EQ_INT(control_connect(f->d.path, &f->fd, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "no control socket") != NULL);
}

DIR_TEST(server_without_commands_still_answers_query_commands)
{
	json_t *r = NULL;
	char err[256];
	CHECK_EQ_INT(control_server_start(&f->srv, f->d.path, NULL, 0, &f->t, err, sizeof(err)), 0);
	CHECK_EQ_INT(control_connect(f->d.path, &f->fd, err, sizeof(err)), 0);
	CHECK_EQ_INT(control_call(f->fd, "query-commands", NULL, &r, err, sizeof(err)), 0);
	size_t n = json_array_size(r);
	json_decref(r);
	CHECK_EQ_INT(n, 1);
}

TEST(stopping_no_server_does_nothing)
{
	control_server_stop(NULL); /* returns: a crash would fail the case */
}

/* A "quit" handler replies, then the server closes: the VM is going away. */
SERVER_TEST(reply_and_close_closes_every_client_and_the_socket)
{
	char err[256];
	CHECK_EQ_INT(control_connect(f->d.path, &f->fds[0], err, sizeof(err)), 0);
	CHECK_EQ_INT(control_call(f->fds[0], "quit", NULL, NULL, err, sizeof(err)), 0);
	CHECK(raw_eof(f->fds[0]));
	CHECK(raw_eof(f->fd));
	sleep_ms(20);
	/* The socket path is gone, so new clients learn the VM is going away. */
	CHECK(access(f->d.path, F_OK) < 0);
	CHECK_EQ_INT(control_connect(f->d.path, &f->fds[1], err, sizeof(err)), -ENOENT);
}

SERVER_TEST(reply_and_close_queued_behind_a_large_reply_sends_both)
{
	CHECK(raw_sends(f->fd, "{\"execute\":\"big\",\"id\":1}\n"
			      "{\"execute\":\"quit\",\"id\":2}\n") == 0);
	sleep_ms(50); /* the server waits for us to read */
	CHECK(big_then(f->fd, "{\"return\":{},\"id\":2}"));
	CHECK(raw_eof(f->fd));
}

/* ------------------------------------------------------------------------ */
/* Arguments, checked against each command's spec before its handler runs. */

/*
 * Send req (one line) to a server over table and check the reply: an error
 * of class cls whose desc is desc, with the id 7 echoed. The requests are
 * all refused before any handler runs, so the VMM's own migrate commands
 * serve here with no VM behind them.
 */
static int refused(const struct control_command *table, size_t n, const char *req,
		   const char *cls, const char *desc)
{
	struct tdir d;
	struct control_server *srv = NULL;
	char err[256], line[4096], buf[1024];
	int ok = 0;

	if (tdir_make(&d) < 0)
		return 0;
	if (control_server_start(&srv, d.path, table, n, NULL, err, sizeof(err)) == 0) {
		int fd = raw_connect(d.path);
		ok = fd >= 0 && raw_sends(fd, req) == 0 && raw_sends(fd, "\n") == 0 &&
		     raw_line(fd, line, sizeof(line)) > 0 && reply_is(line, cls) &&
		     strcmp(reply_desc(line, buf, sizeof(buf)), desc) == 0 &&
		     strstr(line, ",\"id\":7}") != NULL;
		if (!ok)
			fprintf(stderr, "%s\n  got: %s\n", req, fd >= 0 ? line : "(no connection)");
		if (fd >= 0)
			close(fd);
		control_server_stop(srv);
	}
	tdir_clean(&d);
	return ok;
}

static int migrate_refused(const char *args, const char *desc)
{
	char req[1024];
	snprintf(req, sizeof(req), "{\"execute\":\"migrate\",\"arguments\":%s,\"id\":7}", args);
	return refused(vm_migrate_commands, vm_migrate_nr_commands, req, "GenericError", desc);
}

TEST(arg_misspelt)
{
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"downtme_ms\":300}",
			      "migrate: unknown argument 'downtme_ms'"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"URI\":\"x\"}",
			      "migrate: unknown argument 'URI'"));
}

TEST(arg_mistyped)
{
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"downtime_ms\":\"300\"}",
			      "migrate: 'downtime_ms' must be an unsigned integer"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"downtime_ms\":300.0}",
			      "migrate: 'downtime_ms' must be an unsigned integer"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"channels\":null}",
			      "migrate: 'channels' must be an unsigned integer"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"level\":true}",
			      "migrate: 'level' must be an integer"));
	CHECK(migrate_refused("{\"uri\":4444}", "migrate: 'uri' must be a string"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"codec\":[\"lz4\"]}",
			      "migrate: 'codec' must be a string"));
}

TEST(arg_out_of_range)
{
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"channels\":17}",
			      "migrate: 'channels' must be at most 16 (got 17)"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"level\":-101}",
			      "migrate: 'level' must be at least -100 (got -101)"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"compress_threads\":65}",
			      "migrate: 'compress_threads' must be at most 64 (got 65)"));
	/* A negative number for an unsigned argument is of the wrong kind. */
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"downtime_ms\":-1}",
			      "migrate: 'downtime_ms' must be an unsigned integer"));
}

TEST(arg_missing)
{
	CHECK(migrate_refused("{\"channels\":2}", "migrate: missing argument 'uri'"));
	CHECK(migrate_refused("{}", "migrate: missing argument 'uri'"));
	CHECK(refused(vm_migrate_commands, vm_migrate_nr_commands,
		      "{\"execute\":\"migrate\",\"id\":7}", "GenericError",
		      "migrate: missing argument 'uri'"));
}

/* query-migrate takes "release" alone, a boolean (the reader that reports
 * the final result). */
TEST(query_migrate_refuses_other_arguments)
{
	CHECK(refused(vm_migrate_commands, vm_migrate_nr_commands,
		      "{\"execute\":\"query-migrate\",\"arguments\":{\"verbose\":true},\"id\":7}",
		      "GenericError", "query-migrate: unknown argument 'verbose'"));
	CHECK(refused(vm_migrate_commands, vm_migrate_nr_commands,
		      "{\"execute\":\"query-migrate\",\"arguments\":{\"release\":1},\"id\":7}",
		      "GenericError", "query-migrate: 'release' must be true or false"));
}

TEST(arg_to_command_without_arguments)
{
	CHECK(refused(vm_migrate_commands, vm_migrate_nr_commands,
		      "{\"execute\":\"migrate-cancel\",\"arguments\":{\"verbose\":true},\"id\":7}",
		      "GenericError", "migrate-cancel: unknown argument 'verbose' (it takes none)"));
	CHECK(refused(cmds, NCMDS, "{\"execute\":\"query-commands\",\"arguments\":{\"all\":1},\"id\":7}",
		      "GenericError", "query-commands: unknown argument 'all' (it takes none)"));

	/* An empty object is no arguments. */
	struct tdir d;
	struct tctx t = {0};
	char line[4096];
	CHECK(tdir_make(&d) == 0);
	struct control_server *srv = start(&d, &t);
	CHECK(srv);
	int fd = raw_connect(d.path);
	CHECK(fd >= 0);
	CHECK(raw_sends(fd, "{\"execute\":\"nothing\",\"arguments\":{},\"id\":7}\n") == 0);
	CHECK(raw_line(fd, line, sizeof(line)) > 0);
	CHECK_STR(line, "{\"return\":{},\"id\":7}");
	close(fd);
	control_server_stop(srv);
	tdir_clean(&d);
}

TEST(arg_u64_above_int64_max)
{
	/* Jansson holds no integer above INT64_MAX: refused, naming the argument. */
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"max_bandwidth\":18446744073709551615}",
			      "migrate: 'max_bandwidth' must be at most 9223372036854775807 (got an "
			      "integer above INT64_MAX)"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"max_bandwidth\":9223372036854775808}",
			      "migrate: 'max_bandwidth' must be at most 9223372036854775807 (got an "
			      "integer above INT64_MAX)"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"channels\":18446744073709551616}",
			      "migrate: 'channels' must be at most 16 (got an integer above INT64_MAX)"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"level\":-9223372036854775809}",
			      "migrate: 'level' must be at least -100 (got an integer below INT64_MIN)"));
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"downtime_ms\":-9223372036854775809}",
			      "migrate: 'downtime_ms' must be an unsigned integer"));
	/* The other checks still come first. */
	CHECK(migrate_refused("{\"uri\":\"tcp:127.0.0.1:4444\",\"max_bandwidht\":18446744073709551615}",
			      "migrate: unknown argument 'max_bandwidht'"));
	CHECK(migrate_refused("{\"uri\":7,\"max_bandwidth\":18446744073709551615}",
			      "migrate: 'uri' must be a string"));
	/* Also when the id holds one as well (the id is fine, and echoed). */
	CHECK(refused(vm_migrate_commands, vm_migrate_nr_commands,
		      "{\"execute\":\"migrate\",\"id\":7,\"arguments\":{\"uri\":\"tcp:127.0.0.1:4444\","
		      "\"max_bandwidth\":18446744073709551615}}",
		      "GenericError",
		      "migrate: 'max_bandwidth' must be at most 9223372036854775807 (got an integer "
		      "above INT64_MAX)"));
	/* Elsewhere in the request: the error it would get anyway. */
	CHECK(refused(cmds, NCMDS,
		      "{\"execute\":\"nothing\",\"arguments\":{\"n\":18446744073709551616},\"id\":7}",
		      "GenericError", "nothing: unknown argument 'n' (it takes none)"));
	CHECK(refused(cmds, NCMDS, "{\"execute\":\"nothing\",\"x\":18446744073709551616,\"id\":7}",
		      "InvalidRequest",
		      "unknown member \"x\" in request (expected execute, arguments, id)"));
}

/* The spec's unpacking into a struct, as a handler sees it. */
struct all_args {
	const char *name;
	uint64_t size;
	int64_t delta;
	bool on;
};

static const struct control_arg all_spec[] = {
	CONTROL_ARG_S(struct all_args, name, true),
	CONTROL_ARG_U(struct all_args, size, false, 0, INT64_MAX),
	CONTROL_ARG_I(struct all_args, delta, false, -5, 5),
	CONTROL_ARG_B(struct all_args, on, false),
	{NULL},
};

static int unpack(const char *text, struct all_args *a, char *err, size_t errlen)
{
	json_t *args = json_loads(text, 0, NULL);
	int rc = args ? control_args_unpack("t", args, all_spec, a, err, errlen) : -100;
	json_decref(args);
	return rc;
}

TEST(args_unpack)
{
	struct all_args a = {.size = 42, .delta = 1};
	char err[256];

	/* Given arguments are stored; the others keep their defaults. */
	CHECK_EQ_INT(unpack("{\"name\":\"x\",\"on\":true}", &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(a.size, 42);
	CHECK_EQ_INT(a.delta, 1);
	CHECK(a.on);
	CHECK_EQ_INT(unpack("{\"name\":\"x\",\"size\":9223372036854775807,\"delta\":-5,\"on\":false}",
			    &a, err, sizeof(err)),
		     0);
	CHECK(a.size == (uint64_t)INT64_MAX);
	CHECK_EQ_INT(a.delta, -5);
	CHECK(!a.on);
	/* A refusal stores nothing it names. */
	a.delta = 3;
	CHECK_EQ_INT(unpack("{\"name\":\"x\",\"delta\":6}", &a, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "t: 'delta' must be at most 5 (got 6)");
	CHECK_EQ_INT(a.delta, 3);
	CHECK_EQ_INT(unpack("{\"name\":\"x\",\"on\":1}", &a, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "t: 'on' must be true or false");
	CHECK_EQ_INT(unpack("{\"on\":true}", &a, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "t: missing argument 'name'");
	/* No arguments at all, and a spec that takes none. */
	CHECK_EQ_INT(control_args_unpack("t", NULL, all_spec, &a, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "t: missing argument 'name'");
	CHECK_EQ_INT(control_args_unpack("t", NULL, NULL, NULL, err, sizeof(err)), 0);
}

/* The helpers over Jansson: replies must stay valid JSON whatever the text. */
TEST(json_helpers)
{
	json_t *s = json_string_lossy("ok \xc3\xa9 \xff bad \xed\xa0\x80 \xf4\x90\x80\x80 \xc3");
	CHECK(s);
	CHECK_STR(json_string_value(s), "ok \xc3\xa9 \xef\xbf\xbd bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
					"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd");
	json_decref(s);
	s = json_string_lossy(NULL);
	CHECK(json_is_null(s));
	json_t *o = json_pack("{s:o, s:o, s:o, s:I}", "nan", json_finite(NAN), "inf",
			      json_finite(INFINITY), "x", json_finite(812.3), "big",
			      json_u64(UINT64_MAX));
	char *text = o ? json_dumps(o, VMIG_JSON_DUMP) : NULL;
	CHECK(text);
	int ok = strcmp(text, "{\"nan\":null,\"inf\":null,\"x\":812.3,\"big\":9223372036854775807}") == 0;
	if (!ok)
		fprintf(stderr, "got %s\n", text);
	free(text);
	json_decref(o);
	CHECK(ok);
}

/* ------------------------------------------------------------------------ */
/* vmig status */

struct capture {
	int saved_out, saved_err;
	char file[64];
};

static int capture_begin(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	snprintf(c->file, sizeof(c->file), "/tmp/vmig-out-XXXXXX");
	int fd = mkstemp(c->file);
	if (fd < 0)
		return -1;
	c->saved_out = dup(1);
	c->saved_err = dup(2);
	dup2(fd, 1);
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(nul, 2);
	close(nul);
	close(fd);
	return 0;
}

/* Returns the captured stdout (malloc'd). */
static char *capture_end(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	dup2(c->saved_out, 1);
	dup2(c->saved_err, 2);
	close(c->saved_out);
	close(c->saved_err);
	char *buf = calloc(1, 65536);
	int fd = open(c->file, O_RDONLY | O_CLOEXEC);
	if (buf && fd >= 0) {
		ssize_t n = read(fd, buf, 65535);
		(void)n;
	}
	if (fd >= 0)
		close(fd);
	unlink(c->file);
	return buf;
}

static int run_status(struct capture *c, char **out, int argc, char **argv)
{
	if (capture_begin(c) < 0)
		return -100;
	int rc = cmd_status(argc, argv);
	*out = capture_end(c);
	return rc;
}

/* vmig status --control f's socket, its stdout in *out (malloc'd): its exit status. */
static int status_of(struct fixture *f, char **out)
{
	struct capture cap;
	char *argv[] = {"status", "--control", f->d.path, NULL};
	return run_status(&cap, out, 3, argv);
}

/* 1 if out is want; else it says on stderr what came. */
static int printed(const char *out, const char *want)
{
	if (out && strcmp(out, want) == 0)
		return 1;
	fprintf(stderr, "got:\n%s", out ? out : "(null)\n");
	return 0;
}

SERVER_TEST(status_prints_the_vm_the_guest_and_its_heartbeat)
{
	char *out = NULL;
	int rc = status_of(f, &out);
	int ok = printed(out, "VM: running  uptime 12.3 s  vcpus 2  mem 1024 MiB\n"
			      "guest: t=12s passes=340 dirty=812.3 MiB/s errors=0\n"
			      "heartbeat: 11873 beats, last 0.4 ms ago, largest gap 3.1 ms\n");
	free(out);
	CHECK_EQ_INT(rc, 0);
	CHECK(ok);
}

SERVER_TEST(status_json_holds_both_replies_as_they_came)
{
	struct capture cap;
	char *out = NULL, *argv[] = {"status", "-j", "-c", f->d.path, NULL};
	int rc = run_status(&cap, &out, 4, argv);
	json_t *v = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	json_t *guest = json_object_get(v, "guest");
	const char *s = json_string_value(json_object_get(json_object_get(v, "status"), "status"));
	const char *last = json_string_value(json_object_get(guest, "last_line"));
	int ok = s && strcmp(s, "running") == 0 &&
		 json_integer_value(json_object_get(guest, "heartbeats")) == 11873 &&
		 json_real_value(json_object_get(guest, "dirty_mibs")) == 812.3 && last &&
		 strcmp(last, "PROGRESS t=12\x1b[31m") == 0;
	json_decref(v);
	CHECK_EQ_INT(rc, 0);
	CHECK(v);
	CHECK(ok);
}

/* Missing fields print as '?'; terminal escapes from the guest are defused. */
SERVER_TEST(status_of_a_guest_without_progress_shows_what_is_missing)
{
	char *out = NULL;
	f->t.sparse = 1;
	int rc = status_of(f, &out);
	int ok = printed(out, "VM: running  uptime ?  vcpus ?  mem ?\n"
			      "guest: no progress report yet (last line: \"booting?[2J\")\n"
			      "heartbeat: none yet\n");
	free(out);
	CHECK_EQ_INT(rc, 0);
	CHECK(ok);
}

SERVER_TEST(status_shows_the_dirty_tracking)
{
	char *out = NULL;
	f->t.ring = 1;
	int rc = status_of(f, &out);
	bool ok = out && strstr(out, "\ndirty tracking: ring, 4096 entries per vCPU; "
				     "per-vCPU dirty limit 32.0 MiB/s\nguest: ") != NULL;
	if (!ok)
		fprintf(stderr, "got:\n%s", out ? out : "(null)");
	free(out);
	CHECK_EQ_INT(rc, 0);
	CHECK(ok);
}

TEST(status_help_prints_the_usage)
{
	struct capture cap;
	char *out = NULL, *argv[] = {"status", "--help", NULL};
	int rc = run_status(&cap, &out, 2, argv);
	int ok = out && strstr(out, "Usage: vmig status") != NULL;
	free(out);
	CHECK_EQ_INT(rc, 0);
	CHECK(ok);
}

/* 1 if vmig status with these arguments (NULL-terminated) exits 2; else says what it did. */
static int usage_error(char **argv)
{
	struct capture cap;
	char *out = NULL;
	int argc = 0;
	while (argv[argc])
		argc++;
	int rc = run_status(&cap, &out, argc, argv);
	free(out);
	if (rc == 2)
		return 1;
	fprintf(stderr, "vmig status %s ...: exit %d, want 2\n", argc > 1 ? argv[1] : "", rc);
	return 0;
}

/* An unknown flag, no --control, --control without a path, an extra argument. */
SERVER_TEST(status_usage_errors_exit_2)
{
	char *unknown[] = {"status", "--frobnicate", NULL};
	char *no_control[] = {"status", NULL};
	char *no_path[] = {"status", "--control", NULL};
	char *extra[] = {"status", "-c", f->d.path, "extra", NULL};
	int refused = usage_error(unknown) + usage_error(no_control);
	refused += usage_error(no_path) + usage_error(extra);
	CHECK_EQ_INT(refused, 4);
}

DIR_TEST(status_without_a_vm_exits_1)
{
	char *out = NULL;
	int rc = status_of(f, &out);
	free(out);
	CHECK_EQ_INT(rc, 1);
}

DIR_TEST(status_of_a_vmm_without_query_guest_exits_1)
{
	static const struct control_command partial[] = {
		{"query-status", h_query_status, NULL, NULL}};
	char err[256], *out = NULL;
	CHECK_EQ_INT(control_server_start(&f->srv, f->d.path, partial, 1, &f->t, err, sizeof(err)),
		     0);
	int rc = status_of(f, &out);
	free(out);
	CHECK_EQ_INT(rc, 1);
}

/*
 * JSON text has no raw NUL byte, but Jansson skips one between tokens, and
 * the id is echoed from the raw text, where the NUL cut it short: the reply
 * was not JSON ({"a":[1,2.5}). Found by tests/fuzz/fuzz_control. Such a line
 * is refused as invalid JSON, and every reply parses.
 */
TEST(nul_byte_in_request)
{
	struct tdir d;
	struct tctx t = {0};
	char line[4096];
	static const char req[] = "{\"execute\":\"nothing\",\"id\":{\"a\":[1,2.5\0,3]}}\n";

	CHECK(tdir_make(&d) == 0);
	struct control_server *srv = start(&d, &t);
	CHECK(srv);
	int fd = raw_connect(d.path);
	CHECK(fd >= 0);
	CHECK(raw_send(fd, req, sizeof(req) - 1) == 0);
	CHECK(raw_line(fd, line, sizeof(line)) > 0);
	CHECK(reply_is(line, "InvalidRequest"));
	CHECK(strstr(line, "NUL") != NULL);
	/* The connection stays open, as after any malformed JSON. */
	CHECK(raw_sends(fd, "{\"execute\":\"nothing\",\"id\":[1, 2]}\n") == 0);
	CHECK(raw_line(fd, line, sizeof(line)) > 0);
	CHECK_STR(line, "{\"return\":{},\"id\":[1,2]}");
	close(fd);
	control_server_stop(srv);
	tdir_clean(&d);
}

RUN_TESTS("test_control", UT(server_socket_is_a_socket_only_its_owner_may_use),
	  UT(call_carries_the_arguments_and_the_reply_unchanged),
	  UT(call_without_arguments_gives_the_handler_null), UT(call_may_leave_the_reply_unread),
	  UT(call_to_an_unknown_command_is_eopnotsupp_naming_it),
	  UT(handler_error_reaches_the_caller_with_its_message),
	  UT(handler_error_without_message_reads_as_its_errno),
	  UT(reply_that_json_cannot_carry_is_an_error),
	  UT(call_with_arguments_not_an_object_is_einval),
	  UT(call_of_an_empty_command_name_is_einval),
	  UT(handler_that_returns_nothing_returns_an_empty_object), UT(large_reply_arrives_whole),
	  UT(query_commands_lists_the_table_then_itself), UT(call_times_out_on_a_slow_handler),
	  UT(stop_unlinks_the_socket),
	  UT(malformed_json_is_invalid_request_and_keeps_the_connection),
	  UT(bytes_that_are_not_json_are_invalid_request),
	  UT(request_that_is_not_an_object_is_invalid_request),
	  UT(request_without_execute_is_invalid_request_with_the_id),
	  UT(execute_that_is_not_a_string_is_invalid_request_with_the_id),
	  UT(arguments_that_are_not_an_object_are_invalid_request_with_the_id),
	  UT(unknown_request_member_is_invalid_request_with_the_id),
	  UT(unknown_command_is_command_not_found_with_the_id),
	  UT(handler_failure_is_generic_error_with_its_message),
	  UT(id_numbers_are_echoed_as_written), UT(id_string_is_echoed_with_its_escapes),
	  UT(id_null_and_true_are_echoed), UT(id_arrays_and_objects_are_echoed_as_written),
	  UT(id_loses_whitespace_outside_its_strings_only),
	  UT(id_is_found_wherever_it_is_its_key_escaped_or_not),
	  UT(duplicate_members_are_malformed), UT(trailing_garbage_is_malformed),
	  UT(number_beyond_a_doubles_range_is_malformed),
	  UT(request_without_id_gets_a_reply_without_id), UT(blank_lines_are_ignored),
	  UT(crlf_ends_a_request), UT(two_requests_in_one_write_get_two_replies_in_order),
	  UT(request_sent_in_pieces_is_served_whole), UT(half_closed_client_gets_every_reply),
	  UT(line_of_the_longest_length_is_served),
	  UT(line_one_byte_too_long_is_refused_and_the_connection_closed),
	  UT(endless_line_is_refused_and_the_connection_closed),
	  UT(server_serves_others_after_a_too_long_line), UT(concurrent_clients),
	  UT(clients_vanishing_mid_request_do_no_harm),
	  UT(clients_vanishing_before_a_large_reply_do_no_harm),
	  UT(client_over_the_limit_is_told_off_and_closed), UT(freed_client_slot_is_reused),
	  UT(stop_closes_every_client_even_one_mid_request), UT(idle_clients_time_out),
	  UT(full_server_evicts_longest_idle), UT(flooding_client_does_not_block_others),
	  UT(second_server_on_the_same_path_is_refused_and_the_first_serves_on),
	  UT(connect_to_a_stale_socket_says_nothing_is_listening),
	  UT(stale_socket_file_is_replaced), UT(regular_file_at_the_path_is_never_replaced),
	  UT(too_long_a_path_is_refused_by_server_and_client), UT(server_refuses_an_empty_path),
	  UT(server_refuses_a_bad_command_table),
	  UT(connect_to_a_missing_socket_says_there_is_none),
	  UT(server_without_commands_still_answers_query_commands),
	  UT(stopping_no_server_does_nothing),
	  UT(reply_and_close_closes_every_client_and_the_socket),
	  UT(reply_and_close_queued_behind_a_large_reply_sends_both), UT(arg_misspelt),
	  UT(arg_mistyped), UT(arg_out_of_range), UT(arg_missing),
	  UT(query_migrate_refuses_other_arguments), UT(arg_to_command_without_arguments),
	  UT(arg_u64_above_int64_max), UT(args_unpack), UT(json_helpers),
	  UT(status_prints_the_vm_the_guest_and_its_heartbeat),
	  UT(status_json_holds_both_replies_as_they_came),
	  UT(status_of_a_guest_without_progress_shows_what_is_missing),
	  UT(status_shows_the_dirty_tracking), UT(status_help_prints_the_usage),
	  UT(status_usage_errors_exit_2), UT(status_without_a_vm_exits_1),
	  UT(status_of_a_vmm_without_query_guest_exits_1), UT(nul_byte_in_request))
