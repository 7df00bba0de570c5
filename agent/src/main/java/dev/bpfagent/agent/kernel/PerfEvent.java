package dev.bpfagent.agent.kernel;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * perf_event_open(2) and the perf ioctls a BPF attach needs (include/uapi/linux/perf_event.h).
 * The attach paths (kprobe, uprobe, tracepoint) build on these.
 */
public final class PerfEvent {
    private PerfEvent() {
    }

    /** enum perf_type_id */
    public static final int PERF_TYPE_SOFTWARE = 1;
    public static final int PERF_TYPE_TRACEPOINT = 2;
    /** enum perf_sw_ids */
    public static final long PERF_COUNT_SW_CPU_CLOCK = 0;
    public static final long PERF_COUNT_SW_BPF_OUTPUT = 10;
    /** perf_event_open flags */
    public static final long PERF_FLAG_FD_CLOEXEC = 1L << 3;
    /** _IO('$', 0), _IO('$', 1), _IOW('$', 8, __u32) */
    public static final long PERF_EVENT_IOC_ENABLE = 0x2400;
    public static final long PERF_EVENT_IOC_DISABLE = 0x2401;
    public static final long PERF_EVENT_IOC_SET_BPF = 0x40042408;

    /** struct perf_event_attr up to config3 (PERF_ATTR_SIZE_VER8, 136 bytes). */
    public static final StructLayout ATTR = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("size"),
            JAVA_LONG.withName("config"),
            JAVA_LONG.withName("sample_period"),
            JAVA_LONG.withName("sample_type"),
            JAVA_LONG.withName("read_format"),
            JAVA_LONG.withName("flags"), // the bitfield: disabled, inherit, pinned, ...
            JAVA_INT.withName("wakeup_events"),
            JAVA_INT.withName("bp_type"),
            JAVA_LONG.withName("config1"),
            JAVA_LONG.withName("config2"),
            JAVA_LONG.withName("branch_sample_type"),
            JAVA_LONG.withName("sample_regs_user"),
            JAVA_INT.withName("sample_stack_user"),
            JAVA_INT.withName("clockid"),
            JAVA_LONG.withName("sample_regs_intr"),
            JAVA_INT.withName("aux_watermark"),
            JAVA_SHORT.withName("sample_max_stack"),
            JAVA_SHORT.withName("__reserved_2"),
            JAVA_INT.withName("aux_sample_size"),
            JAVA_INT.withName("__reserved_3"),
            JAVA_LONG.withName("sig_data"),
            JAVA_LONG.withName("config3"));

    /** Opens a perf event of the given type and config, with sample_period 1, close-on-exec. */
    public static Fd open(int type, long config, int pid, int cpu) {
        return open(type, config, 1, pid, cpu);
    }

    /** Opens a perf event sampling every samplePeriod events (a software clock: every that many ns). */
    public static Fd open(int type, long config, long samplePeriod, int pid, int cpu) {
        try (Arena arena = Arena.ofConfined()) {
            return new Fd(LibC.perfEventOpen(attr(arena, type, config, samplePeriod), pid, cpu, -1,
                    PERF_FLAG_FD_CLOEXEC));
        }
    }

    /** A zeroed perf_event_attr of our size with type, config and sample_period set. */
    private static MemorySegment attr(Arena arena, int type, long config, long samplePeriod) {
        MemorySegment a = arena.allocate(ATTR);
        a.fill((byte) 0);
        a.set(JAVA_INT, BpfAttr.offset(ATTR, "type"), type);
        a.set(JAVA_INT, BpfAttr.offset(ATTR, "size"), (int) ATTR.byteSize());
        a.set(JAVA_LONG, BpfAttr.offset(ATTR, "config"), config);
        a.set(JAVA_LONG, BpfAttr.offset(ATTR, "sample_period"), samplePeriod);
        return a;
    }

    /** enum perf_event_sample_format */
    public static final long PERF_SAMPLE_RAW = 1L << 10;

    /**
     * Opens the software event a perf event array slot takes (PERF_COUNT_SW_BPF_OUTPUT on one CPU, any
     * process): bpf_perf_event_output writes PERF_SAMPLE_RAW samples into its buffer, and each sample
     * wakes a waiting reader (wakeup_events 1).
     */
    public static Fd openBpfOutput(int cpu) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = attr(arena, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT, 1L);
            a.set(JAVA_LONG, BpfAttr.offset(ATTR, "sample_type"), PERF_SAMPLE_RAW);
            a.set(JAVA_INT, BpfAttr.offset(ATTR, "wakeup_events"), 1);
            return new Fd(LibC.perfEventOpen(a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
        }
    }

    /**
     * Opens a kprobe or uprobe through its PMU (type read from /sys/bus/event_source/devices/{kprobe,uprobe}/type):
     * config1 points at the function name (kprobe_func) or binary path (uprobe_path), config2 is the offset
     * (probe_offset), config carries the retprobe bit where the PMU's format says.
     */
    public static Fd openProbe(int pmuType, long config, String funcOrPath, long offset, int pid, int cpu) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = attr(arena, pmuType, config, 1L);
            a.set(JAVA_LONG, BpfAttr.offset(ATTR, "config1"), arena.allocateFrom(funcOrPath).address());
            a.set(JAVA_LONG, BpfAttr.offset(ATTR, "config2"), offset);
            return new Fd(LibC.perfEventOpen(a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC));
        }
    }

    public static void enable(Fd event) {
        try (Fd.Held h = event.hold()) {
            LibC.ioctl("PERF_EVENT_IOC_ENABLE", h.fd(), PERF_EVENT_IOC_ENABLE, 0);
        }
    }

    public static void disable(Fd event) {
        try (Fd.Held h = event.hold()) {
            LibC.ioctl("PERF_EVENT_IOC_DISABLE", h.fd(), PERF_EVENT_IOC_DISABLE, 0);
        }
    }

    /** Attach a loaded program to a perf event (the pre-bpf_link way). */
    public static void setBpf(Fd event, Fd prog) {
        try (Fd.Held e = event.hold(); Fd.Held p = prog.hold()) {
            LibC.ioctl("PERF_EVENT_IOC_SET_BPF", e.fd(), PERF_EVENT_IOC_SET_BPF, p.fd());
        }
    }
}
