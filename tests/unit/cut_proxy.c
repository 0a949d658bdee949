/* SPDX-License-Identifier: MIT */
/* TEST DOUBLE of a network: see cut_proxy.h. */
#include "cut_proxy.h"

#include "common/clock.h"
#include "migration/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINKS 40 /* connections, each with two pumps */

struct pump {
	struct cut_proxy *p;
	int from, to;
	enum cut_dir dir;
	pthread_t thread;
};

struct cut_proxy {
	int lfd, upstream_port;
	struct cut_rule rule;
	pthread_t acceptor;
	pthread_mutex_t lock;
	unsigned seen;           /* occurrences of the rule's record so far */
	uint64_t raw_seen;       /* after_bytes rules: bytes so far in rule.dir */
	bool fired, stopping;
	uint64_t fired_ns;       /* when it acted */
	uint64_t bytes_after;    /* towards the destination, since then: atomic */
	uint64_t link_free_ns;   /* rate rules: when the paced link is next free (lock) */
	int fds[2 * MAX_LINKS];
	unsigned nr_fds;
	struct pump pumps[2 * MAX_LINKS];
	unsigned nr_pumps;
};

int uri_port(const char *uri)
{
	const char *c = strrchr(uri, ':');
	return c ? atoi(c + 1) : -1;
}

