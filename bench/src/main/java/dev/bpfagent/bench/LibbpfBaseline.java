package dev.bpfagent.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The same operations made with libbpf from C (libbpf_bench.c, shipped in this jar), for a row beside
 * ours. Compiled here with the system's cc when libbpf-dev is installed; otherwise skipped with a note.
 */
final class LibbpfBaseline {
    private LibbpfBaseline() {
    }

    static List<AgentBench.Row> run(int iterations, Path pinDir, long tracepointId, Path cgroup)
            throws IOException, InterruptedException {
        Path bin = compile("libbpf_bench.c");
        if (bin == null) {
            return List.of();
        }
        Path dir = bin.getParent();
        try {
            Files.createDirectories(pinDir);
            Result r = exec(dir, bin.toString(), Integer.toString(iterations), pinDir.toString(),
                    Long.toString(tracepointId), cgroup.toString());
            if (r.exitCode != 0) {
                System.err.println("libbpf row failed: " + r.output);
                return List.of();
            }
            List<AgentBench.Row> rows = new ArrayList<>();
            for (String line : r.output.split("\n")) {
                String[] f = line.strip().split("\\|");
                if (f.length == 7) {
                    rows.add(new AgentBench.Row(f[0], f[1], Integer.parseInt(f[2]), Double.parseDouble(f[3]),
                            Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6])));
                }
            }
            return rows;
        } finally {
            dev.bpfagent.it.AgentProcess.deleteTree(dir);
        }
    }

    /**
     * One of this jar's C sources compiled with the system's cc against libbpf, in a temp directory of its
     * own (the caller deletes it); null, with a note, when libbpf-dev or cc is missing.
     */
    static Path compile(String source) throws IOException, InterruptedException {
        if (!Files.exists(Path.of("/usr/include/bpf/bpf.h"))) {
            System.err.println("libbpf row skipped: install libbpf-dev (apt-get install libbpf-dev) for it");
            return null;
        }
        Path dir = Files.createTempDirectory("libbpf-bench");
        Path src = dir.resolve(source);
        try (InputStream in = LibbpfBaseline.class.getResourceAsStream("/" + source)) {
            if (in == null) {
                System.err.println("libbpf row skipped: " + source + " is not in the bench jar");
                dev.bpfagent.it.AgentProcess.deleteTree(dir);
                return null;
            }
            Files.copy(in, src);
        }
        Path bin = dir.resolve(source.replace(".c", ""));
        if (exec(dir, "cc", "-O2", "-o", bin.toString(), src.toString(), "-lbpf").exitCode != 0) {
            System.err.println("libbpf row skipped: cc or -lbpf failed for " + source);
            dev.bpfagent.it.AgentProcess.deleteTree(dir);
            return null;
        }
        return bin;
    }

    private record Result(int exitCode, String output) {
    }

    private static Result exec(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            return new Result(-1, "timed out");
        }
        return new Result(p.exitValue(), out);
    }
}
