/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <net/tcp_states.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_NET_TCP_STATES_H
#define __PYBPF_BCC_NET_TCP_STATES_H
#include <bcc_helpers.h>
#endif
