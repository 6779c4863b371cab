/* struct_ops maps: an operations table filled with this object's programs. */
#include "elf_test.h"
struct sock;
struct tcp_congestion_ops {
    void (*init)(struct sock *sk);
    u32 (*ssthresh)(struct sock *sk);
    void (*release)(struct sock *sk);
    u32 flags;
    char name[16];
};
SEC("struct_ops/my_init") void my_init(struct sock *sk) { }
SEC("struct_ops") u32 my_ssthresh(struct sock *sk) { return 2; }
SEC(".struct_ops") struct tcp_congestion_ops my_cc = { .init = (void *)my_init, .ssthresh = (void *)my_ssthresh, .flags = 3, .name = "mycc" };
SEC(".struct_ops.link") struct tcp_congestion_ops my_cc_link = { .init = (void *)my_init, .name = "mycc2" };
char LICENSE[] SEC("license") = "GPL";
