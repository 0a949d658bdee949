/* SPDX-License-Identifier: MIT */
/*
 * --tls-creds DIR / --tls-psk FILE / --tls-hostname NAME, shared by
 * `vmig migrate` and `vmig run --incoming`: checked at startup (each file
 * the role needs must be readable) and made absolute, since the VMM that
 * reads them may run in another directory.
 */
#ifndef VMIG_CLI_TLS_ARGS_H
#define VMIG_CLI_TLS_ARGS_H

#include <limits.h>
#include <stdbool.h>

struct tls_args {
	const char *creds, *psk, *hostname;  /* as given; NULL: absent */
	char creds_abs[PATH_MAX], psk_abs[PATH_MAX];
};

#define TLS_ARGS_HELP                                                                         \
	"      --tls-creds DIR       TLS 1.3 with X.509 from DIR, QEMU's layout: ca-cert.pem,\n"  \
	"                            server-cert.pem + server-key.pem (destination),\n"          \
	"                            client-cert.pem + client-key.pem (source); both\n"          \
	"                            sides must use the same CA (scripts/make-certs.sh)\n"       \
	"      --tls-psk FILE        TLS 1.3 with a pre-shared key instead: one line\n"          \
	"                            IDENTITY:HEXKEY, the same file on both sides\n"

/* The options' getopt codes, above every command's own long-only codes
 * (which start at 1000), and their entries for a getopt_long table. */
enum { TLS_OPT_CREDS = 2000, TLS_OPT_PSK, TLS_OPT_HOSTNAME };
#define TLS_ARGS_OPTIONS                                                 \
	{"tls-creds", required_argument, NULL, TLS_OPT_CREDS},            \
	{"tls-psk", required_argument, NULL, TLS_OPT_PSK},                \
	{"tls-hostname", required_argument, NULL, TLS_OPT_HOSTNAME}

/* Option c's value into a if c is one of TLS_ARGS_OPTIONS: true, else
 * false (checked together by tls_args_check once all options are read). */
bool tls_args_take(struct tls_args *a, int c, const char *arg);

/* Checks a (server: destination side) and fills the absolute paths.
 * Returns 0, or -1 after printing why, prefixed with cmd. */
int tls_args_check(const char *cmd, struct tls_args *a, bool server);

#endif
