// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "bench.h"
int cmd_decide(int argc, char **argv) { return 0; }
int cmd_nulld(int argc, char **argv) { return 0; }
