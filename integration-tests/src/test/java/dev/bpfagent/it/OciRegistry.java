package dev.bpfagent.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;

/**
 * A real OCI registry on loopback: Debian's docker-registry (distribution 2.8) with its storage in a
 * temporary directory, and a pusher for bytecode images in bpfman's format (the object as a file in
 * a gzip tar layer; io.ebpf.programs and io.ebpf.maps labels in the config), through the registry's
 * HTTP API as any client pushes.
 */
final class OciRegistry implements AutoCloseable {
    static final Path BINARY = Path.of("/usr/bin/docker-registry");
    final Path dir;
    final int port;
    final Process process;
    private final HttpClient http = HttpClient.newHttpClient();

    private OciRegistry(Path dir, int port, Process process) {
        this.dir = dir;
        this.port = port;
        this.process = process;
    }

    static OciRegistry start() throws Exception {
        Path dir = Files.createTempDirectory("bpf-agent-registry");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path config = dir.resolve("config.yml");
        Files.writeString(config, """
                version: 0.1
                log:
                  accesslog:
                    disabled: false
                  level: info
                storage:
                  filesystem:
                    rootdirectory: %s
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:%d
                """.formatted(dir.resolve("storage"), port));
        Process p = new ProcessBuilder(BINARY.toString(), "serve", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("registry.log").toFile()).start();
        OciRegistry r = new OciRegistry(dir, port, p);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < end) {
            try {
                if (r.http.send(HttpRequest.newBuilder(URI.create(r.url("/v2/"))).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return r;
                }
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        r.close();
        throw new IllegalStateException("docker-registry did not answer in 30 s: " + Files.readString(dir.resolve("registry.log")));
    }

    String host() {
        return "127.0.0.1:" + port;
    }

    String url(String path) {
        return "http://" + host() + path;
    }

    /** Pushes a bytecode image and tags it; returns the manifest digest ("sha256:..."). */
    String push(String repo, String tag, String file, byte[] elf, Map<String, String> programs, Map<String, String> maps)
            throws Exception {
        byte[] layer = gzipTar(file, elf);
        String programsJson = json(programs);
        String mapsJson = json(maps);
        String config = """
                {"architecture":"amd64","os":"linux","config":{"Labels":{"io.ebpf.programs":%s,"io.ebpf.maps":%s}},\
                "rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}""".formatted(
                quote(programsJson), quote(mapsJson), sha256(tar(file, elf)));
        byte[] configBytes = config.getBytes(StandardCharsets.UTF_8);
        uploadBlob(repo, configBytes);
        uploadBlob(repo, layer);
        String manifest = """
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
                "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},\
                "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}"""
                .formatted(sha256(configBytes), configBytes.length, sha256(layer), layer.length);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url("/v2/" + repo + "/manifests/" + tag)))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .PUT(HttpRequest.BodyPublishers.ofString(manifest)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 201) {
            throw new IllegalStateException("manifest PUT answered " + r.statusCode() + ": " + r.body());
        }
        return "sha256:" + sha256(manifest.getBytes(StandardCharsets.UTF_8));
    }

    /** The digest of the one layer of the image a manifest digest names (to count its pulls in the log). */
    String layerOf(String repo, String digest) throws Exception {
        String m = http.send(HttpRequest.newBuilder(URI.create(url("/v2/" + repo + "/manifests/" + digest)))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json").build(),
                HttpResponse.BodyHandlers.ofString()).body();
        int at = m.indexOf("\"layers\"");
        int d = m.indexOf("sha256:", at);
        return m.substring(d, d + 71);
    }

    /** How many GETs of this blob the registry has served (from its access log). */
    long blobGets(String repo, String blobDigest) throws IOException {
        String needle = "GET /v2/" + repo + "/blobs/" + blobDigest;
        return Files.readAllLines(dir.resolve("registry.log")).stream().filter(l -> l.contains(needle)).count();
    }

    private void uploadBlob(String repo, byte[] blob) throws Exception {
        HttpResponse<String> start = http.send(HttpRequest.newBuilder(URI.create(url("/v2/" + repo + "/blobs/uploads/")))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        if (start.statusCode() != 202) {
            throw new IllegalStateException("upload POST answered " + start.statusCode() + ": " + start.body());
        }
        String location = start.headers().firstValue("Location").orElseThrow();
        URI put = URI.create(location.startsWith("http") ? location : url(location));
        String sep = put.toString().contains("?") ? "&" : "?";
        HttpResponse<String> done = http.send(HttpRequest.newBuilder(URI.create(put + sep + "digest=sha256:" + sha256(blob)))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.ofString());
        if (done.statusCode() != 201) {
            throw new IllegalStateException("upload PUT answered " + done.statusCode() + ": " + done.body());
        }
    }

    static byte[] tar(String name, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] h = new byte[512];
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(n, 0, h, 0, n.length);
        put(h, 100, "0000644");
        put(h, 108, "0000000");
        put(h, 116, "0000000");
        put(h, 124, String.format("%011o", data.length));
        put(h, 136, String.format("%011o", 0));
        h[156] = '0';
        put(h, 257, "ustar");
        h[263] = '0';
        h[264] = '0';
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        int sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        put(h, 148, String.format("%06o", sum));
        h[155] = ' ';
        out.writeBytes(h);
        out.writeBytes(data);
        out.writeBytes(new byte[(512 - data.length % 512) % 512]);
        out.writeBytes(new byte[1024]);
        return out.toByteArray();
    }

    static byte[] gzipTar(String name, byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(tar(name, data));
        }
        return out.toByteArray();
    }

    private static void put(byte[] h, int off, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, h, off, b.length);
    }

    private static String json(Map<String, String> m) {
        StringBuilder b = new StringBuilder("{");
        m.forEach((k, v) -> b.append(b.length() > 1 ? "," : "").append('"').append(k).append("\":\"").append(v).append('"'));
        return b.append('}').toString();
    }

    private static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Override
    public void close() throws Exception {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
        AgentProcess.deleteTree(dir);
    }
}
