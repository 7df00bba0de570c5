package dev.bpfagent.agent.bpf.btf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * An object file's BTF (its .BTF section) read whole into an index of types: small enough to keep
 * (tens of KB), and walked often while parsing map definitions and fixing data sections. Each type
 * keeps its record's offset so the raw bytes can be patched in place ({@link #withDatasec}).
 */
public final class Btf {
    public static final int KIND_INT = 1, KIND_PTR = 2, KIND_ARRAY = 3, KIND_STRUCT = 4, KIND_UNION = 5,
            KIND_ENUM = 6, KIND_FWD = 7, KIND_TYPEDEF = 8, KIND_VOLATILE = 9, KIND_CONST = 10, KIND_RESTRICT = 11,
            KIND_FUNC = 12, KIND_FUNC_PROTO = 13, KIND_VAR = 14, KIND_DATASEC = 15, KIND_FLOAT = 16,
            KIND_DECL_TAG = 17, KIND_TYPE_TAG = 18, KIND_ENUM64 = 19;

    /** A member of a struct/union, a param of a prototype, a var of a datasec (offset, size), an enum value. */
    public record Member(String name, int type, long offset, long size) {
    }

    /**
     * One type. size: the byte size (int, struct, union, enum, datasec, float); type: what it refers to
     * (ptr, typedef, modifiers, var, func); for arrays elem type and nelems (for ints, arrayElem is the
     * encoding word); vlen members.
     */
    public record Type(int id, int kind, String name, int info, int sizeOrType, int recordOffset, List<Member> members,
                       int arrayElem, int arrayNelems) {
        public int vlen() {
            return info & 0xffff;
        }

        public boolean kindFlag() {
            return info < 0;
        }
    }

    private final byte[] raw;
    private final int hdrLen;
    private final int typeOff;
    private final List<Type> types; // index 0 is void
    private final ByteBuffer strings;
    private final String what;

    private Btf(byte[] raw, int hdrLen, int typeOff, List<Type> types, ByteBuffer strings, String what) {
        this.raw = raw;
        this.hdrLen = hdrLen;
        this.typeOff = typeOff;
        this.types = types;
        this.strings = strings;
        this.what = what;
    }

    public static Btf parse(byte[] raw, String what) {
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        check(raw.length >= 24, what + ": too short for a BTF header (24 bytes)");
        check((b.getShort(0) & 0xffff) == BtfTypes.MAGIC, what + ": not little-endian BTF (bad magic at offset 0)");
        long hdrLen = b.getInt(4) & 0xffffffffL;
        long tOff = b.getInt(8) & 0xffffffffL, tLen = b.getInt(12) & 0xffffffffL;
        long sOff = b.getInt(16) & 0xffffffffL, sLen = b.getInt(20) & 0xffffffffL;
        check(hdrLen >= 24 && hdrLen <= raw.length && tOff <= raw.length && tLen <= raw.length
                && hdrLen + tOff + tLen <= raw.length && sOff <= raw.length && sLen <= raw.length
                && hdrLen + sOff + sLen <= raw.length, what + ": the header's type or string section runs past the"
                + " end (" + raw.length + " bytes)");
        ByteBuffer strings = b.slice((int) (hdrLen + sOff), (int) sLen).order(ByteOrder.LITTLE_ENDIAN);
        List<Type> types = new ArrayList<>();
        types.add(new Type(0, 0, "", 0, 0, -1, List.of(), 0, 0));
        int pos = (int) (hdrLen + tOff);
        int end = (int) (hdrLen + tOff + tLen);
        while (pos < end) {
            check(pos + 12 <= end, what + ": type " + types.size() + " at offset " + pos + " runs past the end");
            int id = types.size();
            String name = string(strings, b.getInt(pos) & 0xffffffffL, what, "type " + id);
            int info = b.getInt(pos + 4);
            int kind = (info >>> 24) & 0x1f;
            int vlen = info & 0xffff;
            int sizeOrType = b.getInt(pos + 8);
            int at = pos + 12;
            List<Member> members = List.of();
            int elem = 0, nelems = 0;
            switch (kind) {
                case KIND_INT -> {
                    check(at + 4 <= end, what + ": int type " + id + " runs past the end");
                    elem = b.getInt(at); // the encoding word: signedness in bit 24, bits in the low byte
                    at += 4;
                }
                case KIND_VAR, KIND_DECL_TAG -> at += 4;
                case KIND_ARRAY -> {
                    check(at + 12 <= end, what + ": array type " + id + " runs past the end");
                    elem = b.getInt(at);
                    nelems = b.getInt(at + 8);
                    at += 12;
                }
                case KIND_STRUCT, KIND_UNION, KIND_DATASEC, KIND_ENUM64 -> {
                    check(at + 12L * vlen <= end, what + ": type " + id + "'s " + vlen + " members run past the end");
                    members = new ArrayList<>(vlen);
                    for (int i = 0; i < vlen; i++, at += 12) {
                        String mn = kind == KIND_DATASEC ? "" : string(strings, b.getInt(at) & 0xffffffffL, what,
                                "member " + i + " of type " + id);
                        if (kind == KIND_DATASEC) {
                            members.add(new Member(mn, b.getInt(at), b.getInt(at + 4) & 0xffffffffL,
                                    b.getInt(at + 8) & 0xffffffffL));
                        } else if (kind == KIND_ENUM64) {
                            members.add(new Member(mn, 0, (b.getInt(at + 4) & 0xffffffffL)
                                    | ((long) b.getInt(at + 8) << 32), 0));
                        } else {
                            members.add(new Member(mn, b.getInt(at + 4), b.getInt(at + 8) & 0xffffffffL, 0));
                        }
                    }
                }
                case KIND_ENUM, KIND_FUNC_PROTO -> {
                    check(at + 8L * vlen <= end, what + ": type " + id + "'s " + vlen + " entries run past the end");
                    members = new ArrayList<>(vlen);
                    for (int i = 0; i < vlen; i++, at += 8) {
                        String mn = string(strings, b.getInt(at) & 0xffffffffL, what, "entry " + i + " of type " + id);
                        members.add(kind == KIND_ENUM ? new Member(mn, 0, b.getInt(at + 4), 0)
                                : new Member(mn, b.getInt(at + 4), 0, 0));
                    }
                }
                case KIND_PTR, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_FUNC, KIND_FLOAT,
                        KIND_TYPE_TAG -> {
                }
                default -> throw new BtfException(what + ": unknown BTF kind " + kind + " (type " + id + " at offset "
                        + pos + ")");
            }
            types.add(new Type(id, kind, name, info, sizeOrType, pos, members, elem, nelems));
            pos = at;
        }
        return new Btf(raw, (int) hdrLen, (int) tOff, types, strings, what);
    }

