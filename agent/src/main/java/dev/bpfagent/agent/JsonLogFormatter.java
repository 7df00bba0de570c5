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

    private static void quote(StringBuilder b, String s) {
        dev.bpfagent.agent.service.auth.AuditLog.quote(b, s);
    }

    /** Puts this formatter on the root logger's handlers. */
    static void install() {
        for (var h : java.util.logging.Logger.getLogger("").getHandlers()) {
            h.setFormatter(new JsonLogFormatter());
        }
    }
}
