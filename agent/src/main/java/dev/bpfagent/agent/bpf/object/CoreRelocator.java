package dev.bpfagent.agent.bpf.object;

import dev.bpfagent.agent.bpf.btf.Btf;
import dev.bpfagent.agent.bpf.btf.BtfException;
import dev.bpfagent.agent.bpf.elf.ElfException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * CO-RE: each relocation clang recorded (.BTF.ext core_relo) names a local type and an access path
 * ("0:1:2": an index on the root, then member or element indices); the same path is followed by name
 * in the running kernel's BTF, on every type of the same name (ignoring "___flavor" suffixes), and
 * the instruction gets the kernel's answer: a field's offset, size or existence, a type's id, size or
 * existence, an enum value. A path no kernel type matches leaves the instruction as a call to a
 * helper that does not exist (as libbpf does), so the verifier refuses the program only if that code
 * can run.
 */
public final class CoreRelocator {
    /** enum bpf_core_relo_kind. */
    public static final int FIELD_BYTE_OFFSET = 0, FIELD_BYTE_SIZE = 1, FIELD_EXISTS = 2, FIELD_SIGNED = 3,
            FIELD_LSHIFT_U64 = 4, FIELD_RSHIFT_U64 = 5, TYPE_ID_LOCAL = 6, TYPE_ID_TARGET = 7, TYPE_EXISTS = 8,
            TYPE_SIZE = 9, ENUMVAL_EXISTS = 10, ENUMVAL_VALUE = 11, TYPE_MATCHES = 12;
    /** libbpf's poison: a call to this helper id fails verification where it is reachable. */
    static final int POISON_HELPER = 0xbad2310;
    static final Path VMLINUX = Path.of("/sys/kernel/btf/vmlinux");

    /** One relocation, at an instruction of a linked program. */
    public record Relo(int insn, int localType, String access, int kind) {
    }

    private static volatile java.lang.ref.SoftReference<Target> cached = new java.lang.ref.SoftReference<>(null);

    /** The kernel's BTF with a by-name index (built once, kept while memory allows). */
    static final class Target {
        final Btf btf;
        final Map<String, List<Btf.Type>> byName = new HashMap<>();

        Target(Btf btf) {
            this.btf = btf;
            for (Btf.Type t : btf.types()) {
                if (!t.name().isEmpty()) {
                    byName.computeIfAbsent(t.name(), k -> new ArrayList<>(1)).add(t);
                }
            }
        }
    }

    static Target target() {
        Target t = cached.get();
        if (t == null) {
            try {
                t = new Target(Btf.parse(Files.readAllBytes(VMLINUX), VMLINUX.toString()));
            } catch (java.io.IOException e) {
                throw new BtfException("CO-RE relocations need the kernel's BTF, and " + VMLINUX
                        + " cannot be read (CONFIG_DEBUG_INFO_BTF is off?): " + e.getMessage());
            }
            cached = new java.lang.ref.SoftReference<>(t);
        }
        return t;
    }

    /** Applies every relocation to a copy of the program's instructions. */
    public static byte[] apply(Btf local, byte[] insns, List<Relo> relos, String program) {
        if (relos.isEmpty()) {
            return insns;
        }
        Target target = target();
        byte[] out = insns.clone();
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        for (Relo r : relos) {
            Long value = resolve(local, target, r, program);
            patch(b, r, value, program);
        }
        return out;
    }

