package dev.bpfagent.agent.kernel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The process's effective capabilities (CapEff in /proc/self/status), named as in linux/capability.h. */
public final class Capabilities {
    private Capabilities() {
    }

    public static final int CAP_NET_ADMIN = 12;
    public static final int CAP_SYS_ADMIN = 21;
    public static final int CAP_PERFMON = 38;
    public static final int CAP_BPF = 39;

    public static long effective() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return Long.parseUnsignedLong(line.substring("CapEff:".length()).strip(), 16);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/status", e);
        }
        return 0;
    }

    public static boolean has(long set, int cap) {
        return (set & (1L << cap)) != 0;
    }

    /**
     * What the agent lacks to do its job, as names; empty when it has it all. Loading needs CAP_BPF (5.8+)
     * or CAP_SYS_ADMIN; tracing attach CAP_PERFMON or CAP_SYS_ADMIN; XDP/TC CAP_NET_ADMIN.
     */
    public static List<String> missingForAgent(long set) {
        List<String> missing = new ArrayList<>();
        boolean admin = has(set, CAP_SYS_ADMIN);
        if (!admin && !has(set, CAP_BPF)) {
            missing.add("CAP_BPF (or CAP_SYS_ADMIN)");
        }
        if (!admin && !has(set, CAP_PERFMON)) {
            missing.add("CAP_PERFMON (or CAP_SYS_ADMIN)");
        }
        if (!has(set, CAP_NET_ADMIN)) {
            missing.add("CAP_NET_ADMIN");
        }
        return missing;
    }
}
