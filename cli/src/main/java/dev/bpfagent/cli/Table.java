package dev.bpfagent.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Rows under upper-case headers, each column as wide as its widest cell, three spaces apart. */
final class Table {
    private final List<String[]> rows = new ArrayList<>();
    private final int columns;

    Table(String... headers) {
        rows.add(headers);
        columns = headers.length;
    }

    Table row(Object... cells) {
        if (cells.length != columns) {
            throw new IllegalStateException(cells.length + " cells for " + columns + " columns");
        }
        rows.add(Arrays.stream(cells).map(c -> c == null ? "" : c.toString()).toArray(String[]::new));
        return this;
    }

    int size() {
        return rows.size() - 1;
    }

    void print(PrintStream out) {
        int[] w = new int[columns];
        for (String[] row : rows) {
            for (int i = 0; i < columns; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < columns; i++) {
                b.append(row[i]);
                if (i < columns - 1) {
                    b.append(" ".repeat(w[i] - row[i].length() + 3));
                }
            }
            out.println(b.toString().stripTrailing());
        }
    }

    /** A vertical table for one object: FIELD VALUE. */
    static Table fields() {
        return new Table("FIELD", "VALUE");
    }
}
