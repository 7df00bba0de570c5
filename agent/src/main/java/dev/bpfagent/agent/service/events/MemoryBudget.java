package dev.bpfagent.agent.service.events;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The heap every subscription's queue may take together: records a slow subscriber has not taken yet
 * count against it (data plus {@link Subscription#RECORD_OVERHEAD}), so many subscribers' own limits
 * can never add up past what the agent's heap holds. A record over budget is dropped for that
 * subscriber and counted, as when its own queue is full.
 */
final class MemoryBudget {
    private final long limit;
    private final AtomicLong used = new AtomicLong();

    MemoryBudget(long limit) {
        this.limit = limit;
    }

    /** Half the heap the JVM may grow to (-Xmx): the rest stays for everything else the agent holds. */
    static MemoryBudget ofHeap() {
        return new MemoryBudget(Runtime.getRuntime().maxMemory() / 2);
    }

    long used() {
        return used.get();
    }

    boolean tryTake(long bytes) {
        if (used.addAndGet(bytes) <= limit) {
            return true;
        }
        used.addAndGet(-bytes);
        return false;
    }

    void give(long bytes) {
        used.addAndGet(-bytes);
    }
}
