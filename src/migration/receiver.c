/* SPDX-License-Identifier: MIT */
/*
 * Migration destination. The stream is hostile until proven otherwise:
 * every record is checksummed, every count, length and page number is
 * checked before anything is written, and nothing outside guest RAM is
 * ever written. The guest runs only after the digest matched, the state
 * loaded, READY went out and GO came back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "codec/codec.h"
#include "migration/acceptor.h"
#include "migration/channel.h"
#include "migration/ram.h"
#include "migration/receiver_internal.h"
#include "migration/rx_offload.h"
#include "migration/wire.h"
#include "host/probe.h"
#include "vmig/migration.h"

#define ALIVE_WAIT_MS 2000

/* First failure wins; every socket is shut down so that whoever is
 * blocked on one (the main thread included) returns at once. */
void incoming_fail(struct vmig_incoming *in, const char *msg)
{
	pthread_mutex_lock(&in->lock);
	if (!in->failed) {
		in->failed = true;
		snprintf(in->err, sizeof(in->err), "%s", msg);
	}
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	if (in->ch.fd >= 0)
		shutdown(in->ch.fd, SHUT_RDWR);
	for (unsigned i = 0; in->chans && i < in->nr_chans; i++)
		if (in->chans[i].own.fd >= 0)
			shutdown(in->chans[i].own.fd, SHUT_RDWR);
}

/* One source per incoming VM: once it is here, nobody else is heard. */
static void close_listener(struct vmig_incoming *in, const char *why)
{
	acceptor_free(in->acc, why);
	in->acc = NULL;
	if (in->lfd >= 0)
		close(in->lfd);
	in->lfd = -1;
}

/* The source is all here. With resume, the port stays open for it (what
 * connects meanwhile waits in the backlog, heard only if the link breaks). */
void incoming_retire_listener(struct vmig_incoming *in, const char *why)
{
	if (!in->p.resume_timeout_ms || in->lfd < 0) {
		close_listener(in, why);
		return;
	}
	acceptor_free(in->acc, why);
	in->acc = NULL;
}

int vmig_incoming_listen(const char *uri, int *listen_fd, char *err, size_t errlen)
{
	return chan_listen(uri, listen_fd, err, errlen);
}

int vmig_incoming_create(const struct vmig_incoming_params *p, struct vmig_incoming **out,
			 char *err, size_t errlen)
{
	struct vmig_incoming *in = calloc(1, sizeof(*in));
	if (!in || p->size != sizeof(*p) || p->nr_fds > WIRE_MAX_CHANNELS + 1 ||
	    (p->nr_fds && !p->fds) || (p->listen_fd < 0 && !p->nr_fds)) {
		int r = !in ? -ENOMEM : -EINVAL;
		if (!in)
			snprintf(err, errlen, "out of memory");
		else if (p->size != sizeof(*p))
			snprintf(err, errlen, "vmig_incoming_params.size is %u, this libvmig wants %zu "
					      "(VMIG_INCOMING_PARAMS_INIT)", p->size, sizeof(*p));
		else
			snprintf(err, errlen, "an incoming migration needs a listening socket or 1..%d "
					      "connections", WIRE_MAX_CHANNELS + 1);
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		for (unsigned i = 0; p->fds && i < p->nr_fds && i <= WIRE_MAX_CHANNELS; i++)
			close(p->fds[i]);
		free(in);
		return r;
	}
	in->p = *p;
	in->p.fds = NULL;
	in->p.tls_creds_dir = in->p.tls_psk_file = in->p.tls_hostname = NULL; /* the caller's; read below */
	if (in->p.io_timeout_ms <= 0)
		in->p.io_timeout_ms = VMIG_IO_TIMEOUT_DEFAULT_MS;
	in->ch.fd = -1;
	in->lfd = p->listen_fd;
	char perr[128];
	if (host_probe_start(p->host_probe_root, 0, &in->probe, perr, sizeof(perr)))
		log_warn("host figures unknown: %s", perr);
	vbuf_init(&in->payload);
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	in->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = 0;
	if (in->cancel_fd < 0 ||
	    acceptor_new(in->lfd, in->cancel_fd, in->p.io_timeout_ms, &in->acc))
		r = -ENOMEM;
	for (unsigned i = 0; i < p->nr_fds; i++)
		if (r)
			close(p->fds[i]);
		else
			r = acceptor_adopt(in->acc, p->fds[i]);
	if (r) {
		snprintf(err, errlen, "out of resources for an incoming migration: %s", strerror(-r));
		vmig_incoming_free(in);
		return r;
	}
	if ((r = rx_offload_open(p, &in->accel, err, errlen))) {
		vmig_incoming_free(in);
		return r;
	}
	struct tls_opts tls = {p->tls_creds_dir, p->tls_psk_file, p->tls_hostname};
	if (tls_opts_enabled(&tls)) {
		if ((r = tls_ctx_new(&tls, TLS_SERVER, &in->tls, err, errlen))) {
			vmig_incoming_free(in);
			return r;
		}
		acceptor_set_tls(in->acc, in->tls);
	}
	*out = in;
	return 0;
}

