package dev.bpfagent.agent.service.state;

import dev.bpfagent.agent.bpf.Host;
import dev.bpfagent.agent.service.errors.RequestException;
import java.io.IOException;
import java.io.UncheckedIOException;
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

    /** Creates the agent's directory (mode 0700: pins are the agent's, others read them through it). */
    public void createRoot() {
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the agent's bpffs directory " + root
                    + ": is bpffs mounted at " + Host.BPFFS + "?", e);
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
        return abs;
    }

    /** A path the agent may read a pin from: anywhere in a bpffs mount, or relative to root. */
    public Path any(String path, String field) {
        Path p = check(path, field);
        if (!p.isAbsolute()) {
            return root.resolve(p);
        }
        List<Path> bpffs = Host.bpffsMounts();
        if (bpffs.stream().noneMatch(m -> p.startsWith(m) && !p.equals(m))) {
            throw RequestException.invalid(field, "'" + path + "' is not inside a bpffs mount " + bpffs);
        }
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
        }
        return Path.of(path).normalize();
    }

    /** Creates the directories between root and the pin's parent. */
    public void createParents(Path pin) {
        try {
            Files.createDirectories(pin.getParent());
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw RequestException.failedPrecondition("PIN_PATH_BLOCKED", "cannot pin at " + pin + ": "
                    + e.getFile() + " is a pin, not a directory");
        } catch (java.nio.file.FileSystemException e) {
            throw RequestException.invalid("path", "cannot create " + pin.getParent() + ": " + e.getReason());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + pin.getParent(), e);
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
            throw new UncheckedIOException("cannot remove pin " + pin, e);
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
