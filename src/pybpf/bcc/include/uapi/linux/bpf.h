/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <uapi/linux/bpf.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_UAPI_LINUX_BPF_H
#define __PYBPF_BCC_UAPI_LINUX_BPF_H
#include <bcc_helpers.h>
#endif
