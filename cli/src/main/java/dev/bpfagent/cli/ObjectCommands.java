package dev.bpfagent.cli;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.CollectionHandle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import dev.bpfagent.proto.v1.InspectObjectResponse;
import dev.bpfagent.proto.v1.LoadObjectRequest;
import dev.bpfagent.proto.v1.ObjectSource;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * object inspect FILE | object load FILE [--only PROGRAM] [--keep]: an ELF object through the agent. With
 * --report the answer is the loader's report, one JSON document in the shape the corpus check compares
 * with libbpf's (result, stage, reason, programs, maps); the exit status is still 1 when the load failed.
 */
@Command(name = "object", aliases = "obj", description = "ELF objects compiled by clang: inspect or load them.",
        mixinStandardHelpOptions = true, subcommands = {ObjectCommands.Inspect.class, ObjectCommands.Load.class})
final class ObjectCommands {
    private ObjectCommands() {
    }

    static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("cannot read " + file + ": no such file");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage());
        }
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true, description = "What the object holds: its maps and"
            + " programs, as the agent parses them (nothing is loaded).",
            footer = {"", "Example:", "  bpf-agent-cli object inspect xdp_prog.o -o json"})
    static final class Inspect extends AgentCommand {
        @Parameters(paramLabel = "FILE")
        Path file;

        @Option(names = "--report", description = "Print the loader report (JSON) instead.")
        boolean report;

        @Override
        int run(BpfClient c, Output o) {
            byte[] elf = read(file);
            String name = file.getFileName().toString();
            if (report) {
                String r = inspect(c, elf, name);
                o.out().println(r);
                return r.contains("\"result\":\"ok\"") ? 0 : ExitCodes.REFUSED;
            }
            InspectObjectResponse r = c.inspectObject(elf, name);
            if (!o.structured(r)) {
                Table p = new Table("PROGRAM", "SECTION", "TYPE", "ATTACH_TYPE", "INSNS");
                r.getProgramsList().forEach(x -> p.row(x.getName(), x.getSection(), x.getProgType(),
                        x.getExpectedAttachType(), x.getInsnCnt()));
                o.print(p);
                Table m = new Table("MAP", "TYPE", "KEY", "VALUE", "MAX_ENTRIES", "FLAGS");
                r.getMapsList().forEach(x -> m.row(x.getName(), x.getType(), x.getKeySize() + "B", x.getValueSize() + "B",
                        x.getMaxEntries(), "0x" + Integer.toHexString(x.getFlags())));
                o.print(m);
            }
            return 0;
        }
    }

    @Command(name = "load", mixinStandardHelpOptions = true, description = "Loads the object's maps and programs"
            + " (relocations, BTF, CO-RE), prints the collection, then closes it unless --keep.",
            footer = {"", "Examples:", "  bpf-agent-cli object load xdp_prog.o --keep",
                    "  bpf-agent-cli object load xdp_prog.o --only xdp_pass --report"})
    static final class Load extends AgentCommand {
        @Parameters(paramLabel = "FILE")
        Path file;

        @Option(names = "--only", paramLabel = "PROGRAM", description = "Load only this program (and what it needs).")
        String only;

        @Option(names = "--keep", description = "Keep the collection (close it later with collection close ID).")
        boolean keep;

        @Option(names = "--report", description = "Print the loader report (JSON) instead.")
        boolean report;

        @Override
        int run(BpfClient c, Output o) {
            byte[] elf = read(file);
            String name = file.getFileName().toString();
            if (report) {
                String r = load(c, elf, name, only, keep);
                o.out().println(r);
                return r.startsWith("{\"result\":\"ok\"") ? 0 : ExitCodes.REFUSED;
            }
            LoadObjectRequest.Builder req = LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                    .setElf(com.google.protobuf.ByteString.copyFrom(elf)).setName(name));
            if (only != null) {
                req.addPrograms(only);
            }
            CollectionHandle h = c.loadObject(req.build());
            try {
                CollectionCommands.print(o, h.collection());
            } finally {
                if (!keep) {
                    h.close();
                }
            }
            return 0;
        }
    }

    static String inspect(BpfClient c, byte[] elf, String name) {
        Json j = new Json().begin();
        InspectObjectResponse r;
        try {
            r = c.inspectObject(elf, name);
        } catch (BpfAgentException e) {
            return j.key("open").begin().str("result", errnoName(e)).str("reason", e.getMessage()).end()
                    .key("maps").array().endArray().key("programs").array().endArray().end().toString();
        }
        j.key("open").begin().str("result", "ok").str("reason", "").end();
        j.key("maps").array();
        for (var m : r.getMapsList()) {
            j.begin().str("name", m.getName()).str("type", m.getType()).num("key_size", m.getKeySize())
                    .num("value_size", m.getValueSize()).num("max_entries", m.getMaxEntries())
                    .num("flags", m.getFlags()).end();
        }
        j.endArray().key("programs").array();
        for (var p : r.getProgramsList()) {
            j.begin().str("name", p.getName()).str("section", p.getSection()).str("prog_type", p.getProgType())
                    .str("expected_attach_type", p.getExpectedAttachType()).num("insn_cnt", p.getInsnCnt()).end();
        }
        return j.endArray().end().toString();
    }

    static String load(BpfClient c, byte[] elf, String name, String only, boolean keep) {
        LoadObjectRequest.Builder req = LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                .setElf(com.google.protobuf.ByteString.copyFrom(elf)).setName(name));
        if (only != null) {
            req.addPrograms(only);
        }
        Json j = new Json().begin();
        CollectionHandle h;
        try {
            h = c.loadObject(req.build());
        } catch (BpfAgentException e) {
            var md = e.metadata();
            String stage = md.getOrDefault("stage", e.reason().equals("MALFORMED_ELF") ? "open" : "load");
            String failed = md.getOrDefault("object", "");
            j.str("result", errnoName(e)).str("stage", stage).str("reason", e.getMessage()).key("programs").array();
            if (!failed.isEmpty() && stage.equals("prog_load")) {
                j.begin().str("name", failed).str("result", errnoName(e)).num("loaded_insn_cnt", 0).end();
            }
            return j.endArray().key("maps_created").array().endArray().end().toString();
        }
        try {
            j.str("result", "ok").str("stage", "done").str("reason", "").num("collection_id", h.id());
            j.key("programs").array();
            for (var p : h.collection().getProgramsList()) {
                j.begin().str("name", p.getName()).str("result", "ok").num("loaded_insn_cnt", p.getLoadedInsnCnt())
                        .num("program_id", p.getProgramId()).end();
            }
            j.endArray().key("maps_created").array();
            for (var m : h.collection().getMapsList()) {
                var info = c.map(m.getMapId()).getKernel();
                j.begin().str("name", m.getName()).str("type", info.getType().name().replace("MAP_TYPE_", "")
                        .toLowerCase(Locale.ROOT)).num("key_size", info.getKeySize())
                        .num("value_size", info.getValueSize()).num("max_entries", info.getMaxEntries())
                        .num("flags", info.getMapFlags()).num("map_id", m.getMapId()).end();
            }
            return j.endArray().end().toString();
        } finally {
            if (!keep) {
                h.close();
            }
        }
    }

    /** The errno name the agent reported ("EINVAL", "EACCES"), else EINVAL for a malformed object. */
    static String errnoName(BpfAgentException e) {
        String n = e.metadata().get("errno_name");
        if (n != null && n.startsWith("E")) {
            return n;
        }
        if ("FUNCTION_NOT_FOUND".equals(e.reason())) {
            return "ESRCH"; // what libbpf answers for an attach target missing from the kernel's BTF
        }
        return switch (e.code()) {
            case PERMISSION_DENIED -> "EPERM";
            case NOT_FOUND -> "ENOENT";
            case RESOURCE_EXHAUSTED -> "E2BIG";
            default -> "EINVAL";
        };
    }

    /** A minimal JSON writer: objects, arrays, strings and numbers, commas handled. */
    static final class Json {
        private final StringBuilder b = new StringBuilder();
        private boolean needComma;

        Json begin() {
            comma();
            b.append('{');
            needComma = false;
            return this;
        }

        Json end() {
            b.append('}');
            needComma = true;
            return this;
        }

        Json array() {
            b.append('[');
            needComma = false;
            return this;
        }

        Json endArray() {
            b.append(']');
            needComma = true;
            return this;
        }

        Json key(String k) {
            comma();
            quote(k);
            b.append(':');
            needComma = false;
            return this;
        }

        Json str(String k, String v) {
            key(k);
            quote(v);
            needComma = true;
            return this;
        }

        Json num(String k, long v) {
            key(k);
            b.append(v);
            needComma = true;
            return this;
        }

        private void comma() {
            if (needComma) {
                b.append(',');
            }
        }

        private void quote(String s) {
            b.append('"');
            for (char ch : s.toCharArray()) {
                switch (ch) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\r' -> b.append("\\r");
                    case '\t' -> b.append("\\t");
                    default -> {
                        if (ch < 0x20) {
                            b.append(String.format("\\u%04x", (int) ch));
                        } else {
                            b.append(ch);
                        }
                    }
                }
            }
            b.append('"');
        }

        @Override
        public String toString() {
            return b.toString();
        }
    }
}
