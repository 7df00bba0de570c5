package dev.bpfagent.kubernetes.control;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Keys to reconcile, one at a time on one thread, each at most once in the queue however often it is
 * added (as client-go's work queue): a reconcile sees the newest state, never a backlog of events.
 * A reconcile that throws is retried after a backoff that doubles from 250 ms to 30 s per key, and
 * resets when the key next succeeds.
 */
public final class WorkQueue<K> implements AutoCloseable {
    private static final long FIRST_BACKOFF_MS = 250;
    private static final long MAX_BACKOFF_MS = 30_000;
    private final ScheduledExecutorService thread;
    private final Consumer<K> reconcile;
    private final Set<K> queued = new LinkedHashSet<>();
    private final Map<K, Long> backoff = new HashMap<>();
    private final Consumer<String> log;

    public WorkQueue(String name, Consumer<K> reconcile, Consumer<String> log) {
        this.reconcile = reconcile;
        this.log = log;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    /** Reconciles key soon (once, however many times it is added before it runs). */
    public void add(K key) {
        synchronized (queued) {
            if (!queued.add(key)) {
                return;
            }
        }
        thread.execute(() -> run(key));
    }

    /** Adds key after delayMs. */
    public void addAfter(K key, long delayMs) {
        thread.schedule(() -> add(key), delayMs, TimeUnit.MILLISECONDS);
    }

    /** Runs task on the queue's thread every periodMs (a resync). */
    public void every(long periodMs, Runnable task) {
        thread.scheduleWithFixedDelay(() -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.accept("periodic task failed: " + e);
            }
        }, periodMs, periodMs, TimeUnit.MILLISECONDS);
    }

    private void run(K key) {
        synchronized (queued) {
            queued.remove(key);
        }
        try {
            reconcile.accept(key);
            backoff.remove(key);
        } catch (RuntimeException e) {
            long wait = Math.min(MAX_BACKOFF_MS, backoff.getOrDefault(key, FIRST_BACKOFF_MS / 2) * 2);
            backoff.put(key, wait);
            log.accept(key + ": " + e.getMessage() + " (again in " + wait + " ms)");
            addAfter(key, wait);
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
        try {
            thread.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
