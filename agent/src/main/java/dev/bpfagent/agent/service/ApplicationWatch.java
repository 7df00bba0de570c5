package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.errors.ErrorMapper;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.proto.v1.Application;
import dev.bpfagent.proto.v1.WatchApplicationsResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * WatchApplications' streams, as Kubernetes watches are: every change with its resource version, the
 * last {@link #HISTORY} kept so a watch resumes from a version, each watcher sent only what its caller
 * may see, and a watcher that stops reading ended (WATCH_TOO_SLOW) rather than buffered without end.
 * Callers hold the application handler's lock, so changes are published in resource-version order.
 */
final class ApplicationWatch {
    /** Changes kept for resuming. */
    static final int HISTORY = 4096;
    /** Changes a watcher may fall behind by (sent while its stream is not ready) before it is ended. */
    static final int MAX_BEHIND = 1024;

    private final ArrayDeque<WatchApplicationsResponse> history = new ArrayDeque<>();
    private final List<Watcher> watchers = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** One watch: changes of the applications its caller may see (and of one name, when asked). */
    private static final class Watcher {
        final ServerCallStreamObserver<WatchApplicationsResponse> out;
        final String name;
        final Predicate<Application> visible;
        private boolean ended;
        private int behind;

        Watcher(ServerCallStreamObserver<WatchApplicationsResponse> out, String name, Predicate<Application> visible) {
            this.out = out;
            this.name = name;
            this.visible = visible;
        }

        synchronized void send(WatchApplicationsResponse r) {
            if (ended || r.hasApplication() && (!name.isEmpty() && !name.equals(r.getApplication().getName())
                    || !visible.test(r.getApplication()))) {
                return;
            }
            behind = out.isReady() ? 0 : behind + 1;
            try {
                if (behind > MAX_BEHIND) {
                    ended = true;
                    out.onError(ErrorMapper.toException(RequestException.of(Status.Code.RESOURCE_EXHAUSTED,
                            "WATCH_TOO_SLOW", "",
                            "this watch fell " + MAX_BEHIND + " changes behind (it does not read them): watch again"
                                    + " from resource_version " + r.getResourceVersion())));
                    return;
                }
                out.onNext(r);
            } catch (RuntimeException e) {
                ended = true; // cancelled
            }
        }

        synchronized void end() {
            if (!ended) {
                ended = true;
                try {
                    out.onCompleted();
                } catch (RuntimeException ignored) {
                    // cancelled already
                }
            }
        }
    }

    /** Tells every watcher of a change, and keeps it for watches that resume from before it. */
    void publish(WatchApplicationsResponse.Type type, Application app) {
        WatchApplicationsResponse r = WatchApplicationsResponse.newBuilder().setType(type).setApplication(app)
                .setResourceVersion(app.getResourceVersion()).build();
        history.addLast(r);
        while (history.size() > HISTORY) {
            history.removeFirst();
        }
        watchers.forEach(w -> w.send(r));
    }

    /**
     * Starts a watch from a resource version: 0 sends the current applications (snapshot) as ADDED,
     * another the kept changes after it; then SYNCED at now, then every change as it happens.
     */
    void open(ServerCallStreamObserver<WatchApplicationsResponse> out, String name, Predicate<Application> visible,
              long from, long now, Supplier<List<WatchApplicationsResponse>> snapshot) {
        if (from > now) {
            throw RequestException.invalid("resource_version", from + " is newer than the agent's " + now);
        }
        if (from > 0 && from < now && (history.isEmpty() || history.peekFirst().getResourceVersion() > from + 1)) {
            throw RequestException.of(Status.Code.OUT_OF_RANGE, "RESOURCE_VERSION_TOO_OLD", "resource_version",
                    "resource_version " + from + " is older than the changes the agent keeps: list again"
                            + " (ListApplications.resource_version) and watch from there");
        }
        Watcher w = new Watcher(out, name, visible);
        if (from == 0) {
            snapshot.get().forEach(w::send);
        } else {
            for (WatchApplicationsResponse r : history) {
                if (r.getResourceVersion() > from) {
                    w.send(r);
                }
            }
        }
        w.send(WatchApplicationsResponse.newBuilder().setType(WatchApplicationsResponse.Type.TYPE_SYNCED)
                .setResourceVersion(now).build());
        out.setOnCancelHandler(() -> watchers.remove(w));
        watchers.add(w);
    }

    /** Ends every watch (the agent stops). */
    void endAll() {
        watchers.forEach(Watcher::end);
    }
}
