"""TLS credentials for the fault benchmark's TLS cells: a test CA and its
certificates (scripts/make-certs.sh, QEMU's file layout), made once per
results directory and destination address (which the server certificate
names), used by both systems: vmig --tls-creds DIR, QEMU tls-creds-x509
dir=DIR."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAKE_CERTS = os.path.join(ROOT, "scripts", "make-certs.sh")
FILES = ("ca-cert.pem", "server-cert.pem", "server-key.pem", "client-cert.pem",
         "client-key.pem")


class TlsCredsError(RuntimeError):
    """make-certs.sh failed; the message has its output."""


def ensure(certs_root, dst_host):
    """CERTS_ROOT/DST_HOST with a full set of credentials whose server
    certificate names dst_host (made now unless an earlier cell made them)."""
    creds_dir = os.path.join(os.path.abspath(certs_root), dst_host)
    if all(os.path.exists(os.path.join(creds_dir, f)) for f in FILES):
        return creds_dir
    r = subprocess.run(["sh", MAKE_CERTS, creds_dir, dst_host], capture_output=True, text=True,
                       timeout=120)
    if r.returncode:
        raise TlsCredsError(f"{MAKE_CERTS} {creds_dir} {dst_host}: "
                            f"{(r.stderr or r.stdout).strip()[-400:]}")
    return creds_dir
