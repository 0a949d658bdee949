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
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "common/buf.h"
#include "common/log.h"
#include "codec/codec.h"
#include "codec/xbzrle.h"
#include "migration/acceptor.h"
#include "migration/channel.h"
#include "migration/ram.h"
#include "migration/rx_offload.h"
#include "migration/wire.h"
#include "policy/probe.h"
#include "vmig/migration.h"

#define ALIVE_WAIT_MS 2000
#define MAIN_POLL_SLICE_MS 200
#define DATA_POLL_SLICE_MS 100 /* a silent data channel looks at the others this often */

struct vmig_incoming;


/* A page stream being received: the main channel, or a data channel with
 * its own thread. */
struct dst_chan {
	struct vmig_incoming *in;
	unsigned idx;
	struct channel *ch;
	struct channel own;
	pthread_t thread;
	bool thread_on;
	struct ram_map *ram;
	struct vbuf payload;
	/* one PAGES record's metadata */
	uint64_t entries[WIRE_MAX_PAGES_PER_BATCH];
	uint64_t hashes[WIRE_MAX_PAGES_PER_BATCH];
	struct iovec iov[WIRE_MAX_PAGES_PER_BATCH];
	uint64_t pages_normal, pages_zero, pages_xbzrle, passes;
	uint64_t decompress_ns;   /* this thread's CPU time in decoders */
	uint64_t ack_ns, ack_dec_ns; /* at this stream's last SYNC_ACK: now_ns, all decoding */
	struct codec_ctx *codec_ctx;
	struct accel_queue *q;    /* this thread's jobs on in->accel, if any */
	/* Allocated on first need (stream_buf): 4 MiB each, and a stream that
	 * never sees a compressed or XBZRLE batch should not hold them. */
	uint8_t *scratch;         /* decompressed batch */
	uint8_t *comp;            /* compressed batch as received */
	size_t comp_cap;
	uint8_t *xbz;             /* XBZRLE section as received */
	uint64_t synced_pass;     /* under in->lock */
	bool ended;               /* under in->lock: CHANNEL_END or failure */
	bool got_end;             /* CHANNEL_END came: the handover has begun */
	/* The open pass: the page after the last one of the last PAGES record
	 * applied whole (pages go in increasing order within a pass). */
	uint64_t applied_upto;
	int result;               /* the thread's: 0, or why it stopped */
};

struct vmig_incoming {
	struct vmig_incoming_params p;
	struct channel ch;
	int lfd;                  /* kept open until the data channels connected */
	int cancel_fd;            /* eventfd: vmig_incoming_cancel */
	struct acceptor *acc;     /* strangers on lfd, until the data channels connected */
	struct tls_ctx *tls;      /* required of every connection; NULL: plaintext */
	struct wire_hello hello;
	uint8_t *vmm_config;
	struct vbuf payload;
	uint64_t t0_ns;
	unsigned nr_chans;
	struct dst_chan *chans;   /* [0] is the main channel when there are no data channels */
	/* This host's figures for HELLO_ACK and every SYNC_ACK, sampled from
	 * creation on, so the first answer has an idle share (NULL: unknown). */
	struct host_probe *probe;
	struct accel *accel;      /* decompression offload (rx_offload.h), or NULL */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool failed;              /* under lock: a channel failed; err holds why */
	char err[512];
	uint64_t old_link_bytes;  /* both ways, on connections a broken link closed */
	/* now_ns() of the last record header any data channel read (atomic):
	 * a channel the source leaves out of a pass is silent while the
	 * others work (wait_data_channel). */
	uint64_t data_heard_ns;
};

/* First failure wins; every socket is shut down so that whoever is
 * blocked on one (the main thread included) returns at once. */
static void incoming_fail(struct vmig_incoming *in, const char *msg)
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
static void retire_listener(struct vmig_incoming *in, const char *why)
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
		retire_listener(in, "another migration is already incoming");
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

/* One PAGES record's metadata, as checked. */
struct pages_rec {
	uint32_t count, codec;
	uint32_t normal, xbz;     /* pages of each kind with data */
	uint32_t xbz_len;
	uint64_t left;            /* bytes of the record not read yet */
};

