/* SPDX-License-Identifier: MIT */
/* The credentials of fuzz_tls_creds.h. */
#include "fuzz_tls_creds.h"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz_target.h"

static char dir[64], psk[96];

static void remove_creds(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

/* About a second of openssl, once. */
static void make_creds(void)
{
	char cmd[512];
	snprintf(dir, sizeof(dir), "/tmp/vmig-fuzz-tls-XXXXXX");
	FUZZ_ASSERT(mkdtemp(dir));
	atexit(remove_creds);
	snprintf(cmd, sizeof(cmd), "%s/scripts/make-certs.sh %s > /dev/null", VMIG_SOURCE_ROOT, dir);
	FUZZ_ASSERT(system(cmd) == 0);
	snprintf(psk, sizeof(psk), "%s/fuzz.psk", dir);
	FILE *f = fopen(psk, "w");
	FUZZ_ASSERT(f);
	fputs("vmig:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
	FUZZ_ASSERT(fclose(f) == 0);
}

struct tls_opts fuzz_tls_opts(bool use_psk, enum tls_role role)
{
	if (!dir[0])
		make_creds();
	struct tls_opts o = {0};
	if (use_psk)
		o.psk_file = psk;
	else
		o.creds_dir = dir;
	if (role == TLS_CLIENT && !use_psk)
		o.hostname = FUZZ_TLS_HOSTNAME;
	return o;
}
