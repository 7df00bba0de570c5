package dev.bpfagent.client;

import com.google.protobuf.ByteString;
import dev.bpfagent.proto.v1.AttachType;
import dev.bpfagent.proto.v1.LoadObjectRequest;
import dev.bpfagent.proto.v1.ObjectSource;
import dev.bpfagent.proto.v1.ProgramOverride;
import dev.bpfagent.proto.v1.ProgramType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * What LoadObject loads and how, as {@link LoadOptions} is for one program: a thin builder over the
 * proto's {@link LoadObjectRequest} (no second shape of the request, no defaults of its own; the agent
 * checks every field and names the one that is wrong).
 *
 * <pre>
 *   bpf.loadObject(LoadObjectOptions.file(Path.of("execs.o")).attach().build())
 * </pre>
 */
public final class LoadObjectOptions {
    private final LoadObjectRequest request;

    private LoadObjectOptions(LoadObjectRequest request) {
        this.request = request;
    }

    /** The request as it will be sent. */
    public LoadObjectRequest request() {
        return request;
    }

    /** Wraps a request built with the generated builder. */
    public static LoadObjectOptions of(LoadObjectRequest request) {
        return new LoadObjectOptions(Objects.requireNonNull(request, "request"));
    }

    /** The object's bytes, sent with the request (at most 4 MiB with everything else). */
    public static Builder elf(byte[] elf, String name) {
        return new Builder(ObjectSource.newBuilder().setElf(ByteString.copyFrom(Objects.requireNonNull(elf, "elf")))
                .setName(Objects.requireNonNull(name, "name")));
    }

    /** An object file read here, in the client's process, and sent as bytes; named by its file name. */
    public static Builder file(Path path) {
        try {
            return elf(Files.readAllBytes(path), path.getFileName().toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read object file " + path, e);
        }
    }

    /** An object file on the agent's host, read by the agent (with the caller's right to read it). */
    public static Builder onAgentHost(String path) {
        return new Builder(ObjectSource.newBuilder().setPath(Objects.requireNonNull(path, "path")));
    }

    /** Builder for {@link LoadObjectOptions}; each method sets the request field of the same name. */
    public static final class Builder {
        private final LoadObjectRequest.Builder b = LoadObjectRequest.newBuilder();

        private Builder(ObjectSource.Builder source) {
            b.setObject(source);
        }

        /** Loads only these programs (and the maps they use); default every program. */
        public Builder programs(String... names) { b.addAllPrograms(java.util.List.of(names)); return this; }
        /** A new value for a .rodata variable ("volatile const"), exactly the variable's size, little-endian. */
        public Builder rodata(String variable, byte[] value) { b.putRodata(variable, ByteString.copyFrom(value)); return this; }
        /** The verifier log for every program: 0 none (still returned on rejection), 1, 2; OR 4 for statistics. */
        public Builder logLevel(int v) { b.setLogLevel(v); return this; }
        /** An agent label on the collection and everything in it. */
        public Builder label(String key, String value) { b.putLabels(key, value); return this; }
        public Builder labels(Map<String, String> v) { b.putAllLabels(v); return this; }
        /** Attaches every program whose section names its hook, as libbpf's skeleton attach does. */
        public Builder attach() { b.setAttach(true); return this; }
        /** Where maps pinned by name live, under the agent's bpffs directory (default maps/). */
        public Builder pinDir(String v) { b.setPinDir(v); return this; }
        /** Loads a program as another type than its section says (libbpf's bpf_program__set_type). */
        public Builder type(String program, ProgramType type) { return override(program, o -> o.setType(type)); }
        /** A program's expected attach type (bpf_program__set_expected_attach_type). */
        public Builder expectedAttachType(String program, AttachType type) {
            return override(program, o -> o.setExpectedAttachType(type));
        }
        /** The kernel function a TRACING or LSM program is loaded for (bpf_program__set_attach_target). */
        public Builder attachTo(String program, String function) { return override(program, o -> o.setAttachTo(function)); }

        private Builder override(String program, java.util.function.Consumer<ProgramOverride.Builder> change) {
            ProgramOverride.Builder o = b.getOverridesOrDefault(Objects.requireNonNull(program, "program"),
                    ProgramOverride.getDefaultInstance()).toBuilder();
            change.accept(o);
            b.putOverrides(program, o.build());
            return this;
        }

        public LoadObjectOptions build() {
            return new LoadObjectOptions(b.build());
        }
    }
}