/* The fixed part: pass, count, codec. */
static int recv_pages_fixed(struct dst_chan *in, const struct wire_hdr *h, struct pages_rec *pr,
			    XXH3_state_t *xs, char *err, size_t errlen)
{
	uint8_t fixed[WIRE_PAGES_FIXED_SIZE];
	struct wire_pages_fixed f;
	int r;
	if (h->len < WIRE_PAGES_MIN_SIZE) {
		snprintf(err, errlen, "bad PAGES record: %u bytes", h->len);
		return -EPROTO;
	}
	if ((r = chan_recv(in->ch, fixed, sizeof(fixed), err, errlen)) ||
	    (r = wire_decode_pages_fixed(fixed, sizeof(fixed), &f, err, errlen)))
		return r;
	if (f.pass != in->synced_pass + 1) {
		snprintf(err, errlen, "bad PAGES record: pass %llu while pass %llu is open",
			 (unsigned long long)f.pass, (unsigned long long)in->synced_pass + 1);
		return -EPROTO;
	}
	if (f.count == 0 || f.count > WIRE_MAX_PAGES_PER_BATCH) {
		snprintf(err, errlen, "bad PAGES record: %u pages", f.count);
		return -EPROTO;
	}
	if (f.codec >= CODEC_COUNT) {
		snprintf(err, errlen, "bad PAGES record: unknown codec %u", f.codec);
		return -EPROTO;
	}
	/* The record check covers the metadata as it came on the wire; each
	 * piece is added before it is decoded (in place) to host order. */
	wire_check_reset(xs, chan_key(in->ch));
	XXH3_64bits_update(xs, fixed, sizeof(fixed));
	*pr = (struct pages_rec){.count = f.count, .codec = f.codec, .left = h->len - sizeof(fixed)};
	return 0;
}

/* A stream buffer of size bytes, allocated the first time it is needed. */
static int stream_buf(uint8_t **buf, size_t size, char *err, size_t errlen)
{
	if (!*buf && !(*buf = malloc(size))) {
		snprintf(err, errlen, "out of memory for a %zu-byte stream buffer", size);
		return -ENOMEM;
	}
	return 0;
}

/* The entries: every page number inside guest RAM, every kind known. */
static int recv_pages_entries(struct dst_chan *in, const struct ram_map *ram, struct pages_rec *pr,
			      XXH3_state_t *xs, char *err, size_t errlen)
{
	uint64_t *ent = in->entries;
	size_t ent_len = (size_t)pr->count * WIRE_PAGES_ITEM_SIZE;
	int r;
	if (pr->left < ent_len) {
		snprintf(err, errlen, "bad PAGES record: truncated page list");
		return -EPROTO;
	}
	if ((r = chan_recv(in->ch, ent, ent_len, err, errlen)))
		return r;
	XXH3_64bits_update(xs, ent, ent_len);
	if ((r = wire_decode_pages_entries(ent, ent_len, ent, pr->count, err, errlen)))
		return r;
	pr->left -= ent_len;
	for (uint32_t i = 0; i < pr->count; i++) {
		unsigned kind = wire_entry_kind(ent[i]);
		if (wire_entry_index(ent[i]) >= ram->total_pages || kind > WIRE_KIND_XBZRLE) {
			snprintf(err, errlen, "bad PAGES record: page %llu (kind %u) is beyond guest RAM "
				 "(%llu pages)", (unsigned long long)wire_entry_index(ent[i]), kind,
				 (unsigned long long)ram->total_pages);
			return -EPROTO;
		}
		pr->normal += kind == WIRE_KIND_NORMAL;
		pr->xbz += kind == WIRE_KIND_XBZRLE;
	}
	return 0;
}

