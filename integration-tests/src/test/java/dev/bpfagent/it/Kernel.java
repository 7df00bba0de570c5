package dev.bpfagent.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** What the tests ask of the machine before they run. */
final class Kernel {
    private Kernel() {
    }

    static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[2].equals("0"); // effective uid
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** Skips the test (with the reason) unless we may use bpf(2). */
    static void assumeRoot() {
        Assumptions.assumeTrue(isRoot(), "needs root (CAP_BPF, CAP_SYS_ADMIN, CAP_NET_ADMIN) to load BPF programs");
    }

    /** True once condition holds, polled for up to 5 s: for what the kernel frees from work queues. */
    static boolean eventually(java.util.function.BooleanSupplier condition) throws InterruptedException {
        return eventually(condition, 5);
    }

    /** For what the kernel finishes from deferred work (a network namespace's teardown): up to this long. */
    static boolean eventually(java.util.function.BooleanSupplier condition, int seconds) throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }
}
