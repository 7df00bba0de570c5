package dev.bpfagent.agent.bpf.elf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * A relocatable ELF64 little-endian object as clang writes BPF objects: its sections, its symbol
 * table and its relocation sections, read from bytes. Every header, offset, size and index is checked
 * against the file before use; anything out of bounds is an {@link ElfException} naming the section
 * and the offset, never an index error. Nothing is copied: sections are read-only views of the bytes.
 */
public final class ElfFile {
    public static final int SHT_NULL = 0, SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_RELA = 4,
            SHT_NOBITS = 8, SHT_REL = 9;
    public static final long SHF_WRITE = 1, SHF_ALLOC = 2, SHF_EXECINSTR = 4;
    public static final int STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2, STT_SECTION = 3;
    public static final int STB_LOCAL = 0, STB_GLOBAL = 1, STB_WEAK = 2;
    public static final int SHN_UNDEF = 0, SHN_ABS = 0xfff1, SHN_COMMON = 0xfff2;
    public static final int EM_BPF = 247, ET_REL = 1;
    /** Sections and symbols past these counts are refused: no real object comes near them. */
    static final int MAX_SECTIONS = 65_280, MAX_SYMBOLS = 1 << 20, MAX_RELOCATIONS = 1 << 22;

    /** One section header, and its name from .shstrtab. */
    public record Section(int index, String name, int type, long flags, long offset, long size, int link, int info,
                          long entsize) {
        public boolean isExecutable() {
            return (flags & SHF_EXECINSTR) != 0;
        }

        /** Bytes in the file (none for SHT_NOBITS, such as .bss). */
        public long fileSize() {
            return type == SHT_NOBITS ? 0 : size;
        }
    }

    /** One entry of .symtab. */
    public record Symbol(int index, String name, int type, int bind, int visibility, int section, long value,
                         long size) {
    }

    /** One relocation: where in the target section (bytes), which symbol, which type (R_BPF_*). */
    public record Relocation(long offset, int symbol, int type, long addend) {
    }

    private final ByteBuffer data;
    private final String what;
    private final int machine;
    private final List<Section> sections;
    private final List<Symbol> symbols;

    private ElfFile(ByteBuffer data, String what, int machine, List<Section> sections, List<Symbol> symbols) {
        this.data = data;
        this.what = what;
        this.machine = machine;
        this.sections = sections;
        this.symbols = symbols;
    }

    /** Parses the headers and the symbol table; what names the object in messages. */
    public static ElfFile parse(byte[] bytes, String what) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        check(bytes.length >= 64, what + ": " + bytes.length + " bytes is too short for an ELF header (64)");
        check(b.get(0) == 0x7f && b.get(1) == 'E' && b.get(2) == 'L' && b.get(3) == 'F', what + ": not an ELF file"
                + " (no \\x7fELF magic at offset 0)");
        check(b.get(4) == 2, what + ": not a 64-bit ELF file (EI_CLASS " + b.get(4) + " at offset 4): BPF objects"
                + " are ELF64");
        check(b.get(5) != 2, what + ": a big-endian ELF file (EI_DATA 2 at offset 5): this agent loads"
                + " little-endian BPF objects (clang -target bpfel, or bpf on x86 and arm64 hosts)");
        check(b.get(5) == 1, what + ": bad EI_DATA " + b.get(5) + " at offset 5");
        int type = b.getShort(16) & 0xffff;
        int machine = b.getShort(18) & 0xffff;
        check(type == ET_REL, what + ": e_type " + type + " at offset 16 is not a relocatable object (ET_REL 1):"
                + " BPF objects come from clang -c");
        long shoff = b.getLong(40);
        int shentsize = b.getShort(58) & 0xffff;
        int shnum = b.getShort(60) & 0xffff;
        int shstrndx = b.getShort(62) & 0xffff;
        check(shoff > 0 && shoff < bytes.length, what + ": e_shoff " + shoff + " at offset 40 is outside the"
                + " file (" + bytes.length + " bytes)");
        if (shnum == 0) { // more than 0xff00 sections: the count is in section 0's sh_size
            check(shoff + 64 <= bytes.length, what + ": section header 0 at " + shoff + " runs past the end");
            long n = b.getLong((int) shoff + 32);
            check(n > 0 && n <= MAX_SECTIONS, what + ": section count " + n + " (from section 0) is not plausible");
            shnum = (int) n;
        }
        check(shnum <= MAX_SECTIONS, what + ": e_shnum " + shnum + " at offset 60 is more sections than an ELF"
                + " file has (at most " + MAX_SECTIONS + ")");
        check(shentsize == 64, what + ": e_shentsize " + shentsize + " at offset 58 is not 64");
        check(shoff + (long) shnum * 64 <= bytes.length, what + ": " + shnum + " section headers from offset "
                + shoff + " run past the end of the file (" + bytes.length + " bytes)");
        if (shstrndx == 0xffff) {
            shstrndx = b.getInt((int) shoff + 40);
        }
        check(shstrndx > 0 && shstrndx < shnum, what + ": e_shstrndx " + shstrndx + " at offset 62 is not a"
                + " section");