/* Moves exactly n bytes (read when reading, else send); -1 on EOF or error. */
static int io_full(int fd, void *buf, size_t n, bool reading)
{
	uint8_t *b = buf;
	while (n) {
		ssize_t k = reading ? read(fd, b, n) : send(fd, b, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int read_full(int fd, void *buf, size_t n)
{
	return io_full(fd, buf, n, true);
}

static int write_full(int fd, const void *buf, size_t n)
{
	return io_full(fd, (void *)buf, n, false);
}

/* A rate rule: waits until n more bytes towards the destination keep
 * every connection together under the rate. */
static void pace(struct pump *u, size_t n)
{
	uint64_t rate = u->p->rule.rate_bytes_per_s;
	if (!rate || u->dir != TO_DEST)
		return;
	/* the link is free again at link_free_ns; idle time earns no burst */
	uint64_t now = now_ns();
	pthread_mutex_lock(&u->p->lock);
	uint64_t from = u->p->link_free_ns > now ? u->p->link_free_ns : now;
	uint64_t due = u->p->link_free_ns = from + (uint64_t)((double)n * 1e9 / (double)rate);
	pthread_mutex_unlock(&u->p->lock);
	if (due > now)
		usleep((useconds_t)((due - now) / 1000));
}

static void shut_all(struct cut_proxy *p)
{
	for (unsigned i = 0; i < p->nr_fds; i++)
		shutdown(p->fds[i], SHUT_RDWR);
}

/* The rule acts now (p->lock held). */
static void fire_locked(struct cut_proxy *p)
{
	p->fired = true;
	p->fired_ns = now_ns();
	if (p->rule.action == CUT_CLOSE)
		shut_all(p);
}

/* Whether the record of this type, in this direction, is where the rule acts. */
static bool rule_hits(struct cut_proxy *p, enum cut_dir dir, uint32_t type)
{
	bool hit = false;
	pthread_mutex_lock(&p->lock);
	if (!p->fired && dir == p->rule.dir && type == p->rule.type &&
	    ++p->seen >= (p->rule.nth ? p->rule.nth : 1)) {
		fire_locked(p);
		hit = true;
	}
	pthread_mutex_unlock(&p->lock);
	return hit;
}

/* Whether these n raw bytes, in this direction, reach the rule's count. */
static bool rule_hits_bytes(struct cut_proxy *p, enum cut_dir dir, size_t n)
{
	bool hit = false;
	pthread_mutex_lock(&p->lock);
	if (!p->fired && dir == p->rule.dir && (p->raw_seen += n) >= p->rule.after_bytes) {
		fire_locked(p);
		hit = true;
	}
	pthread_mutex_unlock(&p->lock);
	return hit;
}

/* Forwards one direction as raw chunks, for after_bytes rules. */
static void pump_raw(struct pump *u, uint8_t *buf, size_t cap)
{
	for (;;) {
		ssize_t n = read(u->from, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (rule_hits_bytes(u->p, u->dir, (size_t)n)) {
			while (u->p->rule.action == CUT_STALL &&
			       !__atomic_load_n(&u->p->stopping, __ATOMIC_ACQUIRE))
				usleep(10000);
			return;
		}
		if (u->dir == TO_DEST && cut_proxy_fired(u->p))
			__atomic_fetch_add(&u->p->bytes_after, (uint64_t)n, __ATOMIC_RELAXED);
		if (write_full(u->to, buf, (size_t)n))
			return;
	}
}

/* Forwards one direction record by record. */
static void *pump_thread(void *arg)
{
	struct pump *u = arg;
	uint8_t hdr[WIRE_HDR_SIZE];
	uint8_t *buf = malloc(1 << 20);
	if (buf && u->p->rule.after_bytes) {
		pump_raw(u, buf, 1 << 16);
		goto out;
	}
	while (buf && read_full(u->from, hdr, sizeof(hdr)) == 0) {
		struct wire_hdr h;
		wire_decode_hdr(hdr, &h);
		uint32_t len = h.len;
		if (rule_hits(u->p, u->dir, h.type)) {
			/* stalled: swallow nothing more, keep the sockets open */
			while (u->p->rule.action == CUT_STALL &&
			       !__atomic_load_n(&u->p->stopping, __ATOMIC_ACQUIRE))
				usleep(10000);
			break;
		}
		if (write_full(u->to, hdr, sizeof(hdr)))
			break;
		bool count = u->dir == TO_DEST && cut_proxy_fired(u->p);
		if (count)
			__atomic_fetch_add(&u->p->bytes_after, sizeof(hdr) + len, __ATOMIC_RELAXED);
		while (len) {
			size_t most = u->p->rule.rate_bytes_per_s ? 1u << 16 : 1u << 20;
			size_t n = len < most ? len : most;
			if (read_full(u->from, buf, n))
				goto out;
			pace(u, n);
			if (write_full(u->to, buf, n))
				goto out;
			len -= (uint32_t)n;
		}
	}
out:
	free(buf);
	if (u->p->rule.action != CUT_STALL || !cut_proxy_fired(u->p))
		shutdown(u->to, SHUT_WR); /* pass an orderly close on */
	return NULL;
}

static int connect_upstream(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void start_pump(struct cut_proxy *p, int from, int to, enum cut_dir dir)
{
	struct pump *u = &p->pumps[p->nr_pumps++];
	*u = (struct pump){.p = p, .from = from, .to = to, .dir = dir};
	pthread_create(&u->thread, NULL, pump_thread, u);
}

static void *acceptor_thread(void *arg)
{
	struct cut_proxy *p = arg;
	for (;;) {
		int c = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			return NULL; /* stopped */
		}
		pthread_mutex_lock(&p->lock);
		bool down = p->fired && (!p->rule.outage_ms ||
					 now_ns() - p->fired_ns < p->rule.outage_ms * 1000000ull);
		pthread_mutex_unlock(&p->lock);
		/* a link that is down reaches nothing upstream */
		int u = down ? -1 : connect_upstream(p->upstream_port);
		pthread_mutex_lock(&p->lock);
		if (u < 0 || p->nr_fds + 2 > 2 * MAX_LINKS || down) {
			/* after a cut the link stays down (for the outage) */
			pthread_mutex_unlock(&p->lock);
			close(c);
			if (u >= 0)
				close(u);
			continue;
		}
		p->fds[p->nr_fds++] = c;
		p->fds[p->nr_fds++] = u;
		start_pump(p, c, u, TO_DEST);
		start_pump(p, u, c, TO_SOURCE);
		pthread_mutex_unlock(&p->lock);
	}
}

int cut_proxy_start(int upstream_port, const struct cut_rule *rule, char *uri, size_t urilen,
		    struct cut_proxy **out)
{
	struct cut_proxy *p = calloc(1, sizeof(*p));
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	if (!p)
		return -ENOMEM;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->upstream_port = upstream_port;
	p->rule = *rule;
	pthread_mutex_init(&p->lock, NULL);
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(p->lfd, 16) < 0 ||
	    getsockname(p->lfd, (struct sockaddr *)&a, &al) < 0) {
		if (p->lfd >= 0)
			close(p->lfd);
		free(p);
		return -errno;
	}
	snprintf(uri, urilen, "tcp:127.0.0.1:%d", ntohs(a.sin_port));
	pthread_create(&p->acceptor, NULL, acceptor_thread, p);
	*out = p;
	return 0;
}

uint64_t cut_proxy_bytes_after_cut(struct cut_proxy *p)
{
	return __atomic_load_n(&p->bytes_after, __ATOMIC_RELAXED);
}

bool cut_proxy_fired(struct cut_proxy *p)
{
	pthread_mutex_lock(&p->lock);
	bool f = p->fired;
	pthread_mutex_unlock(&p->lock);
	return f;
}

void cut_proxy_stop(struct cut_proxy *p)
{
	__atomic_store_n(&p->stopping, true, __ATOMIC_RELEASE);
	shutdown(p->lfd, SHUT_RDWR);
	pthread_join(p->acceptor, NULL);
	close(p->lfd);
	pthread_mutex_lock(&p->lock);
	shut_all(p);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nr_pumps; i++)
		pthread_join(p->pumps[i].thread, NULL);
	for (unsigned i = 0; i < p->nr_fds; i++)
		close(p->fds[i]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
