package dev.bpfagent.agent.service.state;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.PinRecord;
import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The durable record of each pin the agent holds: who owns the object pinned there, its labels, kind
 * and kernel id (state.proto's PinRecord, one JSON file per pin). Written atomically (a temp file,
 * fsync, rename, fsync of the directory) after the pin is made, removed after the pin is: a crash between
 * the two leaves a pin without a record (adopted with no owner: admins') or a record without a pin
 * (dropped at start), never a record naming the wrong object. Records live in a directory named after
 * the bpffs directory they describe, so agents with different --bpffs-dir never mix them.
 */
public final class PinRecords {
    private static final Logger LOG = Logger.getLogger(PinRecords.class.getName());
    private final Path dir;

    public PinRecords(Path stateDir, Path bpffsDir) throws IOException {
        String name = bpffsDir.toAbsolutePath().normalize().toString().replace('/', '_');
        this.dir = stateDir.resolve("pins" + name);
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    public Path dir() {
        return dir;
    }

    /** The record of a pin just made (or found) of this entry. */
    public void pinned(Registry.Entry e, Path pin) {
        PinRecord.Builder r = PinRecord.newBuilder().setPin(pin.toString())
                .setKind(ObjectKind.forNumber(e.key().kind().ordinal() + 1)).setId(e.key().id())
                .setOwner(toProto(e.owner())).putAllLabels(e.labels()).setName(nameOf(e.object()));
        try {
            write(file(pin), JsonFormat.printer().print(r));
        } catch (IOException e2) {
            LOG.warning("cannot record the pin " + pin + " (its owner will be unknown after a restart): " + e2);
        }
    }

    private static String nameOf(dev.bpfagent.agent.bpf.BpfObject o) {
        if (o instanceof dev.bpfagent.agent.bpf.Program p) {
            return p.name();
        }
        if (o instanceof dev.bpfagent.agent.bpf.BpfMap m) {
            return m.name();
        }
        return "";
    }

    /** The pin is gone. */
    public void unpinned(Path pin) {
        try {
            Files.deleteIfExists(file(pin));
            syncDir();
        } catch (IOException e) {
            LOG.warning("cannot remove the record of " + pin + ": " + e);
        }
    }

    /** The record of a pin, if it names this kind and id. */
    public Optional<PinRecord> at(Path pin, Registry.Kind kind, int id) {
        Path f = file(pin);
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        try {
            PinRecord.Builder b = PinRecord.newBuilder();
            JsonFormat.parser().merge(Files.readString(f), b);
            if (b.getKindValue() != kind.ordinal() + 1 || b.getId() != id || !b.getPin().equals(pin.toString())) {
                LOG.info("the record of " + pin + " names " + b.getKind() + " " + b.getId() + ", not the " + kind + " "
                        + id + " pinned there now: its owner is unknown");
                return Optional.empty();
            }
            return Optional.of(b.build());
        } catch (IOException | RuntimeException e) {
            LOG.warning("unreadable record " + f + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    /** Drops the records of pins not in held (their objects are gone); returns how many. */
    public int dropAllBut(Set<Path> held) {
        int dropped = 0;
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (n.startsWith(AtomicFiles.TMP_PREFIX)) {
                    Files.deleteIfExists(f); // a write a crash cut short
                    continue;
                }
                if (!n.endsWith(".json")) {
                    continue;
                }
                Path pin = Path.of(URLDecoder.decode(n.substring(0, n.length() - 5), StandardCharsets.UTF_8));
                if (!held.contains(pin)) {
                    LOG.info("dropping the record of " + pin + ": nothing is pinned there any more");
                    Files.deleteIfExists(f);
                    dropped++;
                }
            }
            syncDir();
        } catch (IOException e) {
            LOG.warning("cannot read the pin records in " + dir + ": " + e.getMessage());
        }
        return dropped;
    }

    private Path file(Path pin) {
        return dir.resolve(URLEncoder.encode(pin.toString(), StandardCharsets.UTF_8) + ".json");
    }

    private void write(Path target, String content) throws IOException {
        AtomicFiles.write(target, content.getBytes(StandardCharsets.UTF_8));
    }

    private void syncDir() throws IOException {
        AtomicFiles.syncDir(dir);
    }

    public static dev.bpfagent.proto.v1.Caller toProto(Caller c) {
        var b = dev.bpfagent.proto.v1.Caller.newBuilder().setPid(Math.max(0, c.pid()))
                .setUid(c.uid() < 0 ? 0 : c.uid()).setGid(c.gid() < 0 ? 0 : c.gid()).setAddress(c.address())
                .setTlsSubject(c.tlsSubject());
        switch (c.transport()) {
            case UNIX -> b.setTransport(dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_UNIX);
            case TCP -> b.setTransport(dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_TCP);
            case IN_PROCESS -> b.setTransport(dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_UNSPECIFIED);
        }
        return b.build();
    }

    /** The owner a record names, as the registry keeps it. */
    public static Caller fromProto(dev.bpfagent.proto.v1.Caller c) {
        return switch (c.getTransport()) {
            case TRANSPORT_UNIX -> Caller.unix(c.getPid(), c.getUid(), c.getGid());
            case TRANSPORT_TCP -> new Caller(Caller.Transport.TCP, 0, -1, -1, c.getAddress(), c.getTlsSubject());
            default -> Caller.ADOPTED;
        };
    }
}
