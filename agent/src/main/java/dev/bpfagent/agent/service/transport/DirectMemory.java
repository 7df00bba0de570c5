package dev.bpfagent.agent.service.transport;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;

/**
 * The JVM's direct buffer memory (where netty keeps what it reads from sockets here): how much is in
 * use, against the cap -XX:MaxDirectMemorySize sets (the heap's maximum when unset, as the JVM does).
 */
interface DirectMemory {
    long used();

    long limit();

    /** Over half the cap: what new calls queued for the pool would hold is refused. */
    default boolean busy() {
        return used() > limit() / 2;
    }

    static DirectMemory jvm() {
        BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).findFirst().orElse(null);
        long limit = maxDirectMemory();
        return new DirectMemory() {
            @Override
            public long used() {
                return direct == null ? 0 : direct.getMemoryUsed();
            }

            @Override
            public long limit() {
                return limit;
            }
        };
    }

    private static long maxDirectMemory() {
        try {
            var hs = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            long v = Long.parseLong(hs.getVMOption("MaxDirectMemorySize").getValue());
            return v > 0 ? v : Runtime.getRuntime().maxMemory();
        } catch (RuntimeException e) {
            return Runtime.getRuntime().maxMemory();
        }
    }
}
