#!/bin/sh
# Creates TEST credentials for vmig's TLS (not for production: the keys sit
# unencrypted on disk, the CA key next to them).
#
#   scripts/make-certs.sh DIR [HOSTNAME...]
#
# DIR gets QEMU's layout, usable as --tls-creds DIR on both sides:
#   ca-cert.pem ca-key.pem          a fresh CA (each run: a different one)
#   server-cert.pem server-key.pem  the destination's, for localhost, 127.0.0.1,
#                                   ::1 and each HOSTNAME given
#   client-cert.pem client-key.pem  the source's (the destination checks it), named
#                                   vmig-source (for the destination's --tls-hostname)
#   keys.psk                        a PSK for --tls-psk: "vmig:" and 32 random bytes in hex
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DIR [HOSTNAME...]" >&2; exit 2; }
dir=$1
shift
command -v openssl >/dev/null || { echo "make-certs: openssl not found" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
umask 077

DAYS=3650
san="DNS:localhost,IP:127.0.0.1,IP:::1"
for h in "$@"; do
	case $h in
	*[!0-9.:]*) san="$san,DNS:$h" ;;
	*) san="$san,IP:$h" ;;
	esac
done

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca-key.pem
openssl req -x509 -new -key ca-key.pem -sha256 -days $DAYS -subj "/CN=vmig test CA $$-$(date +%s)" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out ca-cert.pem

# leaf NAME CN EXTKEYUSAGE [SAN]
leaf() {
	key "$1-key.pem"
	openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$3"
		[ -n "${4:-}" ] && echo "subjectAltName=$4"
	} > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
		-days $DAYS -sha256 -extfile "$1.ext" -out "$1-cert.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
leaf server localhost serverAuth "$san"
leaf client vmig-source clientAuth "DNS:vmig-source"
rm -f ca-cert.srl

echo "vmig:$(openssl rand -hex 32)" > keys.psk
chmod 644 ca-cert.pem server-cert.pem client-cert.pem
echo "make-certs: test CA, server ($san), client and keys.psk in $dir"