/* The hashes, which close the record check, then the XBZRLE section. */
static int recv_pages_hashes(struct dst_chan *in, struct pages_rec *pr, XXH3_state_t *xs,
			     const struct wire_hdr *h, char *err, size_t errlen)
{
	uint8_t len_raw[WIRE_PAGES_LEN_SIZE];
	uint32_t nh = pr->normal + pr->xbz;
	size_t hash_len = (size_t)nh * WIRE_PAGES_ITEM_SIZE;
	int r;
	if (pr->left < (uint64_t)hash_len + WIRE_PAGES_LEN_SIZE) {
		snprintf(err, errlen, "bad PAGES record: truncated hashes");
		return -EPROTO;
	}
	if ((r = chan_recv(in->ch, in->hashes, hash_len, err, errlen)))
		return r;
	pr->left -= hash_len;
	XXH3_64bits_update(xs, in->hashes, hash_len);
	if (XXH3_64bits_digest(xs) != h->check) {
		snprintf(err, errlen, "bad PAGES record: checksum mismatch");
		return -EBADMSG;
	}
	if ((r = wire_decode_pages_hashes(in->hashes, hash_len, in->hashes, nh, err, errlen)) ||
	    (r = chan_recv(in->ch, len_raw, sizeof(len_raw), err, errlen)) ||
	    (r = wire_decode_pages_len(len_raw, sizeof(len_raw), &pr->xbz_len, err, errlen)))
		return r;
	pr->left -= WIRE_PAGES_LEN_SIZE;
	uint64_t xbz_max = (uint64_t)pr->xbz * (WIRE_XBZ_DELTA_HDR_SIZE + VMIG_PAGE_SIZE);
	uint64_t xbz_min = (uint64_t)pr->xbz * WIRE_XBZ_DELTA_HDR_SIZE;
	if (pr->xbz_len > pr->left || pr->xbz_len > xbz_max || pr->xbz_len > WIRE_MAX_XBZ_SECTION ||
	    (pr->xbz && pr->xbz_len < xbz_min) || (!pr->xbz && pr->xbz_len)) {
		snprintf(err, errlen, "bad PAGES record: XBZRLE section of %u bytes for %u pages",
			 pr->xbz_len, pr->xbz);
		return -EPROTO;
	}
	if (pr->xbz_len && ((r = stream_buf(&in->xbz, WIRE_MAX_XBZ_SECTION, err, errlen)) ||
			    (r = chan_recv(in->ch, in->xbz, pr->xbz_len, err, errlen))))
		return r;
	pr->left -= pr->xbz_len;
	return 0;
}

/* Zero pages: fresh RAM is zero, touch a page only if it held data. */
static void apply_zero_pages(struct dst_chan *in, struct ram_map *ram, const struct pages_rec *pr)
{
	for (uint32_t i = 0; i < pr->count; i++) {
		if (wire_entry_kind(in->entries[i]) != WIRE_KIND_ZERO)
			continue;
		uint64_t idx = wire_entry_index(in->entries[i]);
		if (ram->hash[idx] != ram->zero_hash)
			memset(ram_page(ram, idx), 0, VMIG_PAGE_SIZE);
		ram->hash[idx] = ram->zero_hash;
		in->pages_zero++;
	}
}

/* Raw normal pages: straight from the socket into the guest pages. */
static int recv_raw_pages(struct dst_chan *in, struct ram_map *ram, const struct pages_rec *pr,
			  char *err, size_t errlen)
{
	if (pr->left != (uint64_t)pr->normal * VMIG_PAGE_SIZE) {
		snprintf(err, errlen, "bad PAGES record: %llu data bytes for %u pages",
			 (unsigned long long)pr->left, pr->normal);
		return -EPROTO;
	}
	unsigned n = 0;
	for (uint32_t i = 0; i < pr->count; i++)
		if (wire_entry_kind(in->entries[i]) == WIRE_KIND_NORMAL)
			in->iov[n++] = (struct iovec){ram_page(ram, wire_entry_index(in->entries[i])),
						      VMIG_PAGE_SIZE};
	return n ? chan_recvv(in->ch, in->iov, (int)n, err, errlen) : 0;
}

