// cpus: v1 v3 v4
// packet parsing with data/data_end bounds checks
#define SEC(x) __attribute__((section(x), used))
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

struct xdp_md { u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
struct ethhdr { u8 dst[6], src[6]; u16 proto; };
struct iphdr { u8 ihl_ver, tos; u16 len, id, frag; u8 ttl, proto; u16 csum; u32 saddr, daddr; };

SEC("xdp") int xdp_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return 1;
	if (eth->proto != __builtin_bswap16(0x0800))
		return 2;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return 1;
	if (ip->proto == 17 && ip->ttl < 2)
		return 1;
	return ip->daddr == 0x0100007f ? 3 : 2;
}
