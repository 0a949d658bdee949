/* SPDX-License-Identifier: MIT */
/* The credentials of fuzz_tls_creds.h. */
#include "fuzz_tls_creds.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_target.h"

static char dir[PATH_MAX], psk[PATH_MAX + 16];

/* Made in a directory of its own, renamed into place: processes that
 * start at once (libFuzzer's merge, pytest) never see half a set. */
static void generate(void)
{
	char tmp[PATH_MAX + 16], cmd[3 * PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", dir);
	FUZZ_ASSERT(mkdtemp(tmp));
	snprintf(cmd, sizeof(cmd), "%s/scripts/make-certs.sh %s > /dev/null", VMIG_SOURCE_ROOT, tmp);
	FUZZ_ASSERT(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "%s/fuzz.psk", tmp);
	FILE *f = fopen(cmd, "w");
	FUZZ_ASSERT(f);
	fputs("vmig:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
	FUZZ_ASSERT(fclose(f) == 0);
	if (rename(tmp, dir) != 0) { /* another process got there first: its set is as good */
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		FUZZ_ASSERT(system(cmd) == 0);
	}
}

/* Beside the binary, made once (about a second of openssl) and kept: a
 * replay of the corpus in `make test` should not pay for it each time. */
static void find_creds(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FUZZ_ASSERT(n > 0);
	exe[n] = 0;
	snprintf(dir, sizeof(dir), "%s/fuzz-tls-creds", dirname(exe));
	snprintf(psk, sizeof(psk), "%s/fuzz.psk", dir);
	if (access(psk, R_OK) != 0)
		generate();
	FUZZ_ASSERT(access(psk, R_OK) == 0);
}

struct tls_opts fuzz_tls_opts(bool use_psk, enum tls_role role)
{
	if (!dir[0])
		find_creds();
	struct tls_opts o = {0};
	if (use_psk)
		o.psk_file = psk;
	else
		o.creds_dir = dir;
	if (role == TLS_CLIENT && !use_psk)
		o.hostname = FUZZ_TLS_HOSTNAME;
	return o;
}
