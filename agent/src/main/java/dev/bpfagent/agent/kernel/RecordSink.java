package dev.bpfagent.agent.kernel;

/**
 * Where a ring buffer or perf buffer reader hands what it read: each record once, copied out of the
 * shared memory (the kernel may reuse its room as soon as the call returns), and the kernel's counts
 * of records it could not write.
 */
public interface RecordSink {
    /** A record a program committed; cpu is the perf buffer's CPU, -1 for a ring buffer. */
    void record(int cpu, byte[] data);

    /** The kernel lost count records on cpu (PERF_RECORD_LOST: the buffer was full). */
    void lost(int cpu, long count);
}
