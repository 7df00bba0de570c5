package dev.bpfagent.it;

import dev.bpfagent.client.BpfClient;

/** Connects, makes one call, and returns without closing the client: the JVM must still exit. */
public final class UnclosedClientMain {
    private UnclosedClientMain() {
    }

    public static void main(String[] args) {
        BpfClient c = BpfClient.connect(args[0]);
        System.out.println("health " + c.health());
    }
}
