package dev.bpfagent.agent.service.state;

import dev.bpfagent.agent.bpf.Host;
import dev.bpfagent.agent.service.errors.RequestException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.LinkOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Where the agent may pin: its own directory in bpffs (default /sys/fs/bpf/bpf-agent). Other programs
 * on the host pin there too, so the agent creates and removes pins only below its directory, while it
 * may read (BPF_OBJ_GET) any pin in any bpffs mount.
 */
public final class PinPaths {
    private final Path root;

    public PinPaths(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /**
     * Makes sure the agent's directory is its own: a real directory (no symlink anywhere on its path),
     * owned by root, mode 0700, created so when missing. A directory another user prepared, or a
     * symlink, makes the agent refuse to start, saying why: whoever controls it could swap the pins.
     */
    public void createRoot() {
        try {
            Path at = Path.of("/");
            for (Path part : root) {
                at = at.resolve(part);
                if (!Files.exists(at, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(at, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
                }
                PosixFileAttributes a = Files.readAttributes(at, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (a.isSymbolicLink()) {
                    throw new IllegalStateException(at + " is a symlink: the agent's bpffs directory " + root
                            + " must be reached through real directories (give --bpffs-dir the real path)");
                }
                if (!a.isDirectory()) {
                    throw new IllegalStateException(at + " is not a directory, so " + root + " cannot be made");
                }
            }
            PosixFileAttributes a = Files.readAttributes(root, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (((Integer) Files.getAttribute(root, "unix:uid", LinkOption.NOFOLLOW_LINKS)) != 0) {
                throw new IllegalStateException(root + " belongs to " + a.owner().getName() + ", not root: another"
                        + " user prepared it, and could change the agent's pins; remove it or choose another"
                        + " --bpffs-dir");
            }
            if (!a.permissions().equals(OWNER_ONLY)) {
                Files.setPosixFilePermissions(root, OWNER_ONLY); // an older agent's 0755: tighten it
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the agent's bpffs directory " + root
                    + ": is bpffs mounted at " + Host.BPFFS + "?", e);
        }
    }

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    /**
     * Refuses a pin path with a symlink below the agent's directory. The directory is root's and 0700,
     * so only root can plant one; this keeps even that from redirecting a pin or an unpin.
     */
    private void checkNoSymlinks(Path abs, String given, String field) {
        Path at = root;
        for (Path part : root.relativize(abs)) {
            at = at.resolve(part);
            // exists() first: for a missing path it answers without an exception (isSymbolicLink throws
            // and catches one inside, which costs more than the lstat itself)
            if (!Files.exists(at, LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            if (Files.isSymbolicLink(at)) {
                throw RequestException.failedPrecondition("SYMLINK_IN_PATH", "'" + given + "': " + at
                        + " is a symlink; the agent does not follow symlinks below its directory")
                        .with("field", field);
            }
        }
    }

    /** A path the agent may create or remove a pin at: relative to root, or absolute inside it. */
    public Path own(String path, String field) {
        Path p = check(path, field);
        Path abs = p.isAbsolute() ? p : root.resolve(p);
        if (!abs.startsWith(root) || abs.equals(root)) {
            throw RequestException.invalid(field, "'" + path + "' is outside the agent's bpffs directory " + root
                    + "; give a path relative to it, e.g. \"myteam/my_prog\"");
        }
        checkBpffsNames(abs, root, path, field);
        checkNoSymlinks(abs, path, field);
        return abs;
    }

    /** A path the agent may read a pin from: anywhere in a bpffs mount, or relative to root. */
    public Path any(String path, String field) {
        Path p = check(path, field);
        if (!p.isAbsolute()) {
            Path abs = root.resolve(p);
            checkBpffsNames(abs, root, path, field);
            return abs;
        }
        List<Path> bpffs = Host.bpffsMounts();
        Path mount = bpffs.stream().filter(m -> p.startsWith(m) && !p.equals(m)).findFirst().orElseThrow(
                () -> RequestException.invalid(field, "'" + path + "' is not inside a bpffs mount " + bpffs));
        checkBpffsNames(p, mount, path, field);
        return p;
    }

    private static Path check(String path, String field) {
        if (path == null || path.isBlank()) {
            throw RequestException.invalid(field, "is required (a bpffs path)");
        }
        if (path.indexOf('\0') >= 0) {
            throw RequestException.invalid(field, "contains a NUL byte");
        }
        if (path.length() > 4095) {
            throw RequestException.invalid(field, "is longer than PATH_MAX (4096)");
        }
        for (String part : path.split("/")) {
            if (part.equals("..") || part.equals(".")) {
                throw RequestException.invalid(field, "'" + path + "' has a '" + part + "' component; give a plain path");
            }
            if (part.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > NAME_MAX) {
                throw RequestException.invalid(field, "'" + part + "' is longer than NAME_MAX (" + NAME_MAX + " bytes)");
            }
        }
        return Path.of(path).normalize();
    }

    /** The longest name of one path component (bytes). */
    static final int NAME_MAX = 255;

    /**
     * bpffs refuses names with a '.' (EPERM: its own files may carry dots), so a pin path below a bpffs
     * directory may not have one; checked on the part below base, which is in bpffs.
     */
    private static void checkBpffsNames(Path path, Path base, String given, String field) {
        for (Path part : base.relativize(path)) {
            if (part.toString().indexOf('.') >= 0) {
                throw RequestException.invalid(field, "'" + given + "': bpffs does not allow '.' in names ('"
                        + part + "'); use letters, digits, '_' or '-'");
            }
        }
    }

    /**
     * What a failed filesystem call on a pin path means to the caller: a precise code, with the path.
     * The JDK reports the errno only as its text, so the text is read.
     */
    static RequestException fsFailure(String what, Path path, IOException e) {
        String reason = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason() : "";
        String msg = "cannot " + what + " " + path + ": " + (reason.isEmpty() ? e.toString() : reason);
        if (e instanceof NoSuchFileException) {
            return RequestException.notFound("PIN_NOT_FOUND", msg);
        }
        if (e instanceof java.nio.file.NotDirectoryException || reason.equals("Not a directory")) {
            return RequestException.failedPrecondition("PIN_PATH_BLOCKED", msg + " (a component is a pin, not a"
                    + " directory)");
        }
        if (e instanceof java.nio.file.AccessDeniedException || reason.equals("Operation not permitted")
                || reason.equals("Permission denied")) {
            return RequestException.permissionDenied("EPERM", msg);
        }
        if (reason.equals("File name too long")) {
            return RequestException.invalid("path", msg);
        }
        if (e instanceof java.nio.file.DirectoryNotEmptyException || reason.equals("Directory not empty")) {
            return RequestException.failedPrecondition("IS_A_DIRECTORY", msg);
        }
        if (reason.equals("No space left on device") || reason.equals("Disk quota exceeded")) {
            return RequestException.of(io.grpc.Status.Code.RESOURCE_EXHAUSTED, "ENOSPC", null, msg);
        }
        if (reason.equals("Read-only file system")) {
            return RequestException.failedPrecondition("EROFS", msg);
        }
        if (e instanceof java.nio.file.FileSystemLoopException || reason.startsWith("Too many levels")) {
            return RequestException.failedPrecondition("ELOOP", msg);
        }
        // Anything else the filesystem says is about the host, not the request and not a bug here.
        return RequestException.failedPrecondition("FILESYSTEM_ERROR", msg);
    }

    /** Creates the directories between root and the pin's parent. */
    public void createParents(Path pin) {
        if (Files.isDirectory(pin.getParent(), LinkOption.NOFOLLOW_LINKS)) {
            return; // the usual case; createDirectories would find it out through an exception
        }
        try {
            Files.createDirectories(pin.getParent());
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw RequestException.failedPrecondition("PIN_PATH_BLOCKED", "cannot pin at " + pin + ": "
                    + e.getFile() + " is a pin, not a directory");
        } catch (IOException e) {
            throw fsFailure("create", pin.getParent(), e);
        }
    }

    /**
     * Removes a pin, then the directories above it that became empty, up to (not including) root.
     *
     * @return false when there was no pin there
     */
    public boolean remove(Path pin) {
        try {
            if (Files.isDirectory(pin)) {
                throw RequestException.failedPrecondition("IS_A_DIRECTORY", pin + " is a directory, not a pin");
            }
            Files.delete(pin);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            throw fsFailure("remove the pin", pin, e);
        }
        pruneEmptyParents(pin);
        return true;
    }

    /** Removes the directories above path that are empty, up to (not including) root. */
    public void pruneEmptyParents(Path path) {
        for (Path dir = path.getParent(); dir != null && dir.startsWith(root) && !dir.equals(root);
                dir = dir.getParent()) {
            try {
                Files.delete(dir);
            } catch (IOException e) {
                break; // not empty (DirectoryNotEmptyException) or gone: leave it
            }
        }
    }
}