    private static String string(ByteBuffer s, long off, String what, String whose) {
        check(off < s.limit() || off == 0, what + ": " + whose + "'s name offset " + off + " is past the strings");
        if (s.limit() == 0) {
            return "";
        }
        int end = (int) off;
        while (end < s.limit() && s.get(end) != 0) {
            end++;
        }
        check(end < s.limit(), what + ": " + whose + "'s name has no terminating NUL");
        byte[] bytes = new byte[end - (int) off];
        s.get((int) off, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static void check(boolean ok, String message) {
        if (!ok) {
            throw new BtfException(message);
        }
    }

    /** A string of this BTF's string section by offset (for .BTF.ext's section and file names). */
    public String string(long off, String whose) {
        return string(strings, off, what, whose);
    }

    public byte[] raw() {
        return raw.clone();
    }

    public int count() {
        return types.size() - 1;
    }

    public Type type(int id) {
        check(id >= 0 && id < types.size(), what + ": type id " + id + " is not a type (" + count() + " types)");
        return types.get(id);
    }

    public Optional<Type> find(int kind, String name) {
        for (Type t : types) {
            if (t.kind() == kind && t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The type behind typedefs, const, volatile, restrict and type tags. */
    public Type resolve(int id) {
        return skip(id, true);
    }

    /** The type behind const, volatile, restrict and type tags, but not typedefs (CO-RE's root names). */
    public Type resolveNoTypedef(int id) {
        return skip(id, false);
    }

    private Type skip(int id, boolean typedefs) {
        Type t = type(id);
        for (int hops = 0; hops < 64; hops++) {
            int k = t.kind();
            if (k == KIND_VOLATILE || k == KIND_CONST || k == KIND_RESTRICT || k == KIND_TYPE_TAG
                    || (typedefs && k == KIND_TYPEDEF)) {
                t = type(t.sizeOrType());
            } else {
                return t;
            }
        }
        throw new BtfException(what + ": type " + id + " is a chain of modifiers that does not end");
    }

    /** The size in bytes of a type (through modifiers; arrays multiply; pointers are 8). */
    public long sizeOf(int id) {
        Type t = resolve(id);
        for (int hops = 0; hops < 64; hops++) {
            switch (t.kind()) {
                case KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64, KIND_DATASEC, KIND_FLOAT -> {
                    return t.sizeOrType() & 0xffffffffL;
                }
                case KIND_PTR -> {
                    return 8;
                }
                case KIND_ARRAY -> {
                    return (t.arrayNelems() & 0xffffffffL) * sizeOf(t.arrayElem());
                }
                case KIND_VAR -> t = resolve(t.sizeOrType());
                default -> throw new BtfException(what + ": type " + id + " (kind " + t.kind() + ") has no size");
            }
        }
        throw new BtfException(what + ": type " + id + " does not resolve to a sized type");
    }

    /**
     * A copy of the raw BTF with one DATASEC's size and its variables' offsets set (clang leaves them
     * 0; the ELF section and symbols have them). offsets: variable name to offset, from the symbols.
     */
    public byte[] withDatasec(byte[] into, Type datasec, long size, java.util.function.ToLongFunction<String> offsetOf) {
        ByteBuffer b = ByteBuffer.wrap(into).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(datasec.recordOffset() + 8, (int) size);
        for (int i = 0; i < datasec.members().size(); i++) {
            Member m = datasec.members().get(i);
            Type var = type(m.type());
            int at = datasec.recordOffset() + 12 + i * 12;
            long off = var.kind() == KIND_VAR ? offsetOf.applyAsLong(var.name()) : -1;
            if (off >= 0) {
                b.putInt(at + 4, (int) off);
            }
        }
        return into;
    }

    public String what() {
        return what;
    }

    public List<Type> types() {
        return types;
    }
}
