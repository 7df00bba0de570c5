package dev.bpfagent.agent.service.state;

import dev.bpfagent.agent.bpf.BpfObject;
import dev.bpfagent.agent.bpf.Host;
import dev.bpfagent.agent.bpf.PinDirectory;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.service.errors.RequestException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.LinkOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the agent may pin: its own directory in bpffs (default /sys/fs/bpf/bpf-agent). Other programs
 * on the host pin there too, so the agent creates and removes pins only below its directory, while it
 * may read (BPF_OBJ_GET) any pin in any bpffs mount.
 */
public final class PinPaths implements AutoCloseable {
    private final Path root;
    /** The agent's directory, held open from createRoot to close: every pin is made relative to it. */
    private volatile PinDirectory rootDir;

    public PinPaths(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /** The directory below root where applications' pins live; no request may pin there. */
    public static final String APPS = "_apps";

    public Path apps() {
        return root.resolve(APPS);
    }

    /** Application NAME's pins: names may hold '.', which bpffs refuses, and never '_', so '.' becomes '_'. */
    public Path app(String name) {
        return apps().resolve(name.replace('.', '_'));
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
            rootDir = PinDirectory.open(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the agent's bpffs directory " + root
                    + ": is bpffs mounted at " + Host.BPFFS + "?", e);
        }
    }

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    /** A path the agent may create or remove a pin at: relative to root, or absolute inside it. */
    public Path own(String path, String field) {
        Path p = check(path, field);
        Path abs = p.isAbsolute() ? p : root.resolve(p);
        if (!abs.startsWith(root) || abs.equals(root)) {
            throw RequestException.invalid(field, "'" + path + "' is outside the agent's bpffs directory " + root
                    + "; give a path relative to it, e.g. \"myteam/my_prog\"");
        }
        checkBpffsNames(abs, root, path, field);
        if (abs.startsWith(apps())) {
            throw RequestException.invalid(field, "'" + path + "' is inside " + apps() + ", where the agent keeps"
                    + " the pins of applications; choose another path");
        }
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
     * Pins obj at abs (inside root), creating the directories between. Every step is taken relative
     * to the directory before it, opened without following symlinks: nothing below root is reached
     * through a symlink, even one swapped in while this runs. On failure the directories it made are
     * removed again.
     */
    public void pin(Path abs, BpfObject obj, String field) {
        List<String> parts = names(abs);
        List<PinDirectory> opened = new ArrayList<>();
        List<String> made = new ArrayList<>();
        PinDirectory dir = rootDir();
        try {
            for (String name : parts.subList(0, parts.size() - 1)) {
                PinDirectory next;
                try {
                    next = child(dir, name, abs, field);
                } catch (KernelException.NotFound missing) {
                    try {
                        dir.mkdir(name, 0700);
                        made.add(name);
                    } catch (KernelException.Exists raced) {
                        // made by a concurrent pin: use it
                    }
                    next = child(dir, name, abs, field);
                }
                opened.add(next);
                dir = next;
            }
            dir.pin(obj, parts.get(parts.size() - 1));
        } catch (KernelException e) {
            prune(opened, parts, made.size());
            if (e instanceof KernelException.Exists) {
                throw RequestException.alreadyExists("PIN_EXISTS", abs + " is already pinned; unpin it first or"
                        + " choose another path");
            }
            throw failure("pin at", abs, e, field);
        } catch (RuntimeException e) {
            prune(opened, parts, made.size());
            throw e;
        } finally {
            opened.forEach(PinDirectory::close);
        }
    }

    /**
     * Removes the pin at abs (inside root), then the directories above it that became empty, up to
     * (not including) root; relative to opened directories, never through a symlink.
     *
     * @return false when nothing is pinned there
     */
    public boolean remove(Path abs, String field) {
        List<String> parts = names(abs);
        List<PinDirectory> opened = new ArrayList<>();
        PinDirectory dir = rootDir();
        try {
            for (String name : parts.subList(0, parts.size() - 1)) {
                dir = child(dir, name, abs, field);
                opened.add(dir);
            }
            dir.unlink(parts.get(parts.size() - 1));
            prune(opened, parts, parts.size() - 1);
            return true;
        } catch (KernelException.NotFound e) {
            return false;
        } catch (KernelException e) {
            throw failure("remove the pin", abs, e, field);
        } finally {
            opened.forEach(PinDirectory::close);
        }
    }

    /**
     * Removes up to count of the deepest directories on the way to a pin when they are empty, deepest
     * first; stops at the first that is not (ENOTEMPTY) or cannot be removed.
     */
    private void prune(List<PinDirectory> opened, List<String> parts, int count) {
        for (int i = opened.size() - 1, removed = 0; i >= 0 && removed < count; i--, removed++) {
            PinDirectory parent = i == 0 ? rootDir() : opened.get(i - 1);
            try {
                parent.rmdir(parts.get(i));
            } catch (KernelException e) {
                return;
            }
        }
    }

    /**
     * The subdirectory name of dir. What stands there instead of a directory is named: a symlink
     * (which the kernel refuses to follow, O_NOFOLLOW) or a pin.
     */
    private static PinDirectory child(PinDirectory dir, String name, Path abs, String field) {
        try {
            return dir.child(name);
        } catch (KernelException.NotFound e) {
            throw e;
        } catch (KernelException e) {
            if (e.errno() == dev.bpfagent.agent.errno.Errno.ENOTDIR || e.errno() == dev.bpfagent.agent.errno.Errno.ELOOP) {
                Path at = dir.path().resolve(name);
                if (Files.isSymbolicLink(at)) {
                    throw RequestException.failedPrecondition("SYMLINK_IN_PATH", "'" + abs + "': " + at
                            + " is a symlink; the agent does not follow symlinks below its directory")
                            .with("field", field);
                }
                throw RequestException.failedPrecondition("PIN_PATH_BLOCKED", "'" + abs + "': " + at
                        + " is a pin, not a directory");
            }
            throw e;
        }
    }

    /** The names from root down to abs. */
    private List<String> names(Path abs) {
        List<String> out = new ArrayList<>();
        for (Path p : root.relativize(abs)) {
            out.add(p.toString());
        }
        return out;
    }

    /** A failed step on a pin path, as the caller can act on it. */
    private static RuntimeException failure(String what, Path abs, KernelException e, String field) {
        String msg = "cannot " + what + " " + abs + ": ";
        return switch (e.errno()) {
            case ENOTDIR -> RequestException.failedPrecondition("PIN_PATH_BLOCKED", msg + "a component of the path"
                    + " is a pin, not a directory");
            case ELOOP -> RequestException.failedPrecondition("SYMLINK_IN_PATH", msg + "a component of the path is a"
                    + " symlink; the agent does not follow symlinks below its directory").with("field", field);
            case EISDIR -> RequestException.failedPrecondition("IS_A_DIRECTORY", msg + "it is a directory, not a pin");
            case ENAMETOOLONG -> RequestException.invalid(field, msg + "a name is longer than the filesystem takes");
            case EPERM, EACCES -> RequestException.permissionDenied(e.errno().name(), msg + e.getMessage());
            default -> e.withContext(msg.substring(0, msg.length() - 2));
        };
    }

    private PinDirectory rootDir() {
        PinDirectory d = rootDir;
        if (d == null) {
            throw new IllegalStateException("the agent's bpffs directory " + root + " is not open (createRoot first)");
        }
        return d;
    }

    /**
     * Takes an exclusive flock on the agent's directory for as long as it is open: a second agent on
     * the same directory cannot.
     *
     * @throws IllegalStateException naming the directory when another process holds the lock
     */
    public void lock() {
        try {
            rootDir().lockExclusive();
        } catch (KernelException e) {
            throw new IllegalStateException("another agent uses the bpffs directory " + root
                    + " (it holds its lock); stop it, or give this one --bpffs-dir with another path", e);
        }
    }

    /** Closes the agent's directory (and so releases its lock). */
    @Override
    public void close() {
        PinDirectory d = rootDir;
        rootDir = null;
        if (d != null) {
            d.close();
        }
    }
}
