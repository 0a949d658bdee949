/* SPDX-License-Identifier: MIT */
/*
 * The QAT backend: Intel QuickAssist through QATzip, loaded at run time with
 * dlopen so that vmig builds and runs where QATzip is absent (it is not in
 * Debian). QATzip's calls are synchronous per session, so each worker thread
 * owns its sessions (qzInit and qzSetupSessionDeflate on that thread) and
 * the engine keeps as many jobs on the device as there are workers.
 *
 * Sessions make raw deflate (QZ_DEFLATE_RAW: RFC 1951, no gzip header, no
 * checksum), the format ISA-L's inflate reads, so QAT output decodes on a
 * CPU-only destination and QAT decodes what ISA-L made. The software
 * fallback (sw_backup) is what the caller chose (accel_config.qat_fallback):
 * off by default, so a host with no device fails to open QAT.
 *
 * Levels: vmig's deflate levels (ISA-L's 0-3) map onto QAT's 1-9 as
 * 0->1, 1->3, 2->6, 3->9. A worker sets up the session of a level the first
 * time a job asks for it (the default level's at start-up), then keeps it.
 *
 * What the real QATzip (1.3.1, read and measured) does, and the answer:
 * - output that does not fit: QZ_FAIL (QZ_BUF_ERROR in older notes), and
 *   its software path then drops its zlib stream without deflateEnd (a
 *   leak per call). So QATzip always gets an output buffer with room for
 *   the worst case (the worker's scratch), and what does not fit the
 *   caller's goes as stored deflate blocks: a dst_cap of
 *   codec_bound(CODEC_DEFLATE) never fails, as on the CPU;
 * - a short or bad decompress may return QZ_OK with partial output and
 *   leave the session mid-stream: sizes are checked exactly, and after any
 *   failed or short call the session is torn down and set up afresh;
 * - raw deflate larger than the session's hw_buff_sz fails on a device:
 *   sessions take ACCEL_QAT_MAX_JOB_BYTES, and larger inflates run on the
 *   worker's CPU codec;
 * - without a device every qzCompress/qzDecompress re-runs qzInit's
 *   hardware probe (its no-device exit, stopQat, resets qat_available), and
 *   each probe creates a pthread key that is never deleted (qatzip.c,
 *   qzInit) and logs two warnings. Per-session setup cannot avoid it; the
 *   log level (qzSetLogLevel) silences the lines. So on such a host the
 *   backend calls QATzip at most QATZIP_NODEV_CALL_BUDGET times per process
 *   and does the rest on its CPU codec, keeping vmig's process well short
 *   of PTHREAD_KEYS_MAX. With a device, qzInit returns at once.
 *
 * Tested against the real QATzip 1.3.1 in software mode (sw_backup=1) and
 * against tests/qat_standin (a test double) for what needs no device at
 * all or injected faults; never on a QAT device.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/accel_internal.h"
#include "codec/codec.h"
#include "common/log.h"

#include "accel/qatzip_abi.h"

typedef int (*qzInit_fn)(QzSession_T *sess, unsigned char sw_backup);
typedef int (*qzSetupSessionDeflate_fn)(QzSession_T *sess, QzSessionParamsDeflate_T *params);
typedef int (*qzGetDefaultsDeflate_fn)(QzSessionParamsDeflate_T *defaults);
typedef int (*qzCompress_fn)(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
			     unsigned char *dest, unsigned int *dest_len, unsigned int last);
typedef int (*qzDecompress_fn)(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
			       unsigned char *dest, unsigned int *dest_len);
typedef int (*qzTeardownSession_fn)(QzSession_T *sess);
typedef int (*qzClose_fn)(QzSession_T *sess);
typedef int (*qzGetSoftwareComponentCount_fn)(unsigned int *num_elem);
typedef int (*qzGetSoftwareComponentVersionList_fn)(QzSoftwareVersionInfo_T *api_info,
						    unsigned int *num_elem);
typedef int (*qzSetLogLevel_fn)(int level); /* QzLogLevel_T, an int-sized enum */
/* Exported by tests/qat_standin only: a real QATzip has no such symbol. */
typedef const char *(*standin_version_fn)(void);

