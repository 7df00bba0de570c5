package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.CollectionHandle;
import dev.bpfagent.proto.v1.CollectionProgram;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Third-party objects (what Debian packages ship: xdp-tools' and libxdp's) and this project's own,
 * loaded through the agent and by libbpf (bpftool prog loadall) on the same kernel: wherever libbpf
 * loads an object, the agent must too, with the same programs; where libbpf fails, the agent may do
 * better but must say why when it fails too.
 */
class ObjectCorpusTest extends OneAgentPerClass {
    static final List<Path> CORPUS_DIRS = List.of(Path.of("/usr/lib/x86_64-linux-gnu/bpf"),
            Path.of("/usr/lib/aarch64-linux-gnu/bpf"), Path.of(System.getProperty("bpfagent.objects", "target/bpf")));

    record Verdict(boolean ok, Set<String> programs, String output) {
    }

    /**
     * bpftool prog loadall: its exit, and the programs it pinned (by name), removed after, with the maps
     * libbpf pinned by name at the top of /sys/fs/bpf (its default pin root) during the call.
     */
    static Verdict libbpf(Path object) throws Exception {
        Path root = Path.of("/sys/fs/bpf");
        Set<Path> before;
        try (var ls = Files.list(root)) {
            before = ls.collect(Collectors.toSet());
        }
        Path pins = root.resolve("bpf-agent-corpus-" + ProcessHandle.current().pid());
        var r = Processes.run(60, List.of("bpftool", "prog", "loadall", object.toString(), pins.toString()));
        try (var ls = Files.list(root)) {
            for (Path p : ls.toList()) {
                if (!before.contains(p) && !p.equals(pins) && Files.isRegularFile(p)) {
                    Files.delete(p);
                }
            }
        }
        Set<String> names = new TreeSet<>();
        if (Files.isDirectory(pins)) {
            try (var ls = Files.list(pins)) {
                for (Path p : ls.toList()) {
                    names.add(p.getFileName().toString());
                    Files.delete(p);
                }
            }
            Files.delete(pins);
        }
        return new Verdict(r.exit() == 0, names, r.output());
    }

    @Test
    void everyObjectLibbpfLoadsTheAgentLoadsWithTheSamePrograms() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/bpftool"))
                || Files.isExecutable(Path.of("/sbin/bpftool")), "needs bpftool (libbpf's verdicts)");
        List<Path> objects = new ArrayList<>();
        for (Path d : CORPUS_DIRS) {
            if (Files.isDirectory(d)) {
                try (var ls = Files.list(d)) {
                    ls.filter(p -> p.toString().endsWith(".o")).sorted().forEach(objects::add);
                }
            }
        }
        Assumptions.assumeTrue(objects.size() > 3, "no corpus: install xdp-tools, build with clang");
        List<String> report = new ArrayList<>();
        int both = 0, better = 0;
        for (Path o : objects) {
            Verdict lib = libbpf(o);
            byte[] elf = Files.readAllBytes(o);
            String ours;
            Set<String> programs = Set.of();
            try (CollectionHandle h = c.loadObject(elf, o.getFileName().toString())) {
                ours = "ok";
                // bpftool pins each program under its name (cut to the kernel's 15 characters)
                programs = h.collection().getProgramsList().stream().map(CollectionProgram::getName)
                        .collect(Collectors.toCollection(TreeSet::new));
            } catch (BpfAgentException e) {
                ours = e.reason() + ": " + e.getMessage();
            }
            report.add(o.getFileName() + ": libbpf " + (lib.ok() ? "ok " + lib.programs() : "failed") + ", agent "
                    + (ours.equals("ok") ? "ok " + programs : ours));
            if (lib.ok()) {
                assertEquals("ok", ours, o + ": libbpf loads it\n" + String.join("\n", report));
                assertEquals(lib.programs(), programs, o + ": the same programs");
                both++;
            } else if (ours.equals("ok")) {
                better++;
            }
        }
        System.out.println("object corpus: " + both + " loaded by both, " + better + " only by the agent, of "
                + objects.size() + "\n" + String.join("\n", report));
        assertTrue(both > 0);
    }
}
