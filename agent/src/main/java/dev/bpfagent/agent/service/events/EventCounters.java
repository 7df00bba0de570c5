package dev.bpfagent.agent.service.events;

import java.util.concurrent.atomic.LongAdder;

/** What the agent's event streams did, since start: records handed to subscribers, and losses by cause. */
public final class EventCounters {
    final LongAdder delivered = new LongAdder();
    final LongAdder droppedByAgent = new LongAdder();
    final LongAdder lostInKernel = new LongAdder();

    /** Records put into messages for subscribers (a record read by two subscribers counts twice). */
    public long delivered() {
        return delivered.sum();
    }

    /** Records a subscriber did not get because its queue or the agent's memory budget was full. */
    public long droppedByAgent() {
        return droppedByAgent.sum();
    }

    /** Records the kernel reported lost (perf buffers full) before the agent could read them. */
    public long lostInKernel() {
        return lostInKernel.sum();
    }
}
