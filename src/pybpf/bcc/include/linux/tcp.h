/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <linux/tcp.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_LINUX_TCP_H
#define __PYBPF_BCC_LINUX_TCP_H
#include <bcc_helpers.h>
#endif
