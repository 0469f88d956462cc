// SPDX-License-Identifier: GPL-2.0-only
/* Placeholder: ashmem-stat is being written. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "ashmem-stat: not written yet\n");
	return 1;
}
