package dev.bpfagent.client;

/** enum xdp_action: what an XDP program returns. */
public enum XdpAction {
    ABORTED, DROP, PASS, TX, REDIRECT;

    /** The kernel's number. */
    public int value() {
        return ordinal();
    }

    public static XdpAction of(int retval) {
        if (retval < 0 || retval >= values().length) {
            throw new IllegalArgumentException("not an XDP action: " + retval);
        }
        return values()[retval];
    }
}
