/* SPDX-License-Identifier: MIT */
/*
 * TEST DOUBLE for Intel QATzip: what tests/qat_standin/libqatzip.so.3
 * exports on top of QATzip's own calls, so that tests can see that vmig's
 * QAT backend really went through it, and make it act as a host without a
 * QAT device. Not QATzip, and no QAT hardware is involved: the stand-in
 * compresses with zlib in software.
 */
#ifndef VMIG_QATZIP_STANDIN_H
#define VMIG_QATZIP_STANDIN_H

/* Calls counted since load (or the last reset). */
struct vmig_qat_standin_counts {
	unsigned long init;	  /* qzInit calls, failed ones too */
	unsigned long init_ok;	  /* ... that returned QZ_OK or QZ_DUPLICATE */
	unsigned long setup;	  /* qzSetupSessionDeflate calls that succeeded */
	unsigned long compress;	  /* qzCompress calls */
	unsigned long decompress; /* qzDecompress calls */
	unsigned long teardown;	  /* qzTeardownSession calls */
	unsigned long close;	  /* qzClose calls */
	long sessions_live;	  /* set up and not yet torn down */
	unsigned last_comp_lvl;	  /* comp_lvl of the last compressing session */
	int last_data_fmt;	  /* data_fmt of the last session set up */
	int last_sw_backup;	  /* sw_backup of the last session set up */
};

/* "TEST DOUBLE ..." (vmig's QAT backend shows it in accel_describe). */
const char *vmig_qat_standin_version(void);
void vmig_qat_standin_get_counts(struct vmig_qat_standin_counts *out);
void vmig_qat_standin_reset_counts(void);
/*
 * on != 0: act as a host with no QAT device (qzInit says QZ_NOSW_NO_HW),
 * as the environment variable VMIG_QAT_STANDIN_NODEV=1 also does.
 */
void vmig_qat_standin_set_nodev(int on);

#endif
