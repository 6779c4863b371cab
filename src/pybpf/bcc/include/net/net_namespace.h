/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <net/net_namespace.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_NET_NET_NAMESPACE_H
#define __PYBPF_BCC_NET_NET_NAMESPACE_H
#include <bcc_helpers.h>
#endif
