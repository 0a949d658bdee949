/* SPDX-License-Identifier: MIT */
/*
 * The subset of Intel QATzip's public ABI (include/qatzip.h, API 2.3,
 * QATzip 1.2.x) that vmig uses: status codes, enums and structs, declared
 * here because QATzip is not packaged in Debian. Shared by the QAT backend
 * (which dlopen()s the real library) and the tests' QATzip test double.
 */
#ifndef VMIG_ACCEL_QATZIP_ABI_H
#define VMIG_ACCEL_QATZIP_ABI_H

/*
 * The subset of QATzip's API used here, declared from intel/QATzip
 * include/qatzip.h, QATZIP_API_VERSION 2.3 (QATzip 1.2.x; the soname has
 * been libqatzip.so.3 since 1.1). Layouts must match that header exactly:
 * accel_qat_load checks the defaults the library fills in before use.
 */
typedef enum QzHuffmanHdr_E { QZ_DYNAMIC_HDR = 0, QZ_STATIC_HDR } QzHuffmanHdr_T;
typedef enum QzDirection_E { QZ_DIR_COMPRESS = 0, QZ_DIR_DECOMPRESS, QZ_DIR_BOTH } QzDirection_T;
typedef enum QzDataFormat_E {
	QZ_DEFLATE_4B = 0,
	QZ_DEFLATE_GZIP,
	QZ_DEFLATE_GZIP_EXT,
	QZ_DEFLATE_RAW,
	QZ_FMT_NUM
} QzDataFormat_T;
typedef enum QzPollingMode_E { QZ_PERIODICAL_POLLING = 0, QZ_BUSY_POLLING } QzPollingMode_T;
typedef enum QzSoftwareComponentType_E {
	QZ_COMPONENT_FIRMWARE = 0,
	QZ_COMPONENT_KERNEL_DRIVER,
	QZ_COMPONENT_USER_DRIVER,
	QZ_COMPONENT_QATZIP_API,
	QZ_COMPONENT_SOFTWARE_PROVIDER
} QzSoftwareComponentType_T;

#define QZ_OK 0
#define QZ_DUPLICATE 1
#define QZ_FORCE_SW 2
#define QZ_PARAMS (-1)
#define QZ_FAIL (-2)
#define QZ_BUF_ERROR (-3)
#define QZ_DATA_ERROR (-4)
#define QZ_TIMEOUT (-5)
#define QZ_INTEG (-100)
#define QZ_NO_HW 11
#define QZ_NO_MDRV 12
#define QZ_NO_INST_ATTACH 13
#define QZ_LOW_MEM 14
#define QZ_LOW_DEST_MEM 15
#define QZ_UNSUPPORTED_FMT 16
#define QZ_NONE 100
#define QZ_NOSW_NO_HW (-101)
#define QZ_NOSW_NO_MDRV (-102)
#define QZ_NOSW_NO_INST_ATTACH (-103)
#define QZ_NOSW_LOW_MEM (-104)
#define QZ_NO_SW_AVAIL (-105)
#define QZ_NOSW_UNSUPPORTED_FMT (-116)
#define QZ_NOT_SUPPORTED (-200)

#define QZ_DEFLATE ((unsigned char)8)
#define QZ_MAX_STRING_LENGTH 64

typedef struct QzSessionParamsCommon_S {
	QzDirection_T direction;
	unsigned int comp_lvl;
	unsigned char comp_algorithm;
	unsigned int max_forks;
	unsigned char sw_backup;
	unsigned int hw_buff_sz;
	unsigned int strm_buff_sz;
	unsigned int input_sz_thrshold;
	unsigned int req_cnt_thrshold;
	unsigned int wait_cnt_thrshold;
	QzPollingMode_T polling_mode;
	unsigned int is_sensitive_mode;
} QzSessionParamsCommon_T;

typedef struct QzSessionParamsDeflate_S {
	QzSessionParamsCommon_T common_params;
	QzHuffmanHdr_T huffman_hdr;
	QzDataFormat_T data_fmt;
} QzSessionParamsDeflate_T;

typedef struct QzSession_S {
	signed long int hw_session_stat;
	int thd_sess_stat;
	void *internal;
	unsigned long total_in;
	unsigned long total_out;
} QzSession_T;

typedef struct QzSoftwareVersionInfo_S {
	QzSoftwareComponentType_T component_type;
	unsigned char component_name[QZ_MAX_STRING_LENGTH];
	unsigned int major_version;
	unsigned int minor_version;
	unsigned int patch_version;
	unsigned int build_number;
	unsigned char reserved[52];
} QzSoftwareVersionInfo_T;

#endif
