/* SPDX-License-Identifier: MIT */
/*
 * TEST DOUBLE for Intel QATzip -- not QATzip, and no QAT hardware.
 *
 * Built as libqatzip.so.3 in the build directory, it exports the QATzip
 * calls vmig's QAT backend uses (src/accel/qat_backend.c), with QATzip's
 * signatures, struct layouts and status codes (intel/QATzip
 * include/qatzip.h, QATZIP_API_VERSION 2.3), and does the work in software
 * with zlib, so that the backend can be tested on machines with no QAT
 * device. vmig's tests point accel_config.qatzip_path at it.
 *
 * What it does:
 * - raw deflate (QZ_DEFLATE_RAW: zlib windowBits -15) and gzip
 *   (QZ_DEFLATE_GZIP); the other formats are refused (QZ_PARAMS),
 * - VMIG_QAT_STANDIN_NODEV=1 in the environment, or
 *   vmig_qat_standin_set_nodev(1), makes it a host without a device:
 *   qzInit and qzSetupSessionDeflate return QZ_NOSW_NO_HW; with sw_backup
 *   set, qzInit returns QZ_OK and the session says hw_session_stat
 *   QZ_NO_HW, as QATzip 1.3.1 does (measured),
 * - it counts its calls (vmig_qat_standin_get_counts), and with
 *   VMIG_QAT_STANDIN_LOG=1 prints one line per call on stderr,
 * - it is strict where QATzip is lenient: compressing or decompressing on
 *   a session that was never set up fails instead of setting one up.
 *
 * Its version string, its component name and every message it prints say
 * "TEST DOUBLE", so nothing that went through it can pass for QAT.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "qatzip_standin.h"

/* ---- QATzip's declarations (include/qatzip.h, API 2.3), the subset served ---- */

#include "accel/qatzip_abi.h"

#define QZ_HW_BUFF_SZ (64 * 1024)

int qzInit(QzSession_T *sess, unsigned char sw_backup);
int qzSetupSessionDeflate(QzSession_T *sess, QzSessionParamsDeflate_T *params);
int qzGetDefaultsDeflate(QzSessionParamsDeflate_T *defaults);
int qzCompress(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
	       unsigned char *dest, unsigned int *dest_len, unsigned int last);
int qzDecompress(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
		 unsigned char *dest, unsigned int *dest_len);
int qzTeardownSession(QzSession_T *sess);
int qzClose(QzSession_T *sess);
int qzGetSoftwareComponentCount(unsigned int *num_elem);
int qzGetSoftwareComponentVersionList(QzSoftwareVersionInfo_T *api_info, unsigned int *num_elem);

/* ---- the test double ---- */

#define STANDIN_NAME "TEST DOUBLE libqatzip.so.3 (vmig stand-in, zlib in software, no QAT device)"
#define SESSION_MAGIC 0x51415453u /* "QATS" */

struct standin_session {
	unsigned magic;
	QzDirection_T direction;
	QzDataFormat_T data_fmt;
	int zlevel;
	z_stream zc; /* compressor, made on first use */
	z_stream zd; /* decompressor, made on first use */
	int zc_ok, zd_ok;
};

/* A test double may count in globals: the real QATzip keeps process state too. */
static atomic_ulong n_init, n_init_ok, n_setup, n_compress, n_decompress, n_teardown, n_close;
static atomic_long n_live;
static atomic_uint last_lvl;
static atomic_int last_fmt = -1, last_swb = -1;
static atomic_int forced_nodev;
static _Thread_local unsigned thread_inits; /* QZ_DUPLICATE after the first, as QATzip */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	const char *e = getenv("VMIG_QAT_STANDIN_LOG");
	if (!e || strcmp(e, "1") != 0)
		return;
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof(line), "libqatzip TEST DOUBLE: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

static int no_device(void)
{
	const char *e = getenv("VMIG_QAT_STANDIN_NODEV");
	return atomic_load(&forced_nodev) || (e && strcmp(e, "1") == 0);
}

