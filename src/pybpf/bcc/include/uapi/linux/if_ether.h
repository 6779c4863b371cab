/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <uapi/linux/if_ether.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_UAPI_LINUX_IF_ETHER_H
#define __PYBPF_BCC_UAPI_LINUX_IF_ETHER_H
#include <bcc_helpers.h>
#endif
