# bcc tutorial lesson 2 style: trace_fields(), with a deadline and a count so it ends by itself.
import os
import sys
import time

from bcc import BPF
from bcc.utils import printb

prog = """
int hello(void *ctx) {
    bpf_trace_printk("Hello, World!\\n");
    return 0;
}
"""
b = BPF(text=prog)
b.attach_kprobe(event=b.get_syscall_fnname("clone"), fn_name="hello")
print("%-18s %-16s %-6s %s" % ("TIME(s)", "COMM", "PID", "MESSAGE"))
want, seen, deadline = int(sys.argv[1]) if len(sys.argv) > 1 else 3, 0, time.time() + 20
while seen < want and time.time() < deadline:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    while True:
        (task, pid, cpu, flags, ts, msg) = b.trace_fields(nonblocking=True)
        if task is None:
            break
        if pid == os.getpid():
            printb(b"%-18.9f %-16s %-6d %s" % (ts, task, pid, msg))
            seen += 1
    time.sleep(0.05)
sys.exit(0 if seen >= want else 1)
