package dev.bpfagent.client;

import dev.bpfagent.proto.v1.InspectObjectResponse;
import dev.bpfagent.proto.v1.LoadObjectRequest;
import dev.bpfagent.proto.v1.ObjectSource;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The CLI's "object inspect FILE" and "object load FILE [--only PROGRAM] [--keep]": one JSON document
 * on stdout, exit 0 whenever the agent answered (its verdict is in "result").
 */
final class ObjectCommands {
    private ObjectCommands() {
    }

    static int run(BpfClient c, List<String> args, PrintStream out) {
        if (args.size() < 3 || !(args.get(1).equals("inspect") || args.get(1).equals("load"))) {
            throw new IllegalArgumentException("object inspect FILE | object load FILE [--only PROGRAM] [--keep]");
        }
        Path file = Path.of(args.get(2));
        byte[] elf;
        try {
            elf = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage());
        }
        String name = file.getFileName().toString();
        if (args.get(1).equals("inspect")) {
            out.println(inspect(c, elf, name));
            return 0;
        }
        String only = null;
        boolean keep = false;
        for (int i = 3; i < args.size(); i++) {
            switch (args.get(i)) {
                case "--keep" -> keep = true;
                case "--only" -> {
                    if (i + 1 >= args.size()) {
                        throw new IllegalArgumentException("--only needs a program name");
                    }
                    only = args.get(++i);
                }
                default -> throw new IllegalArgumentException("unknown option " + args.get(i));
            }
        }
        out.println(load(c, elf, name, only, keep));
        return 0;
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
