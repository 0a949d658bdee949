/* SPDX-License-Identifier: MIT */
/*
 * A migration made from its parameters (vmig_migration_start, and
 * vmig_migration_plan, which makes one only to say what it would do):
 * every parameter checked, defaults filled, the codec and offload
 * engine, the TLS credentials, the buffers and the host figures ready,
 * the plan made, then the migration thread (sender.c) started. Nothing
 * about the guest changes before the thread runs: a bad parameter fails
 * the start with the guest running as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "migration/autopolicy.h"
#include "migration/channel.h"
#include "migration/converge.h"
#include "migration/sender_internal.h"
#include "migration/tls.h"
#include "policy/memfit.h"
#include "host/probe.h"
#include "vmig/migration.h"

/* Codec, level and offload engine from the parameters. "qat" is deflate
 * on the QAT backend: the wire carries plain deflate either way. */
static int setup_codec(struct vmig_migration *m, const struct vmig_migrate_params *p, char *err,
		       size_t errlen)
{
	const char *name = p->codec && *p->codec ? p->codec : "none";
	struct accel_config ac = {.kind = ACCEL_CPU, .threads = p->compress_threads,
				  .qatzip_path = p->qatzip_library,
				  .qat_fallback = ACCEL_QAT_FALLBACK_CPU};
	if (p->accel && accel_kind_parse(p->accel, &ac.kind)) {
		snprintf(err, errlen, "unknown accelerator '%s' (want cpu, qat or auto)", p->accel);
		return -EINVAL;
	}
	int bad = accel_config_set_qat_names(&ac, p->qat_fallback, p->qatzip_log, err, errlen);
	if (bad)
		return bad;
	if (!strcmp(name, "qat")) {
		m->codec = CODEC_DEFLATE;
		if (!p->accel)
			ac.kind = ACCEL_QAT;
	} else if (codec_parse(name, &m->codec)) {
		snprintf(err, errlen, "unknown codec '%s' (want none, lz4, zstd, deflate or qat)", name);
		return -EINVAL;
	}
	snprintf(m->st.codec, sizeof(m->st.codec), "%s", name);
	int lo, hi, def;
	codec_levels(m->codec, &lo, &hi, &def);
	if (!p->level)
		m->p.level = def;
	else if (p->level < lo || p->level > hi) {
		snprintf(err, errlen, "%s levels are %d..%d", codec_name(m->codec), lo, hi);
		return -EINVAL;
	}
	m->st.level = m->p.level; /* the thread is not started: no lock yet */
	if (m->codec == CODEC_NONE && !m->may_compress)
		return 0;
	int r = accel_open(&ac, &m->accel, err, errlen);
	if (r)
		return r;
	snprintf(m->st.accel, sizeof(m->st.accel), "%s", accel_describe(m->accel));
	return 0;
}

void migration_close_byo_fds(struct vmig_migration *m)
{
	for (unsigned i = 0; i < m->nr_byo_fds; i++)
		if (m->byo_fds[i] >= 0)
			close(m->byo_fds[i]);
	m->nr_byo_fds = 0;
}

/* Loads the TLS credentials now, so that a bad file fails the start. */
static int take_tls(struct vmig_migration *m, const struct vmig_migrate_params *p,
		    const char *uri_host, char *err, size_t errlen)
{
	struct tls_opts o = {p->tls_creds_dir, p->tls_psk_file,
			     p->tls_hostname && *p->tls_hostname ? p->tls_hostname : uri_host};
	m->p.tls_creds_dir = m->p.tls_psk_file = m->p.tls_hostname = NULL; /* the caller's */
	if (!tls_opts_enabled(&o))
		return 0;
	return tls_ctx_new(&o, TLS_CLIENT, &m->tls, err, errlen);
}

/*
 * Copies the caller's parameters (as many bytes as its struct has) and
 * checks where the migration goes: a URI, or the caller's connections
 * (owned from here on, closed even if this fails).
 */
