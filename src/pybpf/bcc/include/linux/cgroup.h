/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <linux/cgroup.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_LINUX_CGROUP_H
#define __PYBPF_BCC_LINUX_CGROUP_H
#include <bcc_helpers.h>
#endif
