package dev.bpfagent.agent.bpf.btf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A read-only walk over raw BTF (a .BTF section, /sys/kernel/btf/vmlinux, or a module's split BTF on
 * top of vmlinux): finds a type by kind and name and gives its id. Every record is bounds-checked; no
 * index is kept (a lookup walks the types once: kernel BTF is read for loads that name a function,
 * which are rare, and an index of every name would cost the agent megabytes for good).
 */
public final class BtfTypes {
    public static final int MAGIC = 0xeB9F;

    /** BTF_KIND_*: the kinds a lookup asks for. */
    public enum Kind {
        INT(1), PTR(2), ARRAY(3), STRUCT(4), UNION(5), ENUM(6), FWD(7), TYPEDEF(8), VOLATILE(9), CONST(10),
        RESTRICT(11), FUNC(12), FUNC_PROTO(13), VAR(14), DATASEC(15), FLOAT(16), DECL_TAG(17), TYPE_TAG(18),
        ENUM64(19);

        public final int value;

        Kind(int value) {
            this.value = value;
        }
    }

    private final ByteBuffer types;
    private final ByteBuffer strings;
    /** For split BTF: the base's, whose ids and string offsets come first; else null. */
    private final BtfTypes base;
    private final int count;
    private final String what;

    private BtfTypes(ByteBuffer types, ByteBuffer strings, BtfTypes base, String what) {
        this.types = types;
        this.strings = strings;
        this.base = base;
        this.what = what;
        this.count = walk(null, null).count;
    }

    /** Raw BTF; base is the BTF it extends (vmlinux, for a module's), or null. */
    public static BtfTypes parse(byte[] raw, BtfTypes base, String what) {
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        check(raw.length >= 24, what + " is too short for a BTF header");
        if ((b.getShort(0) & 0xffff) != MAGIC) {
            check((Short.reverseBytes(b.getShort(0)) & 0xffff) != MAGIC, what + " is big-endian BTF: not read");
            throw new BtfException(what + " is not BTF (bad magic)");
        }
        long hdrLen = b.getInt(4) & 0xffffffffL;
        long typeOff = b.getInt(8) & 0xffffffffL, typeLen = b.getInt(12) & 0xffffffffL;
        long strOff = b.getInt(16) & 0xffffffffL, strLen = b.getInt(20) & 0xffffffffL;
        check(hdrLen >= 24 && hdrLen + typeOff + typeLen <= raw.length && hdrLen + strOff + strLen <= raw.length,
                what + ": the type or string section runs past the end");
        ByteBuffer types = b.slice((int) (hdrLen + typeOff), (int) typeLen).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer strings = b.slice((int) (hdrLen + strOff), (int) strLen).order(ByteOrder.LITTLE_ENDIAN);
        return new BtfTypes(types, strings, base, what);
    }

    public static BtfTypes read(Path file, BtfTypes base) throws IOException {
        return parse(Files.readAllBytes(file), base, file.toString());
    }

    /** The first id of this BTF's own types (after its base's). */
    public int firstId() {
        return base == null ? 1 : base.firstId() + base.count;
    }

    /** Types of this BTF (not counting the base's). */
    public int count() {
        return count;
    }

    /** The id of the type of this kind and name, in this BTF (not its base), or empty. */
    public Optional<Integer> find(Kind kind, String name) {
        Walk w = walk(kind, name.getBytes(StandardCharsets.UTF_8));
        return w.found == 0 ? Optional.empty() : Optional.of(w.found);
    }

    /** The name of a type by id (in this BTF or its base), or "" for an anonymous one. */
    public String name(int id) {
        if (base != null && id < firstId()) {
            return base.name(id);
        }
        int target = id - firstId();
        int pos = 0;
        for (int i = 0; i <= target; i++) {
            check(pos + 12 <= types.limit(), what + ": type " + id + " is past the end");
            if (i == target) {
                return string(types.getInt(pos) & 0xffffffffL);
            }
            pos = next(pos);
        }
        return "";
    }

