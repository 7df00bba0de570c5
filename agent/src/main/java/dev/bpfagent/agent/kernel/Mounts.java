package dev.bpfagent.agent.kernel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads /proc/self/mounts and mounts bpffs or tracefs where they are missing. Never unmounts. */
public final class Mounts {
    private Mounts() {
    }

    public static final Path BPFFS = Path.of("/sys/fs/bpf");
    public static final Path TRACEFS = Path.of("/sys/kernel/tracing");

    /** One line of /proc/self/mounts. */
    public record Mount(String source, Path target, String fstype) {
    }

    public static List<Mount> current() {
        try {
            return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                    .map(l -> l.split(" "))
                    .filter(f -> f.length >= 3)
                    .map(f -> new Mount(f[0], Path.of(unescape(f[1])), f[2]))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/mounts", e);
        }
    }

    /** /proc/mounts escapes space, tab, newline and backslash as octal. */
    static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }

    public static boolean isMounted(Path target, String fstype) {
        return current().stream().anyMatch(m -> m.target().equals(target) && m.fstype().equals(fstype));
    }

    /**
     * Mounts a filesystem of fstype at target unless one is there already.
     *
     * @return true when this call mounted it
     */
    public static boolean ensure(Path target, String fstype) {
        return ensure(target, fstype, null);
    }

    /** As {@link #ensure(Path, String)}, with mount data ("mode=0700"). */
    public static boolean ensure(Path target, String fstype, String data) {
        if (isMounted(target, fstype)) {
            return false;
        }
        try {
            Files.createDirectories(target);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create mount point " + target, e);
        }
        LibC.mount(fstype, target.toString(), fstype, data);
        return true;
    }
}
