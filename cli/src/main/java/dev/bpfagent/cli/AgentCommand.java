package dev.bpfagent.cli;

import dev.bpfagent.client.BpfClient;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** A command that talks to the agent: connects, runs, closes; its exit status is {@link ExitCodes}. */
abstract class AgentCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    /** Runs against the agent; returns the exit status (0 unless the command says otherwise). */
    abstract int run(BpfClient c, Output o) throws Exception;

    @Override
    public final Integer call() throws Exception {
        Main main = (Main) spec.root().userObject();
        try (BpfClient c = main.global.connect()) {
            return run(c, new Output(main.global.output, main.out));
        }
    }

    /**
     * Every page of a list: fetch(token) answers one page, next(page) its next token ("" after the
     * last), each(page) takes its items.
     */
    static <P> void pages(java.util.function.Function<String, P> fetch, java.util.function.Function<P, String> next,
                          java.util.function.Consumer<P> each) {
        String token = "";
        do {
            P page = fetch.apply(token);
            each.accept(page);
            token = next.apply(page);
        } while (!token.isEmpty());
    }

    /** An enum constant's name as people type it: PROGRAM_TYPE_SCHED_CLS is sched_cls. */
    static String lower(Enum<?> e, String prefix) {
        String n = e.name();
        return (n.startsWith(prefix) ? n.substring(prefix.length()) : n).toLowerCase(Locale.ROOT);
    }

    /** The proto enum constant a user named, with or without its prefix, in any case. */
    static <E extends Enum<E>> E parse(Class<E> type, String prefix, String what, String value) {
        String n = value.toUpperCase(Locale.ROOT).replace('-', '_');
        try {
            return Enum.valueOf(type, n.startsWith(prefix) ? n : prefix + n);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("no " + what + " " + value + "; one of: " + String.join(", ",
                    java.util.Arrays.stream(type.getEnumConstants()).filter(c -> !c.name().endsWith("UNSPECIFIED")
                            && !c.name().equals("UNRECOGNIZED")).map(c -> lower(c, prefix)).toList()));
        }
    }
}