/* ---- end of the QATzip subset ---- */

#define QAT_DEFAULT_LIB "libqatzip.so.3"
#define MAX_LEVELS 16
#define QAT_LVL_MIN 1
#define QAT_LVL_MAX 9
/*
 * QATzip calls a process makes on a host with no device (each leaks a
 * pthread key: see the top of this file); glibc allows 1024 keys.
 */
#define QATZIP_NODEV_CALL_BUDGET 512
/* Output room beyond codec_bound: QATzip reserves some for headers. */
#define QATZIP_DEST_SLACK 1024

/* QATzip calls made with no device, all accels of this process together. */
static atomic_ulong nodev_calls;

struct accel_qat {
	void *dl;
	char path[256];
	qzInit_fn init;
	qzSetupSessionDeflate_fn setup_deflate;
	qzGetDefaultsDeflate_fn get_defaults_deflate;
	qzCompress_fn compress;
	qzDecompress_fn decompress;
	qzTeardownSession_fn teardown;
	qzClose_fn close;
	qzGetSoftwareComponentCount_fn component_count;		/* optional */
	qzGetSoftwareComponentVersionList_fn component_versions; /* optional */
	qzSetLogLevel_fn set_log_level;				/* optional: 1.3 and later */
	standin_version_fn standin_version;			/* test double only */
	unsigned char sw_backup;				/* 1: QATzip may use software */
	atomic_uint software_sessions; /* sessions QATzip set up without a device */
	atomic_ulong cpu_jobs;	       /* jobs done on the worker's CPU codec */
	atomic_bool budget_said;       /* the no-device budget was logged */
	/* The library's defaults, checked at load; each session starts from them. */
	QzSessionParamsDeflate_T defaults;
	int lvl_min, lvl_max, lvl_def; /* vmig's deflate levels */
};

struct qat_worker {
	unsigned idx;
	QzSession_T sess[MAX_LEVELS];
	bool inited[MAX_LEVELS]; /* qzInit done: qzClose owed */
	bool ready[MAX_LEVELS];	 /* session set up */
	bool software[MAX_LEVELS]; /* ... in QATzip's software path: no device */
	struct codec_ctx *cpu;	 /* jobs QAT cannot take whole */
	uint8_t *scratch;	 /* compress output with room to spare: see qat_compress */
	size_t scratch_cap;
};

bool accel_qat_supports(enum codec_id codec)
{
	return codec == CODEC_DEFLATE;
}

static const char *qz_rc_name(int rc)
{
	switch (rc) {
	case QZ_OK: return "QZ_OK";
	case QZ_DUPLICATE: return "QZ_DUPLICATE";
	case QZ_FORCE_SW: return "QZ_FORCE_SW";
	case QZ_PARAMS: return "QZ_PARAMS";
	case QZ_FAIL: return "QZ_FAIL";
	case QZ_BUF_ERROR: return "QZ_BUF_ERROR";
	case QZ_DATA_ERROR: return "QZ_DATA_ERROR";
	case QZ_TIMEOUT: return "QZ_TIMEOUT";
	case QZ_INTEG: return "QZ_INTEG";
	case QZ_NO_HW: return "QZ_NO_HW";
	case QZ_NO_MDRV: return "QZ_NO_MDRV";
	case QZ_NO_INST_ATTACH: return "QZ_NO_INST_ATTACH";
	case QZ_LOW_MEM: return "QZ_LOW_MEM";
	case QZ_LOW_DEST_MEM: return "QZ_LOW_DEST_MEM";
	case QZ_UNSUPPORTED_FMT: return "QZ_UNSUPPORTED_FMT";
	case QZ_NONE: return "QZ_NONE";
	case QZ_NOSW_NO_HW: return "QZ_NOSW_NO_HW";
	case QZ_NOSW_NO_MDRV: return "QZ_NOSW_NO_MDRV";
	case QZ_NOSW_NO_INST_ATTACH: return "QZ_NOSW_NO_INST_ATTACH";
	case QZ_NOSW_LOW_MEM: return "QZ_NOSW_LOW_MEM";
	case QZ_NO_SW_AVAIL: return "QZ_NO_SW_AVAIL";
	case QZ_NOSW_UNSUPPORTED_FMT: return "QZ_NOSW_UNSUPPORTED_FMT";
	case QZ_NOT_SUPPORTED: return "QZ_NOT_SUPPORTED";
	default: return "unknown QATzip status";
	}
}

