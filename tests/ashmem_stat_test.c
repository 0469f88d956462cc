// SPDX-License-Identifier: GPL-2.0-only
/* Placeholder: the ashmem-stat test is being written. */
#include "kselftest_harness.h"

TEST(placeholder)
{
	SKIP(return, "not written yet");
}

TEST_HARNESS_MAIN
