package dev.bpfagent.agent.service.state;

import com.google.protobuf.util.JsonFormat;
import dev.bpfagent.proto.v1.ApplicationRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The durable record of each application (applications/NAME.json, application.proto's Application in
 * the proto JSON mapping of state.proto's ApplicationRecord): its last accepted spec, generation, owner and
 * status, and the kernel objects it holds (pinned under the agent's bpffs directory). Written atomically
 * after each accepted apply and each change of status; removed after a delete has closed everything.
 */
public final class ApplicationRecords {
    private static final Logger LOG = Logger.getLogger(ApplicationRecords.class.getName());
    private final Path dir;

    public ApplicationRecords(Path stateDir) throws IOException {
        this.dir = stateDir.resolve("applications");
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    public Path dir() {
        return dir;
    }

    public void write(ApplicationRecord r) throws IOException {
        AtomicFiles.write(file(r.getApplication().getName()), JsonFormat.printer().print(r)
                .getBytes(StandardCharsets.UTF_8));
    }

    public void delete(String name) throws IOException {
        AtomicFiles.delete(file(name));
    }

    /** Every record on disk (unreadable ones are logged and skipped; leftover temp files removed). */
    public List<ApplicationRecord> readAll() {
        List<ApplicationRecord> out = new ArrayList<>();
        try (var files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                String n = f.getFileName().toString();
                if (n.startsWith(AtomicFiles.TMP_PREFIX)) {
                    Files.deleteIfExists(f);
                    continue;
                }
                if (!n.endsWith(".json")) {
                    continue;
                }
                try {
                    ApplicationRecord.Builder b = ApplicationRecord.newBuilder();
                    JsonFormat.parser().merge(Files.readString(f), b);
                    String name = b.getApplication().getName();
                    if (!(name + ".json").equals(n)) {
                        LOG.warning("record " + f + " names application '" + name + "': skipped");
                        continue;
                    }
                    out.add(b.build());
                } catch (IOException | RuntimeException e) {
                    LOG.warning("unreadable application record " + f + " (skipped): " + e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.warning("cannot read the application records in " + dir + ": " + e.getMessage());
        }
        return out;
    }

    private Path file(String name) {
        return dir.resolve(name + ".json");
    }
}
