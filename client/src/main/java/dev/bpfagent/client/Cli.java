package dev.bpfagent.client;

import dev.bpfagent.proto.v1.CloseProgramResponse;
import dev.bpfagent.proto.v1.GetAgentInfoResponse;
import dev.bpfagent.proto.v1.Program;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A small command line over {@link BpfClient}, for looking at an agent by hand:
 * <pre>
 *   java -cp CLIENT_CLASSPATH dev.bpfagent.client.Cli [--target unix:/run/bpf-agent/agent.sock] COMMAND
 *     health | info | list [--all] | show ID | close ID | pin ID PATH | unpin PATH
 * </pre>
 * Exit status: 0 done, 1 the agent refused (its status is printed), 2 bad usage.
 */
public final class Cli {
    private Cli() {
    }

    static final String USAGE = "usage: Cli [--target unix:PATH|HOST:PORT] "
            + "health | info | list [--all] | show ID | close ID | pin ID PATH | unpin PATH";

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        List<String> args = new ArrayList<>(List.of(argv));
        String target = AgentChannels.DEFAULT_TARGET;
        if (args.size() >= 2 && args.get(0).equals("--target")) {
            target = args.get(1);
            args = args.subList(2, args.size());
        }
        if (args.isEmpty()) {
            err.println(USAGE);
            return 2;
        }
        try (BpfClient c = BpfClient.connect(target)) {
            String cmd = args.get(0);
            switch (cmd) {
                case "health" -> out.println(c.health());
                case "info" -> {
                    GetAgentInfoResponse i = c.agentInfo();
                    out.println("agent " + i.getAgentVersion() + ", kernel " + i.getKernelRelease() + ", bpffs "
                            + i.getBpffsDir() + ", programs held " + i.getProgramsHeld() + "; client transport "
                            + (AgentChannels.nativeTransport() ? "epoll" : "nio"));
                }
                case "list" -> {
                    boolean all = args.size() > 1 && args.get(1).equals("--all");
                    for (Program p : c.listPrograms(all)) {
                        out.println(line(p));
                    }
                }
                case "show" -> out.print(c.program(id(args), true));
                case "close" -> {
                    CloseProgramResponse r = c.closeProgram(id(args), false);
                    out.println("closed" + (r.getUnloaded() ? ", unloaded" : ", still loaded (held elsewhere)")
                            + (r.getUnpinnedPathsCount() > 0 ? ", unpinned " + r.getUnpinnedPathsList() : ""));
                }
                case "pin" -> {
                    if (args.size() < 3) {
                        throw new IllegalArgumentException("pin needs ID and PATH");
                    }
                    out.println(c.pin(id(args), args.get(2)));
                }
                case "unpin" -> {
                    if (args.size() < 2) {
                        throw new IllegalArgumentException("unpin needs PATH");
                    }
                    out.println(c.unpin(args.get(1)));
                }
                default -> throw new IllegalArgumentException("unknown command " + cmd);
            }
            return 0;
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage() + "\n" + USAGE);
            return 2;
        } catch (BpfAgentException e) {
            err.println(e.getMessage());
            return 1;
        }
    }

    private static int id(List<String> args) {
        if (args.size() < 2) {
            throw new IllegalArgumentException(args.get(0) + " needs a program ID");
        }
        try {
            return Integer.parseUnsignedInt(args.get(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a program id: " + args.get(1));
        }
    }

    static String line(Program p) {
        var k = p.getKernel();
        var a = p.getAgent();
        return String.format("%6d  %-22s %-16s tag %s%s%s%s", p.getId(),
                k.getType().name().replace("PROGRAM_TYPE_", "").toLowerCase(java.util.Locale.ROOT), k.getName(),
                k.getTag(), a.getHeld() ? "  held" : "",
                a.getPinnedPathsCount() > 0 ? "  pinned " + String.join(",", a.getPinnedPathsList()) : "",
                a.getLabelsCount() > 0 ? "  labels " + new java.util.TreeMap<>(a.getLabelsMap()) : "");
    }
}