/* Why qzInit failed, in words. */
static const char *qz_init_why(int rc)
{
	switch (rc) {
	case QZ_NOSW_NO_HW:
	case QZ_NO_HW: return "no QAT device found";
	case QZ_NOSW_NO_MDRV:
	case QZ_NO_MDRV: return "no QAT memory driver (usdm_drv / qat_mem)";
	case QZ_NOSW_NO_INST_ATTACH:
	case QZ_NO_INST_ATTACH: return "no free QAT instance (check the [SHIM] section of the QAT config)";
	case QZ_NOSW_LOW_MEM:
	case QZ_LOW_MEM: return "not enough pinned memory for QAT";
	case QZ_NOSW_UNSUPPORTED_FMT:
	case QZ_UNSUPPORTED_FMT: return "the QAT device does not do this format";
	default: return "QAT initialisation failed";
	}
}

static void *sym(struct accel_qat *q, const char *name)
{
	return dlsym(q->dl, name);
}

/* A function pointer from dlsym without the object-to-function cast. */
#define LOOKUP(q, field, name)                          \
	do {                                            \
		void *p_ = sym((q), (name));            \
		memcpy(&(q)->field, &p_, sizeof(p_));   \
	} while (0)

void accel_qat_unload(struct accel_qat *q)
{
	if (!q)
		return;
	if (q->dl)
		dlclose(q->dl);
	free(q);
}

/* dlopen()s the library at path (the system's when empty) into q->dl:
 * 0, or -ENOENT with the reason. */
static int open_library(struct accel_qat *q, const char *path, char *err, size_t errlen)
{
	snprintf(q->path, sizeof(q->path), "%s", path && path[0] ? path : QAT_DEFAULT_LIB);
	/*
	 * RTLD_NODELETE: QATzip and the QAT user-space driver under it keep
	 * process-wide state and threads (instance polling, heartbeat) that
	 * are meant to go at process exit, so the code stays mapped after
	 * dlclose; a later accel_open finds it loaded.
	 */
	q->dl = dlopen(q->path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!q->dl) {
		const char *why = dlerror();
		snprintf(err, errlen,
			 "QAT: cannot load %s: %s (QATzip is not in Debian; install it from Intel)",
			 q->path, why ? why : "unknown error");
		return -ENOENT;
	}
	return 0;
}

/* Every QATzip function vmig calls: 0, or -ENOSYS naming one missing. The
 * version, log-level and stand-in functions are optional (NULL if absent). */
static int look_up_symbols(struct accel_qat *q, char *err, size_t errlen)
{
	static const char *const required[] = {
		"qzInit",	      "qzSetupSessionDeflate", "qzGetDefaultsDeflate", "qzCompress",
		"qzDecompress",	      "qzTeardownSession",     "qzClose",
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!sym(q, required[i])) {
			snprintf(err, errlen,
				 "QAT: %s has no %s (QATzip 1.1 or later is needed for raw deflate "
				 "sessions)",
				 q->path, required[i]);
			return -ENOSYS;
		}
	}
	LOOKUP(q, init, "qzInit");
	LOOKUP(q, setup_deflate, "qzSetupSessionDeflate");
	LOOKUP(q, get_defaults_deflate, "qzGetDefaultsDeflate");
	LOOKUP(q, compress, "qzCompress");
	LOOKUP(q, decompress, "qzDecompress");
	LOOKUP(q, teardown, "qzTeardownSession");
	LOOKUP(q, close, "qzClose");
	LOOKUP(q, component_count, "qzGetSoftwareComponentCount");
	LOOKUP(q, component_versions, "qzGetSoftwareComponentVersionList");
	LOOKUP(q, standin_version, "vmig_qat_standin_version");
	LOOKUP(q, set_log_level, "qzSetLogLevel");
	return 0;
}

