package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Epoll;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.kernel.PerfBufferMapping;
import dev.bpfagent.agent.kernel.PerfEvent;
import dev.bpfagent.agent.kernel.RecordSink;
import dev.bpfagent.agent.kernel.RingBufferMapping;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Reads what programs write to a ring buffer (BPF_MAP_TYPE_RINGBUF) or a perf event array
 * (BPF_MAP_TYPE_PERF_EVENT_ARRAY) as it arrives: the buffers are mapped into this process and waited
 * on with epoll, as libbpf's ring_buffer and perf_buffer do.
 *
 * <p>A perf event array gets one PERF_COUNT_SW_BPF_OUTPUT event per online CPU (at most max_entries),
 * each mapped and put in the map at its CPU's index; closing the reader deletes those entries again.
 * A map has at most one reader (records are consumed); closing the map closes its reader first.
 *
 * <p>Threads: one thread polls at a time; {@link #wakeup()} and {@link #close()} may come from any
 * thread. The poll lock guards the mappings: close takes it, so memory is never unmapped under a read.
 */
public final class EventReader implements AutoCloseable {
    /** Records handed over per poll at most, so a busy buffer still lets the caller act between polls. */
    public static final int MAX_PER_POLL = 8192;

    /** Where a poll hands records and loss counts; cpu is -1 for ring buffers. */
    public interface Sink {
        void record(int cpu, byte[] data);

        void lost(int cpu, long count);
    }

    private final BpfMap map;
    private final Epoll epoll;
    private final RingBufferMapping ring;
    private final List<PerfBufferMapping> perf;
    private final List<Fd> perfEvents;
    private final List<Integer> cpus;
    private final long[] ready;
    private final int perfPages;
    private final ReentrantLock pollLock = new ReentrantLock();
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();

    private EventReader(BpfMap map, Epoll epoll, RingBufferMapping ring, List<PerfBufferMapping> perf,
                        List<Fd> perfEvents, List<Integer> cpus, int perfPages) {
        this.perfPages = ring != null ? 0 : perfPages;
        this.map = map;
        this.epoll = epoll;
        this.ring = ring;
        this.perf = perf;
        this.perfEvents = perfEvents;
        this.cpus = java.util.Collections.unmodifiableList(cpus); // filled by open, before anyone polls
        this.ready = new long[Math.max(1, PossibleCpus.count())];
    }

    /**
     * Opens the map's reader. perfPages (a power of two) sizes each CPU's perf buffer; ring buffers
     * ignore it. BusyException when the map already has a reader.
     */
    public static EventReader open(BpfMap map, int perfPages) {
        MapType type = map.type();
        if (type != MapType.RINGBUF && type != MapType.PERF_EVENT_ARRAY) {
            throw new InvalidSpecException("map", "a " + type + " map carries no event records: subscribe to a"
                    + " RINGBUF or PERF_EVENT_ARRAY map");
        }
        if (type == MapType.PERF_EVENT_ARRAY && (perfPages <= 0 || Integer.bitCount(perfPages) != 1
                || perfPages > 4096)) {
            throw new InvalidSpecException("perf_buffer_pages", perfPages + ": a power of two from 1 to 4096");
        }
        Epoll epoll = Epoll.create(type == MapType.RINGBUF ? 1 : Math.min(PossibleCpus.count(), map.maxEntries()));
        RingBufferMapping ring = null;
        List<PerfBufferMapping> perf = new ArrayList<>();
        List<Fd> events = new ArrayList<>();
        List<Integer> cpus = new ArrayList<>();
        EventReader reader = null;
        try {
            if (type == MapType.RINGBUF) {
                ring = RingBufferMapping.map(map.fd(), map.maxEntries());
                epoll.add(map.fd(), 0);
            }
            reader = new EventReader(map, epoll, ring, perf, events, cpus, perfPages);
            map.claimReader(reader); // before any perf slot is written: a second reader must not touch them
            if (type == MapType.PERF_EVENT_ARRAY) {
                int n = Math.min(PossibleCpus.count(), map.maxEntries());
                for (int cpu = 0; cpu < n; cpu++) {
                    Fd ev;
                    try {
                        ev = PerfEvent.openBpfOutput(cpu);
                    } catch (KernelException e) {
                        if (e.errno() == Errno.ENODEV) {
                            continue; // an offline CPU: nothing runs there to write to it
                        }
                        throw e;
                    }
                    events.add(ev);
                    perf.add(PerfBufferMapping.map(ev, perfPages, cpu));
                    map.setPerfEvent(cpu, ev);
                    epoll.add(ev, perf.size() - 1);
                    cpus.add(cpu);
                }
            }
            return reader;
        } catch (RuntimeException e) {
            if (reader != null) {
                map.releaseReader(reader);
            }
            release(map, epoll, ring, perf, events, cpus);
            throw e;
        }
    }

    private static void release(BpfMap map, Epoll epoll, RingBufferMapping ring, List<PerfBufferMapping> perf,
                                List<Fd> events, List<Integer> cpus) {
        for (int cpu : cpus) {
            try {
                map.clearPerfEvent(cpu);
            } catch (RuntimeException e) {
                // the map is gone already: its slots with it
            }
        }
        // each one whatever happened to the one before: nothing is left open by a failure
        for (PerfBufferMapping b : perf) {
            quietly(b::close);
        }
        for (Fd f : events) {
            quietly(f::close);
        }
        if (ring != null) {
            quietly(ring::close);
        }
        quietly(epoll::close);
    }

    private static void quietly(Runnable close) {
        try {
            close.run();
        } catch (RuntimeException e) {
            java.util.logging.Logger.getLogger(EventReader.class.getName()).warning("closing an event reader's "
                    + "resource: " + e);
        }
    }

    public BpfMap map() {
        return map;
    }

    /** Pages of each CPU's perf buffer (0 for a ring buffer). */
    public int perfPages() {
        return perfPages;
    }

    /** The CPUs whose perf buffers are read (empty for a ring buffer). */
    public List<Integer> cpus() {
        return cpus;
    }

    /**
     * Hands what is there to sink; when nothing is, waits up to timeoutMs for records first. Returns the
     * records handed over (0: none came, or {@link #wakeup()}), or -1 once the reader is closed.
     */
    public int poll(int timeoutMs, Sink sink) {
        RecordSink s = new RecordSink() {
            @Override
            public void record(int cpu, byte[] data) {
                sink.record(cpu, data);
            }

            @Override
            public void lost(int cpu, long count) {
                sink.lost(cpu, count);
            }
        };
        pollLock.lock();
        try {
            if (closed) {
                return -1;
            }
            int n = drain(s);
            if (n > 0 || timeoutMs == 0) {
                return n;
            }
            epoll.await(timeoutMs, ready);
            return closed ? -1 : drain(s);
        } finally {
            pollLock.unlock();
        }
    }

    private int drain(RecordSink s) {
        if (ring != null) {
            return ring.read(MAX_PER_POLL, s);
        }
        int n = 0;
        for (PerfBufferMapping b : perf) { // every CPU: a perf fd reports readiness once per wakeup
            n += b.read(MAX_PER_POLL, s);
        }
        return n;
    }

    /** Makes a waiting (or the next) poll return at once. */
    public void wakeup() {
        if (!closed) {
            try {
                epoll.wakeup();
            } catch (KernelException e) {
                // closed meanwhile: the poll returns -1 anyway
            }
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Stops reading: a poll under way returns first, then the perf slots are emptied and everything is
     * unmapped and closed. Idempotent; the map is left open.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        closed = true;
        epoll.wakeup();
        pollLock.lock();
        try {
            release(map, epoll, ring, perf, perfEvents, cpus);
        } finally {
            pollLock.unlock();
            map.releaseReader(this);
        }
    }
}
