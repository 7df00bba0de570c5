package dev.bpfagent.agent;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.logging.Formatter;
import java.util.logging.LogRecord;

/**
 * --log-format json: one JSON object per line ({"time","level","logger","message"[,"error"]}), as log
 * collectors (journald's JSON export, Fluent Bit, Vector) read them.
 */
final class JsonLogFormatter extends Formatter {
    @Override
    public String format(LogRecord r) {
        StringBuilder b = new StringBuilder(160).append("{\"time\":\"").append(Instant.ofEpochMilli(r.getMillis()))
                .append("\",\"level\":\"").append(r.getLevel().getName()).append("\",\"logger\":");
        quote(b, r.getLoggerName() == null ? "" : r.getLoggerName());
        b.append(",\"message\":");
        quote(b, formatMessage(r));
        if (r.getThrown() != null) {
            StringWriter w = new StringWriter();
            r.getThrown().printStackTrace(new PrintWriter(w));
            b.append(",\"error\":");
            quote(b, w.toString());
        }
        return b.append("}\n").toString();
    }

    static void quote(StringBuilder b, String s) {
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

    /** Puts this formatter on the root logger's handlers. */
    static void install() {
        for (var h : java.util.logging.Logger.getLogger("").getHandlers()) {
            h.setFormatter(new JsonLogFormatter());
        }
    }
}
