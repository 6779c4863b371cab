/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <linux/if_packet.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_LINUX_IF_PACKET_H
#define __PYBPF_BCC_LINUX_IF_PACKET_H
#include <bcc_helpers.h>
#endif
