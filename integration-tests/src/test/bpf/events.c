// Event stream tests and benchmark: programs that write records into a ring buffer and a perf event
// array, driven by real events (a syscall tracepoint, packets on a veth) or by test runs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 << 20);
} bench_ring SEC(".maps");

// the process whose nanosleeps are recorded (0: every process), set before load
const volatile __u32 target_tgid = 0;

__u64 nanosleeps = 0;
__u64 packets = 0;
__u64 ring_full = 0;

struct sleep_event {
    __u32 tgid;
    __u32 tid;
    __u64 seq; // 1, 2, ... per recorded nanosleep
};

SEC("tracepoint/syscalls/sys_enter_nanosleep")
int on_nanosleep(void *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    if (target_tgid && tgid != target_tgid)
        return 0;
    struct sleep_event e = { .tgid = tgid, .tid = (__u32)id };
    // an atomic add whose result is used (BPF_FETCH) needs 5.12: add, then read (the test sleeps on one thread)
    __sync_fetch_and_add(&nanosleeps, 1);
    e.seq = nanosleeps;
    if (bpf_ringbuf_output(&events, &e, sizeof(e), 0))
        __sync_fetch_and_add(&ring_full, 1);
    return 0;
}

struct packet_event {
    __u32 cpu;
    __u32 len;
    __u64 seq;
};

SEC("xdp")
int xdp_perf(struct xdp_md *ctx)
{
    struct packet_event e = {
        .cpu = bpf_get_smp_processor_id(),
        .len = ctx->data_end - ctx->data,
    };
    __sync_fetch_and_add(&packets, 1);
    e.seq = packets;
    bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
    return XDP_PASS;
}

// Benchmark producers: one record per run (BPF_PROG_TEST_RUN with repeat).
__u64 bench_seq = 0;

SEC("xdp")
int bench16(struct xdp_md *ctx)
{
    __u64 rec[2] = { bench_seq++, 16 }; // one test run's repeats run one after another
    if (bpf_ringbuf_output(&bench_ring, rec, sizeof(rec), 0))
        __sync_fetch_and_add(&ring_full, 1);
    return XDP_PASS;
}

SEC("xdp")
int bench256(struct xdp_md *ctx)
{
    __u64 *rec = bpf_ringbuf_reserve(&bench_ring, 256, 0);
    if (!rec) {
        __sync_fetch_and_add(&ring_full, 1);
        return XDP_PASS;
    }
    rec[0] = bench_seq++;
    for (int i = 1; i < 32; i++)
        rec[i] = i;
    bpf_ringbuf_submit(rec, 0);
    return XDP_PASS;
}
