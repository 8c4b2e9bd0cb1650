/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Is GMEM here? The checks the gmem workloads and the bench suite's peer benchmarks share
 * (both SKIP on a kernel without GMEM or without gmem=on on the command line).
 */
#ifndef GMEM_DETECT_H
#define GMEM_DETECT_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A `Field: N` line of a /proc file (meminfo, status), or -1. */
static long proc_kb(const char *path, const char *field)
{
	char line[256];
	size_t fl = strlen(field);
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int file_contains(const char *path, const char *needle)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(buf, sizeof(buf), f))
		found = strstr(buf, needle) != NULL;
	fclose(f);
	return found;
}

static int cmdline_gmem_on(void)
{
	char buf[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");
	char *p;

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	for (p = buf; (p = strstr(p, "gmem=")); p += 5) {
		if (p != buf && p[-1] != ' ')
			continue;
		if (!strncmp(p + 5, "on", 2) || p[5] == '1' || p[5] == 'y' || p[5] == 'Y')
			return 1;
	}
	return 0;
}

#endif
