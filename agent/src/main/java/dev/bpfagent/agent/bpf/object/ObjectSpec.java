package dev.bpfagent.agent.bpf.object;

import dev.bpfagent.agent.bpf.MapType;
import dev.bpfagent.agent.bpf.btf.Btf;
import dev.bpfagent.agent.bpf.btf.BtfException;
import dev.bpfagent.agent.bpf.elf.ElfException;
import dev.bpfagent.agent.bpf.elf.ElfFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A BPF ELF object as clang compiles it for libbpf, parsed (no syscalls) into what loading needs: its
 * maps (BTF-defined .maps, legacy "maps", and one array map per global data section), and its
 * programs, each already linked (the .text subprograms it calls appended, calls and function
 * references fixed) with map references as ld_imm64 BPF_PSEUDO_MAP_IDX(_VALUE) indexes into the
 * program's own list of map names. Parse once, load many times ({@link ObjectLoader}).
 */
public record ObjectSpec(String name, String license, int kernVersion, List<MapDef> maps, List<ProgramDef> programs,
                         Btf btf, Map<String, Long> variableOffsets, Map<String, Long> variableSizes,
                         Map<String, Long> sectionSizes, List<Kconfig> kconfig) {

    /** Where a map comes from: a definition, or a global data section. */
    public enum MapKind { DEFINED, DATA, RODATA, BSS, KCONFIG }

    /** A .kconfig extern: its place in the .kconfig map, its size, its BTF type, whether __weak. */
    public record Kconfig(String name, int offset, int size, int btfType, boolean weak) {
    }

    /** A __ksym extern used by an instruction: a kernel variable (ld_imm64) or a kfunc (call). */
    public record Ksym(int insn, String name, boolean function, boolean weak) {
    }

    /**
     * A map to create. initial: a data section's bytes (value of key 0), or null. pinning: 1 (LIBBPF_PIN_BY_NAME)
     * or 0. inner: the inner map's definition for maps of maps. slots: initial entries naming a map or a
     * program by name (index to name).
     */
    public record MapDef(String name, String section, MapKind kind, int type, int keySize, int valueSize,
                         int maxEntries, int flags, int numaNode, long mapExtra, int pinning, MapDef inner,
                         byte[] initial, int btfKeyType, int btfValueType, Map<Integer, String> slots) {
        public Optional<MapType> mapType() {
            return MapType.of(type);
        }
    }

    /**
     * A program: its function's name, its section, the section's definition (empty when libbpf's
     * conventions know no such section: it then cannot be loaded), the section's target ("do_unlinkat"
     * of "kprobe/do_unlinkat"), its own instruction count, and the linked instructions with the names
     * of the maps they reference (index i of a PSEUDO_MAP_IDX is maps.get(i)).
     */
    public record ProgramDef(String name, String section, Optional<SectionDefs.Def> def, String attachTo,
                             int ownInsnCount, byte[] insns, List<String> maps, List<String> subprograms,
                             byte[] funcInfo, byte[] lineInfo, List<CoreRelocator.Relo> coreRelos,
                             List<Ksym> ksyms) {
        public int insnCount() {
            return insns.length / 8;
        }
    }

    static final int R_BPF_64_64 = 1, R_BPF_64_ABS64 = 2, R_BPF_64_ABS32 = 3, R_BPF_64_NODYLD32 = 4,
            R_BPF_64_32 = 10;
    static final int LD_IMM64 = 0x18, CALL = 0x85;
    static final int BPF_PSEUDO_CALL = 1, BPF_PSEUDO_FUNC = 4, BPF_PSEUDO_MAP_IDX = 5, BPF_PSEUDO_MAP_IDX_VALUE = 6,
            BPF_PSEUDO_BTF_ID = 3, BPF_PSEUDO_FUNC_ADDR_KSYM = 3;
    static final int BPF_OBJ_NAME_LEN = 16;

    /** Parses an object; name (the file's name without ".o") prefixes its data maps' names, as libbpf's do. */
    public static ObjectSpec parse(byte[] bytes, String name) {
        return new Parser(ElfFile.parse(bytes, name), objectName(name)).parse();
    }

    /** libbpf's object name: the file's base name without ".o". */
    static String objectName(String file) {
        String base = file.substring(file.lastIndexOf('/') + 1);
        return base.endsWith(".o") ? base.substring(0, base.length() - 2) : base;
    }

    public Optional<MapDef> map(String name) {
        return maps.stream().filter(m -> m.name().equals(name)).findFirst();
    }

    public Optional<ProgramDef> program(String name) {
        return programs.stream().filter(p -> p.name().equals(name)).findFirst();
    }

    /**
     * The XDP program's libxdp run metadata (XDP_RUN_CONFIG), or empty when the object carries none for
     * it. A member that is neither priority nor an XDP return code, or is not __uint(), is an
     * ElfException naming it (libxdp refuses those too).
     */
    public Optional<XdpRunConfig> xdpRunConfig(String program) {
        if (btf == null) {
            return Optional.empty();
        }
        Optional<Btf.Type> sec = btf.find(Btf.KIND_DATASEC, ".xdp_run_config");
        if (sec.isEmpty()) {
            return Optional.empty();
        }
        for (Btf.Member v : sec.get().members()) {
            Btf.Type var = btf.type(v.type());
            if (var.kind() != Btf.KIND_VAR || !var.name().equals("_" + program)) {
                continue;
            }
            Btf.Type struct = btf.resolve(var.sizeOrType());
            String what = name + ": .xdp_run_config of program '" + program + "'";
            if (struct.kind() != Btf.KIND_STRUCT) {
                throw new ElfException(what + " is not a struct (XDP_RUN_CONFIG declares one)");
            }
            int priority = XdpRunConfig.DEFAULT.priority(), actions = XdpRunConfig.DEFAULT.chainCallActions();
            for (Btf.Member m : struct.members()) {
                Btf.Type ptr = btf.resolve(m.type());
                Btf.Type arr = ptr.kind() == Btf.KIND_PTR ? btf.resolve(ptr.sizeOrType()) : null;
                if (arr == null || arr.kind() != Btf.KIND_ARRAY) {
                    throw new ElfException(what + ": member " + m.name() + " is not __uint(): a pointer to an"
                            + " array whose length is the value");
                }
                int value = arr.arrayNelems();
                int action = XdpRunConfig.ACTIONS.indexOf(m.name());
                if (m.name().equals("priority")) {
                    priority = value;
                } else if (action >= 0) {
                    actions = value != 0 ? actions | 1 << action : actions & ~(1 << action);
                } else {
                    throw new ElfException(what + ": member " + m.name() + " is neither priority nor one of "
                            + XdpRunConfig.ACTIONS);
                }
            }
            return Optional.of(new XdpRunConfig(priority, actions));
        }
        return Optional.empty();
    }

    /** One function in an executable section (a program or a subprogram). */
    private record Func(String name, int section, int start, int length, boolean global) {
    }

    private static final class Parser {
        final ElfFile elf;
        final String objName;
        final String what;
        Btf btf;
        final List<MapDef> maps = new ArrayList<>();
        /** Which map a symbol in a map or data section refers to. */
        final Map<Integer, String> mapSectionIndex = new HashMap<>();
        final Map<String, byte[]> code = new HashMap<>();
        final List<Func> funcs = new ArrayList<>();
        final Map<Integer, List<ElfFile.Relocation>> relocs = new HashMap<>();

        Parser(ElfFile elf, String objName) {
            this.elf = elf;
            this.objName = objName;
            this.what = elf.what();
        }

        ObjectSpec parse() {
            if (elf.machine() != ElfFile.EM_BPF && elf.machine() != 0) {
                throw new ElfException(what + ": e_machine " + elf.machine() + " at offset 18 is not EM_BPF (247): not"
                        + " a BPF object (clang -target bpf)");
            }
            String license = "";
            int kernVersion = 0;
            for (ElfFile.Section s : elf.sections()) {
                if (s.name().equals("license")) {
                    byte[] b = elf.bytes(s);
                    int end = 0;
                    while (end < b.length && b[end] != 0) {
                        end++;
                    }
                    license = new String(b, 0, end, StandardCharsets.US_ASCII);
                } else if (s.name().equals("version") && s.size() == 4) {
                    kernVersion = ByteBuffer.wrap(elf.bytes(s)).order(ByteOrder.LITTLE_ENDIAN).getInt();
                } else if (s.name().equals(".BTF") && s.size() > 0) {
                    try {
                        btf = Btf.parse(elf.bytes(s), what + " .BTF");
                    } catch (BtfException e) {
                        throw new ElfException(e.getMessage());
                    }
                } else if ((s.type() == ElfFile.SHT_REL) && s.info() > 0 && s.info() < elf.sections().size()
                        && usesRelocations(elf.section(s.info()))) {
                    // only code's and .maps' relocations matter to loading (debug info's are libbpf's to skip too)
                    relocs.put(s.info(), elf.relocations(s));
                }
            }
            elf.section(".BTF.ext").filter(x -> x.size() > 0).ifPresent(x -> btfExt(elf.bytes(x)));
            for (ElfFile.Section s : elf.sections()) {
                if (s.name().equals(".maps")) {
                    btfMaps(s);
                } else if (s.name().equals("maps")) {
                    legacyMaps(s);
                } else if (isData(s)) {
                    dataMap(s);
                }
            }
            externs();
            collectFunctions();
            List<ProgramDef> programs = new ArrayList<>();
            for (Func f : funcs) {
                ElfFile.Section s = elf.section(f.section());
                if (s.name().equals(".text")) {
                    continue;
                }
                programs.add(link(f, s.name()));
            }
            Map<String, Long> offsets = new HashMap<>();
            Map<String, Long> sizes = new HashMap<>();
            for (ElfFile.Symbol y : elf.symbols()) {
                if (y.section() > 0 && y.section() < elf.sections().size() && !y.name().isEmpty()
                        && (y.type() == ElfFile.STT_OBJECT || y.type() == ElfFile.STT_NOTYPE)) {
                    String sec = elf.section(y.section()).name();
                    offsets.put(sec + "/" + y.name(), y.value());
                    sizes.put(sec + "/" + y.name(), y.size());
                }
            }
            Map<String, Long> sectionSizes = new HashMap<>();
            for (ElfFile.Section s : elf.sections()) {
                sectionSizes.putIfAbsent(s.name(), s.size());
            }
            return new ObjectSpec(objName, license, kernVersion, List.copyOf(maps), List.copyOf(programs), btf,
                    Map.copyOf(offsets), Map.copyOf(sizes), Map.copyOf(sectionSizes), List.copyOf(kconfig));
        }

        final List<Kconfig> kconfig = new ArrayList<>();
        String kconfigMap;
        /** Extern symbols of .ksyms by name: true for kfuncs. */
        final Map<String, Boolean> ksymFunctions = new HashMap<>();

        /**
         * Externs: .kconfig variables get places in a .kconfig map (filled at load from the running
         * kernel's config); __ksym variables and kfuncs are resolved at load in the kernel's BTF.
         */
        void externs() {
            if (btf == null) {
                return;
            }
            Optional<Btf.Type> kc = btf.find(Btf.KIND_DATASEC, ".kconfig");
            if (kc.isPresent()) {
                int off = 0;
                for (Btf.Member m : kc.get().members()) {
                    Btf.Type var = btf.type(m.type());
                    int size = (int) btf.sizeOf(var.sizeOrType());
                    int align = Math.min(8, Integer.highestOneBit(Math.max(1, size)));
                    off = (off + align - 1) / align * align;
                    boolean weak = elf.symbols().stream().anyMatch(y -> y.name().equals(var.name())
                            && y.bind() == ElfFile.STB_WEAK);
                    kconfig.add(new Kconfig(var.name(), off, size, var.sizeOrType(), weak));
                    off += size;
                }
                if (off > 0) {
                    kconfigMap = internalMapName(".kconfig");
                    maps.add(new MapDef(kconfigMap, ".kconfig", MapKind.KCONFIG, MapType.ARRAY.value, 4,
                            (off + 7) / 8 * 8, 1, 0x80 | 0x400, 0, 0, 0, null, null, 0, 0, Map.of()));
                }
            }
            btf.find(Btf.KIND_DATASEC, ".ksyms").ifPresent(ks -> {
                for (Btf.Member m : ks.members()) {
                    Btf.Type t = btf.type(m.type());
                    ksymFunctions.put(t.name(), t.kind() == Btf.KIND_FUNC);
                }
            });
        }

        static boolean usesRelocations(ElfFile.Section target) {
            return target.isExecutable() || target.name().equals(".maps");
        }

        static boolean isData(ElfFile.Section s) {
            String n = s.name();
            boolean alloc = (s.flags() & ElfFile.SHF_ALLOC) != 0;
            return alloc && !s.isExecutable() && (n.equals(".data") || n.startsWith(".data.") || n.equals(".bss")
                    || n.startsWith(".bss.") || n.equals(".rodata") || n.startsWith(".rodata."));
        }

        /** libbpf's name for a data section's map: the object name's start, then the section name. */
        String internalMapName(String section) {
            int pfx = Math.min(BPF_OBJ_NAME_LEN - 1 - section.length(), objName.length());
            pfx = Math.max(0, Math.min(pfx, 8));
            String n = objName.substring(0, pfx) + section;
            n = n.length() > BPF_OBJ_NAME_LEN - 1 ? n.substring(0, BPF_OBJ_NAME_LEN - 1) : n;
            return n.replaceAll("[^A-Za-z0-9_.]", "_");
        }

        void dataMap(ElfFile.Section s) {
            if (s.size() == 0) {
                return;
            }
            String n = s.name();
            MapKind kind = n.startsWith(".rodata") ? MapKind.RODATA : n.startsWith(".bss") ? MapKind.BSS : MapKind.DATA;
            if (s.size() > Integer.MAX_VALUE / 2) {
                throw new ElfException(what + ": data section " + n + " is " + s.size() + " bytes");
            }
            int flags = 0x400; // BPF_F_MMAPABLE
            if (kind == MapKind.RODATA) {
                flags |= 0x80; // BPF_F_RDONLY_PROG
            }
            String name = internalMapName(n);
            maps.add(new MapDef(name, n, kind, MapType.ARRAY.value, 4, (int) s.size(), 1, flags, 0, 0, 0, null,
                    kind == MapKind.BSS ? null : elf.bytes(s), 0, btfDatasecId(n), Map.of()));
            mapSectionIndex.put(s.index(), name);
        }

        int btfDatasecId(String section) {
            return btf == null ? 0 : btf.find(Btf.KIND_DATASEC, section).map(Btf.Type::id).orElse(0);
        }

        void legacyMaps(ElfFile.Section s) {
            List<ElfFile.Symbol> syms = elf.symbols().stream().filter(y -> y.section() == s.index()
                    && (y.type() == ElfFile.STT_OBJECT || y.type() == ElfFile.STT_NOTYPE) && !y.name().isEmpty())
                    .toList();
            if (syms.isEmpty()) {
                return;
            }
            long defSize = s.size() / syms.size();
            ByteBuffer b = ByteBuffer.wrap(elf.bytes(s)).order(ByteOrder.LITTLE_ENDIAN);
            for (ElfFile.Symbol y : syms) {
                long size = y.size() > 0 ? y.size() : defSize;
                if (y.value() < 0 || size < 20 || y.value() + 20 > s.size()) {
                    throw new ElfException(what + ": legacy map '" + y.name() + "' at offset " + y.value() + " of"
                            + " section maps is not a struct bpf_map_def (20 bytes or more)");
                }
                int at = (int) y.value();
                int numa = size >= 28 ? b.getInt(at + 24) : 0;
                maps.add(new MapDef(y.name(), "maps", MapKind.DEFINED, b.getInt(at), b.getInt(at + 4), b.getInt(at + 8),
                        b.getInt(at + 12), b.getInt(at + 16), numa, 0, 0, null, null, 0, 0, Map.of()));
            }
            mapSectionIndex.put(s.index(), "");
        }

        /** BTF-defined maps: each variable of DATASEC ".maps" is a struct whose members say the map's shape. */
        void btfMaps(ElfFile.Section s) {
            if (btf == null) {
                throw new ElfException(what + ": section .maps needs the object's BTF (.BTF), which is missing:"
                        + " compile with clang -g");
            }
            Btf.Type sec = btf.find(Btf.KIND_DATASEC, ".maps").orElseThrow(() -> new ElfException(what + ": .BTF"
                    + " has no DATASEC .maps describing section .maps"));
            Map<String, Map<Integer, String>> slots = mapSlots(s);
            for (Btf.Member v : sec.members()) {
                Btf.Type var = btf.type(v.type());
                if (var.kind() != Btf.KIND_VAR) {
                    throw new ElfException(what + ": .maps entry type " + var.id() + " is not a variable");
                }
                MapDef def = mapDef(var.name(), var.sizeOrType(), 0);
                maps.add(new MapDef(def.name(), ".maps", MapKind.DEFINED, def.type(), def.keySize(), def.valueSize(),
                        def.maxEntries(), def.flags(), def.numaNode(), def.mapExtra(), def.pinning(), def.inner(), null,
                        def.btfKeyType(), def.btfValueType(), slots.getOrDefault(var.name(), Map.of())));
            }
            mapSectionIndex.put(s.index(), "");
        }

        /** The initial entries of maps of maps and prog arrays: relocations in .rel.maps into "values". */
        Map<String, Map<Integer, String>> mapSlots(ElfFile.Section s) {
            Map<String, Map<Integer, String>> out = new HashMap<>();
            List<ElfFile.Relocation> rs = relocs.getOrDefault(s.index(), List.of());
            if (rs.isEmpty()) {
                return out;
            }
            List<ElfFile.Symbol> vars = elf.symbols().stream().filter(y -> y.section() == s.index()
                    && y.type() == ElfFile.STT_OBJECT).toList();
            for (ElfFile.Relocation r : rs) {
                ElfFile.Symbol target = elf.symbol(r.symbol(), "a relocation of .maps");
                ElfFile.Symbol owner = vars.stream().filter(y -> r.offset() >= y.value() && r.offset() < y.value()
                        + Math.max(1, y.size())).findFirst().orElseThrow(() -> new ElfException(what + ": relocation"
                        + " at offset " + r.offset() + " of .maps is inside no map"));
                Btf.Type var = btf.find(Btf.KIND_VAR, owner.name()).orElseThrow(() -> new ElfException(what + ": map '"
                        + owner.name() + "' has no BTF variable"));
                Btf.Type struct = btf.resolve(var.sizeOrType());
                Btf.Member values = struct.members().stream().filter(m -> m.name().equals("values")).findFirst()
                        .orElseThrow(() -> new ElfException(what + ": map '" + owner.name() + "' is initialised at"
                                + " offset " + r.offset() + " but has no 'values' member"));
                long at = r.offset() - owner.value() - values.offset() / 8;
                if (at < 0 || at % 8 != 0) {
                    throw new ElfException(what + ": relocation at offset " + r.offset() + " of .maps is not a slot of"
                            + " map '" + owner.name() + "'s values");
                }
                out.computeIfAbsent(owner.name(), k -> new LinkedHashMap<>()).put((int) (at / 8), target.name());
            }
            return out;
        }

        /** A map definition from its BTF struct (depth 1 for an inner map's). */
        MapDef mapDef(String name, int typeId, int depth) {
            Btf.Type st = btf.resolve(typeId);
            if (st.kind() != Btf.KIND_STRUCT) {
                throw new ElfException(what + ": map '" + name + "' is not a struct in BTF (type " + typeId + ")");
            }
            int type = 0, keySize = 0, valueSize = 0, max = 0, flags = 0, numa = 0, pinning = 0;
            long extra = 0;
            int keyType = 0, valueType = 0;
            MapDef inner = null;
            for (Btf.Member m : st.members()) {
                switch (m.name()) {
                    case "type" -> type = uint(name, m);
                    case "max_entries" -> max = uint(name, m);
                    case "map_flags" -> flags = uint(name, m);
                    case "numa_node" -> numa = uint(name, m);
                    case "key_size" -> keySize = uint(name, m);
                    case "value_size" -> valueSize = uint(name, m);
                    case "pinning" -> pinning = uint(name, m);
                    case "map_extra" -> extra = uint(name, m) & 0xffffffffL;
                    case "key" -> {
                        keyType = pointee(name, m);
                        keySize = (int) btf.sizeOf(keyType);
                    }
                    case "value" -> {
                        valueType = pointee(name, m);
                        valueSize = (int) btf.sizeOf(valueType);
                    }
                    case "values" -> {
                        Btf.Type arr = btf.resolve(m.type());
                        if (arr.kind() != Btf.KIND_ARRAY) {
                            throw new ElfException(what + ": map '" + name + "'s values is not an array");
                        }
                        Btf.Type ptr = btf.resolve(arr.arrayElem());
                        if (ptr.kind() != Btf.KIND_PTR) {
                            throw new ElfException(what + ": map '" + name + "'s values is not an array of pointers");
                        }
                        Btf.Type to = btf.resolve(ptr.sizeOrType());
                        if (to.kind() == Btf.KIND_STRUCT) {
                            if (depth > 0) {
                                throw new ElfException(what + ": map '" + name + "' nests maps of maps more than once");
                            }
                            inner = mapDef(name + ".inner", to.id(), depth + 1);
                        }
                        valueSize = 4;
                    }
                    default -> {
                        // libbpf ignores members it does not know only in non-strict mode; so do we
                    }
                }
            }
            if (inner != null) {
                keySize = keySize == 0 ? 4 : keySize;
            }
            return new MapDef(name, ".maps", MapKind.DEFINED, type, keySize, valueSize, max, flags, numa, extra, pinning,
                    inner, null, keyType, valueType, Map.of());
        }

        /** __uint(name, N) is "int (*name)[N]": N is the array's element count. */
        int uint(String map, Btf.Member m) {
            Btf.Type p = btf.resolve(m.type());
            if (p.kind() != Btf.KIND_PTR) {
                throw new ElfException(what + ": map '" + map + "'s " + m.name() + " is not __uint(): a pointer to an"
                        + " array whose length is the value");
            }
            Btf.Type a = btf.resolve(p.sizeOrType());
            if (a.kind() != Btf.KIND_ARRAY) {
                throw new ElfException(what + ": map '" + map + "'s " + m.name() + " does not point to an array");
            }
            return a.arrayNelems();
        }

        int pointee(String map, Btf.Member m) {
            Btf.Type p = btf.resolve(m.type());
            if (p.kind() != Btf.KIND_PTR) {
                throw new ElfException(what + ": map '" + map + "'s " + m.name() + " is not __type(): a pointer to the"
                        + " type");
            }
            return p.sizeOrType();
        }

        void collectFunctions() {
            for (ElfFile.Section s : elf.sections()) {
                if (!s.isExecutable() || s.size() == 0 || s.type() != ElfFile.SHT_PROGBITS) {
                    continue;
                }
                if (s.size() % 8 != 0) {
                    throw new ElfException(what + ": section " + s.name() + "'s size " + s.size() + " is not a whole"
                            + " number of instructions");
                }
                code.put(s.name(), elf.bytes(s));
                List<ElfFile.Symbol> fs = elf.symbols().stream().filter(y -> y.section() == s.index()
                        && y.type() == ElfFile.STT_FUNC).sorted(java.util.Comparator.comparingLong(ElfFile.Symbol::value))
                        .toList();
                for (ElfFile.Symbol y : fs) {
                    long len = y.size();
                    if (y.value() % 8 != 0 || len % 8 != 0 || y.value() < 0 || len <= 0 || y.value() + len > s.size()) {
                        throw new ElfException(what + ": function '" + y.name() + "' (offset " + y.value() + ", "
                                + len + " bytes) is not whole instructions inside section " + s.name());
                    }
                    funcs.add(new Func(y.name(), s.index(), (int) (y.value() / 8), (int) (len / 8),
                            y.bind() != ElfFile.STB_LOCAL));
                }
            }
        }

        Func funcAt(int section, int insn) {
            for (Func f : funcs) {
                if (f.section() == section && insn >= f.start() && insn < f.start() + f.length()) {
                    return f;
                }
            }
            throw new ElfException(what + ": a call or function reference to instruction " + insn + " of section "
                    + elf.section(section).name() + ", where no function is");
        }

        ElfFile.Relocation relocAt(int section, long offset) {
            for (ElfFile.Relocation r : relocs.getOrDefault(section, List.of())) {
                if (r.offset() == offset) {
                    return r;
                }
            }
            return null;
        }

        /** A call or function reference to fix once every function's place is known. */
        record Fix(int at, Func callee, int delta) {
        }

        /** A program's instructions with every function it calls appended once, calls and maps fixed. */
        ProgramDef link(Func main, String sectionName) {
            Optional<SectionDefs.Def> def = SectionDefs.find(sectionName);
            String attachTo = def.map(d -> SectionDefs.target(d, sectionName)).orElse("");
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            Map<Func, Integer> placed = new LinkedHashMap<>();
            List<Func> queue = new ArrayList<>(List.of(main));
            List<String> mapNames = new ArrayList<>();
            List<Fix> fixes = new ArrayList<>();
            List<Ksym> ksyms = new ArrayList<>();
            int total = 0;
            for (int q = 0; q < queue.size(); q++) {
                Func f = queue.get(q);
                placed.put(f, total);
                byte[] sec = code.get(elf.section(f.section()).name());
                byte[] body = java.util.Arrays.copyOfRange(sec, f.start() * 8, (f.start() + f.length()) * 8);
                ByteBuffer b = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < f.length(); i++) {
                    int op = b.get(i * 8) & 0xff;
                    int src = (b.get(i * 8 + 1) & 0xff) >> 4;
                    long secOffset = (long) (f.start() + i) * 8;
                    ElfFile.Relocation r = relocAt(f.section(), secOffset);
                    if (op == LD_IMM64) {
                        if (i + 1 >= f.length()) {
                            throw new ElfException(what + ": ld_imm64 at instruction " + (f.start() + i) + " of "
                                    + elf.section(f.section()).name() + " has no second half");
                        }
                        if (r != null) {
                            Fix fix = ldImm64(b, i, r, f, mapNames, ksyms, total);
                            if (fix != null) {
                                queueOnce(queue, fix.callee());
                                fixes.add(new Fix(total + i, fix.callee(), fix.delta()));
                            }
                        }
                        i++;
                    } else if (op == CALL && src == BPF_PSEUDO_CALL) {
                        int imm = b.getInt(i * 8 + 4);
                        int targetSection = f.section();
                        long targetInsn = f.start() + i + imm + 1; // a static function of the same section
                        if (r != null) {
                            ElfFile.Symbol y = elf.symbol(r.symbol(), "the call at offset " + secOffset);
                            if (y.section() == ElfFile.SHN_UNDEF) {
                                if (!Boolean.TRUE.equals(ksymFunctions.get(y.name()))) {
                                    throw new ElfException(what + ": program '" + main.name() + "' calls '"
                                            + y.name() + "', which this object does not define and its BTF does not"
                                            + " declare as a kfunc (__ksym)");
                                }
                                b.put(i * 8 + 1, (byte) ((2 << 4) | (b.get(i * 8 + 1) & 0x0f))); // PSEUDO_KFUNC_CALL
                                b.putInt(i * 8 + 4, 0);
                                ksyms.add(new Ksym(total + i, y.name(), true, y.bind() == ElfFile.STB_WEAK));
                                continue;
                            }
                            targetSection = y.section();
                            targetInsn = y.value() / 8 + imm + 1;
                        }
                        Func callee = funcAt(targetSection, (int) targetInsn);
                        queueOnce(queue, callee);
                        fixes.add(new Fix(total + i, callee, (int) (targetInsn - callee.start())));
                    } else if (r != null) {
                        throw new ElfException(what + ": relocation at offset " + secOffset + " of "
                                + elf.section(f.section()).name() + " is on an instruction (opcode 0x"
                                + Integer.toHexString(op) + ") that is neither ld_imm64 nor a call");
                    }
                }
                out.writeBytes(body);
                total += f.length();
            }
            byte[] insns = out.toByteArray();
            ByteBuffer all = ByteBuffer.wrap(insns).order(ByteOrder.LITTLE_ENDIAN);
            for (Fix fix : fixes) {
                all.putInt(fix.at() * 8 + 4, placed.get(fix.callee()) + fix.delta() - (fix.at() + 1));
            }
            List<String> subs = placed.keySet().stream().filter(f -> f != main).map(Func::name).toList();
            List<CoreRelocator.Relo> core = new ArrayList<>();
            for (Map.Entry<Func, Integer> e : placed.entrySet()) {
                Func f = e.getKey();
                for (long[] r : coreRelo.getOrDefault(elf.section(f.section()).name(), List.of())) {
                    long insn = r[0] / 8;
                    if (insn >= f.start() && insn < f.start() + f.length()) {
                        core.add(new CoreRelocator.Relo((int) (e.getValue() + insn - f.start()), (int) r[1],
                                btf.string(r[2], what + " .BTF.ext core_relo"), (int) r[3]));
                    }
                }
            }
            java.io.ByteArrayOutputStream fi = new java.io.ByteArrayOutputStream();
            java.io.ByteArrayOutputStream li = new java.io.ByteArrayOutputStream();
            for (Map.Entry<Func, Integer> e : placed.entrySet()) {
                String secName = elf.section(e.getKey().section()).name();
                ext(funcInfo, secName, e.getKey(), e.getValue(), fi);
                ext(lineInfo, secName, e.getKey(), e.getValue(), li);
            }
            return new ProgramDef(main.name(), sectionName, def, attachTo, main.length(), insns, List.copyOf(mapNames),
                    subs, fi.toByteArray(), li.toByteArray(), List.copyOf(core), List.copyOf(ksyms));
        }

        /** .BTF.ext records of a section: byte offset in the section, then the rest of the record. */
        final Map<String, List<long[]>> funcInfo = new HashMap<>();
        final Map<String, List<long[]>> lineInfo = new HashMap<>();
        final Map<String, List<long[]>> coreRelo = new HashMap<>();

        /** The records of f (by its place in the section), moved to where f sits in the program (insn units). */
        static void ext(Map<String, List<long[]>> info, String section, Func f, int at, java.io.ByteArrayOutputStream out) {
            for (long[] r : info.getOrDefault(section, List.of())) {
                long insn = r[0] / 8;
                if (insn >= f.start() && insn < f.start() + f.length()) {
                    ByteBuffer b = ByteBuffer.allocate(4 * r.length).order(ByteOrder.LITTLE_ENDIAN);
                    b.putInt((int) (at + insn - f.start()));
                    for (int k = 1; k < r.length; k++) {
                        b.putInt((int) r[k]);
                    }
                    out.writeBytes(b.array());
                }
            }
        }

        /**
         * .BTF.ext: func_info (insn_off, type_id) and line_info (insn_off, file_name_off, line_off,
         * line_col) records, grouped by section name (a string of .BTF).
         */
        void btfExt(byte[] raw) {
            ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            String where = what + " .BTF.ext";
            if (raw.length < 24 || (b.getShort(0) & 0xffff) != 0xeB9F) {
                throw new ElfException(where + ": not BTF.ext (too short or bad magic at offset 0)");
            }
            long hdr = b.getInt(4) & 0xffffffffL;
            if (hdr < 24 || hdr > raw.length) {
                throw new ElfException(where + ": header length " + hdr + " at offset 4 is past the end");
            }
            extSection(b, where, "func_info", hdr + (b.getInt(8) & 0xffffffffL), b.getInt(12) & 0xffffffffL, 8, 2,
                    funcInfo);
            extSection(b, where, "line_info", hdr + (b.getInt(16) & 0xffffffffL), b.getInt(20) & 0xffffffffL, 16, 4,
                    lineInfo);
            if (hdr >= 32) {
                extSection(b, where, "core_relo", hdr + (b.getInt(24) & 0xffffffffL), b.getInt(28) & 0xffffffffL, 16,
                        4, coreRelo);
                if (!coreRelo.isEmpty() && btf == null) {
                    throw new ElfException(where + ": CO-RE relocations without the object's BTF (.BTF)");
                }
            }
        }

        void extSection(ByteBuffer b, String where, String kind, long off, long len, int minRec, int fields,
                        Map<String, List<long[]>> into) {
            if (len == 0) {
                return;
            }
            if (off + len > b.limit() || len < 4) {
                throw new ElfException(where + ": " + kind + " at offset " + off + " (" + len + " bytes) runs past the"
                        + " end (" + b.limit() + " bytes)");
            }
            int recSize = b.getInt((int) off);
            if (recSize < minRec || recSize % 4 != 0 || recSize > 256) {
                throw new ElfException(where + ": " + kind + " record size " + recSize + " at offset " + off
                        + " is not plausible");
            }
            long p = off + 4, end = off + len;
            while (p < end) {
                if (p + 8 > end) {
                    throw new ElfException(where + ": " + kind + " section header at offset " + p + " runs past the end");
                }
                String sec = btf == null ? "" : btfString(b.getInt((int) p), where);
                long n = b.getInt((int) p + 4) & 0xffffffffL;
                p += 8;
                if (n > (end - p) / recSize) {
                    throw new ElfException(where + ": " + n + " " + kind + " records at offset " + p + " run past the"
                            + " end");
                }
                List<long[]> list = into.computeIfAbsent(sec, k -> new ArrayList<>());
                for (long i = 0; i < n; i++, p += recSize) {
                    long[] r = new long[fields];
                    for (int k = 0; k < fields; k++) {
                        r[k] = b.getInt((int) p + 4 * k) & 0xffffffffL;
                    }
                    list.add(r);
                }
            }
        }

        String btfString(int off, String where) {
            return btf.string(off & 0xffffffffL, where);
        }

        static void queueOnce(List<Func> queue, Func f) {
            if (!queue.contains(f)) {
                queue.add(f);
            }
        }

        /** Patches an ld_imm64 by its relocation; a function reference comes back as a fix (its at relative). */
        Fix ldImm64(ByteBuffer b, int i, ElfFile.Relocation r, Func f, List<String> mapNames, List<Ksym> ksyms,
                    int base) {
            ElfFile.Symbol y = elf.symbol(r.symbol(), "the ld_imm64 at instruction " + (f.start() + i));
            String secName = y.section() > 0 && y.section() < elf.sections().size()
                    ? elf.section(y.section()).name() : "";
            if (y.section() == ElfFile.SHN_UNDEF) {
                Optional<Kconfig> kc = kconfig.stream().filter(k -> k.name().equals(y.name())).findFirst();
                if (kc.isPresent()) {
                    setSrc(b, i, BPF_PSEUDO_MAP_IDX_VALUE);
                    b.putInt(i * 8 + 4, mapIndex(mapNames, kconfigMap));
                    b.putInt(i * 8 + 12, kc.get().offset());
                    return null;
                }
                if (ksymFunctions.containsKey(y.name())) {
                    setSrc(b, i, ksymFunctions.get(y.name()) ? BPF_PSEUDO_FUNC_ADDR_KSYM : BPF_PSEUDO_BTF_ID);
                    b.putInt(i * 8 + 4, 0);
                    b.putInt(i * 8 + 12, 0);
                    ksyms.add(new Ksym(base + i, y.name(), ksymFunctions.get(y.name()), y.bind() == ElfFile.STB_WEAK));
                    return null;
                }
                throw new ElfException(what + ": instruction " + (f.start() + i) + " of "
                        + elf.section(f.section()).name() + " refers to extern '" + y.name() + "', which neither"
                        + " .kconfig nor .ksyms declares in the object's BTF");
            }
            String mapName = mapSectionIndex.get(y.section());
            if (mapName != null && !mapName.isEmpty()) { // a data section: a pointer into its map's value
                int idx = mapIndex(mapNames, mapName);
                int off = b.getInt(i * 8 + 4) + (int) y.value();
                setSrc(b, i, BPF_PSEUDO_MAP_IDX_VALUE);
                b.putInt(i * 8 + 4, idx);
                b.putInt(i * 8 + 12, off);
                return null;
            }
            if (mapName != null) { // .maps or maps: the map itself
                String name = secName.equals("maps") ? legacyMapAt(y) : y.name();
                if (maps.stream().noneMatch(m -> m.name().equals(name))) {
                    throw new ElfException(what + ": instruction " + (f.start() + i) + " refers to map '" + name
                            + "', which section " + secName + " does not define");
                }
                setSrc(b, i, BPF_PSEUDO_MAP_IDX);
                b.putInt(i * 8 + 4, mapIndex(mapNames, name));
                b.putInt(i * 8 + 12, 0);
                return null;
            }
            ElfFile.Section ys = elf.section(y.section());
            if (ys.isExecutable()) { // a function's address (a callback for bpf_loop, timers, ...)
                long targetInsn = y.type() == ElfFile.STT_SECTION ? b.getInt(i * 8 + 4) / 8 : y.value() / 8
                        + b.getInt(i * 8 + 4) / 8;
                Func callee = funcAt(y.section(), (int) targetInsn);
                setSrc(b, i, BPF_PSEUDO_FUNC);
                b.putInt(i * 8 + 4, 0);
                return new Fix(i, callee, (int) (targetInsn - callee.start()));
            }
            throw new ElfException(what + ": instruction " + (f.start() + i) + " of " + elf.section(f.section()).name()
                    + " refers to '" + y.name() + "' in section " + ys.name() + ", which is neither a map, global data"
                    + " nor code");
        }

        String legacyMapAt(ElfFile.Symbol y) {
            if (!y.name().isEmpty() && y.type() != ElfFile.STT_SECTION) {
                return y.name();
            }
            throw new ElfException(what + ": a reference into section maps by section symbol");
        }

        static void setSrc(ByteBuffer b, int i, int src) {
            int regs = b.get(i * 8 + 1) & 0x0f;
            b.put(i * 8 + 1, (byte) ((src << 4) | regs));
        }

        static int mapIndex(List<String> names, String name) {
            int at = names.indexOf(name);
            if (at < 0) {
                names.add(name);
                at = names.size() - 1;
            }
            return at;
        }
    }
}