        List<long[]> raw = new ArrayList<>(shnum);
        for (int i = 0; i < shnum; i++) {
            int h = (int) (shoff + i * 64L);
            long[] f = {b.getInt(h) & 0xffffffffL, b.getInt(h + 4) & 0xffffffffL, b.getLong(h + 8), b.getLong(h + 24),
                    b.getLong(h + 32), b.getInt(h + 40) & 0xffffffffL, b.getInt(h + 44) & 0xffffffffL,
                    b.getLong(h + 56)};
            if (f[1] != SHT_NOBITS && f[1] != SHT_NULL) {
                check(f[3] >= 0 && f[4] >= 0 && f[3] <= bytes.length && f[4] <= bytes.length - f[3], what
                        + ": section " + i + " (header at offset " + h + ") spans bytes " + f[3] + ".." + (f[3] + f[4])
                        + ", past the end of the file (" + bytes.length + " bytes)");
            }
            raw.add(f);
        }
        long[] shstr = raw.get(shstrndx);
        check(shstr[1] == SHT_STRTAB, what + ": section " + shstrndx + " (e_shstrndx) is not a string table");
        List<Section> sections = new ArrayList<>(shnum);
        for (int i = 0; i < shnum; i++) {
            long[] f = raw.get(i);
            String name = i == 0 ? "" : string(b, shstr[3], shstr[4], f[0], what, "section " + i + "'s name");
            sections.add(new Section(i, name, (int) f[1], f[2], f[3], f[4], (int) f[5], (int) f[6], f[7]));
        }

