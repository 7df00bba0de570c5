package dev.bpfagent.agent.bpf.object;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.InvalidSpecException;
import dev.bpfagent.agent.bpf.KernelFunctions;
import dev.bpfagent.agent.bpf.MapInfo;
import dev.bpfagent.agent.bpf.MapSpec;
import dev.bpfagent.agent.bpf.MapType;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.ProgramSpec;
import dev.bpfagent.agent.bpf.btf.Btf;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Loads a parsed object into the kernel as libbpf does: its BTF (data sections' sizes and offsets
 * fixed; dropped if the kernel refuses it, as libbpf's sanitising falls back), its maps (global data
 * filled in and .rodata frozen), its programs (with func and line info), then the initial entries of
 * prog arrays and maps of maps. On any failure everything made so far is closed; the exception says
 * at which stage and for which map or program.
 */
public final class ObjectLoader {
    private ObjectLoader() {
    }

    /**
     * What to load. programs: the names to load (empty: all); maps the others use are made anyway.
     * rodata: new values for .rodata variables by name (the "volatile const" configuration), each exactly
     * the variable's size. logLevel: the verifier log for every program (0: only on failure).
     */
    public record Options(Set<String> programs, Map<String, byte[]> rodata, int logLevel, PinnedMaps pinned,
                          Map<String, ProgramOverride> overrides, KeptMaps kept) {
        public static final Options ALL = new Options(Set.of(), Map.of(), 0, null, Map.of());

        public Options(Set<String> programs, Map<String, byte[]> rodata, int logLevel) {
            this(programs, rodata, logLevel, null, Map.of());
        }

        public Options(Set<String> programs, Map<String, byte[]> rodata, int logLevel, PinnedMaps pinned,
                       Map<String, ProgramOverride> overrides) {
            this(programs, rodata, logLevel, pinned, overrides, null);
        }

        public Options {
            programs = programs == null ? Set.of() : Set.copyOf(programs);
            rodata = rodata == null ? Map.of() : Map.copyOf(rodata);
            overrides = overrides == null ? Map.of() : Map.copyOf(overrides);
        }
    }

    /** Another type, expected attach type or attach target for a program than its section says (nulls: keep). */
    public record ProgramOverride(dev.bpfagent.agent.bpf.ProgramType type, dev.bpfagent.agent.bpf.AttachType attachType,
                           String attachTo) {
    }

    /**
     * Where maps defined with pinning = LIBBPF_PIN_BY_NAME live: one pinned under the name is reused
     * (it must have the definition's shape), else the new map is pinned there. Null: pinning ignored.
     */
    public interface PinnedMaps {
        java.util.Optional<BpfMap> open(String name);

        void pin(String name, BpfMap map);

        /** Removes a pin pin() made, when the load that made it fails. */
        void unpin(String name);
    }

    /**
     * Maps an earlier load made that this one takes over (an application's next version keeps its
     * counters): for a map the object defines (not global data), a map to use instead of a new one, or
     * empty. It is used only when its type, sizes and flags are the definition's; the loader owns the
     * BpfMap returned (closes it with the others). Null: every map is made anew.
     */
    public interface KeptMaps {
        Optional<BpfMap> take(ObjectSpec.MapDef def);
    }

    /** Whether a map has the definition's type, key and value sizes, max_entries and flags. */
    public static boolean sameShape(MapInfo info, ObjectSpec.MapDef m) {
        return info.typeNumber() == m.type() && info.keySize() == m.keySize() && info.valueSize() == m.valueSize()
                && info.maxEntries() == m.maxEntries() && info.mapFlags() == m.flags();
    }

    /** Where a load failed: "open", "btf", "map_create", "map_init", "prog_load", "relocate", "slots". */
    public static final class StageException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String stage;
        private final String object;

        public StageException(String stage, String object, RuntimeException cause) {
            super(cause.getMessage(), cause);
            this.stage = stage;
            this.object = object;
        }

        public String stage() {
            return stage;
        }

        /** The map or program it failed on ("" for the object as a whole). */
        public String object() {
            return object;
        }