/*
 * The struct layout check: the library writes its defaults into a
 * buffer larger than our struct (a newer, longer struct cannot
 * overrun it), and they must read back sensibly through our layout.
 * Keeps them in q->defaults. 0, or -EIO/-EPROTO with the reason.
 */
static int check_session_layout(struct accel_qat *q, char *err, size_t errlen)
{
	union {
		QzSessionParamsDeflate_T p;
		unsigned char room[1024];
	} d;
	memset(&d, 0, sizeof(d));
	int rc = q->get_defaults_deflate(&d.p);
	if (rc != QZ_OK) {
		snprintf(err, errlen, "QAT: %s: qzGetDefaultsDeflate: %s (%d)", q->path,
			 qz_rc_name(rc), rc);
		return -EIO;
	}
	if (d.p.common_params.comp_algorithm != QZ_DEFLATE ||
	    (unsigned)d.p.common_params.direction > QZ_DIR_BOTH ||
	    (unsigned)d.p.huffman_hdr > QZ_STATIC_HDR || (unsigned)d.p.data_fmt >= QZ_FMT_NUM) {
		snprintf(err, errlen,
			 "QAT: %s: session parameters do not have the layout of QATzip API 2.3 "
			 "(defaults read back as algorithm %u, direction %u, huffman_hdr %u, "
			 "data_fmt %u); not using it",
			 q->path, d.p.common_params.comp_algorithm,
			 (unsigned)d.p.common_params.direction, (unsigned)d.p.huffman_hdr,
			 (unsigned)d.p.data_fmt);
		return -EPROTO;
	}
	q->defaults = d.p;
	return 0;
}

int accel_qat_load(const struct accel_config *cfg, struct accel_qat **out, char *err,
		   size_t errlen)
{
	int rc;
	struct accel_qat *q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, errlen, "QAT: out of memory");
		return -ENOMEM;
	}
	if ((rc = open_library(q, cfg->qatzip_path, err, errlen))) {
		free(q);
		return rc;
	}
	if ((rc = look_up_symbols(q, err, errlen))) {
		accel_qat_unload(q);
		return rc;
	}
	q->sw_backup = cfg->qat_fallback == ACCEL_QAT_FALLBACK_QATZIP;
	/* Process-wide in QATzip; before any call that could log. */
	if (q->set_log_level)
		q->set_log_level((int)cfg->qatzip_log);

	if ((rc = check_session_layout(q, err, errlen))) {
		accel_qat_unload(q);
		return rc;
	}
	codec_levels(CODEC_DEFLATE, &q->lvl_min, &q->lvl_max, &q->lvl_def);
	if (q->lvl_max < q->lvl_min || q->lvl_max - q->lvl_min >= MAX_LEVELS) {
		snprintf(err, errlen, "QAT: deflate levels %d..%d: more than %d", q->lvl_min,
			 q->lvl_max, MAX_LEVELS);
		accel_qat_unload(q);
		return -EINVAL;
	}
	*out = q;
	return 0;
}

void accel_qat_version(struct accel_qat *q, char *buf, size_t len)
{
	if (q->standin_version) {
		snprintf(buf, len, "%s", q->standin_version());
		return;
	}
	if (q->component_count && q->component_versions) {
		QzSoftwareVersionInfo_T info[8];
		unsigned n = 0;
		if (q->component_count(&n) == QZ_OK && n > 0 && n <= 8) {
			memset(info, 0, sizeof(info));
			if (q->component_versions(info, &n) == QZ_OK) {
				for (unsigned i = 0; i < n && i < 8; i++) {
					if (info[i].component_type != QZ_COMPONENT_QATZIP_API)
						continue;
					snprintf(buf, len, "QATzip %u.%u.%u", info[i].major_version,
						 info[i].minor_version, info[i].patch_version);
					return;
				}
			}
		}
	}
	snprintf(buf, len, "QATzip");
}

