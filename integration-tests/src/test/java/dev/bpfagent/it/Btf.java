package dev.bpfagent.it;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Minimal raw BTF for tests: a header, one type (a 32-bit signed int named "int"), its string. */
final class Btf {
    private Btf() {
    }

    static final int BTF_MAGIC = 0xeB9F;
    static final int BTF_KIND_INT = 1;
    static final int BTF_INT_SIGNED = 1;

    static final int BTF_KIND_FUNC = 12;
    static final int BTF_KIND_FUNC_PROTO = 13;

    /**
     * Types 1 "int", 2 a prototype {@code int (void)}, 3 a static function "prog" of that prototype:
     * enough BTF for one func_info record naming the program's entry.
     */
    static byte[] intFunction() {
        return function(0);
    }

    /** As {@link #intFunction()}, with "prog" a global function (BTF_FUNC_GLOBAL), as freplace targets are. */
    static byte[] globalIntFunction() {
        return function(1);
    }

    private static byte[] function(int linkage) {
        byte[] strings = "\0int\0prog\0".getBytes(StandardCharsets.US_ASCII);
        int typeLen = 16 + 12 + 12;
        ByteBuffer b = ByteBuffer.allocate(24 + typeLen + strings.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) BTF_MAGIC).put((byte) 1).put((byte) 0).putInt(24);
        b.putInt(0).putInt(typeLen).putInt(typeLen).putInt(strings.length);
        b.putInt(1).putInt(BTF_KIND_INT << 24).putInt(4).putInt((BTF_INT_SIGNED << 24) | 32); // [1] int
        b.putInt(0).putInt(BTF_KIND_FUNC_PROTO << 24).putInt(1);                           // [2] int (void)
        b.putInt(5).putInt((BTF_KIND_FUNC << 24) | linkage).putInt(2);                     // [3] prog
        b.put(strings);
        return b.array();
    }

    /** One struct bpf_func_info: the function at instruction 0 has BTF type 3. */
    static byte[] funcInfoAtZero() {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(3).array();
    }

    static byte[] oneInt() {
        byte[] strings = "\0int\0".getBytes(StandardCharsets.US_ASCII);
        int typeLen = 12 + 4; // struct btf_type + the int's encoding word
        ByteBuffer b = ByteBuffer.allocate(24 + typeLen + strings.length).order(ByteOrder.LITTLE_ENDIAN);
        // struct btf_header
        b.putShort((short) BTF_MAGIC).put((byte) 1).put((byte) 0).putInt(24);
        b.putInt(0).putInt(typeLen).putInt(typeLen).putInt(strings.length);
        // struct btf_type: name_off, info (kind << 24), size
        b.putInt(1).putInt(BTF_KIND_INT << 24).putInt(4);
        // BTF_INT_ENCODING << 24 | BTF_INT_OFFSET << 16 | BTF_INT_BITS
        b.putInt((BTF_INT_SIGNED << 24) | 32);
        b.put(strings);
        return b.array();
    }
}
