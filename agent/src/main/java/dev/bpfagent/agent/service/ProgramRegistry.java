package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.Program;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The programs the agent holds, by kernel program id, with the pins it made of each.
 *
 * <p>Concurrency: the map is a ConcurrentHashMap; an entry's pin set is a concurrent set. Removing an
 * entry is atomic, so exactly one caller closes a program; calls still using its fd finish first
 * (see {@link dev.bpfagent.agent.kernel.Fd}).
 */
public final class ProgramRegistry {
    private static final Logger LOG = Logger.getLogger(ProgramRegistry.class.getName());

    /** A held program, who loaded it, and the agent's pins of it. */
    public record Entry(Program program, Caller owner, Set<Path> pins) {
        Entry(Program program, Caller owner) {
            this(program, owner, ConcurrentHashMap.newKeySet());
        }

        public List<String> pinStrings() {
            return pins.stream().map(Path::toString).sorted().toList();
        }
    }

    private final Map<Integer, Entry> programs = new ConcurrentHashMap<>();

    /**
     * Holds a program. If the agent already holds this kernel program (fetched twice from a pin), the
     * new fd is closed and the existing entry returned.
     */
    public Entry add(Program program, Caller owner) {
        Entry fresh = new Entry(program, owner);
        Entry existing = programs.putIfAbsent(program.id(), fresh);
        if (existing != null) {
            program.close();
            return existing;
        }
        return fresh;
    }

    public Entry get(int id) {
        Entry e = programs.get(id);
        if (e == null) {
            throw RequestException.notFound("PROGRAM_NOT_HELD", "program " + id + " is not held by the agent:"
                    + " load it, or open it with GetPinnedProgram; ListPrograms shows what the agent holds");
        }
        return e;
    }

    /** The entry, or null when the agent does not hold this program. */
    public Entry find(int id) {
        return programs.get(id);
    }

    public boolean holds(int id) {
        return programs.containsKey(id);
    }

    /** The entry whose pins include this path, if any. */
    public Entry byPin(Path pin) {
        return programs.values().stream().filter(e -> e.pins().contains(pin)).findFirst().orElse(null);
    }

    /** Removes the entry; the caller closes it. */
    public Entry remove(int id) {
        Entry e = programs.remove(id);
        if (e == null) {
            throw RequestException.notFound("PROGRAM_NOT_HELD", "program " + id + " is not held by the agent"
                    + " (already closed, or never loaded through it)");
        }
        return e;
    }

    public Collection<Entry> all() {
        return List.copyOf(programs.values());
    }

    public int size() {
        return programs.size();
    }

    /**
     * At agent stop: closes every program. Pinned ones stay in the kernel through their pins; the rest
     * are freed.
     */
    public void closeAll() {
        List<Entry> entries = new ArrayList<>(programs.values());
        for (Entry e : entries) {
            programs.remove(e.program().id());
            try {
                e.program().close();
            } catch (RuntimeException ex) {
                LOG.warning("closing " + e.program() + ": " + ex.getMessage());
            }
        }
    }
}
