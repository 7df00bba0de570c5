package dev.bpfagent.agent.bpf.elf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Function symbols of an ELF64 little-endian executable or shared library, for uprobes: a name (with
 * an optional symbol version, "malloc@@GLIBC_2.2.5" or "name@VERSION") to the file offset the kernel's
 * uprobe takes. Reads .symtab and .dynsym, .gnu.version and .gnu.verdef; every offset is bounds-checked
 * and a malformed file is an {@link ElfException}, never an index error.
 */
public final class ElfSymbols {
    static final int SHT_SYMTAB = 2, SHT_DYNSYM = 11;
    static final int SHT_GNU_VERSYM = 0x6fffffff, SHT_GNU_VERDEF = 0x6ffffffd;
    static final int PT_LOAD = 1;
    static final int STT_FUNC = 2, STT_GNU_IFUNC = 10;
    static final int VERSYM_HIDDEN = 0x8000;

    /** One function symbol: its name, version ("" when unversioned), whether that version is the default. */
    public record Symbol(String name, String version, boolean defaultVersion, long value, long size, long fileOffset) {
    }

    private final List<Symbol> functions;

    private ElfSymbols(List<Symbol> functions) {
        this.functions = functions;
    }

    /** Reads a file's function symbols; {@link ElfException} if it is not an ELF64 little-endian object. */
    public static ElfSymbols read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw new ElfException(file + " is larger than 2 GiB");
            }
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
            return new ElfSymbols(parse(b, file.toString()));
        }
    }

    public List<Symbol> functions() {
        return functions;
    }

    /**
     * The file offset of a function: "name" (the default version if versioned, else the only one),
     * "name@@VERSION" (that default version) or "name@VERSION" (that version). Empty when absent.
     */
    public Optional<Symbol> find(String query) {
        int at = query.indexOf('@');
        String name = at < 0 ? query : query.substring(0, at);
        String version = at < 0 ? null : query.substring(query.startsWith("@@", at) ? at + 2 : at + 1);
        boolean wantDefault = at >= 0 && query.startsWith("@@", at);
        Symbol best = null;
        for (Symbol s : functions) {
            if (!s.name().equals(name) || s.fileOffset() < 0) {
                continue;
            }
            if (version != null) {
                if (s.version().equals(version) && (!wantDefault || s.defaultVersion())) {
                    return Optional.of(s);
                }
                continue;
            }
            if (best == null || (s.defaultVersion() && !best.defaultVersion())) {
                best = s;
            }
        }
        return Optional.ofNullable(best);
    }

    private record Section(int type, long offset, long size, int link, long entsize, long addr) {
    }

    private record Segment(long offset, long vaddr, long filesz) {
    }

    static List<Symbol> parse(ByteBuffer b, String what) {
        check(b.limit() >= 64 && b.getInt(0) == 0x464c457f, what + " is not an ELF file");
        check(b.get(4) == 2, what + " is not a 64-bit ELF file");
        check(b.get(5) == 1, what + " is big-endian: only little-endian objects are read");
        long phoff = b.getLong(32);
        long shoff = b.getLong(40);
        int phentsize = b.getShort(54) & 0xffff, phnum = b.getShort(56) & 0xffff;
        int shentsize = b.getShort(58) & 0xffff, shnum = b.getShort(60) & 0xffff;
        List<Segment> loads = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int p = range(b, phoff + (long) i * phentsize, 56, what);
            if (b.getInt(p) == PT_LOAD) {
                loads.add(new Segment(b.getLong(p + 8), b.getLong(p + 16), b.getLong(p + 32)));
            }
        }
        List<Section> sections = new ArrayList<>();
        for (int i = 0; i < shnum; i++) {
            int s = range(b, shoff + (long) i * shentsize, 64, what);
            sections.add(new Section(b.getInt(s + 4), b.getLong(s + 24), b.getLong(s + 32), b.getInt(s + 40),
                    b.getLong(s + 56), b.getLong(s + 16)));
        }
        List<Symbol> out = new ArrayList<>();
        for (Section sec : sections) {
            if (sec.type() != SHT_SYMTAB && sec.type() != SHT_DYNSYM) {
                continue;
            }
            check(sec.link() >= 0 && sec.link() < sections.size(), what + ": a symbol table's string table is missing");
            Section strtab = sections.get(sec.link());
            String[] versions = sec.type() == SHT_DYNSYM ? versionNames(b, sections, what) : new String[0];
            int[] versym = sec.type() == SHT_DYNSYM ? versym(b, sections, what) : new int[0];
            long count = sec.entsize() == 0 ? 0 : sec.size() / sec.entsize();
            for (int i = 1; i < count; i++) {
                int e = range(b, sec.offset() + i * sec.entsize(), 24, what);
                int info = b.get(e + 4) & 0xff;
                int type = info & 0xf;
                int shndx = b.getShort(e + 6) & 0xffff;
                long value = b.getLong(e + 8);
                if ((type != STT_FUNC && type != STT_GNU_IFUNC) || shndx == 0 || value == 0) {
                    continue;
                }
                String name = string(b, strtab, b.getInt(e) & 0xffffffffL, what);
                String version = "";
                boolean isDefault = true;
                if (i < versym.length) {
                    int ndx = versym[i] & 0x7fff;
                    isDefault = (versym[i] & VERSYM_HIDDEN) == 0;
                    version = ndx < versions.length && versions[ndx] != null ? versions[ndx] : "";
                }
                out.add(new Symbol(name, version, isDefault, value, b.getLong(e + 16), fileOffset(loads, value)));
            }
        }
        return List.copyOf(out);
    }

    /** The file offset of a virtual address: where its PT_LOAD segment's bytes are in the file; -1 if none. */
    private static long fileOffset(List<Segment> loads, long vaddr) {
        for (Segment s : loads) {
            if (vaddr >= s.vaddr() && vaddr < s.vaddr() + s.filesz()) {
                return vaddr - s.vaddr() + s.offset();
            }
        }
        return -1;
    }

    private static int[] versym(ByteBuffer b, List<Section> sections, String what) {
        for (Section s : sections) {
            if (s.type() == SHT_GNU_VERSYM) {
                int n = (int) Math.min(s.size() / 2, Integer.MAX_VALUE);
                int base = range(b, s.offset(), (long) n * 2, what);
                int[] out = new int[n];
                for (int i = 0; i < n; i++) {
                    out[i] = b.getShort(base + i * 2) & 0xffff;
                }
                return out;
            }
        }
        return new int[0];
    }

    /** Version names by index, from .gnu.verdef (Elf64_Verdef chains, each naming itself in its first aux). */
    private static String[] versionNames(ByteBuffer b, List<Section> sections, String what) {
        for (Section s : sections) {
            if (s.type() != SHT_GNU_VERDEF) {
                continue;
            }
            check(s.link() >= 0 && s.link() < sections.size(), what + ": .gnu.verdef has no string table");
            Section strtab = sections.get(s.link());
            List<String> names = new ArrayList<>();
            long off = s.offset();
            for (int guard = 0; guard < 65536; guard++) {
                int d = range(b, off, 20, what);
                int ndx = b.getShort(d + 4) & 0xffff;
                long aux = b.getInt(d + 12) & 0xffffffffL;
                long next = b.getInt(d + 16) & 0xffffffffL;
                int a = range(b, off + aux, 8, what);
                while (names.size() <= ndx) {
                    names.add(null);
                }
                names.set(ndx, string(b, strtab, b.getInt(a) & 0xffffffffL, what));
                if (next == 0) {
                    break;
                }
                off += next;
            }
            return names.toArray(new String[0]);
        }
        return new String[0];
    }

    private static String string(ByteBuffer b, Section strtab, long index, String what) {
        check(index < strtab.size(), what + ": a name points outside its string table");
        int start = range(b, strtab.offset() + index, 1, what);
        int end = start;
        long limit = Math.min(b.limit(), strtab.offset() + strtab.size());
        while (end < limit && b.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - start];
        b.get(start, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** offset as an int index, after checking offset..offset+len lies in the file. */
    private static int range(ByteBuffer b, long offset, long len, String what) {
        check(offset >= 0 && len >= 0 && offset <= b.limit() && len <= b.limit() - offset,
                what + ": a table at " + offset + " (" + len + " bytes) runs past the end of the file");
        return (int) offset;
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new ElfException(message);
        }
    }
}
