/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the pre-shared key file of --tls-psk FILE
 * (src/migration/tls.c: "IDENTITY:HEXKEY", comments, blank lines), read
 * by tls_ctx_new as the source (client) and the destination (server)
 * read it. The input is the file, given as a memfd's /proc path.
 *
 * Invariants besides the sanitizers: both roles agree; a file is taken
 * or refused with -EINVAL and a message naming the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_target.h"
#include "migration/tls.h"

static int load(const char *path, enum tls_role role, char *err, size_t errlen)
{
	struct tls_opts o = {.psk_file = path};
	struct tls_ctx *ctx = NULL;
	err[0] = 0;
	int r = tls_ctx_new(&o, role, &ctx, err, errlen);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	FUZZ_ASSERT(r ? !ctx && strstr(err, path) : ctx != NULL);
	tls_ctx_free(ctx);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-psk", MFD_CLOEXEC);
	char path[64], err[512];
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int client = load(path, TLS_CLIENT, err, sizeof(err));
	int server = load(path, TLS_SERVER, err, sizeof(err));
	FUZZ_ASSERT(client == server);
	close(fd);
	return 0;
}
