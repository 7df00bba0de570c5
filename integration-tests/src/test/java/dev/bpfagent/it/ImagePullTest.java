package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.kubernetes.image.BytecodeImage;
import dev.bpfagent.kubernetes.image.ImagePuller;
import dev.bpfagent.kubernetes.image.ImageReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bytecode images from a real registry (Debian's docker-registry on loopback): pulled by digest and by
 * tag, every blob checked against its digest, bpfman's labels read; each failure with its reason.
 */
class ImagePullTest {
    static OciRegistry registry;
    static byte[] elf;
    static String digest;

    @BeforeAll
    static void registry() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(OciRegistry.BINARY), "needs Debian's docker-registry");
        registry = OciRegistry.start();
        elf = Files.readAllBytes(Path.of(System.getProperty("bpfagent.objects", "target/bpf"), "firewall.o"));
        digest = registry.push("bytecode/firewall", "v1", "firewall.o", elf,
                Map.of("firewall", "xdp", "udp_verdict", "xdp"), Map.of("blocked", "hash", "counters", "per_cpu_array"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    void pulledByDigestTheObjectAndLabelsAreTheOnesPushed() throws Exception {
        BytecodeImage img = new ImagePuller().pull(ImageReference.parse(registry.host() + "/bytecode/firewall@" + digest));
        assertArrayEquals(elf, img.elf());
        assertEquals("firewall.o", img.file());
        assertEquals(digest, img.digest());
        assertEquals(Map.of("firewall", "xdp", "udp_verdict", "xdp"), img.programs());
        assertEquals("per_cpu_array", img.maps().get("counters"));
    }

    @Test
    void aTagResolvesToItsDigest() throws Exception {
        ImagePuller p = new ImagePuller();
        assertEquals(digest, p.resolve(ImageReference.parse(registry.host() + "/bytecode/firewall:v1")));
        assertEquals(digest, p.pull(ImageReference.parse(registry.host() + "/bytecode/firewall:v1")).digest());
    }

    @Test
    void skopeoReadsTheImageWePushAsABytecodeImage() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/skopeo")), "needs Debian's skopeo to cross-check");
        Process p = new ProcessBuilder("/usr/bin/skopeo", "inspect", "--tls-verify=false",
                "docker://" + registry.host() + "/bytecode/firewall@" + digest).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("io.ebpf.programs") && out.contains(digest), out);
    }

    @Test
    void eachFailureSaysWhy() throws Exception {
        ImagePuller p = new ImagePuller();
        var missing = assertThrows(ImagePuller.PullException.class,
                () -> p.pull(ImageReference.parse(registry.host() + "/bytecode/firewall@sha256:" + "0".repeat(64))));
        assertEquals("ImageNotFound", missing.reason(), missing.getMessage());
        var noTag = assertThrows(ImagePuller.PullException.class,
                () -> p.pull(ImageReference.parse(registry.host() + "/bytecode/firewall:v9")));
        assertEquals("ImageNotFound", noTag.reason());
        String notElf = registry.push("bytecode/notelf", "v1", "readme.txt", "hello".getBytes(StandardCharsets.UTF_8),
                Map.of(), Map.of());
        var invalid = assertThrows(ImagePuller.PullException.class,
                () -> p.pull(ImageReference.parse(registry.host() + "/bytecode/notelf@" + notElf)));
        assertEquals("ImageInvalid", invalid.reason());
        assertTrue(invalid.getMessage().contains("ELF"), invalid.getMessage());
        var down = assertThrows(ImagePuller.PullException.class,
                () -> p.pull(ImageReference.parse("127.0.0.1:1/bytecode/firewall:v1")));
        assertEquals("RegistryUnavailable", down.reason());
        var bad = assertThrows(IllegalArgumentException.class, () -> ImageReference.parse("firewall:v1"));
        assertTrue(bad.getMessage().contains("registry"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ImageReference.parse("reg.io/fw@sha256:abc"));
    }
}