static int take_params(struct vmig_migration *m, const struct vmig_migrate_params *p, char *err,
		       size_t errlen)
{
	char host[256], port[16];
	int r = 0;
	if (p->size != sizeof(*p)) {
		snprintf(err, errlen, "vmig_migrate_params.size is %u, this libvmig wants %zu "
				      "(VMIG_MIGRATE_PARAMS_INIT)", p->size, sizeof(*p));
		return -EINVAL;
	}
	memcpy(&m->p, p, sizeof(*p));
	if (p->nr_fds > VMIG_MAX_DATA_CHANNELS + 1 || (p->nr_fds && !p->fds)) {
		snprintf(err, errlen, "at most %d connections (the main one and %d data channels)",
			 VMIG_MAX_DATA_CHANNELS + 1, VMIG_MAX_DATA_CHANNELS);
		return -EINVAL;
	}
	m->nr_byo_fds = p->nr_fds;
	for (unsigned i = 0; i < p->nr_fds; i++)
		m->byo_fds[i] = p->fds[i];
	m->p.fds = NULL;
	if (p->nr_fds && p->channels && p->channels != p->nr_fds - 1) {
		snprintf(err, errlen, "%u data channels asked for, %u connections given", p->channels,
			 p->nr_fds - 1);
		r = -EINVAL;
	} else if (p->channels > VMIG_MAX_DATA_CHANNELS) {
		snprintf(err, errlen, "at most %d data channels", VMIG_MAX_DATA_CHANNELS);
		r = -EINVAL;
	} else if (!p->nr_fds) {
		r = chan_parse_uri(p->uri, host, sizeof(host), port, sizeof(port), err, errlen);
	}
	if (!r)
		r = converge_take_params(m, err, errlen);
	if (!r)
		r = take_tls(m, p, p->nr_fds ? NULL : host, err, errlen);
	if (r) {
		migration_close_byo_fds(m);
		return r;
	}
	if (p->nr_fds)
		m->p.channels = p->nr_fds - 1;
	snprintf(m->uri, sizeof(m->uri), "%s", p->uri ? p->uri : "caller's connections");
	m->p.uri = m->uri;
	return 0;
}

/* A migration with nothing started: parameters taken, defaults filled,
 * locks and the cancel event made. NULL with err on failure. */
static struct vmig_migration *migration_new(const struct vmig_guest *guest,
					    const struct vmig_migrate_params *p, char *err,
					    size_t errlen, int *r)
{
	struct vmig_migration *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		*r = -ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i <= VMIG_MAX_DATA_CHANNELS; i++)
		m->byo_fds[i] = -1;
	m->g = *guest;
	if ((*r = take_params(m, p, err, errlen))) {
		free(m);
		return NULL;
	}
	if (!m->p.downtime_limit_ms)
		m->p.downtime_limit_ms = VMIG_DOWNTIME_LIMIT_DEFAULT_MS;
	if (m->p.io_timeout_ms <= 0)
		m->p.io_timeout_ms = VMIG_IO_TIMEOUT_DEFAULT_MS;
	m->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->ch.fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	m->st.size = sizeof(m->st);
	m->st.status = VMIG_MIG_SETUP;
	m->st.guest_downtime_ms = -1;
	pthread_mutex_init(&m->work_lock, NULL);
	pthread_cond_init(&m->work_cond, NULL);
	return m;
}