/* Compressed normal pages: decoded on this thread, then scattered. */
static int recv_compressed_pages(struct dst_chan *in, struct ram_map *ram,
				 const struct pages_rec *pr, char *err, size_t errlen)
{
	uint8_t len_raw[WIRE_PAGES_LEN_SIZE];
	uint32_t comp_len = 0;
	int r = 0;
	if (!pr->normal || pr->left < WIRE_PAGES_LEN_SIZE ||
	    (r = chan_recv(in->ch, len_raw, sizeof(len_raw), err, errlen)) ||
	    (r = wire_decode_pages_len(len_raw, sizeof(len_raw), &comp_len, err, errlen)) ||
	    comp_len != pr->left - WIRE_PAGES_LEN_SIZE || comp_len > in->comp_cap) {
		if (!r) {
			snprintf(err, errlen, "bad PAGES record: compressed data does not fit the record");
			r = -EPROTO;
		}
		return r;
	}
	size_t cap = (size_t)WIRE_MAX_PAGES_PER_BATCH * VMIG_PAGE_SIZE;
	if ((r = stream_buf(&in->comp, in->comp_cap, err, errlen)) ||
	    (r = stream_buf(&in->scratch, cap, err, errlen)) ||
	    (r = chan_recv(in->ch, in->comp, comp_len, err, errlen)))
		return r;
	uint64_t t0 = thread_cpu_ns();
	size_t want = (size_t)pr->normal * VMIG_PAGE_SIZE;
	r = -ENOTSUP;
	if (in->q) /* the workers' CPU time is counted by the engine */
		r = rx_offload_decompress(in->in->accel, in->q, (enum codec_id)pr->codec, in->comp,
					  comp_len, in->scratch, cap, want);
	/* No engine, or one that does not do this codec (QAT: deflate only) or is full. */
	if (r == -ENOTSUP || r == -EAGAIN)
		r = codec_decompress(in->codec_ctx, (enum codec_id)pr->codec, in->comp, comp_len,
				     in->scratch, cap, want);
	__atomic_fetch_add(&in->decompress_ns, thread_cpu_ns() - t0, __ATOMIC_RELAXED);
	if (r) {
		snprintf(err, errlen, "bad PAGES record: %s data does not decompress to %u pages",
			 codec_name((enum codec_id)pr->codec), pr->normal);
		return -EBADMSG;
	}
	const uint8_t *src = in->scratch;
	for (uint32_t i = 0; i < pr->count; i++)
		if (wire_entry_kind(in->entries[i]) == WIRE_KIND_NORMAL) {
			memcpy(ram_page(ram, wire_entry_index(in->entries[i])), src, VMIG_PAGE_SIZE);
			src += VMIG_PAGE_SIZE;
		}
	return 0;
}

/* XBZRLE pages: deltas against what this side holds. */
static int apply_xbzrle_pages(struct dst_chan *in, struct ram_map *ram, const struct pages_rec *pr,
			      char *err, size_t errlen)
{
	if (!pr->xbz)
		return 0; /* and in->xbz may not exist yet */
	const uint8_t *d = in->xbz, *dend = in->xbz + pr->xbz_len;
	for (uint32_t i = 0; i < pr->count; i++) {
		if (wire_entry_kind(in->entries[i]) != WIRE_KIND_XBZRLE)
			continue;
		uint16_t n;
		if (dend - d < WIRE_XBZ_DELTA_HDR_SIZE ||
		    wire_decode_xbz_delta_len(d, WIRE_XBZ_DELTA_HDR_SIZE, &n, err, errlen)) {
			snprintf(err, errlen, "bad PAGES record: XBZRLE section truncated");
			return -EBADMSG;
		}
		d += WIRE_XBZ_DELTA_HDR_SIZE;
		uint64_t idx = wire_entry_index(in->entries[i]);
		if (dend - d < n || xbzrle_decode(d, n, ram_page(ram, idx), VMIG_PAGE_SIZE)) {
			snprintf(err, errlen, "bad PAGES record: malformed XBZRLE delta for page %llu",
				 (unsigned long long)idx);
			return -EBADMSG;
		}
		d += n;
		in->pages_xbzrle++;
	}
	if (d != dend) {
		snprintf(err, errlen, "bad PAGES record: trailing bytes in the XBZRLE section");
		return -EBADMSG;
	}
	return 0;
}

