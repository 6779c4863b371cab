/* SPDX-License-Identifier: Apache-2.0 */
/* pybpf bcc compat: <uapi/linux/limits.h> is served by vmlinux.h and bcc_helpers.h (no kernel headers). */
#ifndef __PYBPF_BCC_UAPI_LINUX_LIMITS_H
#define __PYBPF_BCC_UAPI_LINUX_LIMITS_H
#include <bcc_helpers.h>
#endif
