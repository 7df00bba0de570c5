package dev.bpfagent.agent.service.state;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Durable whole-file writes: a temp file beside the target, fsync, rename over the target, fsync of
 * the directory. A crash leaves the old content or the new, never a mix; leftover temp files start
 * with {@link #TMP_PREFIX} and are removed by the store that finds them.
 */
public final class AtomicFiles {
    public static final String TMP_PREFIX = ".tmp-";

    private AtomicFiles() {
    }

    public static void write(Path target, byte[] content) throws IOException {
        Path dir = target.getParent();
        Path tmp = dir.resolve(TMP_PREFIX + target.getFileName() + "-" + Thread.currentThread().threadId());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(content);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDir(dir);
    }

    /** Removes the file (if there) durably. */
    public static void delete(Path target) throws IOException {
        if (Files.deleteIfExists(target)) {
            syncDir(target.getParent());
        }
    }

    public static void syncDir(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
