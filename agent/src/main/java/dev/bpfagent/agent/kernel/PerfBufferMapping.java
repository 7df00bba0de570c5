package dev.bpfagent.agent.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;

/**
 * One CPU's perf ring (include/uapi/linux/perf_event.h) mapped into this process: the control page
 * (struct perf_event_mmap_page: data_head at 1024 written by the kernel, data_tail at 1032 written by us,
 * data_offset/data_size at 1040/1048 since 4.1), then 2^n data pages. Records are a perf_event_header
 * (u32 type, u16 misc, u16 size) and a body; a record may wrap around the end of the data area.
 * The event must sample PERF_SAMPLE_RAW only: a PERF_RECORD_SAMPLE body is then u32 size and the raw
 * bytes, which bpf_perf_event_output pads so the record stays 8-byte aligned (up to 7 extra bytes).
 */
public final class PerfBufferMapping implements AutoCloseable {
    static final int PAGE = 4096;
    /** enum perf_event_type */
    static final int PERF_RECORD_LOST = 2, PERF_RECORD_SAMPLE = 9;
    private static final long DATA_HEAD = 1024, DATA_TAIL = 1032, DATA_OFFSET = 1040, DATA_SIZE = 1048;

    private static final java.lang.invoke.VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment mapping;
    private final MemorySegment data;
    private final long size;
    private final int cpu;
    /** Our read position; data_tail is written from it after each read. */
    private long tail;

    private PerfBufferMapping(MemorySegment mapping, int cpu) {
        this.mapping = mapping;
        long off = mapping.get(JAVA_LONG, DATA_OFFSET);
        long sz = mapping.get(JAVA_LONG, DATA_SIZE);
        if (off == 0 || sz == 0) { // before 4.1: data right after the control page
            off = PAGE;
            sz = mapping.byteSize() - PAGE;
        }
        this.data = mapping.asSlice(off, sz);
        this.size = sz;
        this.cpu = cpu;
        this.tail = (long) LONG.getAcquire(mapping, DATA_TAIL);
    }

    /** Maps the perf event's buffer: the control page and pages data pages (a power of two). */
    public static PerfBufferMapping map(Fd event, int pages, int cpu) {
        if (pages <= 0 || Integer.bitCount(pages) != 1) {
            throw new IllegalArgumentException("perf buffer pages must be a power of two, got " + pages);
        }
        return new PerfBufferMapping(LibC.mmap(event, (long) PAGE * (pages + 1),
                LibC.PROT_READ | LibC.PROT_WRITE, 0), cpu);
    }

    public int cpu() {
        return cpu;
    }

    /**
     * Hands up to max samples (and every lost-records notice met on the way) to sink, oldest first;
     * each record's room goes back to the kernel once read. Returns how many samples the sink got.
     */
    public int read(int max, RecordSink sink) {
        long head = (long) LONG.getAcquire(mapping, DATA_HEAD);
        int n = 0;
        byte[] scratch = null;
        while (tail < head && n < max) {
            long at = tail % size;
            // the 8-byte header never wraps: records are 8-byte aligned and the area a power of two
            int type = data.get(JAVA_INT_UNALIGNED, at);
            int recSize = Short.toUnsignedInt(data.get(JAVA_SHORT_UNALIGNED, at + 6));
            if (recSize < 8) {
                tail = head; // not a record: the kernel never writes one; skip what is there rather than loop
                break;
            }
            MemorySegment rec;
            if (at + recSize <= size) {
                rec = data.asSlice(at, recSize);
            } else { // wraps: copy its two pieces together
                if (scratch == null || scratch.length < recSize) {
                    scratch = new byte[Math.max(recSize, 256)];
                }
                long first = size - at;
                MemorySegment.copy(data, JAVA_BYTE, at, scratch, 0, (int) first);
                MemorySegment.copy(data, JAVA_BYTE, 0, scratch, (int) first, (int) (recSize - first));
                rec = MemorySegment.ofArray(scratch).asSlice(0, recSize);
            }
            if (type == PERF_RECORD_SAMPLE && recSize >= 12) {
                int raw = rec.get(JAVA_INT_UNALIGNED, 8);
                int len = (int) Math.min(Integer.toUnsignedLong(raw), recSize - 12L);
                sink.record(cpu, rec.asSlice(12, len).toArray(JAVA_BYTE));
                n++;
            } else if (type == PERF_RECORD_LOST && recSize >= 24) {
                sink.lost(cpu, rec.get(JAVA_LONG_UNALIGNED, 16));
            }
            tail += recSize;
        }
        LONG.setRelease(mapping, DATA_TAIL, tail);
        return n;
    }

    @Override
    public void close() {
        LibC.munmap(mapping);
    }
}
