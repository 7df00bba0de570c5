package dev.bpfagent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;

/**
 * How a command prints what the agent answered: a table for people, or the answer itself in the proto's
 * JSON mapping (every field, defaults included, names in lowerCamelCase) or the same tree as YAML.
 */
final class Output {
    enum Format { table, json, yaml }

    private static final JsonFormat.Printer JSON = JsonFormat.printer().includingDefaultValueFields();

    private final Format format;
    private final PrintStream out;

    Output(Format format, PrintStream out) {
        this.format = format;
        this.out = out;
    }

    /** json or yaml: print the message; table: false, the caller prints its table. */
    boolean structured(MessageOrBuilder m) {
        if (format == Format.table) {
            return false;
        }
        out.println(text(m));
        out.flush();
        return true;
    }

    /** One message on one line (streams: watch, events): compact JSON, or a YAML document. */
    void line(MessageOrBuilder m) {
        if (format == Format.yaml) {
            out.println("---");
            out.println(text(m));
        } else {
            try {
                out.println(JSON.omittingInsignificantWhitespace().print(m));
            } catch (InvalidProtocolBufferException e) {
                throw new IllegalStateException("cannot print " + m.getClass().getSimpleName() + " as JSON", e);
            }
        }
        out.flush();
    }

    /** A message as one line of compact JSON (a table cell). */
    String textLine(MessageOrBuilder m) {
        try {
            return JSON.omittingInsignificantWhitespace().print(m);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("cannot print " + m.getClass().getSimpleName() + " as JSON", e);
        }
    }

    boolean isTable() {
        return format == Format.table;
    }

    PrintStream out() {
        return out;
    }

    String text(MessageOrBuilder m) {
        String json;
        try {
            json = JSON.print(m);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("cannot print " + m.getClass().getSimpleName() + " as JSON", e);
        }
        if (format != Format.yaml) {
            return json;
        }
        try {
            ObjectMapper yaml = new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                    .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));
            return yaml.writeValueAsString(new ObjectMapper().readTree(json)).stripTrailing();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void print(Table t) {
        t.print(out);
        out.flush();
    }
}
