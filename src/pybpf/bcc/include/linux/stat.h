/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <linux/stat.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_LINUX_STAT_H
#define __PYBPF_BCC_LINUX_STAT_H
#include <bcc_helpers.h>
#endif