static int qat_level(const struct accel_qat *q, int level)
{
	int span = q->lvl_max - q->lvl_min;
	if (span == 0)
		return QAT_LVL_MIN;
	return QAT_LVL_MIN + (level - q->lvl_min) * (QAT_LVL_MAX - QAT_LVL_MIN) / span;
}

/* qzInit and session setup for vmig level `level`. 0, or -errno and err. */
static int session_open(struct accel_qat *q, struct qat_worker *w, int level, char *err,
			size_t errlen)
{
	unsigned i = (unsigned)(level - q->lvl_min);
	QzSession_T *s = &w->sess[i];

	memset(s, 0, sizeof(*s));
	if (q->sw_backup) /* without a device, qzInit leaks a key too */
		atomic_fetch_add(&nodev_calls, 1);
	int rc = q->init(s, q->sw_backup);
	if (rc != QZ_OK && rc != QZ_DUPLICATE) {
		if (rc > 0) /* a "using SW" status: no good without the fallback */
			snprintf(err, errlen,
				 "QAT: qzInit: %s (%d): %s (QATzip would fall back to software; "
				 "--qat-fallback qatzip allows it)",
				 qz_rc_name(rc), rc, qz_init_why(rc));
		else
			snprintf(err, errlen, "QAT: qzInit: %s (%d): %s", qz_rc_name(rc), rc,
				 qz_init_why(rc));
		return -ENODEV;
	}
	w->inited[i] = true;

	union {
		QzSessionParamsDeflate_T p;
		unsigned char room[1024];
	} params;
	memset(&params, 0, sizeof(params));
	params.p = q->defaults;
	params.p.common_params.direction = QZ_DIR_BOTH;
	params.p.common_params.comp_algorithm = QZ_DEFLATE;
	params.p.common_params.comp_lvl = (unsigned)qat_level(q, level);
	params.p.common_params.sw_backup = q->sw_backup;
	params.p.common_params.hw_buff_sz = ACCEL_QAT_MAX_JOB_BYTES;
	params.p.huffman_hdr = QZ_DYNAMIC_HDR;
	params.p.data_fmt = QZ_DEFLATE_RAW;
	rc = q->setup_deflate(s, &params.p);
	if (rc != QZ_OK) {
		snprintf(err, errlen,
			 "QAT: qzSetupSessionDeflate (raw deflate, QAT level %u, %s): %s (%d): %s",
			 params.p.common_params.comp_lvl,
			 q->sw_backup ? "software fallback allowed" : "hardware only",
			 qz_rc_name(rc), rc,
			 rc == QZ_PARAMS ? "parameters refused" : qz_init_why(rc));
		return rc == QZ_PARAMS ? -EINVAL : -ENODEV;
	}
	w->ready[i] = true;
	/* QATzip's own word that this session has no device under it. */
	w->software[i] = s->hw_session_stat == QZ_NO_HW;
	if (w->software[i])
		atomic_fetch_add(&q->software_sessions, 1);
	return 0;
}

/* Tears a session down and closes it; the next job sets it up afresh. */
static void session_drop(struct accel_qat *q, struct qat_worker *w, unsigned i)
{
	if (w->ready[i]) {
		q->teardown(&w->sess[i]);
		if (w->software[i])
			atomic_fetch_sub(&q->software_sessions, 1);
	}
	if (w->inited[i])
		q->close(&w->sess[i]);
	w->ready[i] = w->inited[i] = w->software[i] = false;
}

static void qat_worker_fini(void *backend, void *wstate)
{
	struct accel_qat *q = backend;
	struct qat_worker *w = wstate;
	if (!w)
		return;
	for (unsigned i = 0; i < MAX_LEVELS; i++)
		session_drop(q, w, i);
	codec_ctx_free(w->cpu);
	free(w->scratch);
	free(w);
}

static int qat_worker_init(void *backend, unsigned idx, void **wstate, char *err, size_t errlen)
{
	struct accel_qat *q = backend;
	struct qat_worker *w = calloc(1, sizeof(*w));
	if (w)
		w->cpu = codec_ctx_new();
	if (!w || !w->cpu) {
		free(w);
		snprintf(err, errlen, "QAT: worker %u: out of memory", idx);
		return -ENOMEM;
	}
	w->idx = idx;
	int rc = session_open(q, w, q->lvl_def, err, errlen);
	if (rc != 0) {
		qat_worker_fini(backend, w);
		return rc;
	}
	*wstate = w;
	return 0;
}

