package dev.bpfagent.agent.kernel;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * A BPF_MAP_TYPE_RINGBUF mapped into this process (kernel/bpf/ringbuf.c's layout): a consumer page
 * (read-write: consumer_pos), then read-only the producer page (producer_pos) and the data area,
 * mapped twice in a row so a record that wraps reads straight through. Records are an 8-byte header
 * (u32 length with BUSY (1 << 31) and DISCARD (1 << 30) bits, u32 page offset) and the data, padded
 * to 8 bytes.
 */
public final class RingBufferMapping implements AutoCloseable {
    static final int PAGE = 4096;
    static final int HDR = 8;
    static final int BUSY = 1 << 31;
    static final int DISCARD = 1 << 30;

    /** Constant handles: the JIT inlines them (a layout's varHandle() called per access would not be). */
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment consumer;
    private final MemorySegment producer;
    private final long mask;

    private RingBufferMapping(MemorySegment consumer, MemorySegment producer, long dataSize) {
        this.consumer = consumer;
        this.producer = producer;
        this.mask = dataSize - 1;
    }

    /** Maps a ring buffer of dataSize bytes (its max_entries). */
    public static RingBufferMapping map(Fd ringbuf, int dataSize) {
        MemorySegment c = LibC.mmap(ringbuf, PAGE, LibC.PROT_READ | LibC.PROT_WRITE, 0);
        try {
            MemorySegment p = LibC.mmap(ringbuf, PAGE + 2L * dataSize, LibC.PROT_READ, PAGE);
            return new RingBufferMapping(c, p, dataSize);
        } catch (RuntimeException e) {
            LibC.munmap(c);
            throw e;
        }
    }

    /** Up to max committed records, oldest first, each consumed (the kernel may reuse their room). */
    public List<byte[]> read(int max) {
        List<byte[]> out = new ArrayList<>();
        read(max, new RecordSink() {
            @Override
            public void record(int cpu, byte[] data) {
                out.add(data);
            }

            @Override
            public void lost(int cpu, long count) {
            }
        });
        return out;
    }

    /**
     * Hands up to max committed records to sink (cpu -1), oldest first, each consumed once the sink has
     * it; discarded records are skipped. Returns how many the sink got. One thread reads at a time.
     */
    public int read(int max, RecordSink sink) {
        int n = 0;
        long cons = (long) LONG.getAcquire(consumer, 0L);
        long prod = (long) LONG.getAcquire(producer, 0L);
        while (n < max) {
            if (cons >= prod) {
                prod = (long) LONG.getAcquire(producer, 0L);
                if (cons >= prod) {
                    break;
                }
            }
            long at = PAGE + (cons & mask);
            int len = (int) INT.getAcquire(producer, at);
            if ((len & BUSY) != 0) {
                break; // still being written: what follows is not committed yet
            }
            int size = len & ~(BUSY | DISCARD);
            if ((len & DISCARD) == 0) {
                byte[] data = new byte[size];
                MemorySegment.copy(producer, java.lang.foreign.ValueLayout.JAVA_BYTE, at + HDR, data, 0, size);
                sink.record(-1, data);
                n++;
            }
            cons += (HDR + size + 7) & ~7L;
            LONG.setRelease(consumer, 0L, cons);
        }
        VarHandle.fullFence();
        return n;
    }

    @Override
    public void close() {
        LibC.munmap(producer);
        LibC.munmap(consumer);
    }
}