/* Every non-zero page against its hash; the RAM table learns the new ones. */
static int check_page_hashes(struct dst_chan *in, struct ram_map *ram, const struct pages_rec *pr,
			     char *err, size_t errlen)
{
	unsigned k = 0;
	for (uint32_t i = 0; i < pr->count; i++) {
		unsigned kind = wire_entry_kind(in->entries[i]);
		if (kind == WIRE_KIND_ZERO)
			continue;
		uint64_t idx = wire_entry_index(in->entries[i]);
		uint64_t got = page_hash(ram_page(ram, idx));
		if (got != in->hashes[k]) {
			snprintf(err, errlen, "bad PAGES record: page %llu does not match its hash%s",
				 (unsigned long long)idx, kind == WIRE_KIND_XBZRLE ? " after its XBZRLE delta" : "");
			return -EBADMSG;
		}
		ram->hash[idx] = got;
		k++;
		if (kind == WIRE_KIND_NORMAL)
			in->pages_normal++;
	}
	return 0;
}

/*
 * Receives one PAGES record (its header already read; layout in
 * docs/protocol.md). Everything but the page contents is read and checked
 * first; raw page data then goes straight into the guest pages it names,
 * compressed data is decoded on this thread into a scratch buffer and
 * scattered, XBZRLE deltas are applied to the pages in place; finally
 * every page is checked against its hash.
 */
static int recv_pages(struct dst_chan *in, struct ram_map *ram, const struct wire_hdr *h,
		      char *err, size_t errlen)
{
	struct pages_rec pr;
	XXH3_state_t xs;
	int r;
	if ((r = recv_pages_fixed(in, h, &pr, &xs, err, errlen)) ||
	    (r = recv_pages_entries(in, ram, &pr, &xs, err, errlen)) ||
	    (r = recv_pages_hashes(in, &pr, &xs, h, err, errlen)))
		return r;
	apply_zero_pages(in, ram, &pr);
	if (pr.codec == CODEC_NONE)
		r = recv_raw_pages(in, ram, &pr, err, errlen);
	else
		r = recv_compressed_pages(in, ram, &pr, err, errlen);
	if (r || (r = apply_xbzrle_pages(in, ram, &pr, err, errlen)) ||
	    (r = check_page_hashes(in, ram, &pr, err, errlen)))
		return r;
	in->applied_upto = wire_entry_index(in->entries[pr.count - 1]) + 1;
	return 0;
}

/* This host's figures for a SYNC_ACK, the planner's per-pass view of us:
 * what decoding took since this stream's last one counts as idle. */
static void ack_host_figures(struct dst_chan *c, struct wire_host_info *hi)
{
	struct vmig_incoming *in = c->in;
	uint64_t dec = 0, now = now_ns(), since = c->ack_ns ? c->ack_ns : in->t0_ns;
	for (unsigned i = 0; i < in->nr_chans; i++)
		dec += __atomic_load_n(&in->chans[i].decompress_ns, __ATOMIC_RELAXED);
	host_probe_get(in->probe, hi, NULL);
	if (now > since)
		probe_credit_own_work(hi, (double)(dec - c->ack_dec_ns) / (double)(now - since));
	c->ack_ns = now;
	c->ack_dec_ns = dec;
}