unsigned accel_qat_software_sessions(const struct accel_qat *q)
{
	return atomic_load(&((struct accel_qat *)q)->software_sessions);
}

unsigned long accel_qat_cpu_jobs(const struct accel_qat *q)
{
	return atomic_load(&((struct accel_qat *)q)->cpu_jobs);
}

/* Stored blocks, for data QAT's output would not fit (it does not compress). */
#define STORED_MAX 65535u
static size_t stored_len(size_t n)
{
	size_t blocks = n ? (n + STORED_MAX - 1) / STORED_MAX : 1;
	return n + blocks * 5;
}

static void write_stored(const uint8_t *src, size_t n, uint8_t *dst)
{
	do {
		size_t chunk = n < STORED_MAX ? n : STORED_MAX;
		dst[0] = chunk == n ? 1 : 0; /* BFINAL, BTYPE 00 */
		dst[1] = (uint8_t)chunk;
		dst[2] = (uint8_t)(chunk >> 8);
		dst[3] = (uint8_t)~chunk;
		dst[4] = (uint8_t)(~chunk >> 8);
		if (chunk)
			memcpy(dst + 5, src, chunk);
		dst += 5 + chunk;
		src += chunk;
		n -= chunk;
	} while (n);
}

static QzSession_T *session_for(struct accel_qat *q, struct qat_worker *w, int level, int *rc)
{
	unsigned i = (unsigned)(level - q->lvl_min);
	if (!w->ready[i]) {
		char err[256];
		session_drop(q, w, i); /* a failed try: do not leak its qzInit */
		*rc = session_open(q, w, level, err, sizeof(err));
		if (*rc != 0) {
			log_debug("%s", err);
			return NULL;
		}
	}
	return &w->sess[i];
}

/*
 * Whether this call may go to QATzip: always with a device; without one,
 * while the process is within its call budget (each call leaks a key).
 */
static bool qatzip_call_allowed(struct accel_qat *q, struct qat_worker *w, unsigned i)
{
	if (!w->software[i])
		return true;
	if (atomic_fetch_add(&nodev_calls, 1) < QATZIP_NODEV_CALL_BUDGET)
		return true;
	if (!atomic_exchange(&q->budget_said, true))
		log_warn("QAT: QATzip has no device and leaks a pthread key per call; after %d "
			 "calls the rest run on vmig's CPU deflate",
			 QATZIP_NODEV_CALL_BUDGET);
	return false;
}

/* The job on the worker's CPU codec, counted as such. */
static int run_on_cpu(struct accel_qat *q, struct qat_worker *w, struct accel_job *job)
{
	atomic_fetch_add(&q->cpu_jobs, 1);
	return accel_cpu_ops.run(NULL, w->cpu, job);
}

