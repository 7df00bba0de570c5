package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.proto.v1.ApplyApplicationRequest;
import dev.bpfagent.proto.v1.Hook;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spec files: YAML and JSON in the proto JSON mapping, local object files uploaded, errors that say where. */
class ApplicationFilesTest {
    static final String YAML = """
            name: firewall
            spec:
              labels: {team: net}
              objects:
              - name: fw
                source: {file: fw.o}
                rodata: {version: AQAAAAAAAAA=}
                programs:
                - name: firewall
                  attach:
                  - hook: {xdp: {}}
                    interfaces: ["eth*"]
                    required: true
            ---
            name: counter
            dry_run: true
            spec:
              objects:
              - name: c
                source: {path: /opt/counter.o}
            """;

    @Test
    void yamlDocumentsBecomeRequestsAndLocalFilesAreUploaded(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("fw.o"), new byte[] {0x7f, 'E', 'L', 'F'});
        Files.writeString(dir.resolve("apps.yaml"), YAML);
        List<byte[]> uploaded = new ArrayList<>();
        List<ApplyApplicationRequest> reqs = ApplicationFiles.read(dir.resolve("apps.yaml"), b -> {
            uploaded.add(b);
            return "ab".repeat(32);
        });
        assertEquals(2, reqs.size());
        ApplyApplicationRequest fw = reqs.get(0);
        assertEquals("firewall", fw.getName());
        assertEquals("net", fw.getSpec().getLabelsOrThrow("team"));
        assertEquals("ab".repeat(32), fw.getSpec().getObjects(0).getSource().getBlobSha256());
        assertEquals(1, uploaded.size());
        assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F'}, uploaded.get(0));
        assertEquals(1, fw.getSpec().getObjects(0).getRodataOrThrow("version").byteAt(0));
        var rule = fw.getSpec().getObjects(0).getPrograms(0).getAttach(0);
        assertEquals(Hook.HookCase.XDP, rule.getHook().getHookCase());
        assertEquals(List.of("eth*"), rule.getInterfacesList());
        assertTrue(rule.getRequired());
        assertTrue(reqs.get(1).getDryRun(), "snake_case names too");
        assertEquals("/opt/counter.o", reqs.get(1).getSpec().getObjects(0).getSource().getPath());
    }

    @Test
    void jsonTheSame(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("a.json"), """
                {"name": "a", "spec": {"objects": [{"name": "o", "source": {"blobSha256": "%s"}}]}}
                """.formatted("cd".repeat(32)));
        var r = ApplicationFiles.read(dir.resolve("a.json"), b -> fail("nothing to upload"));
        assertEquals("cd".repeat(32), r.get(0).getSpec().getObjects(0).getSource().getBlobSha256());
    }

    @Test
    void errorsNameTheDocumentAndTheField(@TempDir Path dir) {
        var e = assertThrows(IllegalArgumentException.class, () -> ApplicationFiles.parse(YAML.replace("fw.o",
                "missing.o"), true, dir, b -> "x", "apps.yaml"));
        assertTrue(e.getMessage().startsWith("apps.yaml: document 1: spec.objects[0].source.file: cannot read"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ApplicationFiles.parse("name: x\nspec: {objectz: []}\n",
                true, dir, b -> "x", "one.yaml"));
        assertTrue(e.getMessage().startsWith("one.yaml: ") && e.getMessage().contains("objectz"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ApplicationFiles.parse("spec: {}\n", true, dir,
                b -> "x", "noname.yaml"));
        assertEquals("noname.yaml: name is required", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ApplicationFiles.parse("name: [unclosed\n", true, dir,
                b -> "x", "broken.yaml"));
        assertTrue(e.getMessage().startsWith("broken.yaml: not YAML"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ApplicationFiles.parse("", true, dir, b -> "x", "empty.yaml"));
        assertEquals("empty.yaml: no application in it", e.getMessage());
    }
}