/* SYNC on a page stream: acknowledge it and let the main thread know. */
static int stream_synced(struct dst_chan *c, const struct vbuf *payload, char *err, size_t errlen)
{
	struct wire_sync s;
	int r = wire_decode_sync(payload->data, payload->len, &s, err, errlen);
	if (r)
		return r;
	uint64_t pass = s.pass;
	/* Passes close in order, one SYNC each: a repeated or skipped one
	 * would let the final check run while pages are still on the way. */
	if (pass != c->synced_pass + 1) {
		snprintf(err, errlen, "protocol error: SYNC of pass %llu after pass %llu",
			 (unsigned long long)pass, (unsigned long long)c->synced_pass);
		return -EPROTO;
	}
	c->passes++;
	c->applied_upto = 0;
	/* Lets the source pause the guest only once nothing of the earlier
	 * passes is still queued here. */
	uint8_t ack[WIRE_SYNC_ACK_SIZE];
	struct wire_sync_ack sa = {.pass = pass};
	ack_host_figures(c, &sa.host);
	wire_encode_sync_ack(ack, &sa);
	r = chan_send_record(c->ch, REC_SYNC_ACK, ack, sizeof(ack), err, errlen);
	pthread_mutex_lock(&c->in->lock);
	c->synced_pass = pass;
	pthread_cond_broadcast(&c->in->cond);
	pthread_mutex_unlock(&c->in->lock);
	return r;
}

/*
 * Until a record starts on data channel c. The source may leave a channel
 * out of whole passes (it then carries only their SYNC: docs/protocol.md,
 * Transport), so its silence alone says nothing: it is stalled when no
 * data channel read anything within the I/O timeout.
 */
static int wait_data_channel(struct dst_chan *c, char *err, size_t errlen)
{
	struct vmig_incoming *in = c->in;
	for (;;) {
		if (chan_pending(c->ch))
			return 0; /* already inside the TLS session */
		struct pollfd p[2] = {{.fd = c->ch->fd, .events = POLLIN},
				      {.fd = c->ch->cancel_fd, .events = POLLIN}};
		int n = poll(p, c->ch->cancel_fd >= 0 ? 2 : 1, DATA_POLL_SLICE_MS);
		if (n != 0)
			return 0; /* readable, cancelled, or an error the read will name */
		uint64_t heard = __atomic_load_n(&in->data_heard_ns, __ATOMIC_RELAXED);
		if (now_ns() - heard > (uint64_t)c->ch->io_timeout_ms * 1000000ull) {
			snprintf(err, errlen, "connection stalled: nothing received on any data channel "
					      "for %d ms", c->ch->io_timeout_ms);
			return -ETIMEDOUT;
		}
	}
}

/* A data channel's thread: PAGES and SYNC until CHANNEL_END. */
static void *dst_chan_thread(void *arg)
{
	struct dst_chan *c = arg;
	struct wire_hdr h;
	char err[512] = "", name[16];
	int r;

	snprintf(name, sizeof(name), "mig-in%u", c->idx);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		if ((r = wait_data_channel(c, err, sizeof(err))) ||
		    (r = chan_recv_hdr(c->ch, &h, c->ch->io_timeout_ms, err, sizeof(err))))
			break;
		__atomic_store_n(&c->in->data_heard_ns, now_ns(), __ATOMIC_RELAXED);
		if (h.type == REC_PAGES) {
			if ((r = recv_pages(c, c->ram, &h, err, sizeof(err))))
				break;
			continue;
		}
		if ((r = chan_recv_payload(c->ch, &h, &c->payload, err, sizeof(err))))
			break;
		if (h.type == REC_SYNC) {
			if ((r = stream_synced(c, &c->payload, err, sizeof(err))))
				break;
		} else if (h.type == REC_CHANNEL_END) {
			c->got_end = true;
			break;
		} else if (h.type == REC_ERROR) {
			char msg[WIRE_MAX_STRING];
			wire_decode_error(c->payload.data, c->payload.len, NULL, msg, sizeof(msg));
			snprintf(err, sizeof(err), "source aborted the migration: %s", msg);
			r = -ECONNABORTED;
			break;
		} else {
			snprintf(err, sizeof(err), "protocol error: unexpected %s record on data channel %u",
				 wire_type_name(h.type), c->idx);
			r = -EPROTO;
			break;
		}
	}
	c->result = r;
	if (r) {
		char msg[600];
		snprintf(msg, sizeof(msg), "data channel %u: %s", c->idx, err);
		incoming_fail(c->in, msg);
	}
	pthread_mutex_lock(&c->in->lock);
	c->ended = true;
	pthread_cond_broadcast(&c->in->cond);
	pthread_mutex_unlock(&c->in->lock);
	return NULL;
}

