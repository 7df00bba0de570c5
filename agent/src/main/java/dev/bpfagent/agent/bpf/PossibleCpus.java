package dev.bpfagent.agent.bpf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The possible CPUs (/sys/devices/system/cpu/possible): the number of values a per-CPU map keeps for
 * each key, which can exceed the online CPUs.
 */
public final class PossibleCpus {
    private PossibleCpus() {
    }

    /** How many CPUs are possible on this host: the highest possible CPU number plus one. */
    public static int count() {
        return Holder.COUNT;
    }

    private static final class Holder {
        static final int COUNT = parse(read());
    }

    private static String read() {
        try {
            return Files.readString(Path.of("/sys/devices/system/cpu/possible")).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /sys/devices/system/cpu/possible", e);
        }
    }

    /** "0-3", "0", "0-3,5-7": the highest number plus one. */
    static int parse(String ranges) {
        int max = -1;
        for (String part : ranges.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            int dash = p.indexOf('-');
            max = Math.max(max, Integer.parseInt(dash < 0 ? p : p.substring(dash + 1)));
        }
        if (max < 0) {
            throw new IllegalArgumentException("no CPU in '" + ranges + "'");
        }
        return max + 1;
    }
}