static int qat_compress(struct accel_qat *q, struct qat_worker *w, struct accel_job *job)
{
	if (job->level < q->lvl_min || job->level > q->lvl_max)
		return -EINVAL;
	if ((!job->src && job->src_len) || (!job->dst && job->dst_cap) || job->src_len > UINT_MAX)
		return -EINVAL;
	if (job->src_len == 0) { /* an empty final fixed-Huffman block */
		if (job->dst_cap < 2)
			return -ENOSPC;
		((uint8_t *)job->dst)[0] = 0x03;
		((uint8_t *)job->dst)[1] = 0x00;
		job->dst_len = 2;
		return 0;
	}
	int rc = 0;
	QzSession_T *s = session_for(q, w, job->level, &rc);
	if (!s)
		return rc == -EINVAL ? -EINVAL : -EIO;
	unsigned i = (unsigned)(job->level - q->lvl_min);
	if (!qatzip_call_allowed(q, w, i))
		return run_on_cpu(q, w, job);

	size_t room = codec_bound(CODEC_DEFLATE, job->src_len) + QATZIP_DEST_SLACK;
	if (room > UINT_MAX)
		return -EINVAL;
	if (room > w->scratch_cap) {
		uint8_t *p = realloc(w->scratch, room);
		if (!p)
			return -ENOMEM;
		w->scratch = p;
		w->scratch_cap = room;
	}
	unsigned src_len = (unsigned)job->src_len;
	unsigned dst_len = (unsigned)room;
	int qrc = q->compress(s, job->src, &src_len, w->scratch, &dst_len, 1);
	if (qrc == QZ_OK && src_len == job->src_len && dst_len <= job->dst_cap) {
		memcpy(job->dst, w->scratch, dst_len);
		job->dst_len = dst_len;
		return 0;
	}
	if (qrc == QZ_OK && src_len == job->src_len)
		qrc = QZ_FAIL; /* did not compress: the session is fine, the data goes stored */
	else
		session_drop(q, w, i); /* whatever it left half done goes with it */
	/* Did not fit (QZ_FAIL from QATzip 1.3, QZ_BUF_ERROR from older), or not all of it. */
	if (qrc == QZ_OK || qrc == QZ_FAIL || qrc == QZ_BUF_ERROR) {
		if (stored_len(job->src_len) > job->dst_cap)
			return -ENOSPC;
		write_stored(job->src, job->src_len, job->dst);
		job->dst_len = stored_len(job->src_len);
		return 0;
	}
	return qrc == QZ_PARAMS ? -EINVAL : -EIO;
}

static int qat_decompress(struct accel_qat *q, struct qat_worker *w, struct accel_job *job)
{
	if ((!job->src && job->src_len) || (!job->dst && job->dst_cap) ||
	    job->expected_len > job->dst_cap || job->src_len > UINT_MAX ||
	    job->expected_len > UINT_MAX)
		return -EINVAL;
	if (job->src_len == 0)
		return -EBADMSG; /* not a deflate stream */
	/* A device fails raw deflate larger than hw_buff_sz: inflate it here. */
	if (job->expected_len > ACCEL_QAT_MAX_JOB_BYTES || job->src_len > ACCEL_QAT_MAX_JOB_BYTES)
		return run_on_cpu(q, w, job);
	int rc = 0;
	QzSession_T *s = session_for(q, w, q->lvl_def, &rc);
	if (!s)
		return -EIO;
	unsigned i = (unsigned)(q->lvl_def - q->lvl_min);
	if (!qatzip_call_allowed(q, w, i))
		return run_on_cpu(q, w, job);

	unsigned src_len = (unsigned)job->src_len;
	unsigned dst_len = (unsigned)job->expected_len;
	int qrc = q->decompress(s, job->src, &src_len, job->dst, &dst_len);
	/* All of the input, and exactly the size the sender announced. */
	if (qrc == QZ_OK && src_len == job->src_len && dst_len == job->expected_len) {
		job->dst_len = dst_len;
		return 0;
	}
	/* A short call leaves the session mid-stream: the next would misread. */
	session_drop(q, w, i);
	switch (qrc) {
	case QZ_OK:	   /* stopped short of the input or of the size */
	case QZ_DATA_ERROR:
	case QZ_BUF_ERROR: /* it would decode to more than expected_len */
	case QZ_FAIL:	   /* what a device says of a stream it cannot decode */
		return -EBADMSG;
	case QZ_PARAMS: return -EINVAL;
	default: return -EIO;
	}
}

static int qat_run(void *backend, void *wstate, struct accel_job *job)
{
	struct accel_qat *q = backend;
	struct qat_worker *w = wstate;

	job->dst_len = 0;
	if (job->codec != CODEC_DEFLATE)
		return -ENOTSUP; /* accel.c does not route these here */
	if (job->op == ACCEL_COMPRESS)
		return qat_compress(q, w, job);
	return qat_decompress(q, w, job);
}

const struct accel_backend_ops accel_qat_ops = {
	.tag = "qat",
	.worker_init = qat_worker_init,
	.worker_fini = qat_worker_fini,
	.run = qat_run,
};
