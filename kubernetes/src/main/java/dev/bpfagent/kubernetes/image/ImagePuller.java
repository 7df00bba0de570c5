package dev.bpfagent.kubernetes.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * Pulls bytecode images over the OCI distribution API (registry HTTP API v2): the manifest (an image
 * index picks linux/amd64, else its first manifest), the config for the labels, and the one layer that
 * holds the object, each checked against its sha256 digest. Anonymous bearer tokens are fetched when a
 * registry asks for them. The image format is bpfman's: the ELF object as a file in a (gzip or plain)
 * tar layer, program names and types in the {@code io.ebpf.programs} label.
 */
public final class ImagePuller {
    private static final String ACCEPT = String.join(", ",
            "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json");
    private static final long MAX_BLOB = 64L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http;
    private final Map<String, String> tokens = new ConcurrentHashMap<>();

    public ImagePuller() {
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
    }

    /** Why a pull failed, for a condition's reason: "ImageNotFound", "DigestMismatch", "ImageInvalid", "RegistryUnavailable". */
    public static final class PullException extends Exception {
        private final String reason;

        public PullException(String reason, String message) {
            super(message);
            this.reason = reason;
        }

        public String reason() {
            return reason;
        }
    }

    /** The manifest's digest only (what a tag points at now), without pulling the layers. */
    public String resolve(ImageReference ref) throws PullException {
        return manifest(ref).digest;
    }

    public BytecodeImage pull(ImageReference ref) throws PullException {
        Manifest m = manifest(ref);
        JsonNode config = m.body.path("config");
        byte[] configBytes = blob(ref, config.path("digest").asText());
        JsonNode labels;
        try {
            labels = JSON.readTree(configBytes).path("config").path("Labels");
        } catch (IOException e) {
            throw new PullException("ImageInvalid", ref + ": the image config is not JSON: " + e.getMessage());
        }
        Map<String, String> programs = labelMap(ref, labels, "io.ebpf.programs");
        Map<String, String> maps = labelMap(ref, labels, "io.ebpf.maps");
        JsonNode layers = m.body.path("layers");
        if (!layers.isArray() || layers.isEmpty()) {
            throw new PullException("ImageInvalid", ref + ": the image has no layer (a bytecode image has the object in one)");
        }
        for (JsonNode layer : layers) {
            byte[] bytes = blob(ref, layer.path("digest").asText());
            Map.Entry<String, byte[]> obj = elfIn(ref, bytes);
            if (obj != null) {
                return new BytecodeImage(ref, m.digest, obj.getKey(), obj.getValue(), programs, maps);
            }
        }
        throw new PullException("ImageInvalid", ref + ": no layer holds an ELF object (a file starting 0x7f 'ELF')");
    }

    private record Manifest(String digest, JsonNode body) {
    }

    private Manifest manifest(ImageReference ref) throws PullException {
        HttpResponse<byte[]> r = get(ref, "/manifests/" + ref.manifestRef(), ACCEPT);
        byte[] body = r.body();
        String digest = "sha256:" + sha256(body);
        if (ref.digest() != null && !ref.digest().equals(digest)) {
            throw new PullException("DigestMismatch", ref + ": the registry's manifest has digest " + digest
                    + ", not the one the reference names");
        }
        JsonNode json;
        try {
            json = JSON.readTree(body);
        } catch (IOException e) {
            throw new PullException("ImageInvalid", ref + ": the manifest is not JSON: " + e.getMessage());
        }
        String type = json.path("mediaType").asText(r.headers().firstValue("Content-Type").orElse(""));
        if (type.contains("index") || type.contains("manifest.list") || json.has("manifests")) {
            JsonNode chosen = null;
            for (JsonNode d : json.path("manifests")) {
                JsonNode p = d.path("platform");
                if (p.path("os").asText("linux").equals("linux") && p.path("architecture").asText("amd64").equals("amd64")) {
                    chosen = d;
                    break;
                }
            }
            if (chosen == null && json.path("manifests").size() > 0) {
                chosen = json.path("manifests").get(0);
            }
            if (chosen == null) {
                throw new PullException("ImageInvalid", ref + ": the image index lists no manifest");
            }
            ImageReference inner = new ImageReference(ref.registry(), ref.repository(), null, chosen.path("digest").asText());
            Manifest m = manifest(inner);
            return new Manifest(digest, m.body);
        }
        return new Manifest(digest, json);
    }

    private byte[] blob(ImageReference ref, String digest) throws PullException {
        if (!digest.matches("sha256:[0-9a-f]{64}")) {
            throw new PullException("ImageInvalid", ref + ": the manifest names a blob by '" + digest + "', not sha256:HEX");
        }
        byte[] body = get(ref, "/blobs/" + digest, "*/*").body();
        String got = "sha256:" + sha256(body);
        if (!got.equals(digest)) {
            throw new PullException("DigestMismatch", ref + ": blob " + digest + " arrived with digest " + got);
        }
        return body;
    }

