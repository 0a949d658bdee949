/* SPDX-License-Identifier: MIT */
#include "vmm/elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GUEST_IMAGE_MAX (64u << 20)

int guest_image_read(const char *path, struct guest_image *img, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(img, 0, sizeof(*img));
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open guest image '%s': %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "guest image '%s' is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size < 64 || st.st_size > GUEST_IMAGE_MAX) {
		snprintf(err, errlen, "guest image '%s' has an implausible size (%lld bytes)", path,
			 (long long)st.st_size);
		close(fd);
		return -EINVAL;
	}
	img->size = (size_t)st.st_size;
	img->data = malloc(img->size);
	if (!img->data) {
		close(fd);
		snprintf(err, errlen, "out of memory reading guest image");
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < img->size) {
		ssize_t n = read(fd, img->data + got, img->size - got);
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			if (n < 0 && e == EINTR)
				continue;
			snprintf(err, errlen, "cannot read guest image '%s': %s", path, strerror(e));
			close(fd);
			guest_image_free(img);
			return -e;
		}
		got += (size_t)n;
	}
	close(fd);
	return 0;
}

void guest_image_free(struct guest_image *img)
{
	free(img->data);
	img->data = NULL;
	img->size = 0;
}

/* A program header normalised from either class. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static int read_phdr(const struct guest_image *img, int cls, uint64_t phoff, uint16_t phentsize,
		     unsigned i, struct phdr *ph)
{
	uint64_t off = phoff + (uint64_t)i * phentsize;
	if (cls == 64) {
		Elf64_Phdr p;
		if (phentsize < sizeof(p) || off > img->size || img->size - off < sizeof(p))
			return -EINVAL;
		memcpy(&p, img->data + off, sizeof(p));
		*ph = (struct phdr){p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
	} else {
		Elf32_Phdr p;
		if (phentsize < sizeof(p) || off > img->size || img->size - off < sizeof(p))
			return -EINVAL;
		memcpy(&p, img->data + off, sizeof(p));
		*ph = (struct phdr){p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
	}
	return 0;
}

/* The ELF header fields the loader needs, from either class. */
struct ehdr {
	int cls;
	uint16_t type, machine, phnum, phentsize;
	uint64_t phoff;
};

static int truncated(char *err, size_t errlen)
{
	snprintf(err, errlen, "guest ELF is truncated or its headers are malformed");
	return -ENOEXEC;
}

/* Reads and checks the ELF header (and sets out->entry): 0, or -ENOEXEC with the reason. */
static int read_ehdr(const struct guest_image *img, struct ehdr *h, struct elf_loaded *out,
		     char *err, size_t errlen)
{
	const uint8_t *d = img->data;

	if (img->size < EI_NIDENT || memcmp(d, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "guest image is not an ELF file");
		return -ENOEXEC;
	}
	if (d[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen, "guest ELF is not little-endian");
		return -ENOEXEC;
	}
	if (d[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;
		if (img->size < sizeof(eh))
			return truncated(err, errlen);
		memcpy(&eh, d, sizeof(eh));
		h->cls = 64;
		h->type = eh.e_type, h->machine = eh.e_machine, h->phoff = eh.e_phoff;
		h->phnum = eh.e_phnum, h->phentsize = eh.e_phentsize, out->entry = eh.e_entry;
	} else if (d[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;
		if (img->size < sizeof(eh))
			return truncated(err, errlen);
		memcpy(&eh, d, sizeof(eh));
		h->cls = 32;
		h->type = eh.e_type, h->machine = eh.e_machine, h->phoff = eh.e_phoff;
		h->phnum = eh.e_phnum, h->phentsize = eh.e_phentsize, out->entry = eh.e_entry;
	} else {
		snprintf(err, errlen, "guest ELF has an unknown class %u", d[EI_CLASS]);
		return -ENOEXEC;
	}
	if (h->type != ET_EXEC) {
		snprintf(err, errlen, "guest ELF is not an executable (e_type %u)", h->type);
		return -ENOEXEC;
	}
	if (h->machine != EM_X86_64 && h->machine != EM_386) {
		snprintf(err, errlen, "guest ELF is not for x86 (e_machine %u)", h->machine);
		return -ENOEXEC;
	}
	if (h->phnum == 0 || h->phnum > 64) {
		snprintf(err, errlen, "guest ELF has %u program headers (want 1..64)", h->phnum);
		return -ENOEXEC;
	}
	return 0;
}

/* Copies every PT_LOAD segment into guest RAM (bss zeroed) and records
 * the span they cover in out: 0, or -ENOEXEC with the reason. */
static int load_segments(const struct guest_image *img, const struct ehdr *h,
			 struct guest_memory *mem, uint64_t min_gpa, struct elf_loaded *out,
			 char *err, size_t errlen)
{
	unsigned loads = 0;

	for (unsigned i = 0; i < h->phnum; i++) {
		struct phdr ph;
		if (read_phdr(img, h->cls, h->phoff, h->phentsize, i, &ph))
			return truncated(err, errlen);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (ph.filesz > ph.memsz || ph.offset > img->size ||
		    ph.filesz > img->size - ph.offset) {
			snprintf(err, errlen, "guest ELF segment %u lies outside the file", i);
			return -ENOEXEC;
		}
		uint8_t *dst = guest_memory_ptr(mem, ph.paddr, ph.memsz);
		if (ph.paddr < min_gpa || !dst) {
			snprintf(err, errlen,
				 "guest ELF segment %u at 0x%llx+0x%llx does not fit guest RAM "
				 "(0x%llx and up)",
				 i, (unsigned long long)ph.paddr, (unsigned long long)ph.memsz,
				 (unsigned long long)min_gpa);
			return -ENOEXEC;
		}
		memcpy(dst, img->data + ph.offset, ph.filesz);
		memset(dst + ph.filesz, 0, ph.memsz - ph.filesz);
		if (ph.paddr < out->lowest)
			out->lowest = ph.paddr;
		if (ph.paddr + ph.memsz > out->highest)
			out->highest = ph.paddr + ph.memsz;
		loads++;
	}
	if (!loads) {
		snprintf(err, errlen, "guest ELF has no loadable segment");
		return -ENOEXEC;
	}
	return 0;
}

int elf_load(const struct guest_image *img, struct guest_memory *mem, uint64_t min_gpa,
	     struct elf_loaded *out, char *err, size_t errlen)
{
	struct ehdr h;
	int r;

	if ((r = read_ehdr(img, &h, out, err, errlen)))
		return r;
	out->elf_class = h.cls;
	out->lowest = UINT64_MAX;
	out->highest = 0;
	return load_segments(img, &h, mem, min_gpa, out, err, errlen);
}
