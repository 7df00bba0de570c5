package dev.bpfagent.agent.bpf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The running kernel's release string and LINUX_VERSION_CODE. */
public final class KernelVersion {
    private KernelVersion() {
    }

    private static final Pattern VERSION = Pattern.compile("^(\\d+)\\.(\\d+)(?:\\.(\\d+))?");

    /** uname -r */
    /** The running kernel's release, read once: it cannot change under a running process. */
    public static String release() {
        return Running.RELEASE;
    }

    private static String readRelease() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/sys/kernel/osrelease", e);
        }
    }

    /** KERNEL_VERSION(a, b, c) of the running kernel; the patch level saturates at 255 as in the kernel. */
    public static int code() {
        return Running.CODE;
    }

    /** The running kernel is major.minor or newer. */
    public static boolean atLeast(int major, int minor) {
        return code() >= (major << 16) + (minor << 8);
    }

    /** The running kernel does not change under us: read once, on first use. */
    private static final class Running {
        static final String RELEASE = readRelease();
        static final int CODE = code(RELEASE);
    }

    static int code(String release) {
        Matcher m = VERSION.matcher(release);
        if (!m.find()) {
            throw new IllegalArgumentException("not a kernel release: " + release);
        }
        int a = Integer.parseInt(m.group(1));
        int b = Integer.parseInt(m.group(2));
        int c = m.group(3) == null ? 0 : Math.min(255, Integer.parseInt(m.group(3)));
        return (a << 16) + (b << 8) + c;
    }
}