    /** The kernel's value for a relocation, or null when no kernel type matches (poison). */
    static Long resolve(Btf local, Target target, Relo r, String program) {
        Btf.Type root = local.type(r.localType());
        String[] parts = r.access().split(":");
        int[] access = new int[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) {
                access[i] = Integer.parseInt(parts[i]);
            }
        } catch (NumberFormatException e) {
            throw new ElfException("program '" + program + "': CO-RE access string '" + r.access() + "' is not"
                    + " colon-separated indices");
        }
        if (r.kind() == TYPE_ID_LOCAL) {
            return (long) r.localType();
        }
        String name = essential(local.resolveNoTypedef(r.localType()).name().isEmpty() ? root.name()
                : local.resolveNoTypedef(r.localType()).name());
        List<Btf.Type> candidates = new ArrayList<>();
        for (Btf.Type t : target.byName.getOrDefault(name, List.of())) {
            if (compatibleKind(local.resolveNoTypedef(r.localType()), t)) {
                candidates.add(t);
            }
        }
        // flavored kernel names ("task_struct___2") are not in vmlinux; a suffixed local name matches the plain
        Long found = null;
        for (Btf.Type cand : candidates) {
            Long v = match(local, target.btf, r, access, cand);
            if (v == null) {
                continue;
            }
            if (found != null && !found.equals(v) && r.kind() != TYPE_ID_TARGET) {
                throw new ElfException("program '" + program + "': CO-RE relocation of " + name + " (" + r.access()
                        + ") is ambiguous: kernel types of that name give " + found + " and " + v);
            }
            if (found == null) {
                found = v;
            }
        }
        if (found == null) {
            return switch (r.kind()) {
                case FIELD_EXISTS, TYPE_EXISTS, ENUMVAL_EXISTS, TYPE_MATCHES -> 0L;
                default -> null;
            };
        }
        return found;
    }

    static boolean compatibleKind(Btf.Type local, Btf.Type t) {
        int lk = local.kind(), tk = t.kind();
        boolean lComposite = lk == Btf.KIND_STRUCT || lk == Btf.KIND_UNION;
        boolean tComposite = tk == Btf.KIND_STRUCT || tk == Btf.KIND_UNION;
        boolean lEnum = lk == Btf.KIND_ENUM || lk == Btf.KIND_ENUM64;
        boolean tEnum = tk == Btf.KIND_ENUM || tk == Btf.KIND_ENUM64;
        return lComposite ? tComposite : lEnum ? tEnum : lk == tk;
    }

    /** "task_struct___2" to "task_struct": libbpf's flavors. */
    static String essential(String name) {
        int at = name.indexOf("___");
        return at > 0 ? name.substring(0, at) : name;
    }

    /** Follows the access path in the candidate; null when it does not match. */
    static Long match(Btf local, Btf kernel, Relo r, int[] access, Btf.Type cand) {
        switch (r.kind()) {
            case TYPE_ID_TARGET:
                return (long) cand.id();
            case TYPE_EXISTS:
            case TYPE_MATCHES:
                return 1L;
            case TYPE_SIZE:
                return kernel.sizeOf(cand.id());
            case ENUMVAL_EXISTS:
            case ENUMVAL_VALUE: {
                Btf.Type le = local.resolve(r.localType());
                if (access[0] < 0 || access[0] >= le.members().size()) {
                    return null;
                }
                String enumerator = essential(le.members().get(access[0]).name());
                for (Btf.Member m : cand.members()) {
                    if (essential(m.name()).equals(enumerator)) {
                        return r.kind() == ENUMVAL_EXISTS ? 1L : m.offset();
                    }
                }
                return null;
            }
            default:
                break;
        }
        // field relocations: walk local and kernel side by side
        Btf.Type lt = local.resolve(r.localType());
        Btf.Type kt = kernel.resolve(cand.id());
        long offsetBits = access[0] * kernel.sizeOf(kt.id()) * 8;
        Btf.Member lastField = null;
        Btf.Type fieldOwner = null;
        for (int i = 1; i < access.length; i++) {
            int idx = access[i];
            if (lt.kind() == Btf.KIND_STRUCT || lt.kind() == Btf.KIND_UNION) {
                if (idx < 0 || idx >= lt.members().size()) {
                    return null;
                }
                Btf.Member lm = lt.members().get(idx);
                if (!(kt.kind() == Btf.KIND_STRUCT || kt.kind() == Btf.KIND_UNION)) {
                    return null;
                }
                long[] at = new long[1];
                Btf.Member km = lm.name().isEmpty() ? (idx < kt.members().size() ? kt.members().get(idx) : null)
                        : findMember(kernel, kt, essential(lm.name()), at);
                if (km == null) {
                    return null;
                }
                offsetBits += lm.name().isEmpty() ? bitOffset(kt, km) : at[0];
                lastField = km;
                fieldOwner = kt;
                lt = local.resolve(lm.type());
                kt = kernel.resolve(km.type());
            } else if (lt.kind() == Btf.KIND_ARRAY) {
                if (kt.kind() != Btf.KIND_ARRAY) {
                    return null;
                }
                if (kt.arrayNelems() > 0 && idx >= kt.arrayNelems()) {
                    return null;
                }
                offsetBits += idx * kernel.sizeOf(kt.arrayElem()) * 8;
                lt = local.resolve(lt.arrayElem());
                kt = kernel.resolve(kt.arrayElem());
                lastField = null;
            } else {
                return null;
            }
        }
        long bitSize = lastField != null && fieldOwner != null && fieldOwner.kindFlag()
                ? (lastField.offset() >>> 24) : 0;
        long byteSize = bitSize == 0 ? kernel.sizeOf(kt.id()) : 0;
        return switch (r.kind()) {
            case FIELD_BYTE_OFFSET -> bitSize == 0 ? offsetBits / 8 : (offsetBits / 8) & ~(containerSize(bitSize) - 1);
            case FIELD_BYTE_SIZE -> bitSize == 0 ? byteSize : containerSize(bitSize);
            case FIELD_EXISTS -> 1L;
            case FIELD_SIGNED -> isSigned(kernel, kt) ? 1L : 0L;
            case FIELD_LSHIFT_U64 -> {
                long size = bitSize == 0 ? byteSize : containerSize(bitSize);
                long bitOff = offsetBits - ((offsetBits / 8) & ~(size - 1)) * 8;
                yield 64 - (bitOff + (bitSize == 0 ? size * 8 : bitSize));
            }
            case FIELD_RSHIFT_U64 -> 64 - (bitSize == 0 ? byteSize * 8 : bitSize);
            default -> null;
        };
    }

    static long containerSize(long bits) {
        return bits <= 8 ? 1 : bits <= 16 ? 2 : bits <= 32 ? 4 : 8;
    }

    static boolean isSigned(Btf btf, Btf.Type t) {
        if (t.kind() == Btf.KIND_INT) {
            return ((t.arrayElem() >>> 24) & 1) != 0;
        }
        return t.kind() == Btf.KIND_ENUM && t.kindFlag();
    }

    static long bitOffset(Btf.Type owner, Btf.Member m) {
        return owner.kindFlag() ? m.offset() & 0xffffff : m.offset();
    }

    /** A member by name, looking through anonymous struct and union members; at[0] gets its bit offset. */
    static Btf.Member findMember(Btf btf, Btf.Type owner, String name, long[] at) {
        for (Btf.Member m : owner.members()) {
            if (essential(m.name()).equals(name)) {
                at[0] = bitOffset(owner, m);
                return m;
            }
        }
        for (Btf.Member m : owner.members()) {
            if (m.name().isEmpty()) {
                Btf.Type inner = btf.resolve(m.type());
                if (inner.kind() == Btf.KIND_STRUCT || inner.kind() == Btf.KIND_UNION) {
                    long[] sub = new long[1];
                    Btf.Member found = findMember(btf, inner, name, sub);
                    if (found != null) {
                        at[0] = bitOffset(owner, m) + sub[0];
                        return found;
                    }
                }
            }
        }
        return null;
    }

    static void patch(ByteBuffer b, Relo r, Long value, String program) {
        int at = r.insn() * 8;
        if (at < 0 || at + 8 > b.limit()) {
            throw new ElfException("program '" + program + "': CO-RE relocation at instruction " + r.insn()
                    + " is past its end");
        }
        int op = b.get(at) & 0xff;
        int cls = op & 0x07;
        if (value == null) {
            if (op == 0x18) { // ld_imm64: leave as is; the poison of libbpf is a call, which cannot be two slots
                b.putInt(at + 4, 0);
                return;
            }
            b.put(at, (byte) 0x85).put(at + 1, (byte) 0).putShort(at + 2, (short) 0).putInt(at + 4, POISON_HELPER);
            return;
        }
        long v = value;
        switch (cls) {
            case 0x04, 0x07 -> b.putInt(at + 4, (int) v); // ALU, ALU64 with an immediate
            case 0x01, 0x02, 0x03 -> { // LDX, ST, STX: the offset
                if (v > Short.MAX_VALUE || v < Short.MIN_VALUE) {
                    throw new ElfException("program '" + program + "': CO-RE offset " + v + " does not fit an"
                            + " instruction's 16-bit offset");
                }
                b.putShort(at + 2, (short) v);
            }
            case 0x00 -> { // ld_imm64
                b.putInt(at + 4, (int) v);
                if (at + 16 <= b.limit()) {
                    b.putInt(at + 12, (int) (v >>> 32));
                }
            }
            default -> throw new ElfException("program '" + program + "': a CO-RE relocation on instruction "
                    + r.insn() + " (opcode 0x" + Integer.toHexString(op) + ") that takes no value");
        }
    }
}
