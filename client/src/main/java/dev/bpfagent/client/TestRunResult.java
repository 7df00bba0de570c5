package dev.bpfagent.client;

/**
 * What BPF_PROG_TEST_RUN reported.
 *
 * @param retval the program's return value ({@link XdpAction#of} names XDP ones)
 * @param durationNs mean duration of one run, measured by the kernel
 */
public record TestRunResult(int retval, byte[] dataOut, byte[] ctxOut, int durationNs, int dataSizeOut) {
}