        List<Symbol> symbols = List.of();
        Section symtab = null;
        for (Section s : sections) {
            if (s.type() == SHT_SYMTAB) {
                check(symtab == null, what + ": more than one symbol table (sections " + (symtab == null ? 0
                        : symtab.index()) + " and " + s.index() + ")");
                symtab = s;
            }
        }
        if (symtab != null) {
            check(symtab.entsize() == 24, what + ": .symtab entries of " + symtab.entsize() + " bytes, not 24");
            check(symtab.size() % 24 == 0, what + ": .symtab's size " + symtab.size() + " is not a multiple of 24");
            long count = symtab.size() / 24;
            check(count <= MAX_SYMBOLS, what + ": " + count + " symbols");
            check(symtab.link() > 0 && symtab.link() < shnum && sections.get(symtab.link()).type() == SHT_STRTAB,
                    what + ": .symtab's sh_link " + symtab.link() + " is not a string table");
            Section strtab = sections.get(symtab.link());
            List<Symbol> syms = new ArrayList<>((int) count);
            for (int i = 0; i < count; i++) {
                int at = (int) (symtab.offset() + i * 24L);
                long nameOff = b.getInt(at) & 0xffffffffL;
                int info = b.get(at + 4) & 0xff;
                int other = b.get(at + 5) & 0xff;
                int shndx = b.getShort(at + 6) & 0xffff;
                String name = nameOff == 0 ? "" : string(b, strtab.offset(), strtab.size(), nameOff, what,
                        "symbol " + i + "'s name");
                syms.add(new Symbol(i, name, info & 0xf, info >> 4, other & 0x3, shndx, b.getLong(at + 8),
                        b.getLong(at + 16)));
            }
            symbols = Collections.unmodifiableList(syms);
        }
        return new ElfFile(b, what, machine, Collections.unmodifiableList(sections), symbols);
    }

    private static String string(ByteBuffer b, long tableOff, long tableSize, long off, String what, String whose) {
        check(off < tableSize, what + ": " + whose + " (offset " + off + ") is past its string table ("
                + tableSize + " bytes)");
        int start = (int) (tableOff + off);
        int end = start;
        int limit = (int) (tableOff + tableSize);
        while (end < limit && b.get(end) != 0) {
            end++;
        }
        check(end < limit, what + ": " + whose + " at offset " + off + " has no terminating NUL");
        byte[] s = new byte[end - start];
        b.get(start, s);
        return new String(s, StandardCharsets.UTF_8);
    }

    static void check(boolean ok, String message) {
        if (!ok) {
            throw new ElfException(message);
        }
    }

    public int machine() {
        return machine;
    }

    public List<Section> sections() {
        return sections;
    }

    public Optional<Section> section(String name) {
        return sections.stream().filter(s -> s.name().equals(name)).findFirst();
    }

    public Section section(int index) {
        check(index > 0 && index < sections.size(), what + ": section index " + index + " is not a section");
        return sections.get(index);
    }

    public List<Symbol> symbols() {
        return symbols;
    }

    public Symbol symbol(int index, String whose) {
        check(index >= 0 && index < symbols.size(), what + ": " + whose + " names symbol " + index + ", past the"
                + " symbol table (" + symbols.size() + " symbols)");
        return symbols.get(index);
    }

    /** A copy of a section's bytes (zeros for SHT_NOBITS). */
    public byte[] bytes(Section s) {
        check(s.size() <= Integer.MAX_VALUE - 8, what + ": section " + s.name() + " is " + s.size() + " bytes");
        byte[] out = new byte[(int) s.size()];
        if (s.type() != SHT_NOBITS) {
            data.get((int) s.offset(), out);
        }
        return out;
    }

    /**
     * The relocations of a SHT_REL or SHT_RELA section, each checked to fall inside its target section
     * and to name a symbol of the table.
     */
    public List<Relocation> relocations(Section rel) {
        boolean rela = rel.type() == SHT_RELA;
        check(rel.type() == SHT_REL || rela, what + ": section " + rel.name() + " holds no relocations");
        int entsize = rela ? 24 : 16;
        check(rel.size() % entsize == 0, what + ": relocation section " + rel.name() + "'s size " + rel.size()
                + " is not a multiple of " + entsize);
        long count = rel.size() / entsize;
        check(count <= MAX_RELOCATIONS, what + ": " + count + " relocations in " + rel.name());
        Section target = section(rel.info());
        List<Relocation> out = new ArrayList<>((int) count);
        for (int i = 0; i < count; i++) {
            int at = (int) (rel.offset() + i * (long) entsize);
            long offset = data.getLong(at);
            long info = data.getLong(at + 8);
            int sym = (int) (info >>> 32);
            int type = (int) info;
            check(offset >= 0 && offset < target.size(), what + ": relocation " + i + " of " + rel.name()
                    + " (at file offset " + at + ") points at byte " + offset + ", outside " + target.name() + " ("
                    + target.size() + " bytes)");
            symbol(sym, "relocation " + i + " of " + rel.name());
            out.add(new Relocation(offset, sym, type, rela ? data.getLong(at + 16) : 0));
        }
        return out;
    }

    public String what() {
        return what;
    }
}
