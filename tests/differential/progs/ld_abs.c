// cpus: v1
// legacy packet access: LD_ABS and LD_IND through the llvm.bpf.load.* intrinsics
#define SEC(x) __attribute__((section(x), used))

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

SEC("socket") int ld_abs(void *skb)
{
	unsigned long long proto = load_half(skb, 12);
	unsigned long long ihl = load_byte(skb, 14) & 0xf;
	unsigned long long dst = load_word(skb, 30);
	unsigned long long port = load_half(skb, 14 + ihl * 4);
	return proto == 0x0800 && dst && port == 80;
}
