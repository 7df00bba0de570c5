package dev.bpfagent.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Child processes with a real timeout: output goes to a file, not a pipe read before waiting, so a
 * child that hangs (or fills a pipe) fails the test at its deadline instead of hanging the build.
 */
final class Processes {
    private Processes() {
    }

    /** What a finished child left: its exit status and its output (stdout and stderr together). */
    record Result(int exit, String output) {
        @Override
        public String toString() {
            return "exit=" + exit + "\n" + output;
        }
    }

    static Result run(long timeoutSeconds, List<String> cmd) throws IOException, InterruptedException {
        return run(timeoutSeconds, new ProcessBuilder(cmd));
    }

    static Result run(long timeoutSeconds, ProcessBuilder pb) throws IOException, InterruptedException {
        Path out = Files.createTempFile("bpf-agent-it-child", ".out");
        try {
            Process p = pb.redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", pb.command()) + " did not finish within " + timeoutSeconds
                        + " s; its output so far:\n" + Files.readString(out, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
