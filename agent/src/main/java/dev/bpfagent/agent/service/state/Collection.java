package dev.bpfagent.agent.service.state;

import dev.bpfagent.agent.bpf.BpfObject;
import dev.bpfagent.agent.bpf.ObjectKind;
import java.util.List;

/**
 * A loaded ELF object: the agent's own object naming the maps and programs it made (each held in the
 * registry on its own). It holds no fd: closing it closes nothing in the kernel; its handler closes
 * its members as the close asks.
 */
public final class Collection implements BpfObject {
    /** A member: its name in the object, its section (programs), and its registry key. */
    public record Member(String name, String section, Registry.Key key, int loadedInsns) {
    }

    private final int id;
    private final String name;
    private final List<Member> maps;
    private final List<Member> programs;
    private final List<Member> links = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Maps the load found held already and used: never closed or unpinned by this collection. */
    private final java.util.Set<Registry.Key> borrowed;
    private final boolean btfLoaded;
    private final String btfError;
    private volatile boolean closed;

    public Collection(int id, String name, List<Member> maps, java.util.Set<Registry.Key> borrowed,
                      List<Member> programs, boolean btfLoaded, String btfError) {
        this.borrowed = java.util.Set.copyOf(borrowed);
        this.id = id;
        this.name = name;
        this.maps = List.copyOf(maps);
        this.programs = List.copyOf(programs);
        this.btfLoaded = btfLoaded;
        this.btfError = btfError;
    }

    @Override
    public int id() {
        return id;
    }

    public String name() {
        return name;
    }

    public List<Member> maps() {
        return maps;
    }

    public boolean borrowed(Registry.Key map) {
        return borrowed.contains(map);
    }

    public List<Member> programs() {
        return programs;
    }

    /** Links auto-attach made (name: the program's; section: the hook described). */
    public List<Member> links() {
        return links;
    }

    public boolean btfLoaded() {
        return btfLoaded;
    }

    public String btfError() {
        return btfError;
    }

    @Override
    public ObjectKind kind() {
        return ObjectKind.COLLECTION;
    }

    @Override
    public void pin(String path) {
        throw new UnsupportedOperationException("a collection is the agent's, not the kernel's: pin its maps or"
                + " programs");
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
    }
}
