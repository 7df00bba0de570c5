package dev.bpfagent.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.bpfagent.proto.v1.ApplyApplicationRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Application spec files, as {@code apply -f} reads them: YAML or JSON, each document one
 * {@code ApplyApplicationRequest} in the proto3 JSON mapping (name, spec, expectedGeneration, dryRun;
 * field names as in the proto or in lowerCamelCase):
 * <pre>
 * name: firewall
 * spec:
 *   labels: {team: net}
 *   objects:
 *   - name: fw
 *     source: {file: firewall.o}     # on this machine, beside the spec file: uploaded as a blob
 *     rodata: {version: AQAAAAAAAAA=} # bytes, base64
 *     programs:
 *     - name: firewall
 *       attach:
 *       - hook: {xdp: {}}
 *         interfaces: ["eth*"]
 * </pre>
 * One form beyond the proto: {@code source: {file: PATH}} names an object on the client's disk
 * (relative to the spec file). The client reads it, uploads it (UploadBlob), and the spec names its
 * sha256; {@code path} is a path on the agent's host, {@code elf} the bytes in base64. A YAML file may
 * hold several documents separated by {@code ---}. YAML is read with Jackson (jackson-dataformat-yaml, a
 * dependency of the client; JSON needs only protobuf-java-util).
 */
public final class ApplicationFiles {
    private ApplicationFiles() {
    }

    /** Reads a spec file (.yaml, .yml or .json), uploading its {@code file} objects through upload. */
    public static List<ApplyApplicationRequest> read(Path file, Function<byte[], String> upload) throws IOException {
        String text = Files.readString(file);
        String n = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        boolean json = n.endsWith(".json");
        Path base = file.toAbsolutePath().getParent();
        return parse(text, !json, base, upload, file.toString());
    }

    /**
     * Parses spec documents. Errors name the document and the field: {@code app.yaml: document 2:
     * spec.objects[0].source.file: cannot read fw.o}.
     */
    public static List<ApplyApplicationRequest> parse(String text, boolean yaml, Path baseDir,
                                                      Function<byte[], String> upload, String origin) {
        List<String> docs = yaml ? YamlDocuments.toJson(text, origin) : List.of(text);
        List<ApplyApplicationRequest> out = new ArrayList<>();
        for (int i = 0; i < docs.size(); i++) {
            String where = origin + (docs.size() > 1 ? ": document " + (i + 1) : "");
            JsonElement tree;
            try {
                tree = JsonParser.parseString(docs.get(i));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(where + ": not JSON: " + e.getMessage());
            }
            if (tree.isJsonNull()) {
                continue; // an empty YAML document
            }
            if (!tree.isJsonObject()) {
                throw new IllegalArgumentException(where + ": a document is an object with name and spec");
            }
            localFiles(tree.getAsJsonObject(), baseDir, upload, where);
            ApplyApplicationRequest.Builder b = ApplyApplicationRequest.newBuilder();
            try {
                JsonFormat.parser().merge(tree.toString(), b);
            } catch (InvalidProtocolBufferException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage());
            }
            if (b.getName().isEmpty()) {
                throw new IllegalArgumentException(where + ": name is required");
            }
            out.add(b.build());
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(origin + ": no application in it");
        }
        return out;
    }

    /** spec.objects[i].source.file: read, uploaded, and named by its digest instead. */
    private static void localFiles(JsonObject doc, Path baseDir, Function<byte[], String> upload, String where) {
        JsonElement spec = doc.get("spec");
        if (spec == null || !spec.isJsonObject()) {
            return;
        }
        JsonElement objects = spec.getAsJsonObject().get("objects");
        if (objects == null || !objects.isJsonArray()) {
            return;
        }
        JsonArray arr = objects.getAsJsonArray();
        for (int i = 0; i < arr.size(); i++) {
            if (!arr.get(i).isJsonObject() || !(arr.get(i).getAsJsonObject().get("source") instanceof JsonObject src)
                    || !src.has("file")) {
                continue;
            }
            String field = "spec.objects[" + i + "].source.file";
            if (src.size() != 1 || !src.get("file").isJsonPrimitive()) {
                throw new IllegalArgumentException(where + ": " + field + ": a source is one of file, path, elf or"
                        + " blobSha256, and file is a path");
            }
            Path p = baseDir == null ? Path.of(src.get("file").getAsString())
                    : baseDir.resolve(src.get("file").getAsString());
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(p);
            } catch (IOException e) {
                throw new IllegalArgumentException(where + ": " + field + ": cannot read " + p + ": " + e.getMessage());
            }
            String sha;
            try {
                sha = upload.apply(bytes);
            } catch (UncheckedIOException e) {
                throw new IllegalArgumentException(where + ": " + field + ": " + e.getMessage());
            }
            src.remove("file");
            src.addProperty("blobSha256", sha);
        }
    }

    /** YAML through Jackson, kept apart so that a JSON-only user needs no Jackson on the class path. */
    private static final class YamlDocuments {
        static List<String> toJson(String text, String origin) {
            try {
                var yaml = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper();
                var json = new com.fasterxml.jackson.databind.ObjectMapper();
                List<String> out = new ArrayList<>();
                try (var it = yaml.readerFor(com.fasterxml.jackson.databind.JsonNode.class).readValues(text)) {
                    while (it.hasNext()) {
                        out.add(json.writeValueAsString(it.next()));
                    }
                }
                return out;
            } catch (NoClassDefFoundError e) {
                throw new IllegalStateException("reading YAML needs com.fasterxml.jackson.dataformat:"
                        + "jackson-dataformat-yaml on the class path (or give the spec as .json)");
            } catch (IOException | RuntimeException e) {
                throw new IllegalArgumentException(origin + ": not YAML: " + e.getMessage());
            }
        }
    }
}
