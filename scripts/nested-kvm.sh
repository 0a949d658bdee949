#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs a command where /dev/kvm exists, on a machine where it does not:
# Debian 12's own kernel boots under QEMU's TCG with an emulated AMD CPU
# that has SVM and nested paging, loads kvm-amd, mounts this machine's root
# read-only over 9p and chroots into it, so the command sees the same files,
# binaries and Python, with a real /dev/kvm of Debian 12's kernel.
#
# Everything runs emulated: a guest is 50-100x slower than on a KVM host, so
# this is for what KVM code does (state save/restore, dirty tracking, the
# whole migration of a small guest on the target kernel), never for speed.
#
#   scripts/nested-kvm.sh [--mem SIZE] [--cpus N] [--timeout S] [--out DIR] -- COMMAND [ARGS...]
#
# COMMAND runs in the current directory (inside the chroot), as root, with
# /tmp, /run and /dev/shm fresh tmpfs; its output streams to this terminal;
# the exit status is COMMAND's (124 on timeout, 125 if the machine failed).
# /mnt is the one writable place that outlives the machine: with --out DIR
# it is DIR here (created, kept), else a folder removed at the end.
# VMIG_TEST_SLOWDOWN (default 10) is passed in: the integration tests'
# waits are stretched by it (pytest's own per-test limit: -o timeout=S).
# The kernel and busybox come from Debian's archive once (apt-get download)
# into NESTED_DIR (default build-nested/).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(realpath -m "${NESTED_DIR:-$ROOT/build-nested}")
MEM=3G CPUS=2 TIMEOUT=1200 KEEP=
usage() { sed -n 2,23p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--mem) MEM=$2; shift 2 ;;
	--cpus) CPUS=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--out) KEEP=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) echo "nested-kvm: unknown option $1" >&2; usage ;;
	esac
done
[ $# -gt 0 ] || usage
command -v qemu-system-x86_64 >/dev/null || {
	echo "nested-kvm: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)" >&2
	exit 125
}

# ---- the kernel, its modules and busybox, from Debian's archive, once ----
fetch() {
	mkdir -p "$DIR/deb"
	cd "$DIR/deb"
	command -v cpio >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q cpio >/dev/null
	# linux-image-amd64 names the current kernel package; download exactly that one.
	local kpkg
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$kpkg" ]; then
		apt-get update -q >/dev/null 2>&1 || true
		kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	[ -n "$kpkg" ] || { echo "nested-kvm: no Debian kernel package found" >&2; exit 125; }
	apt-get download "$kpkg" busybox-static >/dev/null 2>&1 || {
		echo "nested-kvm: apt-get download $kpkg busybox-static failed" >&2
		exit 125
	}
	rm -rf "$DIR/root" && mkdir -p "$DIR/root"
	for d in ./*.deb; do dpkg-deb -x "$d" "$DIR/root"; done
	cd - >/dev/null
}
[ -d "$DIR/root/boot" ] || fetch
KVER=$(basename "$(ls -d "$DIR"/root/lib/modules/*)")
VMLINUZ="$DIR/root/boot/vmlinuz-$KVER"
MODDIR="$DIR/root/lib/modules/$KVER/kernel"

# ---- the initramfs: busybox, the modules (dependencies first), init ----
# Module names to their files, and each one's dependencies from its .ko.
modfile() { find "$MODDIR" -name "$1.ko" -o -name "$(echo "$1" | tr _ -).ko" | head -1; }
ORDER=""
addmod() {
	case " $ORDER " in *" $1 "*) return ;; esac
	local f dep
	f=$(modfile "$1")
	[ -n "$f" ] || { echo "nested-kvm: module $1 not in $KVER" >&2; exit 125; }
	for dep in $(strings "$f" | sed -n 's/^depends=//p' | tr , ' '); do addmod "$dep"; done
	ORDER="$ORDER $1"
}
for m in virtio_pci 9pnet_virtio 9p kvm_amd veth sch_tbf sch_ingress cls_bpf; do addmod "$m"; done

IR="$DIR/initramfs"
rm -rf "$IR" && mkdir -p "$IR"/{bin,mod,proc,sys,dev,host}
cp "$DIR/root/bin/busybox" "$IR/bin/"
for m in $ORDER; do cp "$(modfile "$m")" "$IR/mod/$m.ko"; done
echo "$ORDER" >"$IR/mod/order"
cat >"$IR/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mod/order); do insmod /mod/$m.ko || echo "nested-kvm: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /host/mnt 2>/dev/null ||
	{ echo "nested-kvm: cannot mount the output folder"; poweroff -f; }
mount -t proc proc /host/proc; mount -t sysfs sys /host/sys; mount -t devtmpfs dev /host/dev
mount -t tmpfs tmp /host/tmp; mount -t tmpfs run /host/run
mkdir -p /host/dev/shm /host/dev/pts; mount -t tmpfs shm /host/dev/shm; mount -t devpts pts /host/dev/pts
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup 2>/dev/null
ip link set lo up
chroot /host /bin/sh /mnt/cmd.sh
poweroff -f
EOF
chmod +x "$IR/init"
(cd "$IR" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$DIR/initramfs.cpio.gz")

# ---- the command, and a folder it reports through ----
# /mnt of the chroot is the one writable share: the command's status lands there.
if [ -n "$KEEP" ]; then
	mkdir -p "$KEEP"
	OUT=$(realpath "$KEEP")
	rm -f "$OUT/status"
else
	OUT=$(mktemp -d "$DIR/run.XXXXXX")
	trap 'rm -rf "$OUT"' EXIT
fi
{
	echo "cd $(printf '%q' "$PWD") || exit 1"
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp"
	# tests/integration/vmlib.py stretches its waits by this much
	echo "export VMIG_TEST_SLOWDOWN=${VMIG_TEST_SLOWDOWN:-10}"
	# bench/run.py marks its results as nested (behaviour, never speed)
	echo "export VMIG_NESTED_KVM=$(printf '%q' "$KVER")"
	printf '%q ' "$@"
	echo
	echo 'echo $? > /mnt/status'
} >"$OUT/cmd.sh"

echo "nested-kvm: booting Debian's $KVER under TCG (nested SVM), $CPUS vCPUs, $MEM" >&2
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$CPUS" -m "$MEM" \
	-nographic -no-reboot -monitor none -serial stdio \
	-kernel "$VMLINUZ" -initrd "$DIR/initramfs.cpio.gz" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1" \
	-virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap,id=hostroot" \
	-virtfs "local,path=$OUT,mount_tag=out,security_model=passthrough,id=out" </dev/null |
	sed -u -e $'s/\r//g; s/\x1b[^a-zA-Z]*[a-zA-Z]//g' |
	grep --line-buffered -v -e 'SeaBIOS' -e 'iPXE' -e 'Booting from ROM' -e 'reboot: Power down' -e '^$'
qrc=${PIPESTATUS[0]}
set -e
if [ "$qrc" = 124 ]; then
	echo "nested-kvm: timed out after $TIMEOUT s" >&2
	exit 124
fi
if [ ! -f "$OUT/status" ]; then
	echo "nested-kvm: the command did not finish (the machine stopped first)" >&2
	exit 125
fi
exit "$(cat "$OUT/status")"
