package dev.bpfagent.agent.bpf.object;

import dev.bpfagent.agent.bpf.btf.Btf;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Map;

/**
 * An object's BTF made loadable by the running kernel, as libbpf does for older kernels: kinds the
 * kernel does not know are rewritten in place into ones it does, record for record (same sizes, so
 * every type id stays): DECL_TAG (5.16) to a one-byte INT, TYPE_TAG (5.17) to CONST, FLOAT (5.13) to
 * an empty STRUCT of its size, global FUNC linkage (5.6) to static. What the kernel knows is asked
 * once, by loading a tiny BTF with each kind.
 */
final class BtfSanitizer {
    private BtfSanitizer() {
    }

    enum Kind { DECL_TAG, TYPE_TAG, FLOAT, FUNC_GLOBAL }

    private static volatile Map<Kind, Boolean> supported;

    static Map<Kind, Boolean> supported() {
        Map<Kind, Boolean> s = supported;
        if (s == null) {
            s = new EnumMap<>(Kind.class);
            // type 1: int; type 2: the kind probed
            // type 1: int "a"; then the kind probed ("a" is at string offset 1)
            s.put(Kind.FLOAT, loads(new int[] {1, Btf.KIND_FLOAT << 24, 4}));
            s.put(Kind.TYPE_TAG, loads(new int[] {1, Btf.KIND_TYPE_TAG << 24, 1}));
            s.put(Kind.DECL_TAG, loads(new int[] {1, Btf.KIND_DECL_TAG << 24, 3, -1},
                    new int[] {0, Btf.KIND_STRUCT << 24 | 1, 4, 1, 1, 0}));
            s.put(Kind.FUNC_GLOBAL, loads(new int[] {0, Btf.KIND_FUNC_PROTO << 24, 1},
                    new int[] {1, Btf.KIND_FUNC << 24 | 1, 2}));
            supported = s;
        }
        return s;
    }