        public RuntimeException cause() {
            return (RuntimeException) getCause();
        }
    }

    /** The loaded object: maps and programs by name, in the object's order. Closing closes them all. */
    public record Loaded(ObjectSpec spec, Map<String, BpfMap> maps, Map<String, Program> programs,
                         Map<String, String> verifierLogs, boolean btfLoaded, String btfError,
                         List<String> pinnedByLoad, PinnedMaps pins,
                         Map<String, dev.bpfagent.agent.bpf.ProgramSpec> programSpecs)
            implements AutoCloseable {
        @Override
        public void close() {
            programs.values().forEach(Program::close);
            maps.values().forEach(BpfMap::close);
        }

        /**
         * Undoes a load that failed after this: removes the pins by name it made (newest first), as
         * libbpf does; pins it found and reused stay. Then close() closes what it made.
         */
        public void unpinMade() {
            unpin(pins, pinnedByLoad);
        }
    }

    static void unpin(PinnedMaps pins, List<String> names) {
        for (int i = names.size() - 1; i >= 0; i--) {
            try {
                pins.unpin(names.get(i));
            } catch (RuntimeException e) {
                // the pin went already (an Unpin racing the failure): nothing left to undo
            }
        }
    }

    /**
     * One program as it will be loaded: its definition with the caller's override applied. What an
     * authorizer checks and what the loader loads are both read from here, so they cannot differ.
     *
     * @param type       the program type (the override's, else the section's)
     * @param attachType the expected attach type (null: none)
     * @param attachTo   the BTF target by name ("" when none)
     * @param progFlags  bpf_attr.prog_flags (BPF_F_SLEEPABLE for ".s" sections, BPF_F_XDP_HAS_FRAGS, ...)
     */
    public record PlannedProgram(ObjectSpec.ProgramDef def, dev.bpfagent.agent.bpf.ProgramType type,
                                 dev.bpfagent.agent.bpf.AttachType attachType, String attachTo, int progFlags) {
        public String name() {
            return def.name();
        }

        /** The instructions as the object has them (helper calls as the kernel will see them). */
        public byte[] insns() {
            return def.insns();
        }
    }

    /** What a load will make, computed once from the object and the options: the programs and the maps they need. */
    public record Plan(ObjectSpec spec, Options options, List<PlannedProgram> programs, List<ObjectSpec.MapDef> maps) {
        public Plan {
            programs = List.copyOf(programs);
            maps = List.copyOf(maps);
        }
    }

    /**
     * Resolves what {@link #load(Plan)} will load: the programs asked for (all when none are named), each
     * with its type, expected attach type, target and flags. Throws for a name the object lacks, and for a
     * program whose section names no type that no override gives one.
     */
    public static Plan plan(ObjectSpec spec, Options options) {
        for (String p : options.programs()) {
            if (spec.program(p).isEmpty()) {
                throw new InvalidSpecException("programs", "the object has no program '" + p + "' (it has "
                        + spec.programs().stream().map(ObjectSpec.ProgramDef::name).toList() + ")");
            }
        }
        for (String p : options.overrides().keySet()) {
            if (spec.program(p).isEmpty()) {
                throw new InvalidSpecException("overrides[" + p + "]", "the object has no program '" + p + "'");
            }
        }
        Set<String> wanted = tailCallTargets(spec, options.programs());
        List<ObjectSpec.ProgramDef> chosen = spec.programs().stream().filter(p -> options.programs().isEmpty()
                || wanted.contains(p.name())).toList();
        List<PlannedProgram> planned = new ArrayList<>();
        for (ObjectSpec.ProgramDef p : chosen) {
            ProgramOverride ov = options.overrides().get(p.name());
            SectionDefs.Def sec = p.def().orElse(null);
            if (sec == null && (ov == null || ov.type() == null)) {
                throw new StageException("open", p.name(), new InvalidSpecException("programs", "program '" + p.name()
                        + "' is in section '" + p.section() + "', which names no program type (libbpf's SEC()"
                        + " conventions: xdp, tc, kprobe/FUNC, tracepoint/CAT/NAME, ...): name the programs to"
                        + " load, or give overrides[" + p.name() + "].type"));
            }
            var type = ov != null && ov.type() != null ? ov.type() : sec.type();
            // another type than the section's drops the section's attach type unless the override gives one
            var attachType = ov != null && ov.attachType() != null ? ov.attachType()
                    : ov != null && ov.type() != null ? null : sec.attachType();
            String attachTo = ov != null && ov.attachTo() != null && !ov.attachTo().isEmpty() ? ov.attachTo()
                    : p.attachTo();
            planned.add(new PlannedProgram(p, type, attachType, attachTo, sec != null ? sec.progFlags() : 0));
        }
        return new Plan(spec, options, planned, neededMaps(spec, chosen, options));
    }

    /**
     * The programs named, and with them every program a program array they use is initialised with
     * (transitively): a tail call's target is part of the program that jumps to it, as for libbpf, where
     * an initialiser naming a program that is not loaded fails the load.
     */
    static Set<String> tailCallTargets(ObjectSpec spec, Set<String> named) {
        Set<String> all = new java.util.LinkedHashSet<>(named);
        boolean grew = !named.isEmpty();
        while (grew) {
            grew = false;
            for (ObjectSpec.ProgramDef p : spec.programs()) {
                if (!all.contains(p.name())) {
                    continue;
                }
                for (String m : p.maps()) {
                    Optional<ObjectSpec.MapDef> def = spec.map(m);
                    if (def.isPresent() && def.get().type() == MapType.PROG_ARRAY.value) {
                        for (String target : def.get().slots().values()) {
                            grew |= spec.program(target).isPresent() && all.add(target);
                        }
                    }
                }
            }
        }
        return all;
    }

    public static Loaded load(ObjectSpec spec, Options options) {
        return load(plan(spec, options));
    }

    /** Loads exactly what the plan says; on any failure closes what it made (maps found pinned are only closed). */
    public static Loaded load(Plan plan) {
        ObjectSpec spec = plan.spec();
        Options options = plan.options();
        Map<String, byte[]> rodata = new LinkedHashMap<>();
        Map<String, BpfMap> maps = new LinkedHashMap<>();
        Map<String, Program> programs = new LinkedHashMap<>();
        Map<String, String> logs = new LinkedHashMap<>();
        Map<String, dev.bpfagent.agent.bpf.ProgramSpec> specs = new LinkedHashMap<>();
        List<String> pinned = new java.util.ArrayList<>();
        Fd btfFd = null;
        byte[] btf = null;
        String btfError = "";
        try {
            if (spec.btf() != null) {
                btf = BtfSanitizer.sanitize(spec.btf(), fixedBtf(spec));
                long kconfigSize = spec.maps().stream().filter(m -> m.kind() == ObjectSpec.MapKind.KCONFIG)
                        .mapToLong(ObjectSpec.MapDef::valueSize).findFirst().orElse(0);
                btf = BtfSanitizer.externs(spec.btf(), btf, spec.kconfig(), kconfigSize);
                try {
                    btfFd = Bpf.btfLoad(btf);
                } catch (KernelException e) {
                    btf = null; // as libbpf: without BTF, if the kernel will not take it
                    btfError = e.getMessage();
                }
            }
            List<ObjectSpec.MapDef> needed = plan.maps();
            for (ObjectSpec.MapDef m : needed) {
                try {
                    maps.put(m.name(), createMap(spec, m, btfFd, options, pinned));
                } catch (RuntimeException e) {
                    throw new StageException("map_create", m.name(), e);
                }
            }
            for (PlannedProgram p : plan.programs()) {
                try {
                    var ps = programSpec(spec, p, maps, btf, options.logLevel());
                    Program.Loaded l = Program.load(ps);
                    programs.put(p.name(), l.program());
                    specs.put(p.name(), ps);
                    if (!l.verifierLog().isEmpty()) {
                        logs.put(p.name(), l.verifierLog());
                    }
                } catch (RuntimeException e) {
                    throw new StageException("prog_load", p.name(), e);
                }
            }
            for (ObjectSpec.MapDef m : needed) {
                try {
                    fillSlots(m, maps, programs);
                } catch (RuntimeException e) {
                    throw new StageException("slots", m.name(), e);
                }
            }
            return new Loaded(spec, maps, programs, logs, btf != null, btfError, List.copyOf(pinned),
                    options.pinned(), specs);
        } catch (RuntimeException e) {
            unpin(options.pinned(), pinned);
            programs.values().forEach(Program::close);
            maps.values().forEach(BpfMap::close);
            throw e;
        } finally {
            if (btfFd != null) {
                btfFd.close();
            }
        }
    }

    /** Every map the chosen programs use (all of the object's when every program is loaded). */
    static List<ObjectSpec.MapDef> neededMaps(ObjectSpec spec, List<ObjectSpec.ProgramDef> progs, Options o) {
        if (o.programs().isEmpty()) {
            return spec.maps();
        }
        Set<String> used = new java.util.HashSet<>();
        progs.forEach(p -> used.addAll(p.maps()));
        // maps of maps and prog arrays bring what they are filled with
        for (ObjectSpec.MapDef m : spec.maps()) {
            if (used.contains(m.name())) {
                used.addAll(m.slots().values());
            }
        }
        return spec.maps().stream().filter(m -> used.contains(m.name())).toList();
    }

    /** The object's BTF with each DATASEC's size and its variables' offsets from the ELF. */
    static byte[] fixedBtf(ObjectSpec spec) {
        Btf btf = spec.btf();
        byte[] raw = btf.raw();
        for (Btf.Type t : btf.types()) {
            if (t.kind() != Btf.KIND_DATASEC) {
                continue;
            }
            Long size = spec.sectionSizes().get(t.name());
            if (size != null) {
                btf.withDatasec(raw, t, size, v -> spec.variableOffsets().getOrDefault(t.name() + "/" + v, -1L));
            }
        }
        return raw;
    }

    static String kernelName(String name) {
        String n = name.replaceAll("[^A-Za-z0-9_.]", "_");
        return n.length() > 15 ? n.substring(0, 15) : n;
    }

    /** Makes (or, pinned by name, reuses) one map; pinned: the names this load pinned, in order. */
    static BpfMap createMap(ObjectSpec spec, ObjectSpec.MapDef m, Fd btf, Options o, List<String> pinned) {
        MapType type = m.mapType().orElseThrow(() -> new InvalidSpecException("maps", "map '" + m.name()
                + "' has type " + m.type() + ", which this agent does not know"));
        if (o.kept() != null && m.kind() == ObjectSpec.MapKind.DEFINED) {
            Optional<BpfMap> kept = o.kept().take(m);
            if (kept.isPresent()) {
                if (sameShape(kept.get().info(), m)) {
                    return kept.get();
                }
                kept.get().close(); // another shape: made anew below
            }
        }
        if (m.pinning() == 1 && o.pinned() != null) {
            Optional<BpfMap> existing = o.pinned().open(m.name());
            if (existing.isPresent()) {
                BpfMap e = existing.get();
                var info = e.info();
                if (!sameShape(info, m)) {
                    e.close();
                    throw new InvalidSpecException("pin_dir", "map '" + m.name() + "' is pinned already with another"
                            + " shape (type " + info.typeNumber() + ", key " + info.keySize() + ", value "
                            + info.valueSize() + ", max_entries " + info.maxEntries() + ", flags " + info.mapFlags()
                            + ") than the object defines: unpin it, or give another pin_dir");
                }
                return e;
            }
        }
        BpfMap inner = null;
        try {
            if (m.inner() != null) {
                inner = createMap(spec, m.inner(), btf, o, pinned);
            }
            MapSpec ms = MapSpec.builder(type, m.keySize(), m.valueSize(), m.maxEntries()).flags(m.flags())
                    .name(kernelName(m.name())).numaNode(m.numaNode() == 0 ? -1 : m.numaNode()).innerMap(inner)
                    .mapExtra(m.mapExtra()).build();
            BpfMap map;
            boolean typed = btf != null && m.btfValueType() != 0;
            try {
                map = typed ? BpfMap.create(ms, btf, m.btfKeyType(), m.btfValueType()) : BpfMap.create(ms);
            } catch (KernelException e) {
                if (!typed) {
                    throw e;
                }
                map = BpfMap.create(ms); // as libbpf: retry without BTF types the kernel does not take
            }
            try {
                initialise(spec, m, map, o);
                if (m.pinning() == 1 && o.pinned() != null) {
                    o.pinned().pin(m.name(), map);
                    pinned.add(m.name());
                }
            } catch (RuntimeException e) {
                map.close();
                throw e;
            }
            return map;
        } finally {
            if (inner != null) {
                inner.close(); // the kernel keeps what it needs of the template
            }
        }
    }

    /** Global data: key 0 gets the section's bytes (.rodata with the caller's values), then .rodata is frozen. */
    static void initialise(ObjectSpec spec, ObjectSpec.MapDef m, BpfMap map, Options o) {
        if (m.kind() == ObjectSpec.MapKind.DEFINED) {
            return;
        }
        byte[] value = m.kind() == ObjectSpec.MapKind.KCONFIG ? KernelConfig.value(spec.btf(), spec.kconfig(),
                m.valueSize()) : m.initial() != null ? m.initial().clone() : new byte[m.valueSize()];
        if (m.kind() == ObjectSpec.MapKind.RODATA) {
            for (Map.Entry<String, byte[]> e : o.rodata().entrySet()) {
                Long off = spec.variableOffsets().get(m.section() + "/" + e.getKey());
                Long size = spec.variableSizes().get(m.section() + "/" + e.getKey());
                if (off == null) {
                    continue; // another .rodata section may have it; checked as a whole below
                }
                if (e.getValue().length != size) {
                    throw new InvalidSpecException("rodata[" + e.getKey() + "]", e.getValue().length + " bytes; the"
                            + " variable is " + size);
                }
                System.arraycopy(e.getValue(), 0, value, (int) (long) off, e.getValue().length);
            }
        }
        if (m.kind() != ObjectSpec.MapKind.BSS) {
            map.update(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0).array(), value, BpfMap.BPF_ANY);
        }
        if (m.kind() == ObjectSpec.MapKind.RODATA || m.kind() == ObjectSpec.MapKind.KCONFIG) {
            map.freeze();
        }
    }

    static ProgramSpec programSpec(ObjectSpec spec, PlannedProgram planned, Map<String, BpfMap> maps, byte[] btf,
                                   int logLevel) {
        ObjectSpec.ProgramDef p = planned.def();
        SectionDefs.Def sec = p.def().orElse(null);
        var type = planned.type();
        var attachType = planned.attachType();
        String attachTo = planned.attachTo();
        boolean btfTarget = sec != null && sec.btfTarget() || type == dev.bpfagent.agent.bpf.ProgramType.TRACING
                || type == dev.bpfagent.agent.bpf.ProgramType.LSM;
        int progFlags = planned.progFlags();
        List<BpfMap> used = new ArrayList<>();
        for (String n : p.maps()) {
            BpfMap m = maps.get(n);
            if (m == null) {
                throw new InvalidSpecException("programs", "program '" + p.name() + "' uses map '" + n + "', which"
                        + " was not created");
            }
            used.add(m);
        }
        byte[] insns = p.coreRelos().isEmpty() ? p.insns() : CoreRelocator.apply(spec.btf(), p.insns(), p.coreRelos(),
                p.name());
        insns = ksyms(p, insns);
        ProgramSpec.Builder b = ProgramSpec.builder(type, insns).name(kernelName(p.name()))
                .license(license(spec.license())).kernVersion(spec.kernVersion()).progFlags(progFlags).maps(used)
                .log(logLevel, 0);
        if (attachType != null) {
            b.expectedAttachType(attachType);
        }
        if (btfTarget && !attachTo.isEmpty()) {
            b.attachTarget(KernelFunctions.attachTarget(type, Optional.ofNullable(attachType), attachTo));
        }
        if (btf != null && (p.funcInfo().length > 0 || p.lineInfo().length > 0)) {
            b.btf(new ProgramSpec.Btf(btf, p.funcInfo(), 8, p.lineInfo(), 16));
        }
        return b.build();
    }

    /** __ksym variables and kfuncs: the kernel's BTF id of each, by name (vmlinux; modules' need fd_array). */
    static byte[] ksyms(ObjectSpec.ProgramDef p, byte[] insns) {
        if (p.ksyms().isEmpty()) {
            return insns;
        }
        byte[] out = insns.clone();
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        for (ObjectSpec.Ksym k : p.ksyms()) {
            var kind = k.function() ? dev.bpfagent.agent.bpf.btf.BtfTypes.Kind.FUNC
                    : dev.bpfagent.agent.bpf.btf.BtfTypes.Kind.VAR;
            var found = dev.bpfagent.agent.bpf.btf.KernelBtf.find(kind, k.name());
            if (found.isEmpty() || !found.get().module().isEmpty()) {
                if (k.weak() && (out[k.insn() * 8] & 0xff) == 0x18) {
                    b.put(k.insn() * 8 + 1, (byte) (b.get(k.insn() * 8 + 1) & 0x0f)); // a plain 0
                    continue;
                }
                throw new InvalidSpecException("programs", "program '" + p.name() + "' uses " + (k.function()
                        ? "kfunc " : "kernel variable ") + k.name() + " (__ksym), which "
                        + (found.isEmpty() ? "the kernel's BTF does not have" : "is in module " + found.get().module()
                        + " (module __ksym externs are not supported yet)"));
            }
            b.putInt(k.insn() * 8 + 4, found.get().btfId());
        }
        return out;
    }

    /**
     * The object's license. An object without one is not GPL (the kernel then refuses GPL-only helpers,
     * as for libbpf, which passes ""): ProgramSpec reads "" as its own default, GPL, so say so in words.
     */
    static String license(String objectLicense) {
        return objectLicense.isEmpty() ? "unspecified" : objectLicense;
    }

    static void fillSlots(ObjectSpec.MapDef m, Map<String, BpfMap> maps, Map<String, Program> programs) {
        if (m.slots().isEmpty()) {
            return;
        }
        BpfMap map = maps.get(m.name());
        for (Map.Entry<Integer, String> e : m.slots().entrySet()) {
            if (map.type() == MapType.PROG_ARRAY) {
                Program p = programs.get(e.getValue());
                if (p != null) {
                    map.setProgram(e.getKey(), p);
                }
            } else {
                BpfMap inner = maps.get(e.getValue());
                if (inner == null) {
                    throw new InvalidSpecException("maps", "map '" + m.name() + "' slot " + e.getKey() + " names '"
                            + e.getValue() + "', which is not a map of this object");
                }
                map.setInnerMap(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(e.getKey()).array(),
                        inner);
            }
        }
    }

}
