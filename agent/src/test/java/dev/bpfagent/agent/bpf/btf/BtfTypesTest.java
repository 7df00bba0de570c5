package dev.bpfagent.agent.bpf.btf;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** BtfTypes walks every kind's record size right, finds by kind and name, and refuses bad BTF by reason. */
class BtfTypesTest {
    /** [1] INT "int", [2] STRUCT "pair" {int a; int b}, [3] FUNC_PROTO int(int), [4] FUNC "go", [5] TYPEDEF "go". */
    static byte[] blob() {
        byte[] strings = "\0int\0pair\0a\0b\0go\0".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer t = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        t.putInt(1).putInt(1 << 24).putInt(4).putInt(32);                           // INT + encoding
        t.putInt(5).putInt((4 << 24) | 2).putInt(8);                                // STRUCT, 2 members
        t.putInt(10).putInt(1).putInt(0).putInt(12).putInt(1).putInt(32);            // members a, b
        t.putInt(0).putInt((13 << 24) | 1).putInt(1).putInt(0).putInt(1);           // FUNC_PROTO + 1 param
        t.putInt(14).putInt(12 << 24).putInt(3);                                     // FUNC "go"
        t.putInt(14).putInt(8 << 24).putInt(1);                                      // TYPEDEF "go"
        int typeLen = t.position();
        ByteBuffer b = ByteBuffer.allocate(24 + typeLen + strings.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) BtfTypes.MAGIC).put((byte) 1).put((byte) 0).putInt(24);
        b.putInt(0).putInt(typeLen).putInt(typeLen).putInt(strings.length);
        b.put(t.array(), 0, typeLen).put(strings);
        return b.array();
    }

    @Test
    void findsByKindAndName() {
        BtfTypes btf = BtfTypes.parse(blob(), null, "test");
        assertEquals(5, btf.count());
        assertEquals(Optional.of(1), btf.find(BtfTypes.Kind.INT, "int"));
        assertEquals(Optional.of(2), btf.find(BtfTypes.Kind.STRUCT, "pair"));
        assertEquals(Optional.of(4), btf.find(BtfTypes.Kind.FUNC, "go"));
        assertEquals(Optional.of(5), btf.find(BtfTypes.Kind.TYPEDEF, "go"));
        assertEquals(Optional.empty(), btf.find(BtfTypes.Kind.FUNC, "g"));
        assertEquals(Optional.empty(), btf.find(BtfTypes.Kind.FUNC, "gone"));
        assertEquals("pair", btf.name(2));
        assertEquals(12, btf.kindOf(4));
    }

    @Test
    void splitBtfNumbersAfterItsBase() {
        BtfTypes base = BtfTypes.parse(blob(), null, "base");
        BtfTypes split = BtfTypes.parse(blob(), base, "split");
        assertEquals(6, split.firstId());
        assertEquals(Optional.of(9), split.find(BtfTypes.Kind.FUNC, "go"));
    }

    @Test
    void badBtfIsRefusedWithItsReason() {
        byte[] b = blob();
        b[0] = 0;
        assertTrue(assertThrows(BtfException.class, () -> BtfTypes.parse(b, null, "x")).getMessage()
                .contains("magic"));
        byte[] cut = java.util.Arrays.copyOf(blob(), 40);
        assertThrows(BtfException.class, () -> BtfTypes.parse(cut, null, "x"));
        byte[] unknownKind = blob();
        unknownKind[24 + 7] = 30; // the first type's kind byte
        assertTrue(assertThrows(BtfException.class, () -> BtfTypes.parse(unknownKind, null, "x")).getMessage()
                .contains("unknown BTF kind"));
    }
}
