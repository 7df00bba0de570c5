package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The kernel frees programs, maps and links from deferred work (RCU, workqueues, a prog array's
 * release), so "gone from the kernel" asserted right after a close is a race that turns CI red for
 * whoever comes next. Every such assertion goes through {@link Kernel#eventually}: this test reads the
 * test sources and names any that does not.
 */
class KernelWaitGuardTest {
    /** assertFalse of a kernel-wide existence check, or of a kernel id set still containing an id. */
    static final Pattern UNWAITED = Pattern.compile(
            "assertFalse\\((?:(?!Kernel\\.eventually)[^;])*(?:programExists|existsInKernel|mapExists"
                    + "|(?:program|map|link)Ids\\(\\)\\.contains)\\(");

    @Test
    void everyGoneFromTheKernelAssertionWaits() throws IOException {
        Path src = Path.of("src/test/java/dev/bpfagent/it");
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.list(src)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")
                    && !p.getFileName().toString().equals("KernelWaitGuardTest.java")).sorted().toList()) {
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    // "// never made": an id no close freed (nothing to wait for)
                    if (UNWAITED.matcher(lines.get(i)).find() && !lines.get(i).contains("// never made")) {
                        found.add(f.getFileName() + ":" + (i + 1) + ": " + lines.get(i).strip());
                    }
                }
            }
        }
        assertEquals(List.of(), found, "wrap these in assertTrue(Kernel.eventually(() -> !...)): the kernel"
                + " frees from deferred work");
        assertTrue(UNWAITED.matcher("assertFalse(c.programExists(p.id()));").find(), "the guard sees one");
        assertFalse(UNWAITED.matcher("assertTrue(Kernel.eventually(() -> !c.programExists(id)));").find());
    }
}
