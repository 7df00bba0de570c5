package dev.bpfagent.client;

import java.util.function.Supplier;

/**
 * What every handle shares: it names an object the agent holds, and closing it asks the agent to
 * close that object, once. A close the agent answered NOT_FOUND (someone closed it already) counts as
 * done; any other failure leaves the handle open, so the close can be tried again.
 */
abstract class AgentHandle implements AutoCloseable {
    private volatile boolean closed;

    /** Whether this handle's close went through (or found the object gone). */
    public final boolean isClosed() {
        return closed;
    }

    /** Runs the agent's close once; whenGone is the answer when the agent no longer had it. */
    final synchronized <T> T closeOnce(Supplier<T> closeInAgent, T whenGone) {
        if (closed) {
            return whenGone;
        }
        T answer;
        try {
            answer = closeInAgent.get();
        } catch (BpfAgentException.NotFound gone) {
            answer = whenGone;
        }
        closed = true;
        return answer;
    }

    /** Asks the agent to close the object (once; later calls do nothing). */
    @Override
    public void close() {
        closeOnce(() -> {
            closeInAgent();
            return null;
        }, null);
    }

    /** The one call that closes the object in the agent. */
    abstract void closeInAgent();
}