void vmig_incoming_cancel(struct vmig_incoming *in)
{
	uint64_t one = 1;
	if (write(in->cancel_fd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: cancelled */
	}
}

/* The first record of a would-be source: a HELLO within our limits. */
static int check_hello(void *opaque, const struct wire_hdr *h, const uint8_t *payload, char *why,
		       size_t whylen)
{
	struct vmig_incoming *in = opaque;
	if (h->type != REC_HELLO) {
		snprintf(why, whylen, "protocol error: expected HELLO, got %s", wire_type_name(h->type));
		return -EPROTO;
	}
	int r = wire_decode_hello(payload, h->len, &in->hello, why, whylen);
	if (r)
		return r;
	if (in->hello.features & WIRE_FEATURE_RESUME) {
		snprintf(why, whylen, "no migration to resume here");
		return -ESRCH;
	}
	uint64_t ram = 0;
	for (unsigned i = 0; i < in->hello.nr_regions; i++)
		if (__builtin_add_overflow(ram, in->hello.regions[i].size, &ram))
			ram = UINT64_MAX;
	if (in->p.max_ram_bytes && ram > in->p.max_ram_bytes) {
		snprintf(why, whylen, "the source's VM has %llu MiB of RAM; this host takes at most %llu MiB",
			 (unsigned long long)(ram >> 20), (unsigned long long)(in->p.max_ram_bytes >> 20));
		return -E2BIG;
	}
	if (in->p.check_config)
		return in->p.check_config(in->p.opaque, in->hello.vmm_config, in->hello.vmm_config_len,
					  why, whylen);
	return 0;
}

int vmig_incoming_accept(struct vmig_incoming *in, struct vmig_incoming_config *cfg, char *err,
			 size_t errlen)
{
	struct wire_hdr h;
	int fd, r;

	memset(cfg, 0, sizeof(*cfg));
	struct tls_conn *tls;
	r = acceptor_wait(in->acc, check_hello, in, in->p.accept_timeout_ms, &fd, &tls, &h,
			  &in->payload, cfg->peer, sizeof(cfg->peer), err, errlen);
	if (r)
		return r;
	in->t0_ns = now_ns();
	chan_init(&in->ch, fd, in->cancel_fd, in->p.io_timeout_ms);
	if (tls && (r = chan_adopt_tls(&in->ch, tls, err, errlen)))
		return r;
	if (tls) {
		char desc[96];
		tls_conn_describe(tls, desc, sizeof(desc));
		log_info("incoming: source %s authenticated: %s", cfg->peer, desc);
	}
	/* decoded again from our copy: the checked one pointed into the acceptor's buffer */
	if ((r = wire_decode_hello(in->payload.data, in->payload.len, &in->hello, err, errlen)))
		return r;
	if (in->hello.vmm_config_len) {
		in->vmm_config = malloc(in->hello.vmm_config_len);
		if (!in->vmm_config) {
			snprintf(err, errlen, "out of memory");
			chan_send_error(&in->ch, -ENOMEM, err);
			return -ENOMEM;
		}
		memcpy(in->vmm_config, in->hello.vmm_config, in->hello.vmm_config_len);
	}
	in->hello.vmm_config = in->vmm_config;
	if (!in->hello.nr_channels)
		incoming_retire_listener(in, "another migration is already incoming");
	cfg->nr_regions = in->hello.nr_regions;
	for (unsigned i = 0; i < in->hello.nr_regions; i++)
		cfg->regions[i] = (struct vmig_ram_region){in->hello.regions[i].gpa,
							   in->hello.regions[i].size, NULL};
	cfg->vmm_config = in->vmm_config;
	cfg->vmm_config_len = in->hello.vmm_config_len;
	return 0;
}

static void send_ack(struct vmig_incoming *in, uint32_t status, const char *msg)
{
	struct wire_hello_ack a = {.version = WIRE_VERSION, .status = status,
				   .features = WIRE_ACK_FEATURE_QUIET_CHANNELS};
	struct vbuf b;
	char ign[64];
	host_probe_get(in->probe, &a.host, NULL); /* sampled in the background: no wait */
	snprintf(a.message, sizeof(a.message), "%s", msg);
	vbuf_init(&b);
	wire_encode_hello_ack(&b, &a);
	chan_send_record(&in->ch, REC_HELLO_ACK, b.data, b.len, ign, sizeof(ign));
	vbuf_free(&b);
}

void vmig_incoming_refuse(struct vmig_incoming *in, const char *why)
{
	send_ack(in, 1, why);
}

static int regions_match(const struct ram_map *ram, const struct wire_hello *h, char *err,
			 size_t errlen)
{
	if (ram->nr != h->nr_regions)
		goto bad;
	for (unsigned i = 0; i < ram->nr; i++)
		if (ram->r[i].gpa != h->regions[i].gpa || ram->r[i].size != h->regions[i].size)
			goto bad;
	return 0;
bad:
	snprintf(err, errlen, "the destination VM's RAM layout differs from the source's");
	return -EINVAL;
}

/* What the main channel's records build up, one record at a time. */
struct run_ctx {
	struct vmig_incoming *in;
	const struct vmig_guest *g;
	struct ram_map *ram;
	struct dst_chan *mainstream; /* pages on the main channel (no data channels) */
	uint8_t *state;
	size_t state_len;
	bool have_digest, resumed, done;
	struct vmig_incoming_stats *st;
};

typedef int (*record_fn)(struct run_ctx *c, const uint8_t *p, size_t n, char *err, size_t errlen);

static int on_sync(struct run_ctx *c, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	if (!c->mainstream) {
		snprintf(err, errlen, "protocol error: unexpected SYNC record");
		return -EPROTO;
	}
	return dst_chan_synced(c->mainstream, &c->in->payload, err, errlen);
}

static int on_state(struct run_ctx *c, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	int r = wire_check_state_len(n, err, errlen);
	if (r)
		return r;
	free(c->state);
	c->state = malloc(n ? n : 1);
	if (!c->state) {
		snprintf(err, errlen, "out of memory for device state");
		return -ENOMEM;
	}
	memcpy(c->state, p, n);
	c->state_len = n;
	return 0;
}

/* The RAM digest, once every stream has applied the final pass. */
static int on_digest(struct run_ctx *c, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct wire_digest dg;
	int r = wire_decode_digest(p, n, &dg, err, errlen);
	if (r)
		return r;
	if (c->mainstream && dg.final_pass != c->mainstream->synced_pass) {
		snprintf(err, errlen, "protocol error: DIGEST for pass %llu, pass %llu is the last "
				      "one closed", (unsigned long long)dg.final_pass,
			 (unsigned long long)c->mainstream->synced_pass);
		return -EPROTO;
	}
	if ((r = incoming_wait_channels(c->in, dg.final_pass, err, errlen)))
		return r;
	uint64_t mine = ram_digest_keyed(c->ram, chan_key(&c->in->ch));
	if (dg.total_pages != c->ram->total_pages || dg.digest != mine) {
		snprintf(err, errlen,
			 "guest RAM digest mismatch (source %016llx, destination %016llx): "
			 "refusing to resume",
			 (unsigned long long)dg.digest, (unsigned long long)mine);
		return -EBADMSG;
	}
	c->have_digest = true;
	c->st->verified = true;
	return 0;
}

/* READY out, then nothing but GO within the deadline. */
static int await_go(struct run_ctx *c, char *err, size_t errlen)
{
	struct vmig_incoming *in = c->in;
	struct wire_hdr h;
	int r = chan_send_record(&in->ch, REC_READY, NULL, 0, err, errlen);
	if (!r)
		r = chan_recv_record(&in->ch, &h, &in->payload, in->ch.io_timeout_ms, err, errlen);
	if (r || h.type == REC_GO)
		return r;
	if (h.type == REC_ERROR) {
		char msg[WIRE_MAX_STRING];
		wire_decode_error(in->payload.data, in->payload.len, NULL, msg, sizeof(msg));
		snprintf(err, errlen, "source aborted before handover: %s", msg);
	} else {
		snprintf(err, errlen, "protocol error: expected GO, got %s", wire_type_name(h.type));
	}
	return -EPROTO;
}

/* After the resume: RESUMED, then when the guest showed life (ALIVE). */
static void report_resumed(struct run_ctx *c, uint64_t t_resume)
{
	struct vmig_incoming *in = c->in;
	const struct vmig_guest *g = c->g;
	char ign[64];
	chan_send_record(&in->ch, REC_RESUMED, NULL, 0, ign, sizeof(ign));
	uint64_t first = 0;
	for (int i = 0; g->ops->last_alive_ns && i < ALIVE_WAIT_MS && !first; i++) {
		uint64_t a = g->ops->last_alive_ns(g->opaque);
		if (a > t_resume)
			first = a;
		else
			nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	struct wire_alive al = {.first_alive_ns = first};
	for (unsigned i = 0; i < in->nr_chans; i++)
		al.decompress_ns += __atomic_load_n(&in->chans[i].decompress_ns, __ATOMIC_RELAXED);
	al.decompress_ns += in->accel ? rx_offload_decompress_ns(in->accel) : 0;
	uint8_t alive[WIRE_ALIVE_SIZE];
	wire_encode_alive(alive, &al);
	chan_send_record(&in->ch, REC_ALIVE, alive, sizeof(alive), ign, sizeof(ign));
}

/* COMPLETE: load the state, READY, wait for GO, resume: the handover. */
static int on_complete(struct run_ctx *c, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	const struct vmig_guest *g = c->g;
	int r;
	if (!c->state || !c->have_digest) {
		snprintf(err, errlen, "protocol error: COMPLETE before state and digest");
		return -EPROTO;
	}
	uint64_t t_load = now_ns();
	if ((r = g->ops->load_state(g->opaque, c->state, c->state_len, err, errlen)))
		return r;
	log_debug("incoming: state loaded in %.1f ms", (now_ns() - t_load) / 1e6);
	if ((r = await_go(c, err, errlen)))
		return r;
	uint64_t t_resume = realtime_ns();
	if ((r = g->ops->resume(g->opaque))) {
		snprintf(err, errlen, "cannot resume the guest: %s", strerror(-r));
		return r;
	}
	c->resumed = c->done = true;
	report_resumed(c, t_resume);
	return 0;
}

static int on_error(struct run_ctx *c, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	char msg[WIRE_MAX_STRING];
	wire_decode_error(p, n, NULL, msg, sizeof(msg));
	snprintf(err, errlen, "source aborted the migration: %s", msg);
	return -ECONNABORTED;
}

/* The records the main channel takes (PAGES is streamed: see run_main). */
static const struct {
	uint32_t type;
	record_fn fn;
} main_records[] = {
	{REC_SYNC, on_sync},
	{REC_STATE, on_state},
	{REC_DIGEST, on_digest},
	{REC_COMPLETE, on_complete},
	{REC_ERROR, on_error},
};

/* One record from the main channel, whatever it is. */
static int main_record(struct run_ctx *c, char *err, size_t errlen)
{
	struct vmig_incoming *in = c->in;
	struct wire_hdr h;
	int r;
	if (!c->mainstream && (r = incoming_wait_main_channel(in, err, errlen)))
		return r;
	if ((r = chan_recv_hdr(&in->ch, &h, in->ch.io_timeout_ms, err, errlen)))
		return r;
	if ((h.type == REC_PAGES || h.type == REC_SYNC) && c->have_digest) {
		/* RAM is checked: nothing may change it any more */
		snprintf(err, errlen, "protocol error: %s after DIGEST", wire_type_name(h.type));
		return -EPROTO;
	}
	if (h.type == REC_PAGES && c->mainstream)
		return dst_chan_recv_pages(c->mainstream, c->ram, &h, err, errlen);
	if ((r = chan_recv_payload(&in->ch, &h, &in->payload, err, errlen)))
		return r;
	for (size_t i = 0; i < sizeof(main_records) / sizeof(main_records[0]); i++)
		if (main_records[i].type == h.type)
			return main_records[i].fn(c, in->payload.data, in->payload.len, err, errlen);
	snprintf(err, errlen, "protocol error: unexpected %s record", wire_type_name(h.type));
	return -EPROTO;
}

/* Joins the channel threads and sums up what every stream did. */
static void collect_stats(struct vmig_incoming *in, struct vmig_incoming_stats *st)
{
	for (unsigned i = 0; in->chans && i < in->nr_chans; i++) {
		struct dst_chan *c = &in->chans[i];
		if (c->thread_on)
			pthread_join(c->thread, NULL);
		c->thread_on = false;
		st->pages_normal += c->pages_normal;
		st->pages_zero += c->pages_zero;
		st->pages_xbzrle += c->pages_xbzrle;
		st->decompress_ns += c->decompress_ns;
		st->passes = c->passes > st->passes ? c->passes : st->passes;
		st->wire_bytes += c->own.bytes_received + c->own.bytes_sent;
	}
	st->wire_bytes += in->ch.bytes_received + in->ch.bytes_sent + in->old_link_bytes;
	st->total_ms = (now_ns() - in->t0_ns) / 1000000;
	if (in->accel) {
		st->decompress_ns += rx_offload_decompress_ns(in->accel);
		rx_offload_describe(in->accel, st->accel, sizeof(st->accel));
	}
}

/* Ends a failed run: the source is told why (unless it left), the channel
 * threads are woken; a data channel's failure explains the main one's. */
static void fail_run(struct vmig_incoming *in, int r, char *err, size_t errlen)
{
	pthread_mutex_lock(&in->lock);
	if (in->failed)
		snprintf(err, errlen, "%s", in->err);
	pthread_mutex_unlock(&in->lock);
	if (r != -ECONNRESET && r != -ECONNABORTED)
		chan_send_error(&in->ch, r, err);
	incoming_fail(in, err);
}

/*
 * Resume after a broken link (docs/protocol.md, "Resuming a session").
 * Before the handover (no STATE, no CHANNEL_END yet), a link that breaks
 * leaves guest RAM and the record of closed passes here; the port is
 * heard again, for the same source only, for resume_timeout_ms.
 */
static bool may_resume(struct run_ctx *c, int r)
{
	struct vmig_incoming *in = c->in;
	if (!in->p.resume_timeout_ms || in->lfd < 0 || c->state || c->have_digest ||
	    !chan_error_is_link_loss(r))
		return false;
	/* The main channel's error may only echo a data channel's failure,
	 * which must be a lost link too. */
	for (unsigned i = 0; i < in->nr_chans; i++) {
		struct dst_chan *d = &in->chans[i];
		if (d->thread_on) {
			incoming_fail(in, "link lost");
			pthread_join(d->thread, NULL);
			d->thread_on = false;
		}
		if (d->got_end || (d->result && !chan_error_is_link_loss(d->result)))
			return false;
	}
	return true;
}

/* Closes every connection and rewinds every stream to the last pass all
 * of them closed, which it returns; a gets how far into the next pass
 * each stream got. */
static uint64_t rewind_streams(struct vmig_incoming *in, struct wire_hello_ack *a)
{
	uint64_t held = UINT64_MAX;
	for (unsigned i = 0; i < in->nr_chans; i++)
		held = in->chans[i].synced_pass < held ? in->chans[i].synced_pass : held;
	a->nr_progress = in->nr_chans;
	for (unsigned i = 0; i < in->nr_chans; i++) {
		struct dst_chan *d = &in->chans[i];
		/* how much of pass held + 1 this stream holds */
		a->progress[i] = d->synced_pass > held ? UINT64_MAX : d->applied_upto;
		d->applied_upto = 0;
		in->old_link_bytes += d->own.bytes_received + d->own.bytes_sent;
		chan_close(&d->own);
		d->own.bytes_received = d->own.bytes_sent = 0;
		d->synced_pass = held;
		d->ended = false;
		d->result = 0;
	}
	in->old_link_bytes += in->ch.bytes_received + in->ch.bytes_sent;
	chan_close(&in->ch);
	in->ch.bytes_received = in->ch.bytes_sent = 0;
	pthread_mutex_lock(&in->lock);
	in->failed = false;
	in->err[0] = 0;
	pthread_mutex_unlock(&in->lock);
	return held;
}

/* While a session waits: its own source's HELLO resuming it, no other. */
static int check_resume_hello(void *opaque, const struct wire_hdr *h, const uint8_t *payload,
			      char *why, size_t whylen)
{
	struct vmig_incoming *in = opaque;
	struct wire_hello hello;
	if (h->type != REC_HELLO) {
		snprintf(why, whylen, "protocol error: expected HELLO, got %s", wire_type_name(h->type));
		return -EPROTO;
	}
	int r = wire_decode_hello(payload, h->len, &hello, why, whylen);
	if (r)
		return r;
	if (!(hello.features & WIRE_FEATURE_RESUME) || hello.session != in->hello.session) {
		snprintf(why, whylen, "a migration is waiting here for its own source to resume it");
		return -EBUSY;
	}
	bool same = hello.nr_channels == in->hello.nr_channels &&
		    hello.nr_regions == in->hello.nr_regions &&
		    !memcmp(hello.regions, in->hello.regions, hello.nr_regions * sizeof(hello.regions[0]));
	if (!same) {
		snprintf(why, whylen, "the resumed session describes another VM or other channels");
		return -EPROTO;
	}
	return 0;
}

/* *heard: whether the source came back (a later failure may be resumed again). */
static int await_resume(struct run_ctx *c, bool *heard, char *err, size_t errlen)
{
	struct vmig_incoming *in = c->in;
	struct wire_hdr h;
	char why[512];
	int fd, r;
	struct wire_hello_ack a = {.version = WIRE_VERSION, .features = WIRE_ACK_FEATURE_QUIET_CHANNELS};
	snprintf(why, sizeof(why), "%s", err);
	uint64_t held = rewind_streams(in, &a), t0 = now_ns();
	a.resume_pass = held;
	log_warn("incoming migration: link lost (%s); keeping pass %llu, waiting up to %llu s for "
		 "the source to resume", why, (unsigned long long)held,
		 (unsigned long long)(in->p.resume_timeout_ms / 1000));
	acceptor_free(in->acc, "the migration is waiting for its source to resume");
	in->acc = NULL;
	if ((r = acceptor_new(in->lfd, in->cancel_fd, in->p.io_timeout_ms, &in->acc))) {
		snprintf(err, errlen, "out of resources for a resume: %s", strerror(-r));
		return r;
	}
	if (in->tls) /* the source authenticates again, each channel a new session */
		acceptor_set_tls(in->acc, in->tls);
	uint64_t limit = in->p.resume_timeout_ms > INT32_MAX ? INT32_MAX : in->p.resume_timeout_ms;
	struct tls_conn *tls;
	r = acceptor_wait(in->acc, check_resume_hello, in, (int)limit, &fd, &tls, &h, &in->payload,
			  NULL, 0, err, errlen);
	*heard = r == 0;
	if (r == -ETIMEDOUT)
		snprintf(err, errlen, "link lost (%s) and the source did not resume within %llu s", why,
			 (unsigned long long)(in->p.resume_timeout_ms / 1000));
	if (r)
		return r;
	chan_init(&in->ch, fd, in->cancel_fd, in->p.io_timeout_ms);
	if (tls && (r = chan_adopt_tls(&in->ch, tls, err, errlen)))
		return r;
	struct vbuf b;
	host_probe_get(in->probe, &a.host, NULL);
	snprintf(a.message, sizeof(a.message), "resumed at pass %llu", (unsigned long long)held);
	vbuf_init(&b);
	wire_encode_hello_ack(&b, &a);
	r = b.oom ? -ENOMEM : chan_send_record(&in->ch, REC_HELLO_ACK, b.data, b.len, err, errlen);
	vbuf_free(&b);
	if (!r && !in->hello.nr_channels)
		incoming_retire_listener(in, "another migration is already incoming");
	if (!r)
		r = incoming_connect_channels(in, err, errlen);
	if (!r)
		log_info("incoming migration resumed after %llu ms from pass %llu",
			 (unsigned long long)((now_ns() - t0) / 1000000), (unsigned long long)held);
	return r;
}

int vmig_incoming_run(struct vmig_incoming *in, const struct vmig_guest *g,
		      struct vmig_incoming_stats *st, char *err, size_t errlen)
{
	struct ram_map ram;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = ram_map_init(&ram, g, err, errlen))) {
		send_ack(in, 1, err);
		return r;
	}
	if ((r = regions_match(&ram, &in->hello, err, errlen))) {
		send_ack(in, 1, err);
		ram_map_free(&ram);
		return r;
	}
	send_ack(in, 0, "ok");
	struct run_ctx c = {.in = in, .g = g, .ram = &ram, .st = st};
	r = incoming_accept_channels(in, &ram, err, errlen);
	/* Without data channels the pages come on the main channel. */
	if (!r && !in->hello.nr_channels)
		c.mainstream = &in->chans[0];
	while (!r && !c.done) {
		r = main_record(&c, err, errlen);
		/* a resume that breaks half way (a data channel missing) waits
		 * again; a window that closed with no source ends it */
		bool heard = true;
		while (r && heard && may_resume(&c, r))
			r = await_resume(&c, &heard, err, errlen);
	}
	if (r && !c.resumed)
		fail_run(in, r, err, errlen);
	collect_stats(in, st);
	free(c.state);
	ram_map_free(&ram);
	return c.resumed ? 0 : (r ? r : -EPROTO);
}

void vmig_incoming_free(struct vmig_incoming *in)
{
	if (!in)
		return;
	for (unsigned i = 0; in->chans && i < in->nr_chans; i++) {
		if (in->chans[i].thread_on) {
			incoming_fail(in, "shutting down");
			pthread_join(in->chans[i].thread, NULL);
		}
		chan_close(&in->chans[i].own);
		vbuf_free(&in->chans[i].payload);
		free(in->chans[i].scratch);
		free(in->chans[i].comp);
		free(in->chans[i].xbz);
		if (in->chans[i].codec_ctx)
			codec_ctx_free(in->chans[i].codec_ctx);
		accel_queue_free(in->chans[i].q);
	}
	free(in->chans);
	accel_close(in->accel);
	close_listener(in, "the incoming migration has ended");
	if (in->cancel_fd >= 0)
		close(in->cancel_fd);
	chan_close(&in->ch);
	vbuf_free(&in->payload);
	free(in->vmm_config);
	tls_ctx_free(in->tls);
	host_probe_stop(in->probe);
	pthread_mutex_destroy(&in->lock);
	pthread_cond_destroy(&in->cond);
	free(in);
}
