/* SPDX-License-Identifier: MIT */
#include "cli/tls_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int readable(const char *cmd, const char *what, const char *path)
{
	if (access(path, R_OK) == 0)
		return 0;
	fprintf(stderr, "%s: %s: cannot read %s: %s\n", cmd, what, path, strerror(errno));
	return -1;
}

static int absolute(const char *cmd, const char *what, const char *path, char out[PATH_MAX])
{
	if (realpath(path, out))
		return 0;
	fprintf(stderr, "%s: %s: %s: %s\n", cmd, what, path, strerror(errno));
	return -1;
}

int tls_args_check(const char *cmd, struct tls_args *a, bool server)
{
	/* the files of QEMU's layout that this side reads */
	static const char *const client_files[] = {"ca-cert.pem", "client-cert.pem", "client-key.pem"};
	static const char *const server_files[] = {"ca-cert.pem", "server-cert.pem", "server-key.pem"};
	const char *const *files = server ? server_files : client_files;
	char path[PATH_MAX + 32];

	if (a->creds && a->psk) {
		fprintf(stderr, "%s: --tls-creds and --tls-psk exclude each other\n", cmd);
		return -1;
	}
	if (a->hostname && !a->creds) {
		fprintf(stderr, "%s: --tls-hostname needs --tls-creds\n", cmd);
		return -1;
	}
	if (a->psk)
		return absolute(cmd, "--tls-psk", a->psk, a->psk_abs) ||
			       readable(cmd, "--tls-psk", a->psk_abs) ? -1 : 0;
	if (!a->creds)
		return 0;
	if (absolute(cmd, "--tls-creds", a->creds, a->creds_abs))
		return -1;
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", a->creds_abs, files[i]);
		if (readable(cmd, "--tls-creds", path))
			return -1;
	}
	return 0;
}

bool tls_args_take(struct tls_args *a, int c, const char *arg)
{
	switch (c) {
	case TLS_OPT_CREDS: a->creds = arg; return true;
	case TLS_OPT_PSK: a->psk = arg; return true;
	case TLS_OPT_HOSTNAME: a->hostname = arg; return true;
	}
	return false;
}
