package dev.bpfagent.it;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.Application;
import dev.bpfagent.proto.v1.WatchApplicationsResponse;
import java.util.Iterator;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Run by NonRootClientTest as user nobody: prints the applications it can list, then every change its
 * watch (from the start) shows until 5 s after SYNCED.
 */
public final class ApplicationWatchClientMain {
    private ApplicationWatchClientMain() {
    }

    public static void main(String[] args) throws Exception {
        try (BpfClient c = BpfClient.connect(args[0])) {
            System.out.println("listed=" + c.applications().list().stream().map(Application::getName).toList());
            LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
            Thread t = new Thread(() -> {
                try {
                    Iterator<WatchApplicationsResponse> it = c.applications().watch(0);
                    while (it.hasNext()) {
                        WatchApplicationsResponse r = it.next();
                        events.add(r.getType().name() + ":" + r.getApplication().getName());
                    }
                } catch (RuntimeException e) {
                    events.add("ended:" + e.getMessage());
                }
            });
            t.setDaemon(true);
            t.start();
            long deadline = 0;
            while (deadline == 0 || System.nanoTime() < deadline) {
                String e = events.poll(200, TimeUnit.MILLISECONDS);
                if (e != null) {
                    System.out.println("event=" + e);
                    if (e.startsWith("TYPE_SYNCED")) {
                        System.out.println("synced");
                        System.out.flush();
                        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                    }
                }
            }
        }
    }
}
