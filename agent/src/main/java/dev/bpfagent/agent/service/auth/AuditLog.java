package dev.bpfagent.agent.service.auth;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import java.util.logging.Logger;

/**
 * The audit log: one JSON object per line for every call that makes or changes something (allowed or
 * not) and every refusal: {"time", "caller", "method", "objects", "result"}. Appended and flushed per
 * line, so a crash loses at most the line being written; the file is opened 0600.
 */
public final class AuditLog implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(AuditLog.class.getName());
    private final Path file;
    private final OutputStream out;

    public AuditLog(Path file) throws IOException {
        this.file = file;
        if (!Files.exists(file)) {
            Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        }
        this.out = Files.newOutputStream(file, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    public Path file() {
        return file;
    }

    /** One entry. objects: "program 12", "map 7", ... as the request named them or the call made them. */
    public void record(Caller caller, String method, List<String> objects, String result) {
        StringBuilder b = new StringBuilder(256).append("{\"time\":\"").append(Instant.now()).append("\",\"caller\":{");
        b.append("\"transport\":\"").append(caller.transport().name().toLowerCase()).append('"');
        switch (caller.transport()) {
            case UNIX -> b.append(",\"pid\":").append(caller.pid()).append(",\"uid\":").append(caller.uid())
                    .append(",\"gid\":").append(caller.gid());
            case TCP -> {
                b.append(",\"address\":");
                quote(b, caller.address());
                b.append(",\"tls_subject\":");
                quote(b, caller.tlsSubject());
            }
            case IN_PROCESS -> {
            }
        }
        b.append("},\"method\":");
        quote(b, method);
        b.append(",\"objects\":[");
        for (int i = 0; i < objects.size(); i++) {
            if (i > 0) {
                b.append(',');
            }
            quote(b, objects.get(i));
        }
        b.append("],\"result\":");
        quote(b, result);
        b.append("}\n");
        byte[] line = b.toString().getBytes(StandardCharsets.UTF_8);
        synchronized (this) {
            try {
                out.write(line);
                out.flush();
            } catch (IOException e) {
                LOG.warning("cannot write the audit log " + file + ": " + e.getMessage());
            }
        }
    }

    /** A JSON string literal of s (the audit log's and the JSON log lines' quoting). */
    public static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }
}
