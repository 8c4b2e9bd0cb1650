// SPDX-License-Identifier: GPL-2.0
/*
 * Allocate and touch memory 1 MiB at a time until the OOM killer ends this process.
 * It volunteers first (oom_score_adj 1000), so the guest's init and shell survive.
 * Prints how far it got, every 64 MiB, to stdout (unbuffered).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1UL << 20)

int main(void)
{
	FILE *adj = fopen("/proc/self/oom_score_adj", "w");
	unsigned long mib = 0;

	if (adj) {
		fputs("1000\n", adj);
		fclose(adj);
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	for (;;) {
		char *p = malloc(CHUNK);

		if (!p) {
			printf("malloc failed after %lu MiB\n", mib);
			return 1;
		}
		memset(p, 0x5a, CHUNK);
		if (++mib % 64 == 0)
			printf("%lu MiB\n", mib);
	}
}