const char *vmig_qat_standin_version(void)
{
	return STANDIN_NAME;
}

void vmig_qat_standin_get_counts(struct vmig_qat_standin_counts *out)
{
	memset(out, 0, sizeof(*out));
	out->init = atomic_load(&n_init);
	out->init_ok = atomic_load(&n_init_ok);
	out->setup = atomic_load(&n_setup);
	out->compress = atomic_load(&n_compress);
	out->decompress = atomic_load(&n_decompress);
	out->teardown = atomic_load(&n_teardown);
	out->close = atomic_load(&n_close);
	out->sessions_live = atomic_load(&n_live);
	out->last_comp_lvl = atomic_load(&last_lvl);
	out->last_data_fmt = atomic_load(&last_fmt);
	out->last_sw_backup = atomic_load(&last_swb);
}

void vmig_qat_standin_reset_counts(void)
{
	atomic_store(&n_init, 0);
	atomic_store(&n_init_ok, 0);
	atomic_store(&n_setup, 0);
	atomic_store(&n_compress, 0);
	atomic_store(&n_decompress, 0);
	atomic_store(&n_teardown, 0);
	atomic_store(&n_close, 0);
	atomic_store(&last_lvl, 0);
	atomic_store(&last_fmt, -1);
	atomic_store(&last_swb, -1);
	/* n_live is not reset: it tracks sessions still open */
}

void vmig_qat_standin_set_nodev(int on)
{
	atomic_store(&forced_nodev, on ? 1 : 0);
}

int qzInit(QzSession_T *sess, unsigned char sw_backup)
{
	atomic_fetch_add(&n_init, 1);
	if (!sess)
		return QZ_PARAMS;
	if (no_device()) {
		say("qzInit: simulating a host with no QAT device (sw_backup %u)", sw_backup);
		sess->hw_session_stat = sw_backup ? QZ_NO_HW : QZ_NOSW_NO_HW;
		if (!sw_backup)
			return QZ_NOSW_NO_HW;
		atomic_fetch_add(&n_init_ok, 1);
		return QZ_OK; /* QATzip: software from here on */
	}
	sess->hw_session_stat = QZ_OK;
	atomic_fetch_add(&n_init_ok, 1);
	int rc = thread_inits++ ? QZ_DUPLICATE : QZ_OK;
	say("qzInit: %s (sw_backup %u)", rc == QZ_OK ? "QZ_OK" : "QZ_DUPLICATE", sw_backup);
	return rc;
}

int qzGetDefaultsDeflate(QzSessionParamsDeflate_T *d)
{
	if (!d)
		return QZ_PARAMS;
	memset(d, 0, sizeof(*d));
	d->common_params.direction = QZ_DIR_BOTH;
	d->common_params.comp_lvl = 1;
	d->common_params.comp_algorithm = QZ_DEFLATE;
	d->common_params.max_forks = 3;
	d->common_params.sw_backup = 1;
	d->common_params.hw_buff_sz = QZ_HW_BUFF_SZ;
	d->common_params.strm_buff_sz = QZ_HW_BUFF_SZ;
	d->common_params.input_sz_thrshold = 1024;
	d->common_params.req_cnt_thrshold = 32; /* QATzip 1.3.1's default */
	d->common_params.wait_cnt_thrshold = 8;
	d->common_params.polling_mode = QZ_PERIODICAL_POLLING;
	d->common_params.is_sensitive_mode = 0;
	d->huffman_hdr = QZ_DYNAMIC_HDR;
	d->data_fmt = QZ_DEFLATE_GZIP_EXT;
	return QZ_OK;
}

