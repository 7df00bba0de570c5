package dev.bpfagent.agent.service.state;

import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.LongSupplier;

/**
 * Logs of rejected loads, kept a while so a client can fetch them whole in pages (a status carries
 * only their end). Bounded in time and in bytes: the oldest go first.
 *
 * <p>Concurrency: every method is synchronized; the logs are immutable byte arrays.
 */
public final class VerifierLogs {
    /** A kept log. */
    public record Log(byte[] bytes, boolean truncated, long keptAtNanos) {
    }

    public static final long KEEP_NANOS = 10L * 60 * 1_000_000_000;
    public static final long MAX_BYTES = 64L * 1024 * 1024;

    private final Map<String, Log> logs = new LinkedHashMap<>(); // insertion order: oldest first
    private final LongSupplier clock;
    private long bytes;

    public VerifierLogs() {
        this(System::nanoTime);
    }

    VerifierLogs(LongSupplier clock) {
        this.clock = clock;
    }

    /** Keeps a log; returns its id. */
    public synchronized String put(String log, boolean truncated) {
        byte[] b = log.getBytes(StandardCharsets.UTF_8);
        String id = UUID.randomUUID().toString();
        logs.put(id, new Log(b, truncated, clock.getAsLong()));
        bytes += b.length;
        expire();
        return id;
    }

    public synchronized Optional<Log> get(String id) {
        expire();
        return Optional.ofNullable(logs.get(id));
    }

    public synchronized long bytesKept() {
        return bytes;
    }

    private void expire() {
        long now = clock.getAsLong();
        Iterator<Log> it = logs.values().iterator();
        while (it.hasNext()) {
            Log l = it.next();
            if (now - l.keptAtNanos() > KEEP_NANOS || bytes > MAX_BYTES) {
                it.remove();
                bytes -= l.bytes().length;
            } else {
                break;
            }
        }
    }
}
