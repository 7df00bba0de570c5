package dev.bpfagent.cli;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.AttachMechanism;
import dev.bpfagent.proto.v1.Link;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** attach ID HOOK...: every kind of hook the proto has, in the words of {@link HookWords}. */
@Command(name = "attach", mixinStandardHelpOptions = true, description = "Attaches a program to a hook and prints"
        + " the link; every kind of hook (see below).")
final class AttachCommand extends AgentCommand {
    @Parameters(index = "0", paramLabel = "ID", description = "The program's id.")
    int id;

    @Parameters(index = "1..*", paramLabel = "HOOK", arity = "1..*", description = "The hook's words (see below).")
    List<String> hook = new ArrayList<>();

    @Option(names = "--mechanism", paramLabel = "MECHANISM", description = "bpf_link (default where the kernel has"
            + " it), perf_event_ioctl, netlink or prog_attach.")
    String mechanism;

    @Override
    int run(BpfClient c, Output o) {
        var h = HookWords.hook(hook);
        AttachMechanism m = mechanism == null ? AttachMechanism.ATTACH_MECHANISM_UNSPECIFIED
                : parse(AttachMechanism.class, "ATTACH_MECHANISM_", "attach mechanism", mechanism);
        Link l = c.attach(id, h, m).link(); // the link stays with the agent until detached
        if (!o.structured(l)) {
            Table t = LinkCommands.table();
            LinkCommands.row(t, l);
            o.print(t);
        }
        return 0;
    }
}
