/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <uapi/linux/ptrace.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_UAPI_LINUX_PTRACE_H
#define __PYBPF_BCC_UAPI_LINUX_PTRACE_H
#include <bcc_helpers.h>
#endif
