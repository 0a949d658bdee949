/* SPDX-License-Identifier: MIT */
/* fuzz_wire's first input byte (modulo WF_COUNT): which decoder the rest
 * goes to. Shared with the seed generator; append, never renumber (the
 * committed corpus names decoders by these values). */
#ifndef VMIG_TESTS_FUZZ_WIRE_OPS_H
#define VMIG_TESTS_FUZZ_WIRE_OPS_H

enum wire_fuzz_op {
	WF_HELLO,
	WF_HELLO_ACK,
	WF_ERROR,
	WF_CHANNEL_HELLO,
	WF_SYNC,
	WF_SYNC_ACK,
	WF_DIGEST,
	WF_ALIVE,
	WF_HOST_INFO,
	WF_PAGES_FIXED,
	WF_PAGES_ENTRIES, /* u16 count, then the entries */
	WF_PAGES_HASHES,  /* u16 count, then the hashes */
	WF_PAGES_LEN,
	WF_XBZ_DELTA_LEN,
	WF_RECORD,     /* a whole record: header and payload */
	WF_DECOMPRESS, /* u8 codec, u8 pages - 1, compressed bytes */
	WF_XBZRLE,     /* one XBZRLE delta */
	WF_COUNT
};

#endif