    /** A BTF of "int" (type 1) and the records given (types 2, 3...): does the kernel take it? */
    private static boolean loads(int[]... records) {
        int typeLen = 16;
        for (int[] r : records) {
            typeLen += 4 * r.length;
        }
        byte[] strings = "\0a\0".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(24 + typeLen + strings.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) 0xeB9F).put((byte) 1).put((byte) 0).putInt(24);
        b.putInt(0).putInt(typeLen).putInt(typeLen).putInt(strings.length);
        b.putInt(1).putInt(Btf.KIND_INT << 24).putInt(4).putInt(32); // [1] int "a"
        for (int[] r : records) {
            for (int v : r) {
                b.putInt(v);
            }
        }
        b.put(strings);
        try (Fd fd = Bpf.btfLoad(b.array())) {
            return true;
        } catch (KernelException e) {
            return false;
        }
    }

    static final int BTF_VAR_GLOBAL_ALLOCATED = 1, BTF_VAR_GLOBAL_EXTERN = 2, BTF_FUNC_EXTERN = 2;

    /**
     * Externs, which no kernel takes in BTF (extern VAR and FUNC linkage): .kconfig's variables become
     * allocated ones at their places in the .kconfig map; .ksyms' entries (variables and kfuncs) are
     * pointed at one dummy int variable appended to the types, the kfuncs made static, as libbpf does.
     */
    static byte[] externs(Btf btf, byte[] raw, java.util.List<ObjectSpec.Kconfig> kconfig, long kconfigSize) {
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        for (Btf.Type t : btf.types()) {
            if (t.kind() == Btf.KIND_VAR && t.recordOffset() >= 0 && b.getInt(t.recordOffset() + 12) == BTF_VAR_GLOBAL_EXTERN) {
                b.putInt(t.recordOffset() + 12, BTF_VAR_GLOBAL_ALLOCATED);
            }
            if (t.kind() == Btf.KIND_FUNC && t.recordOffset() >= 0 && (t.info() & 0xffff) == BTF_FUNC_EXTERN) {
                b.putInt(t.recordOffset() + 4, Btf.KIND_FUNC << 24);
            }
        }
        var kc = btf.find(Btf.KIND_DATASEC, ".kconfig");
        if (kc.isPresent()) {
            int at = kc.get().recordOffset();
            b.putInt(at + 8, (int) kconfigSize);
            for (int i = 0; i < kc.get().members().size(); i++) {
                String name = btf.type(kc.get().members().get(i).type()).name();
                int m = at + 12 + i * 12;
                kconfig.stream().filter(k -> k.name().equals(name)).findFirst().ifPresent(k -> {
                    b.putInt(m + 4, k.offset());
                    b.putInt(m + 8, k.size());
                });
            }
        }
        var ks = btf.find(Btf.KIND_DATASEC, ".ksyms");
        if (ks.isEmpty() || ks.get().members().isEmpty()) {
            return raw;
        }
        // append [n+1] VAR "<an int's name>" of type int, allocated: every .ksyms entry points at it
        int hdrLen = b.getInt(4), typeOff = b.getInt(8), typeLen = b.getInt(12), strOff = b.getInt(16),
                strLen = b.getInt(20);
        Btf.Type intType = btf.types().stream().filter(t -> t.kind() == Btf.KIND_INT && !t.name().isEmpty()
                && t.sizeOrType() == 4).findFirst().orElse(null);
        if (intType == null || strOff != typeOff + typeLen) {
            return raw; // an unusual layout: leave it, the load falls back to no BTF
        }
        // the dummy's name: any identifier of the BTF (a VAR's name must be one; "unsigned int" is not)
        Btf.Type named = btf.types().stream().filter(t -> (t.kind() == Btf.KIND_VAR || t.kind() == Btf.KIND_FUNC)
                && t.name().matches("[A-Za-z_][A-Za-z0-9_]*")).findFirst().orElse(null);
        if (named == null) {
            return raw;
        }
        int nameOff = b.getInt(named.recordOffset());
        int dummy = btf.count() + 1;
        int sec = ks.get().recordOffset();
        b.putInt(sec + 8, 4 * ks.get().members().size());
        for (int i = 0; i < ks.get().members().size(); i++) {
            int m = sec + 12 + i * 12;
            b.putInt(m, dummy).putInt(m + 4, 4 * i).putInt(m + 8, 4);
        }
        int insertAt = hdrLen + typeOff + typeLen;
        ByteBuffer out = ByteBuffer.allocate(raw.length + 16).order(ByteOrder.LITTLE_ENDIAN);
        out.put(raw, 0, insertAt);
        out.putInt(nameOff).putInt(Btf.KIND_VAR << 24).putInt(intType.id()).putInt(BTF_VAR_GLOBAL_ALLOCATED);
        out.put(raw, insertAt, raw.length - insertAt);
        out.putInt(12, typeLen + 16).putInt(16, strOff + 16);
        return out.array();
    }

    /** Rewrites in raw (the object's BTF, already fixed) what the kernel does not know. */
    static byte[] sanitize(Btf btf, byte[] raw) {
        Map<Kind, Boolean> s = supported();
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        for (Btf.Type t : btf.types()) {
            int at = t.recordOffset();
            if (at < 0) {
                continue;
            }
            switch (t.kind()) {
                case Btf.KIND_DECL_TAG -> {
                    if (!s.get(Kind.DECL_TAG)) { // INT of 1 byte; its 4 extra bytes become the encoding
                        b.putInt(at, 0).putInt(at + 4, Btf.KIND_INT << 24).putInt(at + 8, 1).putInt(at + 12, 8);
                    }
                }
                case Btf.KIND_TYPE_TAG -> {
                    if (!s.get(Kind.TYPE_TAG)) {
                        b.putInt(at, 0).putInt(at + 4, Btf.KIND_CONST << 24);
                    }
                }
                case Btf.KIND_FLOAT -> {
                    if (!s.get(Kind.FLOAT)) { // keeps its name and size
                        b.putInt(at + 4, Btf.KIND_STRUCT << 24);
                    }
                }
                case Btf.KIND_FUNC -> {
                    if (!s.get(Kind.FUNC_GLOBAL) && (t.info() & 0xffff) != 0) {
                        b.putInt(at + 4, Btf.KIND_FUNC << 24);
                    }
                }
                default -> {
                }
            }
        }
        return raw;
    }
}