/* Buffers for one page stream. */
static int dst_chan_init(struct vmig_incoming *in, struct dst_chan *c, unsigned idx,
			 struct ram_map *ram)
{
	size_t batch = (size_t)WIRE_MAX_PAGES_PER_BATCH * VMIG_PAGE_SIZE;
	c->in = in;
	c->idx = idx;
	c->ram = ram;
	c->own.fd = -1;
	c->ch = in->hello.nr_channels ? &c->own : &in->ch;
	vbuf_init(&c->payload);
	c->comp_cap = 0;
	for (int k = 1; k < CODEC_COUNT; k++)
		if (codec_bound((enum codec_id)k, batch) > c->comp_cap)
			c->comp_cap = codec_bound((enum codec_id)k, batch);
	c->codec_ctx = codec_ctx_new();
	if (in->accel && accel_queue_new(in->accel, &c->q))
		return -ENOMEM;
	return c->codec_ctx ? 0 : -ENOMEM;
}

/* What a data channel's first record must be: CHANNEL_HELLO quoting this
 * session and an index not yet taken. */
struct chan_want {
	struct vmig_incoming *in;
	bool seen[WIRE_MAX_CHANNELS];
	uint32_t idx;             /* of the one accepted */
};

static int check_channel_hello(void *opaque, const struct wire_hdr *h, const uint8_t *payload,
			       char *why, size_t whylen)
{
	struct chan_want *w = opaque;
	struct wire_channel_hello c;
	char ign[64];
	if (h->type == REC_HELLO) {
		snprintf(why, whylen, "another migration is already incoming here");
		return -EBUSY;
	}
	if (h->type != REC_CHANNEL_HELLO ||
	    wire_decode_channel_hello(payload, h->len, &c, ign, sizeof(ign))) {
		snprintf(why, whylen, "not a data channel of the migration in progress (first record %s)",
			 wire_type_name(h->type));
		return -EPROTO;
	}
	uint32_t idx = c.index;
	if (c.session != w->in->hello.session || idx >= w->in->hello.nr_channels || w->seen[idx]) {
		snprintf(why, whylen, "a data channel connection that does not belong to this migration");
		return -EPROTO;
	}
	w->idx = idx;
	return 0;
}

static int connect_channels(struct vmig_incoming *in, char *err, size_t errlen);

/* Accepts the data channels announced in HELLO; strangers that connect
 * meanwhile are refused one by one, the migration goes on. */
static int accept_channels(struct vmig_incoming *in, struct ram_map *ram, char *err, size_t errlen)
{
	unsigned n = in->hello.nr_channels;
	in->nr_chans = n ? n : 1;
	in->chans = calloc(in->nr_chans, sizeof(*in->chans));
	if (!in->chans) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < in->nr_chans; i++)
		if (dst_chan_init(in, &in->chans[i], i, ram)) {
			snprintf(err, errlen, "out of memory for channel buffers");
			return -ENOMEM;
		}
	return connect_channels(in, err, errlen);
}

/* Takes the data channels' connections (again, on a resume) and starts
 * their threads. */
static int connect_channels(struct vmig_incoming *in, char *err, size_t errlen)
{
	unsigned n = in->hello.nr_channels;
	struct chan_want want = {.in = in};
	for (unsigned k = 0; k < n; k++) {
		int fd, r;
		struct wire_hdr h;
		struct tls_conn *tls;
		r = acceptor_wait(in->acc, check_channel_hello, &want, in->p.io_timeout_ms, &fd, &tls,
				  &h, &in->payload, NULL, 0, err, errlen);
		if (r == -ETIMEDOUT)
			snprintf(err, errlen, "data channel %u of %u did not connect in time", k + 1, n);
		if (r)
			return r;
		want.seen[want.idx] = true;
		chan_init(&in->chans[want.idx].own, fd, in->cancel_fd, in->p.io_timeout_ms);
		if (tls && (r = chan_adopt_tls(&in->chans[want.idx].own, tls, err, errlen)))
			return r;
	}
	retire_listener(in, "another migration is already incoming");
	__atomic_store_n(&in->data_heard_ns, now_ns(), __ATOMIC_RELAXED);
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&in->chans[i].thread, NULL, dst_chan_thread, &in->chans[i]);
		if (r) {
			snprintf(err, errlen, "cannot start a channel thread: %s", strerror(r));
			return -r;
		}
		in->chans[i].thread_on = true;
	}
	return 0;
}

