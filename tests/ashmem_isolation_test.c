// SPDX-License-Identifier: GPL-2.0-only
/* Placeholder: being written. */
#include "kselftest_harness.h"
#include "ashmem_util.h"

TEST(placeholder)
{
	SKIP(return, "not written yet");
}

TEST_HARNESS_MAIN
