package dev.bpfagent.agent.bpf.object;

import java.util.List;

/**
 * libxdp's run metadata of one XDP program, as an object carries it in section .xdp_run_config
 * ({@code XDP_RUN_CONFIG(prog)}: a variable named "_" + the program's name, a struct of
 * {@code __uint(priority, N)} and {@code __uint(XDP_PASS, 1)}-like members): where the program runs on
 * an interface's dispatcher, and after which of its return codes the next program runs. Members the
 * object leaves out keep libxdp's defaults: priority 50, the next runs after XDP_PASS only.
 *
 * @param priority         lower runs first
 * @param chainCallActions a bit per XDP return code (1 << XDP_ABORTED .. 1 << XDP_REDIRECT)
 */
public record XdpRunConfig(int priority, int chainCallActions) {
    public static final int DEFAULT_PRIORITY = 50;
    /** The XDP return codes by value (XDP_ABORTED = 0 ... XDP_REDIRECT = 4), as the members name them. */
    public static final List<String> ACTIONS = List.of("XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT");
    public static final XdpRunConfig DEFAULT = new XdpRunConfig(DEFAULT_PRIORITY, 1 << ACTIONS.indexOf("XDP_PASS"));
}
