// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke workload: map anonymous memory, fault every page, check the contents
 * survive, check RSS grew and shrank, unmap. Prints one KTAP line per check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAPPING_BYTES (16UL << 20)

static long rss_pages(void)
{
	long size = 0, resident = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &resident) != 2)
			resident = -1;
		fclose(f);
	}
	return resident;
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = MAPPING_BYTES / page, bad = 0, i;
	long before, touched, after;
	unsigned char *p;

	printf("KTAP version 1\n1..4\n");
	before = rss_pages();
	p = mmap(NULL, MAPPING_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("not ok 1 mmap\n# mmap: %m\nok 2 fault # SKIP no mapping\n"
		       "ok 3 contents # SKIP no mapping\nok 4 munmap # SKIP no mapping\n");
		return 1;
	}
	printf("ok 1 mmap\n");
	for (i = 0; i < pages; i++)
		p[i * page] = (unsigned char)i;
	touched = rss_pages();
	printf("# rss pages: before %ld, after touching %zu pages %ld\n", before, pages, touched);
	printf("%s 2 fault\n", touched - before >= (long)pages * 9 / 10 ? "ok" : "not ok");
	for (i = 0; i < pages; i++)
		bad += p[i * page] != (unsigned char)i;
	printf("%s 3 contents\n", bad ? "not ok" : "ok");
	if (bad)
		printf("# %zu pages lost their contents\n", bad);
	if (munmap(p, MAPPING_BYTES)) {
		printf("not ok 4 munmap\n# munmap: %m\n");
		return 1;
	}
	after = rss_pages();
	printf("# rss pages after munmap: %ld\n", after);
	printf("%s 4 munmap\n", touched - after >= (long)pages * 9 / 10 ? "ok" : "not ok");
	return 0;
}
