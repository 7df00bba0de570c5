package dev.bpfagent.client;

import com.google.protobuf.ByteString;
import dev.bpfagent.proto.v1.*;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Applications: desired state the agent makes true and keeps true ({@code bpf.applications()}).
 * Apply a spec by name; the agent converges the kernel to it and keeps it there. Errors are
 * {@link BpfAgentException}s, as everywhere in the client.
 */
public final class Applications {
    /** Bytes sent per UploadBlob message (well under the agent's 4 MiB limit). */
    static final int CHUNK = 1 << 20;
    private final BpfClient client;

    Applications(BpfClient client) {
        this.client = client;
    }

    /** Creates or updates the application; the response carries its status and the plan carried out. */
    public ApplyApplicationResponse apply(String name, ApplicationSpec spec) {
        return apply(ApplyApplicationRequest.newBuilder().setName(name).setSpec(spec).build());
    }

    /** What the apply would do, changing nothing. */
    public ApplyApplicationResponse dryRun(String name, ApplicationSpec spec) {
        return apply(ApplyApplicationRequest.newBuilder().setName(name).setSpec(spec).setDryRun(true).build());
    }

    public ApplyApplicationResponse apply(ApplyApplicationRequest request) {
        return client.call(s -> s.applyApplication(request));
    }

    public Application get(String name) {
        return client.call(s -> s.getApplication(GetApplicationRequest.newBuilder().setName(name).build()));
    }

    /** Every application (all pages). */
    public List<Application> list() {
        List<Application> out = new ArrayList<>();
        String token = "";
        do {
            String t = token;
            ListApplicationsResponse r = client.call(s -> s.listApplications(ListApplicationsRequest.newBuilder()
                    .setPageToken(t).build()));
            out.addAll(r.getApplicationsList());
            token = r.getNextPageToken();
        } while (!token.isEmpty());
        return out;
    }

    public ListApplicationsResponse list(ListApplicationsRequest request) {
        return client.call(s -> s.listApplications(request));
    }

    /**
     * Per interface and hook (xdp, tcx, tc) of the agent's network namespace, the programs the kernel
     * runs there in run order, each with the application that placed it (other tools' too, with none).
     * No globs: every interface.
     */
    public List<InterfaceHook> hooks(String... interfaceGlobs) {
        return hooks(ListInterfaceHooksRequest.newBuilder().addAllInterfaces(List.of(interfaceGlobs)).build())
                .getHooksList();
    }

    public ListInterfaceHooksResponse hooks(ListInterfaceHooksRequest request) {
        return client.call(s -> s.listInterfaceHooks(request));
    }

    public DeleteApplicationResponse delete(String name) {
        return client.call(s -> s.deleteApplication(DeleteApplicationRequest.newBuilder().setName(name).build()));
    }

    /**
     * Changes as they happen, from resourceVersion (0: the current applications first, as ADDED). The
     * iterator blocks for the next change; close the client's channel or cancel through the context to stop.
     */
    public Iterator<WatchApplicationsResponse> watch(long resourceVersion) {
        return client.call(s -> s.watchApplications(WatchApplicationsRequest.newBuilder()
                .setResourceVersion(resourceVersion).build()));
    }

    /**
     * The same changes as {@link #watch}, as a {@link java.util.concurrent.Flow.Publisher} with back
     * pressure: the agent sends no more than the subscriber requested (gRPC flow control underneath).
     * Each subscription is its own stream; cancel it to end the stream. A failure reaches onError as a
     * {@link BpfAgentException}.
     */
    public java.util.concurrent.Flow.Publisher<WatchApplicationsResponse> changes(long resourceVersion) {
        WatchApplicationsRequest req = WatchApplicationsRequest.newBuilder().setResourceVersion(resourceVersion).build();
        return subscriber -> {
            java.util.Objects.requireNonNull(subscriber);
            var observer = new io.grpc.stub.ClientResponseObserver<WatchApplicationsRequest, WatchApplicationsResponse>() {
                private volatile io.grpc.stub.ClientCallStreamObserver<WatchApplicationsRequest> call;
                private volatile boolean cancelled;

                @Override
                public void beforeStart(io.grpc.stub.ClientCallStreamObserver<WatchApplicationsRequest> call) {
                    this.call = call;
                    call.disableAutoRequestWithInitial(0); // nothing arrives before the subscriber asks
                }

                void subscribed() {
                    subscriber.onSubscribe(new java.util.concurrent.Flow.Subscription() {
                        @Override
                        public void request(long n) {
                            if (n <= 0) {
                                cancel();
                                subscriber.onError(new IllegalArgumentException("request(" + n + "): n must be"
                                        + " positive (reactive streams rule 3.9)"));
                                return;
                            }
                            if (!cancelled) {
                                call.request((int) Math.min(Integer.MAX_VALUE, n));
                            }
                        }

                        @Override
                        public void cancel() {
                            if (!cancelled) {
                                cancelled = true;
                                call.cancel("the subscriber cancelled", null);
                            }
                        }
                    });
                }

                @Override
                public void onNext(WatchApplicationsResponse r) {
                    if (!cancelled) {
                        subscriber.onNext(r);
                    }
                }

                @Override
                public void onError(Throwable t) {
                    if (!cancelled) {
                        subscriber.onError(Errors.map(t, client.target()));
                    }
                }

                @Override
                public void onCompleted() {
                    if (!cancelled) {
                        subscriber.onComplete();
                    }
                }
            };
            BpfServiceGrpc.newStub(client.channel()).watchApplications(req, observer);
            observer.subscribed(); // the call has started: request() may be called from here on
        };
    }

    /** Stores bytes in the agent's blob store; returns their sha256, to name as ObjectSource.blob_sha256. */
    public String uploadBlob(byte[] bytes) {
        CompletableFuture<UploadBlobResponse> done = new CompletableFuture<>();
        StreamObserver<UploadBlobRequest> up = BpfServiceGrpc.newStub(client.channel()).uploadBlob(new StreamObserver<>() {
            @Override
            public void onNext(UploadBlobResponse r) {
                done.complete(r);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        String sha;
        try {
            sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (int off = 0; off < bytes.length || off == 0; off += CHUNK) {
            var b = UploadBlobRequest.newBuilder().setData(ByteString.copyFrom(bytes, off,
                    Math.min(CHUNK, bytes.length - off)));
            if (off == 0) {
                b.setExpectedSha256(sha);
            }
            up.onNext(b.build());
            if (bytes.length == 0) {
                break;
            }
        }
        up.onCompleted();
        return client.call(s -> {
            try {
                return done.join();
            } catch (java.util.concurrent.CompletionException e) {
                throw e.getCause() instanceof RuntimeException re ? re : e;
            }
        }).getSha256();
    }

    /** An object source naming an uploaded blob. */
    public static ObjectSource blob(String sha256) {
        return ObjectSource.newBuilder().setBlobSha256(sha256).build();
    }

    /** An object source carrying the bytes. */
    public static ObjectSource elf(byte[] elf) {
        return ObjectSource.newBuilder().setElf(ByteString.copyFrom(elf)).build();
    }
}
