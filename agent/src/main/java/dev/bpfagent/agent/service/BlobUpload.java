package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.errors.ErrorMapper;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Blobs;
import dev.bpfagent.proto.v1.UploadBlobRequest;
import dev.bpfagent.proto.v1.UploadBlobResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.function.Supplier;

/**
 * UploadBlob: the client-streamed bytes of one blob, checked against the digest the first message names,
 * at most {@link Blobs#MAX_BLOB_BYTES}, stored under their sha256. The stream is authorized on its
 * first message (by the interceptor) before this sees it; the store is looked up there too (null: the
 * agent keeps no state directory).
 */
final class BlobUpload {
    private BlobUpload() {
    }

    static StreamObserver<UploadBlobRequest> observer(Supplier<Blobs> store, StreamObserver<UploadBlobResponse> out) {
        return new StreamObserver<>() {
            private final java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
            private String expected = "";
            private boolean first = true;
            private boolean failed;

            @Override
            public void onNext(UploadBlobRequest r) {
                if (failed) {
                    return;
                }
                if (first && store.get() == null) {
                    fail(RequestException.failedPrecondition("APPLICATIONS_UNAVAILABLE", "this agent keeps no"
                            + " state directory, so it cannot hold blobs"));
                    return;
                }
                if (first) {
                    expected = r.getExpectedSha256();
                    first = false;
                    if (!expected.isEmpty() && !Blobs.wellFormed(expected)) {
                        fail(RequestException.invalid("expected_sha256", "'" + expected + "' is not a sha256: 64"
                                + " lowercase hex digits"));
                        return;
                    }
                } else if (!r.getExpectedSha256().isEmpty()) {
                    fail(RequestException.invalid("expected_sha256", "only the first message may carry it"));
                    return;
                }
                if (buf.size() + (long) r.getData().size() > Blobs.MAX_BLOB_BYTES) {
                    fail(RequestException.of(Status.Code.RESOURCE_EXHAUSTED, "BLOB_TOO_LARGE", "data",
                            "the blob is over " + Blobs.MAX_BLOB_BYTES + " bytes"));
                    return;
                }
                buf.writeBytes(r.getData().toByteArray());
            }

            private void fail(RuntimeException e) {
                failed = true;
                buf.reset();
                out.onError(ErrorMapper.toException(e));
            }

            @Override
            public void onError(Throwable t) {
                buf.reset();
            }

            @Override
            public void onCompleted() {
                if (failed) {
                    return;
                }
                byte[] b = buf.toByteArray();
                buf.reset();
                try {
                    if (b.length == 0) {
                        throw RequestException.invalid("data", "is empty: send the object's bytes");
                    }
                    String sha = Blobs.sha256(b);
                    if (!expected.isEmpty() && !expected.equals(sha)) {
                        throw RequestException.of(Status.Code.INVALID_ARGUMENT, "DIGEST_MISMATCH", "expected_sha256",
                                "the bytes' sha256 is " + sha + ", not " + expected + ": the upload was damaged");
                    }
                    try {
                        store.get().put(b);
                    } catch (IOException e) {
                        throw RequestException.of(Status.Code.RESOURCE_EXHAUSTED, "BLOB_STORE_FULL", "data",
                                e.getMessage());
                    }
                    out.onNext(UploadBlobResponse.newBuilder().setSha256(sha).setSize(b.length).build());
                    out.onCompleted();
                } catch (RuntimeException e) {
                    out.onError(ErrorMapper.toException(e));
                }
            }
        };
    }
}
