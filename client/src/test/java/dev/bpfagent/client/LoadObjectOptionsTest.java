package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.proto.v1.AttachType;
import dev.bpfagent.proto.v1.LoadObjectRequest;
import dev.bpfagent.proto.v1.ObjectSource;
import dev.bpfagent.proto.v1.ProgramOverride;
import dev.bpfagent.proto.v1.ProgramType;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The options build exactly the request a proto builder would, overrides of one program merged. */
class LoadObjectOptionsTest {
    @Test
    void buildsTheRequestTheProtoBuilderWould(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("probe.o");
        Files.write(f, new byte[] {0x7f, 'E', 'L', 'F'});
        LoadObjectRequest got = LoadObjectOptions.file(f).programs("a", "b").rodata("verdict", new byte[] {1, 0, 0, 0})
                .logLevel(1 | 4).label("team", "net").attach().pinDir("team/maps")
                .type("a", ProgramType.PROGRAM_TYPE_KPROBE).expectedAttachType("a", AttachType.ATTACH_TYPE_TRACE_KPROBE_MULTI)
                .attachTo("b", "do_unlinkat").build().request();
        LoadObjectRequest want = LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                        .setElf(com.google.protobuf.ByteString.copyFrom(new byte[] {0x7f, 'E', 'L', 'F'})).setName("probe.o"))
                .addPrograms("a").addPrograms("b").putRodata("verdict", com.google.protobuf.ByteString.copyFrom(
                        new byte[] {1, 0, 0, 0})).setLogLevel(5).putLabels("team", "net").setAttach(true)
                .setPinDir("team/maps")
                .putOverrides("a", ProgramOverride.newBuilder().setType(ProgramType.PROGRAM_TYPE_KPROBE)
                        .setExpectedAttachType(AttachType.ATTACH_TYPE_TRACE_KPROBE_MULTI).build())
                .putOverrides("b", ProgramOverride.newBuilder().setAttachTo("do_unlinkat").build()).build();
        assertEquals(want, got);
        assertEquals("/opt/probes/x.o", LoadObjectOptions.onAgentHost("/opt/probes/x.o").build().request()
                .getObject().getPath());
        var missing = assertThrows(UncheckedIOException.class, () -> LoadObjectOptions.file(dir.resolve("none.o")));
        assertTrue(missing.getMessage().contains("none.o"), missing.getMessage());
    }
}
