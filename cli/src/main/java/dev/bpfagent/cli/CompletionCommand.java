package dev.bpfagent.cli;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** completion: the bash completion script for the whole tree, generated from the commands themselves. */
@Command(name = "completion", mixinStandardHelpOptions = true, description = "Prints a bash completion script.",
        footer = {"", "Example:", "  source <(bpf-agent-cli completion)"})
final class CompletionCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Main main = (Main) spec.root().userObject();
        main.out.print(AutoComplete.bash("bpf-agent-cli", spec.root().commandLine()));
        main.out.flush();
        return 0;
    }
}