int qzSetupSessionDeflate(QzSession_T *sess, QzSessionParamsDeflate_T *p)
{
	if (!sess || !p)
		return QZ_PARAMS;
	if (sess->internal)
		return QZ_DUPLICATE;
	const QzSessionParamsCommon_T *c = &p->common_params;
	if (no_device() && !c->sw_backup) {
		say("qzSetupSessionDeflate: simulating a host with no QAT device");
		return QZ_NOSW_NO_HW;
	}
	if ((unsigned)c->direction > QZ_DIR_BOTH || c->comp_algorithm != QZ_DEFLATE ||
	    c->comp_lvl < 1 || c->comp_lvl > 12 || (unsigned)p->huffman_hdr > QZ_STATIC_HDR ||
	    (unsigned)p->data_fmt >= QZ_FMT_NUM) {
		say("qzSetupSessionDeflate: bad parameters (direction %u, algorithm %u, level %u, "
		    "huffman %u, format %u)",
		    (unsigned)c->direction, c->comp_algorithm, c->comp_lvl,
		    (unsigned)p->huffman_hdr, (unsigned)p->data_fmt);
		return QZ_PARAMS;
	}
	if (p->data_fmt != QZ_DEFLATE_RAW && p->data_fmt != QZ_DEFLATE_GZIP) {
		say("qzSetupSessionDeflate: data format %u is not served by this test double "
		    "(only QZ_DEFLATE_RAW and QZ_DEFLATE_GZIP)",
		    (unsigned)p->data_fmt);
		return QZ_PARAMS;
	}
	struct standin_session *s = calloc(1, sizeof(*s));
	if (!s)
		return QZ_FAIL;
	s->magic = SESSION_MAGIC;
	s->direction = c->direction;
	s->data_fmt = p->data_fmt;
	s->zlevel = c->comp_lvl > 9 ? 9 : (int)c->comp_lvl;
	sess->internal = s;
	sess->total_in = sess->total_out = 0;
	sess->hw_session_stat = no_device() ? QZ_NO_HW : QZ_OK;
	atomic_fetch_add(&n_setup, 1);
	atomic_fetch_add(&n_live, 1);
	atomic_store(&last_fmt, (int)p->data_fmt);
	atomic_store(&last_swb, (int)c->sw_backup);
	if (c->direction != QZ_DIR_DECOMPRESS)
		atomic_store(&last_lvl, c->comp_lvl);
	say("qzSetupSessionDeflate: level %u, format %s, sw_backup %u", c->comp_lvl,
	    p->data_fmt == QZ_DEFLATE_RAW ? "QZ_DEFLATE_RAW" : "QZ_DEFLATE_GZIP", c->sw_backup);
	return QZ_OK;
}

static struct standin_session *session_of(QzSession_T *sess)
{
	if (!sess || !sess->internal)
		return NULL;
	struct standin_session *s = sess->internal;
	return s->magic == SESSION_MAGIC ? s : NULL;
}

static int window_bits(const struct standin_session *s)
{
	return s->data_fmt == QZ_DEFLATE_RAW ? -15 : 15 + 16;
}