    private HttpResponse<byte[]> get(ImageReference ref, String path, String accept) throws PullException {
        URI uri = URI.create((ref.plainHttp() ? "http://" : "https://") + ref.registry() + "/v2/" + ref.repository() + path);
        try {
            for (int attempt = 0; attempt < 2; attempt++) {
                HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).header("Accept", accept);
                String token = tokens.get(ref.registry() + "/" + ref.repository());
                if (token != null) {
                    b.header("Authorization", "Bearer " + token);
                }
                HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
                if (r.statusCode() == 401 && attempt == 0) {
                    fetchToken(ref, r.headers().firstValue("WWW-Authenticate").orElse(""));
                    continue;
                }
                if (r.statusCode() == 404) {
                    throw new PullException("ImageNotFound", ref + ": the registry has no " + path.substring(1) + " (404)");
                }
                if (r.statusCode() / 100 != 2) {
                    throw new PullException(r.statusCode() >= 500 ? "RegistryUnavailable" : "ImagePullFailed",
                            ref + ": GET " + uri + " answered " + r.statusCode());
                }
                if (r.body().length > MAX_BLOB) {
                    throw new PullException("ImageInvalid", ref + ": " + path + " is larger than " + (MAX_BLOB >> 20) + " MiB");
                }
                return r;
            }
            throw new PullException("ImagePullFailed", ref + ": the registry refused the anonymous token (401)");
        } catch (IOException e) {
            throw new PullException("RegistryUnavailable", ref + ": cannot reach " + uri + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PullException("RegistryUnavailable", ref + ": interrupted");
        }
    }

    private static final Pattern PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");

    private void fetchToken(ImageReference ref, String challenge) throws IOException, InterruptedException, PullException {
        if (!challenge.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new PullException("ImagePullFailed", ref + ": the registry wants credentials (" + challenge
                    + "); only anonymous pulls are supported");
        }
        Map<String, String> p = new LinkedHashMap<>();
        Matcher m = PARAM.matcher(challenge);
        while (m.find()) {
            p.put(m.group(1), m.group(2));
        }
        String url = p.get("realm") + "?service=" + URLEncoder.encode(p.getOrDefault("service", ""), StandardCharsets.UTF_8)
                + "&scope=" + URLEncoder.encode(p.getOrDefault("scope", "repository:" + ref.repository() + ":pull"),
                StandardCharsets.UTF_8);
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofByteArray());
        JsonNode t = JSON.readTree(r.body());
        String token = t.path("token").asText(t.path("access_token").asText(""));
        if (r.statusCode() != 200 || token.isEmpty()) {
            throw new PullException("ImagePullFailed", ref + ": no anonymous token from " + p.get("realm") + " (" + r.statusCode() + ")");
        }
        tokens.put(ref.registry() + "/" + ref.repository(), token);
    }

    private static Map<String, String> labelMap(ImageReference ref, JsonNode labels, String key) throws PullException {
        Map<String, String> out = new LinkedHashMap<>();
        String v = labels.path(key).asText("");
        if (v.isEmpty()) {
            return out;
        }
        try {
            JsonNode n = JSON.readTree(v);
            if (!n.isObject()) {
                throw new IOException("not an object");
            }
            n.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        } catch (IOException e) {
            throw new PullException("ImageInvalid", ref + ": label " + key + " is not a JSON object of name to type: " + v);
        }
        return out;
    }

    /** The first regular file in the (gzip or plain) tar whose bytes start with the ELF magic, with its name. */
    static Map.Entry<String, byte[]> elfIn(ImageReference ref, byte[] layer) throws PullException {
        byte[] tar = layer;
        if (layer.length > 2 && (layer[0] & 0xff) == 0x1f && (layer[1] & 0xff) == 0x8b) {
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(layer))) {
                tar = in.readNBytes((int) MAX_BLOB);
            } catch (IOException e) {
                throw new PullException("ImageInvalid", ref + ": a gzip layer does not inflate: " + e.getMessage());
            }
        } else if (layer.length > 4 && (layer[0] & 0xff) == 0x28 && (layer[1] & 0xff) == 0xb5) {
            throw new PullException("ImageInvalid", ref + ": a zstd layer: push the image with gzip or plain tar layers");
        }
        String longName = null;
        int off = 0;
        while (off + 512 <= tar.length) {
            if (isZero(tar, off)) {
                break;
            }
            String name = cstr(tar, off, 100);
            String prefix = cstr(tar, off + 345, 155);
            long size = octal(tar, off + 124, 12);
            char type = (char) tar[off + 156];
            int data = off + 512;
            if (size < 0 || data + size > tar.length) {
                throw new PullException("ImageInvalid", ref + ": a tar layer is cut short");
            }
            if (type == 'L') {
                longName = cstr(tar, data, (int) size);
            } else if (type == '0' || type == '\0') {
                String full = longName != null ? longName : prefix.isEmpty() ? name : prefix + "/" + name;
                longName = null;
                if (size >= 4 && tar[data] == 0x7f && tar[data + 1] == 'E' && tar[data + 2] == 'L' && tar[data + 3] == 'F') {
                    byte[] elf = Arrays.copyOfRange(tar, data, data + (int) size);
                    return Map.entry(full.startsWith("./") ? full.substring(2) : full, elf);
                }
            } else if (type != 'x' && type != 'g') {
                longName = null;
            }
            off = data + (int) ((size + 511) / 512 * 512);
        }
        return null;
    }

    private static boolean isZero(byte[] b, int off) {
        for (int i = 0; i < 512; i++) {
            if (b[off + i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static String cstr(byte[] b, int off, int len) {
        int end = off;
        while (end < off + len && end < b.length && b[end] != 0) {
            end++;
        }
        return new String(b, off, end - off, StandardCharsets.UTF_8);
    }

    private static long octal(byte[] b, int off, int len) {
        String s = cstr(b, off, len).trim();
        if (s.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(s, 8);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
