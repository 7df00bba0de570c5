// The libbpf baseline of the event-stream rows: libbpf's ring_buffer reading a ring buffer map the
// agent pinned (argv[1]), counting records until none came for a second after the first. Prints
// "ready", then "COUNT FIRST_NS LAST_NS" (CLOCK_MONOTONIC around the polls that returned records).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <time.h>

static long long count;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size)
{
    count++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ringbuf_reader PINNED_RINGBUF\n");
        return 2;
    }
    int fd = bpf_obj_get(argv[1]);
    if (fd < 0) {
        perror("bpf_obj_get");
        return 1;
    }
    struct ring_buffer *rb = ring_buffer__new(fd, on_record, NULL, NULL);
    if (!rb) {
        perror("ring_buffer__new");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    long long first = 0, last = 0, quiet_since = now_ns();
    for (;;) {
        long long before = now_ns();
        int n = ring_buffer__poll(rb, 100);
        long long after = now_ns();
        if (n < 0)
            break;
        if (n > 0) {
            if (!first)
                first = before;
            last = after;
            quiet_since = after;
        } else if (after - quiet_since > (count ? 1000000000LL : 60000000000LL)) {
            break;
        }
    }
    printf("%lld %lld %lld\n", count, first, last);
    ring_buffer__free(rb);
    return 0;
}
