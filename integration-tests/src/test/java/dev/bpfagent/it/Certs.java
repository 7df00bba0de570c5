package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Test certificates made with the openssl command: a CA, a server and a client it signed, a stranger. */
final class Certs {
    final Path dir;

    private Certs(Path dir) {
        this.dir = dir;
    }

    Path ca() { return dir.resolve("ca.pem"); }
    Path serverCert() { return dir.resolve("server.pem"); }
    Path serverKey() { return dir.resolve("server.key"); }
    Path clientCert() { return dir.resolve("client.pem"); }
    Path clientKey() { return dir.resolve("client.key"); }
    /** Signed by the CA like client, with a subject no test's policy names (CN=intruder). */
    Path intruderCert() { return dir.resolve("intruder.pem"); }
    Path intruderKey() { return dir.resolve("intruder.key"); }
    Path strangerCert() { return dir.resolve("stranger.pem"); }
    Path strangerKey() { return dir.resolve("stranger.key"); }

    static Certs make(Path dir) throws Exception {
        Files.writeString(dir.resolve("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bpf-agent test CA",
                "-keyout", "ca.key", "-out", "ca.pem");
        for (String who : List.of("server", "client", "intruder")) {
            openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + who, "-keyout", who + ".key",
                    "-out", who + ".csr");
            if (who.equals("server")) {
                openssl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                        "-CAcreateserial", "-days", "1", "-extfile", "server.ext", "-out", "server.pem");
            } else {
                openssl(dir, "x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                        "-CAcreateserial", "-days", "1", "-out", who + ".pem");
            }
        }
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=stranger",
                "-keyout", "stranger.key", "-out", "stranger.pem");
        return new Certs(dir);
    }

    private static void openssl(Path dir, String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "openssl";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Processes.Result r;
        try {
            r = Processes.run(60, new ProcessBuilder(cmd).directory(dir.toFile()));
        } catch (IOException e) {
            Assumptions.abort("needs the openssl command to make test certificates: " + e.getMessage());
            return;
        }
        assertEquals(0, r.exit(), String.join(" ", cmd) + ": " + r.output());
    }
}