/* The streams, the VMM's config copy and the dirty bitmaps: 0, or -ENOMEM. */
static int alloc_buffers(struct vmig_migration *m, const struct vmig_migrate_params *p,
			 char *err, size_t errlen)
{
	m->streams = calloc(m->nr_streams, sizeof(*m->streams));
	bool ok = m->streams != NULL && m->cancel_fd >= 0;
	for (unsigned i = 0; ok && i < m->nr_streams; i++) {
		ok = stream_init(&m->streams[i], m, i) == 0;
		m->streams[i].ch = m->nr_channels ? &m->streams[i].own : &m->ch;
	}
	if (p->vmm_config_len) {
		m->vmm_config = malloc(p->vmm_config_len);
		ok = ok && m->vmm_config;
		if (m->vmm_config)
			memcpy(m->vmm_config, p->vmm_config, p->vmm_config_len);
	}
	for (unsigned i = 0; i < m->ram.nr; i++) {
		m->bits[i] = calloc(vmig_bitmap_words(m->ram.pages[i]), 8);
		ok = ok && m->bits[i];
	}
	if (ok)
		return 0;
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* The XBZRLE cache it starts with against what this host (its cgroup) has
 * free (policy/memfit.h): 0, or -ENOMEM with why in err. */
static int xbzrle_fits_here(struct vmig_migration *m, char *err, size_t errlen)
{
	struct wire_host_info hi;
	host_probe_get(m->probe, &hi, NULL);
	return xbzrle_cache_fits(&hi, m->p.xbzrle_cache_bytes, err, errlen) ? 0 : -ENOMEM;
}

int vmig_migration_start(const struct vmig_guest *guest, const struct vmig_migrate_params *p,
			 struct vmig_migration **out, char *err, size_t errlen)
{
	int r;
	struct vmig_migration *m = migration_new(guest, p, err, errlen, &r);
	if (!m)
		return r;
	if ((r = ram_map_init(&m->ram, guest, err, errlen)) ||
	    (r = autopolicy_sample_guest(m, err, errlen)))
		goto fail;
	/* Before the plan, so its figures are ready; after the sampling, so
	 * its first idle share is the host's and not the sampling's. */
	char perr[128];
	if (host_probe_start(p->host_probe_root, 0, &m->probe, perr, sizeof(perr)))
		log_warn("host figures unknown: %s", perr);
	m->probe_started_ns = now_ns();
	if ((r = autopolicy_start(m, err, errlen)) || (r = xbzrle_fits_here(m, err, errlen)))
		goto fail;
	sentlog_init(&m->sent, &m->ram);
	m->nr_channels = m->p.channels;
	m->nr_streams = m->p.channels ? m->p.channels : 1;
	/* the auto policy may start on fewer than it connects */
	m->active_streams = m->plan.channels && m->plan.channels < m->nr_streams ? m->plan.channels
										  : m->nr_streams;
	m->st.active_channels = m->active_streams;
	/* A resumed session is recognised by this alone: unguessable, not a clock. */
	if (getrandom(&m->session, sizeof(m->session), 0) != sizeof(m->session))
		m->session = now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)m;
	if ((r = setup_codec(m, &m->p, err, errlen)) || (r = alloc_buffers(m, p, err, errlen)))
		goto fail;
	m->st.ram_bytes = m->ram.total_pages * VMIG_PAGE_SIZE;
	m->t0_ns = now_ns();
	if ((r = pthread_create(&m->thread, NULL, migration_thread, m))) {
		snprintf(err, errlen, "cannot start the migration thread: %s", strerror(r));
		r = -r;
		goto fail;
	}
	*out = m;
	return 0;
fail:
	m->thread = 0;
	vmig_migration_free(m);
	return r;
}

#define PLAN_PROBE_WAIT_MS 60 /* the probe's first idle share comes after 50 ms */

int vmig_migration_plan(const struct vmig_guest *guest, const struct vmig_migrate_params *p,
			struct vmig_migrate_plan *out, char *err, size_t errlen)
{
	char perr[256];
	int r;
	if (out->size != sizeof(*out)) {
		snprintf(err, errlen, "vmig_migrate_plan.size is wrong");
		return -EINVAL;
	}
	struct vmig_migration *m = migration_new(guest, p, err, errlen, &r);
	if (!m)
		return r;
	m->p.policy = VMIG_POLICY_AUTO;
	if (!(r = ram_map_init(&m->ram, guest, err, errlen)) &&
	    !(r = autopolicy_sample_guest(m, err, errlen))) {
		if (host_probe_start(p->host_probe_root, 0, &m->probe, perr, sizeof(perr)))
			log_debug("host probe: %s", perr);
		nanosleep(&(struct timespec){0, PLAN_PROBE_WAIT_MS * 1000000L}, NULL);
		if (!(r = autopolicy_start(m, err, errlen)))
			r = xbzrle_fits_here(m, err, errlen); /* as the start would refuse */
	}
	if (!r)
		autopolicy_report(m, out);
	vmig_migration_free(m);
	return r;
}
