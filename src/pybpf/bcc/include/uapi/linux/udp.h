/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <uapi/linux/udp.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_UAPI_LINUX_UDP_H
#define __PYBPF_BCC_UAPI_LINUX_UDP_H
#include <bcc_helpers.h>
#endif
