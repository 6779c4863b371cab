/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <linux/socket.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_LINUX_SOCKET_H
#define __PYBPF_BCC_LINUX_SOCKET_H
#include <bcc_helpers.h>
#endif
