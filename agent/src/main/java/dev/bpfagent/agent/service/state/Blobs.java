package dev.bpfagent.agent.service.state;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Content-addressed object bytes under the state directory (blobs/SHA256): written atomically, read
 * back by digest, collected when no application names them. An upload nothing names yet is kept for
 * a grace period, so that the apply naming it can follow.
 */
public final class Blobs {
    private static final Logger LOG = Logger.getLogger(Blobs.class.getName());
    /** The largest blob taken (the largest object LoadObject takes). */
    public static final long MAX_BLOB_BYTES = 64L << 20;
    /** The most all blobs together may take. */
    public static final long MAX_TOTAL_BYTES = 4L << 30;
    /** How long an upload that no application names is kept. */
    public static final long GRACE_MILLIS = 60 * 60 * 1000L;

    private final Path dir;

    public Blobs(Path stateDir) throws IOException {
        this.dir = stateDir.resolve("blobs");
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A digest as blobs are named: 64 lowercase hex digits. */
    public static boolean wellFormed(String sha) {
        return sha.length() == 64 && sha.chars().allMatch(c -> c >= '0' && c <= '9' || c >= 'a' && c <= 'f');
    }

    /** Stores the bytes (a no-op when that digest is stored already); returns their digest. */
    public synchronized String put(byte[] bytes) throws IOException {
        String sha = sha256(bytes);
        Path f = dir.resolve(sha);
        if (Files.exists(f)) {
            Files.setLastModifiedTime(f, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis()));
            return sha;
        }
        if (bytes.length > MAX_BLOB_BYTES) {
            throw new IOException(bytes.length + " bytes; a blob is at most " + MAX_BLOB_BYTES);
        }
        if (totalBytes() + bytes.length > MAX_TOTAL_BYTES) {
            throw new IOException("the blob store holds " + totalBytes() + " bytes of " + MAX_TOTAL_BYTES
                    + " already: delete applications that name blobs no longer needed");
        }
        AtomicFiles.write(f, bytes);
        return sha;
    }

    public Optional<byte[]> get(String sha) {
        if (!wellFormed(sha)) {
            return Optional.empty();
        }
        try {
            byte[] b = Files.readAllBytes(dir.resolve(sha));
            if (!sha256(b).equals(sha)) {
                LOG.warning("blob " + sha + " does not have its digest (a damaged disk?): ignored");
                return Optional.empty();
            }
            return Optional.of(b);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    public boolean has(String sha) {
        return wellFormed(sha) && Files.isRegularFile(dir.resolve(sha));
    }

    /** Removes blobs not in named: at once those in dropped, the others once older than the grace period. */
    public synchronized int collect(Set<String> named, Set<String> dropped) {
        int removed = 0;
        long now = System.currentTimeMillis();
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (named.contains(n)) {
                    continue;
                }
                boolean old = now - Files.getLastModifiedTime(f).toMillis() > GRACE_MILLIS;
                if (n.startsWith(AtomicFiles.TMP_PREFIX) || dropped.contains(n) || old) {
                    Files.deleteIfExists(f);
                    removed++;
                }
            }
        } catch (IOException e) {
            LOG.warning("cannot collect blobs in " + dir + ": " + e.getMessage());
        }
        return removed;
    }

    public long totalBytes() {
        try (var files = Files.list(dir)) {
            long sum = 0;
            for (Path f : files.toList()) {
                sum += Files.size(f);
            }
            return sum;
        } catch (IOException e) {
            return 0;
        }
    }

    public Path dir() {
        return dir;
    }
}