int qzCompress(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
	       unsigned char *dest, unsigned int *dest_len, unsigned int last)
{
	atomic_fetch_add(&n_compress, 1);
	struct standin_session *s = session_of(sess);
	if (!s || !src_len || !dest_len || (!src && *src_len) || (!dest && *dest_len)) {
		say("qzCompress: no session set up, or bad arguments");
		return s ? QZ_PARAMS : QZ_FAIL;
	}
	if (s->direction == QZ_DIR_DECOMPRESS)
		return QZ_PARAMS;
	if (!s->zc_ok) {
		if (deflateInit2(&s->zc, s->zlevel, Z_DEFLATED, window_bits(s), 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return QZ_FAIL;
		s->zc_ok = 1;
	} else if (deflateReset(&s->zc) != Z_OK) {
		return QZ_FAIL;
	}
	s->zc.next_in = (Bytef *)(uintptr_t)src;
	s->zc.avail_in = *src_len;
	s->zc.next_out = dest;
	s->zc.avail_out = *dest_len;
	int zr = deflate(&s->zc, last ? Z_FINISH : Z_FULL_FLUSH);
	unsigned in = *src_len - s->zc.avail_in, out = *dest_len - s->zc.avail_out;
	*src_len = in;
	*dest_len = out;
	sess->total_in += in;
	sess->total_out += out;
	int rc;
	if (last)
		rc = zr == Z_STREAM_END ? QZ_OK : (zr == Z_OK || zr == Z_BUF_ERROR) ? QZ_BUF_ERROR : QZ_FAIL;
	else
		rc = (zr == Z_OK && s->zc.avail_in == 0) ? QZ_OK : QZ_BUF_ERROR;
	say("qzCompress: %u -> %u bytes, status %d", in, out, rc);
	return rc;
}

int qzDecompress(QzSession_T *sess, const unsigned char *src, unsigned int *src_len,
		 unsigned char *dest, unsigned int *dest_len)
{
	atomic_fetch_add(&n_decompress, 1);
	struct standin_session *s = session_of(sess);
	if (!s || !src_len || !dest_len || (!src && *src_len) || (!dest && *dest_len)) {
		say("qzDecompress: no session set up, or bad arguments");
		return s ? QZ_PARAMS : QZ_FAIL;
	}
	if (s->direction == QZ_DIR_COMPRESS)
		return QZ_PARAMS;
	if (!s->zd_ok) {
		if (inflateInit2(&s->zd, window_bits(s)) != Z_OK)
			return QZ_FAIL;
		s->zd_ok = 1;
	} else if (inflateReset(&s->zd) != Z_OK) {
		return QZ_FAIL;
	}
	s->zd.next_in = (Bytef *)(uintptr_t)src;
	s->zd.avail_in = *src_len;
	s->zd.next_out = dest;
	s->zd.avail_out = *dest_len;
	int zr = inflate(&s->zd, Z_FINISH);
	unsigned in = *src_len - s->zd.avail_in, out = *dest_len - s->zd.avail_out;
	int rc;
	switch (zr) {
	case Z_STREAM_END: rc = QZ_OK; break;
	case Z_BUF_ERROR: rc = s->zd.avail_out == 0 ? QZ_BUF_ERROR : QZ_DATA_ERROR; break;
	case Z_DATA_ERROR:
	case Z_NEED_DICT: rc = QZ_DATA_ERROR; break;
	default: rc = QZ_FAIL; break;
	}
	*src_len = in;
	*dest_len = out;
	sess->total_in += in;
	sess->total_out += out;
	say("qzDecompress: %u -> %u bytes, status %d", in, out, rc);
	return rc;
}

int qzTeardownSession(QzSession_T *sess)
{
	atomic_fetch_add(&n_teardown, 1);
	if (!sess)
		return QZ_PARAMS;
	struct standin_session *s = session_of(sess);
	if (!s)
		return QZ_OK; /* nothing set up: nothing to do */
	if (s->zc_ok)
		deflateEnd(&s->zc);
	if (s->zd_ok)
		inflateEnd(&s->zd);
	s->magic = 0;
	free(s);
	sess->internal = NULL;
	atomic_fetch_sub(&n_live, 1);
	say("qzTeardownSession");
	return QZ_OK;
}

int qzClose(QzSession_T *sess)
{
	atomic_fetch_add(&n_close, 1);
	if (!sess)
		return QZ_PARAMS;
	if (sess->internal)
		qzTeardownSession(sess);
	if (thread_inits)
		thread_inits--;
	say("qzClose");
	return QZ_OK;
}

int qzGetSoftwareComponentCount(unsigned int *num_elem)
{
	if (!num_elem)
		return QZ_PARAMS;
	*num_elem = 1;
	return QZ_OK;
}

int qzGetSoftwareComponentVersionList(QzSoftwareVersionInfo_T *info, unsigned int *num_elem)
{
	if (!info || !num_elem || *num_elem < 1)
		return QZ_PARAMS;
	memset(info, 0, sizeof(*info));
	info->component_type = QZ_COMPONENT_QATZIP_API;
	snprintf((char *)info->component_name, sizeof(info->component_name),
		 "QATzip TEST DOUBLE (vmig stand-in)");
	info->major_version = 0;
	info->minor_version = 0;
	info->patch_version = 0;
	*num_elem = 1;
	return QZ_OK;
}
