package dev.bpfagent.agent.service.state;

import dev.bpfagent.agent.bpf.BpfObject;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Predicate;
import java.util.logging.Logger;

/**
 * Every object the agent holds, of every kind, with what the kernel does not know of it: its owner,
 * pins, labels, and the objects it depends on.
 *
 * <p>Concurrency: entries live in a concurrent sorted map (lookups and pages take no lock). {@link #lock}
 * guards the dependency graph: adding an entry with dependencies and starting a close are atomic with
 * respect to each other, so a dependent cannot appear while its dependency is being closed. An entry's
 * own monitor guards its pins against its close (see {@link Entry#pinWhileOpen}).
 */
public final class Registry {
    private static final Logger LOG = Logger.getLogger(Registry.class.getName());

    /** The kinds of held object. */
    public enum Kind {
        PROGRAM, MAP, LINK, CHAIN, COLLECTION;

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** An object's identity: its kind and id (the kernel's id, or the agent's for chains). */
    public record Key(Kind kind, int id) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            int c = kind.compareTo(o.kind);
            return c != 0 ? c : Integer.compareUnsigned(id, o.id);
        }

        @Override
        public String toString() {
            return kind + " " + Integer.toUnsignedString(id);
        }
    }

    /** A held object. */
    public static final class Entry {
        private final Key key;
        private final BpfObject object;
        private final Caller owner;
        private final Map<String, String> labels;
        /** Replaced whole, under the registry's lock (see {@link Registry#setDependsOn}). */
        private volatile Set<Key> dependsOn;
        private final Set<Path> pins = ConcurrentHashMap.newKeySet();
        /** Guarded by this: set when a close started; pins are refused from then on. */
        private boolean closing;
        /**
         * Callers other than the owner that opened it with GetPinned, by identity: each holds a reference
         * that its close releases, leaving the object to its owner.
         */
        private final Set<String> references = ConcurrentHashMap.newKeySet();
        /** The connection this object is leased to (closed when it ends), or 0. */
        private final long lease;
        /** Where its pins are recorded on disk (the registry's, when it has them). */
        private final PinRecords records;
        /**
         * Its maker (a collection) was closed while others still used it: nobody holds it but what
         * depends on it, so it is closed with the last of those (see the service's Closer).
         */
        private volatile boolean released;

        Entry(Key key, BpfObject object, Caller owner, Map<String, String> labels, Set<Key> dependsOn,
              PinRecords records) {
            this.records = records;
            this.key = key;
            this.object = object;
            this.owner = owner;
            this.labels = Map.copyOf(labels);
            this.dependsOn = Set.copyOf(dependsOn);
            this.lease = Lease.current();
        }

        /** Marks it released: to be closed once nothing depends on it. */
        public void release() {
            released = true;
        }

        public boolean released() {
            return released;
        }

        /** The connection id it is leased to, or 0. */
        public long lease() {
            return lease;
        }

        public Key key() {
            return key;
        }

        /** Another caller holds a reference now (GetPinned of an object it does not own). */
        public void addReference(Caller caller) {
            // an object without an owner's identity (adopted at start, made in-process) is anybody's to close
            if (!caller.identity().isEmpty() && !owner.identity().isEmpty() && !owner.sameIdentity(caller)) {
                references.add(caller.identity());
            }
        }

        /** Releases caller's reference; false when it held none. */
        public boolean removeReference(Caller caller) {
            return !caller.identity().isEmpty() && references.remove(caller.identity());
        }

        public boolean referencedBy(Caller caller) {
            return !caller.identity().isEmpty() && references.contains(caller.identity());
        }

        /** The identities holding references, sorted. */
        public List<String> references() {
            return references.stream().sorted().toList();
        }

        public BpfObject object() {
            return object;
        }

        /** The object as the type its kind implies (a Program for PROGRAM). */
        public <T extends BpfObject> T object(Class<T> type) {
            return type.cast(object);
        }

        public Caller owner() {
            return owner;
        }

        public Map<String, String> labels() {
            return labels;
        }

        public Set<Key> dependsOn() {
            return dependsOn;
        }

        /** The agent's pins of this object, sorted. */
        public List<Path> pins() {
            return pins.stream().sorted().toList();
        }

        public boolean hasPin(Path p) {
            return pins.contains(p);
        }

        /**
         * Pins the object and records the pin, unless a close has started: a pin can then not be made
         * after the close removed the others (which would keep a closed object loaded, untracked).
         */
        public synchronized void pinWhileOpen(Path path, Runnable pin) {
            if (closing) {
                throw notHeld(key, "it is being closed");
            }
            pin.run();
            pins.add(path);
            record(path);
        }

        /** Records a pin the object already has (found in bpffs). */
        public void recordPin(Path path) {
            pins.add(path);
            record(path);
        }

        /**
         * Pins the object where its pin is recorded elsewhere (an application's record), unless a close
         * has started; a close removes it as any other pin.
         */
        public synchronized void pinUnrecorded(Path path, Runnable pin) {
            if (closing) {
                throw notHeld(key, "it is being closed");
            }
            pin.run();
            pins.add(path);
        }

        /** Holds a pin the object already has whose record is kept elsewhere (an application's record). */
        public void holdPin(Path path) {
            pins.add(path);
        }

        public void forgetPin(Path path) {
            pins.remove(path);
            PinRecords r = records;
            if (r != null) {
                r.unpinned(path);
            }
        }

        private void record(Path path) {
            PinRecords r = records;
            if (r != null) {
                r.pinned(this, path);
            }
        }

        synchronized boolean isClosing() {
            return closing;
        }

        synchronized boolean startClosing() {
            if (closing) {
                return false;
            }
            closing = true;
            return true;
        }

        synchronized void abortClosing() {
            closing = false;
        }

        @Override
        public String toString() {
            return key.toString();
        }
    }

    private final NavigableMap<Key, Entry> entries = new ConcurrentSkipListMap<>();
    private final Object lock = new Object();
    /** Ids for objects the kernel does not number (chains). */
    private final java.util.concurrent.atomic.AtomicInteger agentIds = new java.util.concurrent.atomic.AtomicInteger();

    /** A fresh id for an object the kernel does not number (a chain). */
    public int nextAgentId() {
        return agentIds.incrementAndGet();
    }

    /**
     * Changes what an entry depends on (a chain's programs change); every dependency must be held and
     * not closing, else FAILED_PRECONDITION (DEPENDENCY_CLOSED) and nothing changes.
     */
    public void setDependsOn(Entry e, Set<Key> dependsOn) {
        synchronized (lock) {
            for (Key d : dependsOn) {
                Entry dep = entries.get(d);
                if (dep == null || dep.closing) {
                    throw RequestException.failedPrecondition("DEPENDENCY_CLOSED", d + ", which " + e.key
                            + " would depend on, is closed or closing");
                }
            }
            e.dependsOn = Set.copyOf(dependsOn);
        }
    }

    public static RequestException notHeld(Key key, String why) {
        return RequestException.notFound(key.kind().name() + "_NOT_HELD", key + " is not held by the agent ("
                + why + "); List" + plural(key.kind()) + " shows what it holds");
    }

    private static String plural(Kind k) {
        return switch (k) {
            case PROGRAM -> "Programs";
            case MAP -> "Maps";
            case LINK -> "Links";
            case CHAIN -> "Chains";
            case COLLECTION -> "Collections";
        };
    }

    /**
     * Holds an object. If the agent already holds this kernel object (fetched twice from a pin), the
     * new fd is closed and the existing entry returned. Every dependency must be held and not closing.
     */
    public Entry add(Kind kind, BpfObject object, Caller owner, Map<String, String> labels, Set<Key> dependsOn) {
        Key key = new Key(kind, object.id());
        synchronized (lock) {
            for (Key d : dependsOn) {
                Entry dep = entries.get(d);
                if (dep == null || dep.closing) {
                    object.close();
                    throw RequestException.failedPrecondition("DEPENDENCY_CLOSED", d + ", which " + key
                            + " depends on, was closed while it was being made");
                }
            }
            Entry fresh = new Entry(key, object, owner, labels, dependsOn, records);
            Entry existing = entries.putIfAbsent(key, fresh);
            if (existing != null) {
                object.close();
                return existing;
            }
            return fresh;
        }
    }

    /** The held entry; NOT_FOUND ({KIND}_NOT_HELD) when the agent does not hold it. */
    public Entry get(Key key) {
        Entry e = entries.get(key);
        if (e == null) {
            throw notHeld(key, "already closed, or never made or opened through it");
        }
        return e;
    }

    /** The entry, or null when the agent does not hold this object. */
    public Entry find(Key key) {
        return entries.get(key);
    }

    /** The entry holding a pin at this path, or null. */
    public Entry byPin(Path pin) {
        for (Entry e : entries.values()) {
            if (e.hasPin(pin)) {
                return e;
            }
        }
        return null;
    }

    /** Held objects that depend on key, directly. */
    public List<Key> dependents(Key key) {
        List<Key> out = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.dependsOn.contains(key)) {
                out.add(e.key);
            }
        }
        return out;
    }

    /** Every held object's direct dependents, in one pass (for pages of many objects). */
    public Map<Key, List<Key>> dependentsIndex() {
        Map<Key, List<Key>> out = new java.util.HashMap<>();
        for (Entry e : entries.values()) {
            for (Key d : e.dependsOn) {
                out.computeIfAbsent(d, k -> new ArrayList<>()).add(e.key);
            }
        }
        return out;
    }

    /**
     * Up to limit entries of a kind with ids above afterId (unsigned), in id order, that match.
     */
    public List<Entry> page(Kind kind, int afterId, int limit, Predicate<Entry> filter) {
        List<Entry> out = new ArrayList<>();
        for (Entry e : entries.subMap(new Key(kind, afterId), false, new Key(kind, -1), true).values()) {
            if (filter.test(e)) {
                out.add(e);
                if (out.size() == limit) {
                    break;
                }
            }
        }
        return out;
    }

    /**
     * Starts closing key: marks it, and with cascade everything that depends on it (transitively),
     * closing. Returns them in the order to close: dependents first, key last. Without cascade, held
     * dependents refuse the close (FAILED_PRECONDITION, HAS_DEPENDENTS, naming them). Every returned
     * entry must then be {@link #remove}d or {@link #abortClose}d.
     */
    public List<Entry> beginClose(Key key, boolean cascade) {
        synchronized (lock) {
            Entry root = get(key);
            LinkedHashSet<Entry> order = new LinkedHashSet<>();
            collect(root, order, cascade);
            List<Entry> started = new ArrayList<>();
            for (Entry e : order) {
                if (!e.startClosing()) {
                    abortClose(started);
                    throw notHeld(e.key, "another call is closing it");
                }
                started.add(e);
            }
            return started;
        }
    }

    private void collect(Entry e, LinkedHashSet<Entry> order, boolean cascade) {
        List<Key> all = dependents(e.key);
        // a program's links go with it, cascade or not: an attachment means nothing without its program
        List<Key> deps = all.stream().filter(k -> k.kind() != Kind.LINK || e.key.kind() != Kind.PROGRAM).toList();
        for (Key l : all) {
            Entry le = entries.get(l);
            if (!deps.contains(l) && le != null && !order.contains(le)) {
                collect(le, order, cascade);
            }
        }
        if (!deps.isEmpty() && !cascade) {
            throw RequestException.failedPrecondition("HAS_DEPENDENTS", "cannot close " + e.key + ": "
                    + deps.stream().map(Key::toString).reduce((a, b) -> a + ", " + b).orElseThrow()
                    + (deps.size() == 1 ? " depends" : " depend") + " on it; close "
                    + (deps.size() == 1 ? "it" : "them") + " first, or close with cascade")
                    .with("dependents", deps.stream().map(Key::toString).reduce((a, b) -> a + "," + b).orElseThrow());
        }
        for (Key d : deps) {
            Entry de = entries.get(d);
            if (de != null && !order.contains(de)) {
                collect(de, order, cascade);
            }
        }
        order.add(e);
    }

    /** Gives back entries whose close did not go through: they are held as before. */
    public void abortClose(Collection<Entry> started) {
        started.forEach(Entry::abortClosing);
    }

    /** Drops an entry whose close started; the caller closes its object. */
    public void remove(Entry e) {
        entries.remove(e.key, e);
    }

    /** Entries leased to a connection, dependents (later kinds, higher keys) first. */
    public List<Entry> leasedTo(long connection) {
        List<Entry> out = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.lease == connection && connection != 0) {
                out.add(e);
            }
        }
        java.util.Collections.reverse(out);
        return out;
    }

    /** Where pins are recorded durably (set once at start, before any pin is made); null: nowhere. */
    private volatile PinRecords records;

    public void records(PinRecords r) {
        this.records = r;
    }

    public PinRecords records() {
        return records;
    }

    /**
     * Held objects that nothing holds any more: released by their maker, with nothing depending on them
     * and not being closed. Always 0 unless a close path forgot them (AgentInfo reports it; tests assert 0).
     */
    public int unheld() {
        synchronized (lock) {
            int n = 0;
            for (Entry e : entries.values()) {
                if (e.released && !e.isClosing() && dependents(e.key).isEmpty()) {
                    n++;
                }
            }
            return n;
        }
    }

    public int size(Kind kind) {
        return entries.subMap(new Key(kind, 0), true, new Key(kind, -1), true).size();
    }

    /** Every entry, in key order. */
    public List<Entry> all() {
        return List.copyOf(entries.values());
    }

    /**
     * At agent stop: closes every object, dependents first (the reverse of key order puts chains and
     * links before programs). Pinned ones stay in the kernel through their pins; the rest are freed.
     */
    public void closeAll() {
        List<Entry> list = new ArrayList<>(entries.values());
        java.util.Collections.reverse(list);
        for (Entry e : list) {
            entries.remove(e.key);
            try {
                e.object.close();
            } catch (RuntimeException ex) {
                LOG.warning("closing " + e + ": " + ex.getMessage());
            }
        }
    }
}
