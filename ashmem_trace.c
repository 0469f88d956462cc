// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_linux: instantiates the trace events declared in ashmem_trace.h.
 */
#define CREATE_TRACE_POINTS
#include "ashmem_trace.h"