    /** The kind of a type by id, in this BTF. */
    public int kindOf(int id) {
        if (base != null && id < firstId()) {
            return base.kindOf(id);
        }
        int pos = 0;
        for (int i = 0; i < id - firstId(); i++) {
            pos = next(pos);
        }
        check(pos + 12 <= types.limit(), what + ": type " + id + " is past the end");
        return (types.getInt(pos + 4) >>> 24) & 0x1f;
    }

    /**
     * The byte offset of a member of a struct or union by name, in this BTF (direct members only; a
     * bitfield's containing byte), or empty when there is no such struct or member.
     */
    public Optional<Integer> memberOffset(String struct, String member) {
        Optional<Integer> id = find(Kind.STRUCT, struct).or(() -> find(Kind.UNION, struct));
        if (id.isEmpty()) {
            return Optional.empty();
        }
        int pos = 0;
        for (int i = 0; i < id.get() - firstId(); i++) {
            pos = next(pos);
        }
        int info = types.getInt(pos + 4);
        boolean bitfields = info < 0; // kind_flag: the offset's high 8 bits are a bitfield size
        int vlen = info & 0xffff;
        byte[] name = member.getBytes(StandardCharsets.UTF_8);
        for (int m = 0; m < vlen; m++) {
            int at = pos + 12 + m * 12;
            if (nameEquals(types.getInt(at) & 0xffffffffL, name)) {
                int bits = types.getInt(at + 8);
                return Optional.of((bitfields ? bits & 0xffffff : bits) / 8);
            }
        }
        return Optional.empty();
    }

    private record Walk(int count, int found) {
    }

    private Walk walk(Kind kind, byte[] name) {
        int pos = 0;
        int n = 0;
        while (pos < types.limit()) {
            check(pos + 12 <= types.limit(), what + ": a type record runs past the end");
            if (kind != null && ((types.getInt(pos + 4) >>> 24) & 0x1f) == kind.value
                    && nameEquals(types.getInt(pos) & 0xffffffffL, name)) {
                return new Walk(n + 1, firstIdUnchecked() + n);
            }
            pos = next(pos);
            n++;
        }
        return new Walk(n, 0);
    }

    private int firstIdUnchecked() {
        return base == null ? 1 : base.firstId() + base.count;
    }

    /** The offset of the record after the one at pos: 12 bytes plus what its kind carries. */
    private int next(int pos) {
        int info = types.getInt(pos + 4);
        int kind = (info >>> 24) & 0x1f;
        int vlen = info & 0xffff;
        int extra = switch (kind) {
            case 1, 14, 17 -> 4;                 // INT encoding, VAR linkage, DECL_TAG component
            case 3 -> 12;                        // struct btf_array
            case 4, 5, 15, 19 -> vlen * 12;      // members, datasec vars, enum64 values
            case 6, 13 -> vlen * 8;              // enum values, func_proto params
            case 2, 7, 8, 9, 10, 11, 12, 16, 18 -> 0;
            default -> throw new BtfException(what + ": unknown BTF kind " + kind + " at offset " + pos
                    + " (BTF newer than this agent)");
        };
        int next = pos + 12 + extra;
        check(next <= types.limit(), what + ": a type record runs past the end");
        return next;
    }

    private boolean nameEquals(long off, byte[] name) {
        ByteBuffer s = strings;
        long o = off;
        if (base != null) {
            long baseLen = base.strings.limit();
            if (off < baseLen) {
                s = base.strings;
            } else {
                o = off - baseLen;
            }
        }
        if (o + name.length >= s.limit()) {
            return false;
        }
        for (int i = 0; i < name.length; i++) {
            if (s.get((int) o + i) != name[i]) {
                return false;
            }
        }
        return s.get((int) o + name.length) == 0;
    }

    private String string(long off) {
        if (base != null && off < base.strings.limit()) {
            return base.string(off);
        }
        long o = base != null ? off - base.strings.limit() : off;
        check(o < strings.limit(), what + ": a name is past the string section");
        int end = (int) o;
        while (end < strings.limit() && strings.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - (int) o];
        strings.get((int) o, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new BtfException(message);
        }
    }
}
