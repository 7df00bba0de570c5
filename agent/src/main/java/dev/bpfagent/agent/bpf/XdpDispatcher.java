package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Dirs;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.kernel.LinkCreateAttr;
import dev.bpfagent.agent.kernel.NetNs;
import dev.bpfagent.agent.kernel.Netlink;
import dev.bpfagent.agent.bpf.object.ObjectLoader;
import dev.bpfagent.agent.bpf.object.ObjectSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Several XDP programs on one interface, the way libxdp runs them, so that the agent and libxdp's tools
 * (xdp-loader, xdp-filter) share an interface: a dispatcher program (libxdp's own object,
 * {@code xdp-dispatcher.o}, configured through its {@code .rodata} {@code conf}) calls up to ten
 * global functions {@code prog0..prog9} in order of priority; each component is an extension (freplace,
 * BPF_PROG_TYPE_EXT) of one of them, linked to it. After each program the dispatcher goes on only when
 * the return code is in that slot's chain call actions.
 *
 * <p>Changing the set builds a new dispatcher with the components linked to its slots (those already
 * loaded are linked again, 5.10+), then swaps it for the old in one netlink replace: traffic never
 * meets an empty hook. As libxdp: the dispatcher is set by rtnetlink (libxdp replaces it the same way),
 * each component and its link are pinned at {@code /sys/fs/bpf/xdp/dispatch-IFINDEX-DISPATCHERID/prog
 * N-prog} and {@code progN-link}, and every change holds an exclusive flock on {@code /sys/fs/bpf/xdp}.
 * Components another tool placed are carried over to each new dispatcher; the agent's own are named
 * with {@link #OWN_PREFIX}, and those this process does not hold (an agent that crashed) are dropped
 * when the set changes.
 */
public final class XdpDispatcher {
    private static final Logger LOG = Logger.getLogger(XdpDispatcher.class.getName());

    /** struct xdp_dispatcher_config (version 2): magic, version, count, frags, then three u32[10]. */
    public static final int MAX_PROGRAMS = 10, MAGIC = 236, VERSION = 2, CONFIG_SIZE = 124;
    /** Bit 31 of chain call actions: libxdp's XDP_DISPATCHER_RETVAL, what an empty slot returns. */
    public static final int DISPATCHER_RETVAL = 31;
    /** XDP_PASS only: the default chain call actions (libxdp's). */
    public static final int CHAIN_ON_PASS = 1 << 2;
    /** libxdp's default run priority. */
    public static final int DEFAULT_PRIORITY = 50;
    /** The kernel names of the agent's components begin so ("ba" for bpf-agent). */
    public static final String OWN_PREFIX = "ba_";
    /** BPF_F_RDONLY_PROG: how libxdp tells a dispatcher's config map. */
    private static final int BPF_F_RDONLY_PROG = 1 << 7;
    /** Where libxdp looks for its object (LIBXDP_OBJECT_PATH overrides, as for libxdp). */
    private static final List<String> OBJECT_DIRS = List.of("/usr/lib/x86_64-linux-gnu/bpf", "/usr/lib/aarch64-linux-gnu/bpf",
            "/usr/lib64/bpf", "/usr/lib/bpf", "/usr/local/lib/bpf");
    public static final String OBJECT_NAME = "xdp-dispatcher.o";

    private XdpDispatcher() {
    }

    /** The dispatcher's configuration, as its .rodata holds it. */
    public record Config(int programs, boolean frags, int[] chainCallActions, int[] runPriorities, int[] programFlags) {
        public byte[] bytes() {
            ByteBuffer b = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            b.put((byte) MAGIC).put((byte) VERSION).put((byte) programs).put((byte) (frags ? 1 : 0));
            for (int[] a : new int[][]{chainCallActions, runPriorities, programFlags}) {
                for (int i = 0; i < MAX_PROGRAMS; i++) {
                    b.putInt(i < a.length ? a[i] : 0);
                }
            }
            return b.array();
        }

        /** A dispatcher's config map value, or empty when it is not one (another magic or version). */
        static Optional<Config> parse(byte[] v) {
            if (v.length < CONFIG_SIZE || (v[0] & 0xff) != MAGIC || (v[1] & 0xff) != VERSION) {
                return Optional.empty();
            }
            ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
            int[][] a = new int[3][MAX_PROGRAMS];
            for (int k = 0; k < 3; k++) {
                for (int i = 0; i < MAX_PROGRAMS; i++) {
                    a[k][i] = b.getInt(4 + 40 * k + 4 * i);
                }
            }
            return Optional.of(new Config(v[2] & 0xff, v[3] != 0, a[0], a[1], a[2]));
        }
    }

    /** One program the interface's dispatcher runs, in run order. */
    public record Slot(int position, int programId, String name, int priority, int chainCallActions, boolean own) {
    }

    /** What an interface runs now: its dispatcher (program id) and the programs in its slots. */
    public record Running(int dispatcherId, int mode, List<Slot> slots) {
    }

    // ---- the agent's components ----

    /**
     * One program the agent placed on an interface's dispatcher, held until closed (a link of mechanism
     * DISPATCHER): its spec (loaded again as an extension of a slot), priority and chain call actions.
     */
    static final class Member {
        final Iface iface;
        ProgramSpec spec;
        int priority;
        int chainCallActions;
        Program ext;      // the extension, once placed
        Fd link;          // its link to the current dispatcher
        boolean removed;

        Member(Iface iface, ProgramSpec spec, int priority, int chainCallActions) {
            this.iface = iface;
            this.spec = spec;
            this.priority = priority;
            this.chainCallActions = chainCallActions;
        }
    }

    /** An interface the agent places programs on (netns "" is the agent's). */
    static final class Iface {
        final String netns;
        final int ifindex;
        final int mode;
        final List<Member> members = new ArrayList<>();
        int dispatcherId;

        Iface(String netns, int ifindex, int mode) {
            this.netns = netns;
            this.ifindex = ifindex;
            this.mode = mode;
        }
    }

    private static final Map<String, Iface> IFACES = new HashMap<>();
    private static ObjectSpec objectSpec;

    /** Where libxdp's dispatcher object is here, or empty (install libxdp: Debian's libxdp1). */
    public static Optional<Path> objectPath() {
        String env = System.getenv("LIBXDP_OBJECT_PATH");
        List<String> dirs = new ArrayList<>();
        if (env != null && !env.isEmpty()) {
            dirs.addAll(List.of(env.split(":")));
        }
        dirs.addAll(OBJECT_DIRS);
        return dirs.stream().map(d -> Path.of(d, OBJECT_NAME)).filter(Files::isRegularFile).findFirst();
    }

    private static synchronized ObjectSpec object() {
        if (objectSpec == null) {
            Path p = objectPath().orElseThrow(() -> HookException.unsupported("mechanism", "XDP_DISPATCHER_MISSING",
                    "no " + OBJECT_NAME + " (libxdp's dispatcher) in " + OBJECT_DIRS + " or LIBXDP_OBJECT_PATH: install"
                    + " libxdp (Debian: libxdp1, which xdp-tools brings)"));
            try {
                objectSpec = ObjectSpec.parse(Files.readAllBytes(p), p.toString());
            } catch (IOException e) {
                throw new IllegalStateException("cannot read " + p + ": " + e.getMessage(), e);
            }
        }
        return objectSpec;
    }

    /**
     * Places the program the spec loads (an XDP program, loaded again as an extension) on the interface's
     * dispatcher at priority (lower runs first; ties after those there), going on to the next program
     * when it returns an action in chainCallActions (a bit per XDP action). Makes the dispatcher when
     * the interface has none, joins libxdp's when it has one; refuses an interface that runs a single
     * program of its own.
     */
    static Link attach(ProgramSpec spec, Hook.Xdp h, int priority, int chainCallActions) {
        if (spec.type() != ProgramType.XDP) {
            throw new InvalidSpecException("program", "a dispatcher runs XDP programs; this one is " + spec.type());
        }
        if (priority < 0 || priority > 1000) {
            throw new InvalidSpecException("priority", priority + " is not 0 to 1000");
        }
        return run(h.iface().netns(), () -> {
            int ifindex = NetworkHooks.ifindex(h.iface(), "hook.xdp.interface");
            Iface iface;
            synchronized (XdpDispatcher.class) {
                iface = IFACES.computeIfAbsent(h.iface().netns() + "/" + ifindex, k -> new Iface(h.iface().netns(),
                        ifindex, h.mode().flags));
                if (iface.mode != h.mode().flags) {
                    throw new InvalidSpecException("hook.xdp.mode", "the agent runs this interface's dispatcher in"
                            + " another XDP mode (flags " + iface.mode + "): every program on it has one mode");
                }
                Member m = new Member(iface, spec, priority == 0 ? DEFAULT_PRIORITY : priority,
                        chainCallActions == 0 ? CHAIN_ON_PASS : chainCallActions);
                iface.members.add(m);
                try {
                    rebuild(iface);
                } catch (RuntimeException e) {
                    iface.members.remove(m);
                    closeExt(m);
                    if (iface.members.isEmpty()) {
                        IFACES.remove(h.iface().netns() + "/" + ifindex);
                    }
                    throw e;
                }
                return new Link.Dispatched(m, h, h.iface() + " (ifindex " + ifindex + ")");
            }
        });
    }

    /** Runs the program of spec in the member's place instead, at this priority: one swap. */
    static void update(Member m, ProgramSpec spec, int priority, int chainCallActions) {
        run(m.iface.netns, () -> {
            synchronized (XdpDispatcher.class) {
                ProgramSpec oldSpec = m.spec;
                int oldPriority = m.priority, oldCca = m.chainCallActions;
                Program oldExt = m.ext;
                Fd oldLink = m.link;
                m.spec = spec;
                m.priority = priority == 0 ? DEFAULT_PRIORITY : priority;
                m.chainCallActions = chainCallActions == 0 ? CHAIN_ON_PASS : chainCallActions;
                m.ext = null;
                m.link = null;
                try {
                    rebuild(m.iface);
                } catch (RuntimeException e) {
                    closeExt(m);
                    m.spec = oldSpec;
                    m.priority = oldPriority;
                    m.chainCallActions = oldCca;
                    m.ext = oldExt;
                    m.link = oldLink;
                    throw e;
                }
                if (oldLink != null) {
                    oldLink.close();
                }
                if (oldExt != null) {
                    oldExt.close();
                }
                return null;
            }
        });
    }

    /** Takes the member off its dispatcher (the last one takes the dispatcher off the interface). */
    static void remove(Member m) {
        try {
            run(m.iface.netns, () -> {
                synchronized (XdpDispatcher.class) {
                    if (m.removed) {
                        return null;
                    }
                    m.removed = true;
                    m.iface.members.remove(m);
                    try {
                        rebuild(m.iface);
                    } catch (RuntimeException e) {
                        LOG.warning("xdp dispatcher on ifindex " + m.iface.ifindex + ": taking program " + (m.ext == null
                                ? "?" : m.ext.id()) + " off: " + e.getMessage());
                    } finally {
                        closeExt(m);
                        if (m.iface.members.isEmpty()) {
                            IFACES.remove(m.iface.netns + "/" + m.iface.ifindex);
                        }
                    }
                    return null;
                }
            });
        } catch (KernelException gone) {
            closeExt(m); // the namespace went, and the interface with it
        }
    }

    /**
     * Whether the member runs: the interface's XDP program is the dispatcher it was last placed on, or
     * one another tool (libxdp) built since with this program in a slot. Then the links to the earlier
     * dispatcher go (the new one's are pinned by that tool) and the next change starts from it.
     */
    static boolean running(Member m) {
        if (m.removed || m.ext == null) {
            return false;
        }
        return run(m.iface.netns, () -> {
            Optional<Netlink.XdpProgram> x = currentXdp(m.iface.ifindex);
            if (x.isEmpty()) {
                return false;
            }
            synchronized (XdpDispatcher.class) {
                if (x.get().progId() == m.iface.dispatcherId) {
                    return true;
                }
                Optional<Running> r = read("", m.iface.ifindex);
                if (r.isEmpty() || r.get().slots().stream().noneMatch(s -> s.programId() == m.ext.id())) {
                    return false;
                }
                m.iface.dispatcherId = r.get().dispatcherId();
                for (Member o : m.iface.members) {
                    if (o.link != null) {
                        o.link.close(); // linked to the dispatcher the other tool replaced
                        o.link = null;
                    }
                }
                return true;
            }
        });
    }

    private static void closeExt(Member m) {
        if (m.link != null) {
            m.link.close();
            m.link = null;
        }
        if (m.ext != null) {
            m.ext.close();
            m.ext = null;
        }
    }

    /** Runs s in the named network namespace ("": the agent's). */
    private static <T> T run(String netns, java.util.function.Supplier<T> s) {
        if (netns == null || netns.isEmpty()) {
            return s.get();
        }
        return NetNs.run(netns, s);
    }

    // ---- reading what runs ----

    private static Optional<Netlink.XdpProgram> currentXdp(int ifindex) {
        return Netlink.xdpPrograms().stream().filter(x -> x.ifindex() == ifindex && x.progId() != 0).findFirst();
    }

    /** The config of the dispatcher program with this id, or empty when it is no dispatcher. */
    static Optional<Config> configOf(int programId) {
        ProgramInfo info = Program.infoById(programId).orElse(null);
        if (info == null || info.mapIds().size() != 1) {
            return Optional.empty();
        }
        try (BpfMap m = BpfMap.fromId(info.mapIds().get(0))) {
            if (m.keySize() != 4 || m.maxEntries() != 1 || m.valueSize() < CONFIG_SIZE
                    || (m.info().mapFlags() & BPF_F_RDONLY_PROG) == 0) {
                return Optional.empty();
            }
            return m.lookup(new byte[4]).flatMap(Config::parse);
        } catch (KernelException gone) {
            return Optional.empty();
        }
    }

    /** The dispatcher on the interface (of the caller's namespace) and its programs; empty: none there. */
    public static Optional<Running> read(String netns, int ifindex) {
        return run(netns, () -> {
            Optional<Netlink.XdpProgram> x = currentXdp(ifindex);
            if (x.isEmpty()) {
                return Optional.empty();
            }
            return running(ifindex, x.get().progId(), x.get().mode());
        });
    }

    /**
     * What the XDP program with this id on the interface runs, when it is a dispatcher: its slots'
     * programs (from libxdp's pins) in run order; empty when it is no dispatcher.
     */
    static Optional<Running> running(int ifindex, int programId, int mode) {
        Optional<Config> c = configOf(programId);
        if (c.isEmpty()) {
            return Optional.empty();
        }
        List<Slot> slots = new ArrayList<>();
        Path dir = pinDir(ifindex, programId);
        for (int i = 0; i < c.get().programs(); i++) {
            int actions = c.get().chainCallActions()[i] & ~(1 << DISPATCHER_RETVAL);
            try (Program p = Program.fromPinned(dir.resolve("prog" + i + "-prog").toString())) {
                slots.add(new Slot(i, p.id(), p.name(), c.get().runPriorities()[i], actions,
                        p.name().startsWith(OWN_PREFIX)));
            } catch (RuntimeException e) {
                slots.add(new Slot(i, 0, "?", c.get().runPriorities()[i], actions, false));
            }
        }
        return Optional.of(new Running(programId, mode, slots));
    }

    static Path pinDir(int ifindex, int dispatcherId) {
        return Host.BPFFS.resolve("xdp").resolve("dispatch-" + ifindex + "-" + dispatcherId);
    }

    // ---- changing it ----

    /** A program in the next dispatcher: one of the agent's members, or a component another tool placed. */
    private record Entry(Member member, Program foreign, int priority, int chainCallActions) {
        Program program() {
            return member != null ? member.ext : foreign;
        }
    }

    /**
     * Makes the interface run the iface's members and the components others placed (with libxdp's lock
     * held): a new dispatcher, every component linked to its slot, one netlink replace, the pins moved
     * to the new dispatcher's directory, the old links closed. On failure before the replace, nothing
     * changed; members keep their previous extension and link.
     */
    private static void rebuild(Iface iface) {
        Path xdpDir = Host.BPFFS.resolve("xdp");
        try {
            Files.createDirectories(xdpDir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot make " + xdpDir + ": " + e.getMessage(), e);
        }
        try (Fd lock = Dirs.lockExclusiveWaiting(xdpDir.toString())) {
            rebuildLocked(iface, xdpDir);
        }
    }

    private static void rebuildLocked(Iface iface, Path xdpDir) {
        int ifindex = iface.ifindex;
        Optional<Netlink.XdpProgram> cur = currentXdp(ifindex);
        Program current = null;
        List<Program> opened = new ArrayList<>();
        List<Entry> entries = new ArrayList<>();
        Path oldDir = null;
        int curMode = 0;
        try {
            if (cur.isPresent()) {
                curMode = cur.get().mode();
                Optional<Config> c = configOf(cur.get().progId());
                if (c.isEmpty()) {
                    throw new BusyException("hook.xdp.interface", "HOOK_TAKEN", "ifindex " + ifindex + " runs XDP program "
                            + cur.get().progId() + ", which is no dispatcher (libxdp's or the agent's): detach it, or"
                            + " load it through xdp-loader so that programs share the interface");
                }
                current = Program.fromId(cur.get().progId());
                opened.add(current);
                oldDir = pinDir(ifindex, cur.get().progId());
                Set<Integer> ours = new java.util.HashSet<>();
                iface.members.forEach(m -> {
                    if (m.ext != null) {
                        ours.add(m.ext.id());
                    }
                });
                for (int i = 0; i < c.get().programs(); i++) {
                    Program p = Program.fromPinned(oldDir.resolve("prog" + i + "-prog").toString());
                    opened.add(p);
                    if (ours.contains(p.id()) || p.name().startsWith(OWN_PREFIX)) {
                        continue; // ours: held below, or a crashed agent's
                    }
                    entries.add(new Entry(null, p, c.get().runPriorities()[i],
                            c.get().chainCallActions()[i] & ~(1 << DISPATCHER_RETVAL)));
                }
            }
            iface.members.forEach(m -> entries.add(new Entry(m, null, m.priority, m.chainCallActions)));
            entries.sort(Comparator.comparingInt(Entry::priority)); // stable: ties keep their order
            if (entries.size() > MAX_PROGRAMS) {
                throw new InvalidSpecException("priority", "a dispatcher runs at most " + MAX_PROGRAMS
                        + " programs and ifindex " + ifindex + " would run " + entries.size());
            }
            if (entries.isEmpty()) {
                if (current != null) {
                    Netlink.setXdp(ifindex, null, curMode == 0 ? iface.mode : modeFlags(curMode)
                            | Netlink.XDP_FLAGS_REPLACE, current.fd());
                    unpinDir(oldDir);
                }
                iface.dispatcherId = 0;
                return;
            }
            swap(iface, entries, current, curMode, oldDir);
        } finally {
            opened.forEach(Program::close);
        }
    }

    /** XDP_ATTACHED_* (what netlink reports) as the XDP_FLAGS_* mode to replace with. */
    private static int modeFlags(int attached) {
        return switch (attached) {
            case 2 -> 1 << 1;  // XDP_ATTACHED_SKB: XDP_FLAGS_SKB_MODE
            case 1 -> 1 << 2;  // XDP_ATTACHED_DRV
            case 3 -> 1 << 3;  // XDP_ATTACHED_HW
            default -> 0;
        };
    }

    private static void swap(Iface iface, List<Entry> entries, Program current, int curMode, Path oldDir) {
        ObjectSpec spec = object();
        int n = entries.size();
        int[] cca = new int[MAX_PROGRAMS], prios = new int[MAX_PROGRAMS];
        for (int i = 0; i < n; i++) {
            cca[i] = entries.get(i).chainCallActions() | 1 << DISPATCHER_RETVAL;
            prios[i] = entries.get(i).priority();
        }
        Config config = new Config(n, false, cca, prios, new int[MAX_PROGRAMS]);
        Program dispatcher;
        try (ObjectLoader.Loaded l = ObjectLoader.load(spec, new ObjectLoader.Options(Set.of("xdp_dispatcher"),
                Map.of("conf", config.bytes()), 0))) {
            dispatcher = l.programs().get("xdp_dispatcher");
            l.programs().clear(); // kept: the loaded object's maps go, the program holds its own
        }
        List<Fd> newLinks = new ArrayList<>();
        List<Member> loadedNow = new ArrayList<>();
        Fd[] links = new Fd[n];
        try {
            for (int i = 0; i < n; i++) {
                Entry e = entries.get(i);
                String slot = "prog" + i;
                int btfId = spec.btf().find(dev.bpfagent.agent.bpf.btf.Btf.KIND_FUNC, slot).orElseThrow(() ->
                        new IllegalStateException(OBJECT_NAME + " has no function " + slot)).id();
                if (e.program() == null) {
                    Member m = e.member();
                    m.ext = Program.load(extension(m.spec, btfId, dispatcher.id())).program();
                    loadedNow.add(m);
                    links[i] = Bpf.linkCreate(new LinkCreateAttr(m.ext.fd(), null, 0, 0, 0, null));
                } else {
                    links[i] = Bpf.linkCreate(new LinkCreateAttr(e.program().fd(), dispatcher.fd(), 0, 0, 0,
                            new LinkCreateAttr.Tracing(btfId)));
                }
                newLinks.add(links[i]);
            }
            int flags = (current == null ? iface.mode : curMode == 0 ? iface.mode : modeFlags(curMode))
                    | (current == null ? Netlink.XDP_FLAGS_UPDATE_IF_NOEXIST : Netlink.XDP_FLAGS_REPLACE);
            Netlink.setXdp(iface.ifindex, dispatcher.fd(), flags, current == null ? null : current.fd());
        } catch (RuntimeException e) {
            newLinks.forEach(Fd::close);
            for (Member m : loadedNow) {
                m.ext.close();
                m.ext = null;
            }
            dispatcher.close();
            throw e;
        }
        // swapped: pins to the new dispatcher's directory, then the old links go
        Path dir = pinDir(iface.ifindex, dispatcher.id());
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
            for (int i = 0; i < n; i++) {
                entries.get(i).program().pin(dir.resolve("prog" + i + "-prog").toString());
                Bpf.objPin(links[i], dir.resolve("prog" + i + "-link").toString());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warning("xdp dispatcher " + dispatcher.id() + " on ifindex " + iface.ifindex + ": pinning in " + dir
                    + ": " + e.getMessage() + " (libxdp's tools will not see its programs)");
        }
        if (oldDir != null) {
            unpinDir(oldDir);
        }
        for (int i = 0; i < n; i++) {
            Member m = entries.get(i).member();
            if (m != null) {
                if (m.link != null) {
                    m.link.close();
                }
                m.link = links[i];
            } else {
                links[i].close(); // the pin holds it
            }
        }
        iface.dispatcherId = dispatcher.id();
        dispatcher.close(); // the interface holds it
    }

    /** The XDP program's spec as an extension of slot btfId of the dispatcher. */
    static ProgramSpec extension(ProgramSpec s, int btfId, int dispatcherId) {
        if (s.btf().isEmpty()) {
            throw new InvalidSpecException("program", "a dispatcher's program needs BTF (its function's prototype is"
                    + " matched to the slot's): build the object with clang -g");
        }
        String name = OWN_PREFIX + s.name();
        return new ProgramSpec(ProgramType.EXT, s.instructions(), s.license(),
                name.length() > ProgramSpec.MAX_NAME ? name.substring(0, ProgramSpec.MAX_NAME) : name, s.log(),
                s.kernVersion(), s.progFlags(), Optional.empty(), new ProgramSpec.AttachTarget(btfId, 0, dispatcherId),
                s.btf(), 0, s.maps());
    }

    private static void unpinDir(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String n = f.getFileName().toString();
                if (n.matches("prog\\d+-(prog|link)")) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        } catch (java.nio.file.NoSuchFileException gone) {
            // another tool removed it
        } catch (IOException e) {
            LOG.warning("cannot remove " + dir + ": " + e.getMessage());
        }
    }
}
