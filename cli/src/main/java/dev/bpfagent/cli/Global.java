package dev.bpfagent.cli;

import dev.bpfagent.client.AgentChannels;
import dev.bpfagent.client.BpfClient;
import java.io.File;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The options every command takes, anywhere on the line. */
final class Global {
    @Option(names = "--target", scope = ScopeType.INHERIT, paramLabel = "unix:PATH|HOST:PORT",
            defaultValue = "${env:BPF_AGENT_TARGET:-" + AgentChannels.DEFAULT_TARGET + "}",
            description = "The agent: its Unix socket or TCP address. Default: $BPF_AGENT_TARGET when set, else "
                    + AgentChannels.DEFAULT_TARGET + ".")
    String target;

    @Option(names = {"-o", "--output"}, scope = ScopeType.INHERIT, paramLabel = "FORMAT", defaultValue = "table",
            description = "table (default), json (the proto's JSON mapping, stable for scripts) or yaml.")
    Output.Format output;

    @Option(names = "--tls-ca", scope = ScopeType.INHERIT, paramLabel = "PEM",
            description = "TCP targets: trust the agent's certificate from this CA file (TLS).")
    File tlsCa;

    @Option(names = "--tls-cert", scope = ScopeType.INHERIT, paramLabel = "PEM",
            description = "TCP targets: this client's certificate (mutual TLS; with --tls-key).")
    File tlsCert;

    @Option(names = "--tls-key", scope = ScopeType.INHERIT, paramLabel = "PEM",
            description = "TCP targets: this client's private key, PKCS#8 PEM (with --tls-cert).")
    File tlsKey;

    BpfClient connect() {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        if (tlsCa == null) {
            if (tlsCert != null) {
                throw new IllegalArgumentException("--tls-cert needs --tls-ca");
            }
            return BpfClient.connect(target);
        }
        if (target.startsWith("unix:")) {
            throw new IllegalArgumentException("--tls-ca is for TCP targets; " + target + " is a Unix socket");
        }
        return tlsCert == null ? BpfClient.connectTls(target, tlsCa)
                : BpfClient.connectTls(target, tlsCa, tlsCert, tlsKey);
    }
}