/* Waits until every data channel has applied the final pass. */
static int wait_channels(struct vmig_incoming *in, uint64_t pass, char *err, size_t errlen)
{
	if (!in->hello.nr_channels)
		return 0;
	pthread_mutex_lock(&in->lock);
	for (;;) {
		if (in->failed) {
			snprintf(err, errlen, "%s", in->err);
			pthread_mutex_unlock(&in->lock);
			return -EIO;
		}
		/* Every channel must have closed the final pass and then ended:
		 * only then can nothing more be written into guest RAM, and the
		 * digest mean anything. */
		bool all = true, wrong = false;
		for (unsigned i = 0; i < in->nr_chans; i++) {
			all &= in->chans[i].ended;
			wrong |= in->chans[i].ended && in->chans[i].synced_pass != pass;
		}
		if (wrong) {
			snprintf(err, errlen, "a data channel ended on another pass than the final one (%llu)",
				 (unsigned long long)pass);
			pthread_mutex_unlock(&in->lock);
			return -EPROTO;
		}
		if (all)
			break;
		pthread_cond_wait(&in->cond, &in->lock);
	}
	pthread_mutex_unlock(&in->lock);
	return 0;
}

/*
 * With data channels the main channel is quiet while pages flow, for as
 * long as pre-copy takes; the channel threads watch the link meanwhile
 * (a stalled one fails and shuts the main channel down). Once every data
 * channel has ended, the main channel gets the usual deadline: a source
 * that goes silent then cannot keep this side waiting.
 */
static int wait_main_channel(struct vmig_incoming *in, char *err, size_t errlen)
{
	uint64_t all_ended_ns = 0;
	for (;;) {
		struct pollfd p = {.fd = in->ch.fd, .events = POLLIN};
		if (chan_pending(&in->ch))
			return 0; /* already inside the TLS session */
		int n = poll(&p, 1, MAIN_POLL_SLICE_MS);
		if (n > 0 || (n < 0 && errno != EINTR))
			return 0; /* readable, or an error the read will name */
		bool all_ended = true;
		pthread_mutex_lock(&in->lock);
		for (unsigned i = 0; i < in->nr_chans; i++)
			all_ended &= in->chans[i].ended;
		pthread_mutex_unlock(&in->lock);
		uint64_t now = now_ns();
		if (!all_ended)
			continue;
		if (!all_ended_ns)
			all_ended_ns = now;
		if (now - all_ended_ns >= (uint64_t)in->ch.io_timeout_ms * 1000000ull) {
			snprintf(err, errlen, "the source went silent after its data channels ended");
			return -ETIMEDOUT;
		}
	}
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
	return stream_synced(c->mainstream, &c->in->payload, err, errlen);
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
	if ((r = wait_channels(c->in, dg.final_pass, err, errlen)))
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
	if (!c->mainstream && (r = wait_main_channel(in, err, errlen)))
		return r;
	if ((r = chan_recv_hdr(&in->ch, &h, in->ch.io_timeout_ms, err, errlen)))
		return r;
	if ((h.type == REC_PAGES || h.type == REC_SYNC) && c->have_digest) {
		/* RAM is checked: nothing may change it any more */
		snprintf(err, errlen, "protocol error: %s after DIGEST", wire_type_name(h.type));
		return -EPROTO;
	}
	if (h.type == REC_PAGES && c->mainstream)
		return recv_pages(c->mainstream, c->ram, &h, err, errlen);
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
		retire_listener(in, "another migration is already incoming");
	if (!r)
		r = connect_channels(in, err, errlen);
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
	r = accept_channels(in, &ram, err, errlen);
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
