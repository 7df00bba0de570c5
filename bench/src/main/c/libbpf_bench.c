// The same operations as AgentBench, made directly with libbpf (C), for a side-by-side row.
// Built and run by AgentBench when a C compiler and libbpf-dev are present:
//   cc -O2 -o libbpf_bench libbpf_bench.c -lbpf && ./libbpf_bench ITERATIONS PIN_DIR
// Prints one line per operation: name|path|n|p50_us|p99_us|mean_us|ops_per_s
#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct bpf_insn prog[] = {
    {0x61, 2, 1, 0, 0}, {0x61, 3, 1, 4, 0}, {0xbf, 4, 2, 0, 0}, {0x07, 4, 0, 0, 34}, {0x2d, 4, 3, 6, 0},
    {0x69, 5, 2, 12, 0}, {0x55, 5, 0, 4, 0x0008}, {0x71, 5, 2, 23, 0}, {0x55, 5, 0, 2, 17},
    {0xb7, 0, 0, 0, 1}, {0x95, 0, 0, 0, 0}, {0xb7, 0, 0, 0, 2}, {0x95, 0, 0, 0, 0},
};

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int load(void) {
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench", "GPL", prog, sizeof(prog) / sizeof(prog[0]), NULL);
    if (fd < 0) {
        perror("bpf_prog_load");
        exit(1);
    }
    return fd;
}

// The UDP test packet TestPackets.udp() builds: Ethernet, IPv4 10.0.0.1 -> 10.0.0.2, UDP 12345 -> 80.
static unsigned char packet[42] = {
    0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00,
    0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    0x30, 0x39, 0, 80, 0, 8, 0, 0,
};

enum op { LOAD_CLOSE, TEST_RUN, PIN_UNPIN, ATTACH_XDP, ATTACH_TRACEPOINT, ATTACH_CGROUP };

// what the attach rows attach: programs of each type, the tracepoint's id, the cgroup's fd
static int tp_id, cgroup_fd;

static int load_type(enum bpf_prog_type type, enum bpf_attach_type expected, int r0) {
    struct bpf_insn ret[] = {{0xb7, 0, 0, 0, r0}, {0x95, 0, 0, 0, 0}};
    LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = expected);
    int fd = bpf_prog_load(type, "bench", "GPL", ret, 2, &o);
    if (fd < 0) {
        perror("bpf_prog_load");
        exit(1);
    }
    return fd;
}

static void attach_detach(enum op op, int prog) {
    int link;
    if (op == ATTACH_XDP) {
        link = bpf_link_create(prog, 1 /* lo */, BPF_XDP, NULL);
    } else if (op == ATTACH_CGROUP) {
        link = bpf_link_create(prog, cgroup_fd, BPF_CGROUP_INET4_CONNECT, NULL);
    } else {
        struct perf_event_attr a = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof(a), .config = tp_id,
                                    .sample_period = 1};
        int pfd = syscall(SYS_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
        if (pfd < 0) {
            perror("perf_event_open");
            exit(1);
        }
        link = bpf_link_create(prog, pfd, BPF_PERF_EVENT, NULL);
        close(pfd);
    }
    if (link < 0) {
        perror("bpf_link_create");
        exit(1);
    }
    close(link);
}

static void one(enum op op, int fd, const char *pin) {
    if (op >= ATTACH_XDP) {
        attach_detach(op, fd);
    } else if (op == LOAD_CLOSE) {
        close(load());
    } else if (op == TEST_RUN) {
        unsigned char out[42 + 256];
        LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = packet, .data_size_in = sizeof(packet), .data_out = out,
                    .data_size_out = sizeof(out), .repeat = 1);
        if (bpf_prog_test_run_opts(fd, &o) || o.retval != 1) {
            fprintf(stderr, "test run failed or did not drop\n");
            exit(1);
        }
    } else {
        if (bpf_obj_pin(fd, pin)) {
            perror("bpf_obj_pin");
            exit(1);
        }
        unlink(pin);
    }
}

static void measure(const char *name, enum op op, int n, int fd, const char *pin) {
    long long *t = malloc(sizeof(long long) * n);
    for (int i = 0; i < n; i++) one(op, fd, pin); // warm-up
    long long start = now_ns();
    for (int i = 0; i < n; i++) {
        long long s = now_ns();
        one(op, fd, pin);
        t[i] = now_ns() - s;
    }
    long long total = now_ns() - start;
    qsort(t, n, sizeof(long long), cmp);
    double mean = 0;
    for (int i = 0; i < n; i++) mean += t[i];
    mean /= n;
    int p99 = (int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1;
    printf("%s|libbpf (C)|%d|%.1f|%.1f|%.1f|%.0f\n", name, n, t[n / 2] / 1e3, t[p99] / 1e3, mean / 1e3,
           n / (total / 1e9));
    free(t);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    const char *dir = argc > 2 ? argv[2] : "/sys/fs/bpf";
    char pin[4096];
    snprintf(pin, sizeof(pin), "%s/libbpf_bench", dir);
    int loads = n / 4 > 100 ? n / 4 : 100;
    measure("load+close", LOAD_CLOSE, loads, -1, pin);
    int fd = load();
    measure("test-run", TEST_RUN, n, fd, pin);
    measure("pin+unpin", PIN_UNPIN, n, fd, pin);
    close(fd);
    if (argc > 4) { // attach rows: TRACEPOINT_ID CGROUP_DIR
        tp_id = atoi(argv[3]);
        cgroup_fd = open(argv[4], O_RDONLY | O_DIRECTORY);
        if (cgroup_fd < 0) {
            perror(argv[4]);
            return 1;
        }
        int attaches = n / 4 > 100 ? n / 4 : 100;
        int xdp = load_type(BPF_PROG_TYPE_XDP, 0, 2);
        int tp = load_type(BPF_PROG_TYPE_TRACEPOINT, 0, 0);
        int cg = load_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, 1);
        measure("attach+detach xdp (lo)", ATTACH_XDP, attaches, xdp, pin);
        measure("attach+detach tracepoint", ATTACH_TRACEPOINT, attaches, tp, pin);
        measure("attach+detach cgroup", ATTACH_CGROUP, attaches, cg, pin);
        close(xdp);
        close(tp);
        close(cg);
        close(cgroup_fd);
    }
    return 0;
}
