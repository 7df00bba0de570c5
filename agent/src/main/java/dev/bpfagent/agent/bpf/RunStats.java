package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;

/** BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): run_cnt and run_time_ns are counted while this is open. */
public final class RunStats implements AutoCloseable {
    private final Fd fd;

    private RunStats(Fd fd) {
        this.fd = fd;
    }

    public static RunStats enable() {
        return new RunStats(Bpf.enableStats(Bpf.BPF_STATS_RUN_TIME));
    }

    @Override
    public void close() {
        fd.close();
    }
}
