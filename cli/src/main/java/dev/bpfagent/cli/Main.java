package dev.bpfagent.cli;

import dev.bpfagent.client.BpfAgentException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * bpf-agent-cli: one subcommand tree by resource, as bpftool and kubectl have it.
 * <pre>
 *   bpf-agent-cli [--target unix:PATH|HOST:PORT] [-o table|json|yaml] RESOURCE VERB ...
 * </pre>
 * Exit status ({@link ExitCodes}): 0 done, 1 the agent refused (its status, reason and field on stderr),
 * 2 bad usage, 3 the agent could not be reached. Global options go anywhere on the line; the target also
 * comes from {@code BPF_AGENT_TARGET}.
 */
@Command(name = "bpf-agent-cli", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Looks at and changes what a bpf-agent holds in the kernel: programs, maps, links, chains,"
                + " collections, applications and event streams.",
        footer = {"", "Examples:", "  bpf-agent-cli program list",
                "  bpf-agent-cli --target unix:/run/bpf-agent/agent.sock attach 42 xdp eth0 -o json",
                "  bpf-agent-cli apply -f app.yaml && bpf-agent-cli get applications",
                "", "Exit status: 0 done, 1 the agent refused, 2 bad usage, 3 the agent is unreachable."},
        subcommands = {ProgramCommands.class, MapCommands.class, LinkCommands.class, AttachCommand.class,
                ChainCommands.class, ObjectCommands.class, CollectionCommands.class,
                ApplicationCommands.Apply.class, ApplicationCommands.Get.class, ApplicationCommands.Describe.class,
                ApplicationCommands.Delete.class, ApplicationCommands.Watch.class, EventsCommand.class,
                HooksCommand.class, AgentCommands.Features.class, AgentCommands.HealthCheck.class,
                AgentCommands.Info.class, AgentCommands.Iter.class, CompletionCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    @CommandLine.Mixin
    Global global = new Global();

    /** Where commands print: System.out and System.err, or what a caller of {@link #run} gave. */
    PrintStream out = System.out;
    PrintStream err = System.err;

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command line as main does, without exiting: its exit status ({@link ExitCodes}). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Main main = new Main();
        main.out = out;
        main.err = err;
        CommandLine cli = commandLine(main);
        cli.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cli.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** Every command that does something, as typed after bpf-agent-cli ("program list", "health"). */
    public static java.util.List<String> commands() {
        java.util.List<String> names = new java.util.ArrayList<>();
        leaves(commandLine(new Main()), names);
        return names;
    }

    private static void leaves(CommandLine cmd, java.util.List<String> names) {
        java.util.Set<CommandLine> seen = new java.util.LinkedHashSet<>(cmd.getSubcommands().values()); // aliases
        if (seen.isEmpty()) {
            String q = cmd.getCommandSpec().qualifiedName();
            names.add(q.substring(q.indexOf(' ') + 1));
        }
        for (CommandLine sub : seen) {
            if (!sub.getCommandName().equals("help")) {
                leaves(sub, names);
            }
        }
    }

    /** The command tree, with this project's exit codes and error printing. */
    static CommandLine commandLine(Main main) {
        CommandLine cli = new CommandLine(main);
        cli.setExitCodeExceptionMapper(ExitCodes::of);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            int code = ExitCodes.of(e);
            if (code == ExitCodes.USAGE) {
                cmd.getErr().println("error: " + e.getMessage());
                cmd.getErr().println("usage: " + cmd.getCommandSpec().qualifiedName() + " --help");
            } else {
                cmd.getErr().println(describe(e));
            }
            cmd.getErr().flush();
            return code;
        });
        cli.setParameterExceptionHandler((e, args) -> {
            CommandLine cmd = e.getCommandLine();
            cmd.getErr().println("error: " + e.getMessage());
            cmd.getErr().println("usage: " + cmd.getCommandSpec().qualifiedName() + " --help");
            cmd.getErr().flush();
            return ExitCodes.USAGE;
        });
        cli.setUsageHelpWidth(100);
        // kernel ids are u32: link ids past 2^31 (the agent's netlink attachments) are typed as printed
        CommandLine.ITypeConverter<Integer> u32 = v -> {
            try {
                return Integer.parseUnsignedInt(v);
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("'" + v + "' is not a number from 0 to 4294967295");
            }
        };
        cli.registerConverter(Integer.class, u32);
        cli.registerConverter(int.class, u32);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setUnmatchedOptionsArePositionalParams(true); // netfilter's priority -5 is a hook word
        cli.getSubcommands().get("attach").getCommandSpec().usageMessage().footer(HookWords.footer());
        return cli;
    }

    /** How a refusal reads on stderr: "error: STATUS: message", then reason, field, verifier log and metadata lines. */
    static String describe(Exception e) {
        if (!(e instanceof BpfAgentException b)) {
            return "error: " + e;
        }
        StringBuilder s = new StringBuilder("error: ").append(b.getMessage().startsWith(b.code().name())
                ? "" : b.code() + ": ").append(b.getMessage());
        if (b.reason() != null && !b.reason().isEmpty()) {
            s.append("\nreason: ").append(b.reason());
        }
        if (b.field() != null && !b.field().isEmpty()) {
            s.append("\nfield: ").append(b.field());
        }
        if (b instanceof BpfAgentException.VerifierRejected v && v.verifierLog() != null && !v.verifierLog().isEmpty()) {
            s.append("\nverifier log:\n").append(v.verifierLog().stripTrailing());
        }
        for (Map.Entry<String, String> m : b.metadata().entrySet()) {
            s.append('\n').append(m.getKey()).append(": ").append(m.getValue());
        }
        return s.toString();
    }

    /** --version: this jar's version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"bpf-agent-cli " + (v == null ? "0.1.0-SNAPSHOT" : v) + " (Java "
                    + Runtime.version() + ")"};
        }
    }
}
