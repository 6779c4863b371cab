/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <net/inet_sock.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_NET_INET_SOCK_H
#define __PYBPF_BCC_NET_INET_SOCK_H
#include <bcc_helpers.h>
#endif
