package dev.bpfagent.agent.service.transport;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.proto.v1.BpfServiceGrpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Whatever a handler throws, even an Error, the call ends with a status (never a bare UNKNOWN). */
class ErrorInterceptorTest {
    @Test
    void errorsInHandlersEndAsStatusesOnce() {
        for (Throwable thrown : new Throwable[] {new StackOverflowError(), new OutOfMemoryError("test"),
                new IllegalStateException("bug")}) {
            List<Status> closed = new ArrayList<>();
            var call = CallExecutorsTest.callOf(BpfServiceGrpc.getGetAgentInfoMethod(), closed, new ArrayList<>());
            ServerCall.Listener<dev.bpfagent.proto.v1.GetAgentInfoRequest> l = new ErrorInterceptor().interceptCall(
                    call, new Metadata(), (c, h) -> new ServerCall.Listener<>() {
                        @Override
                        public void onMessage(dev.bpfagent.proto.v1.GetAgentInfoRequest m) {
                            sneaky(thrown);
                        }

                        @Override
                        public void onHalfClose() {
                            fail("the half-close after a failed message must not reach the handler");
                        }
                    });
            l.onMessage(dev.bpfagent.proto.v1.GetAgentInfoRequest.getDefaultInstance());
            l.onHalfClose();
            assertEquals(1, closed.size(), thrown.toString());
            assertEquals(Status.Code.INTERNAL, closed.get(0).getCode(), thrown.toString());
        }
    }

    @SuppressWarnings("unchecked")
    static <T extends Throwable> void sneaky(Throwable t) throws T {
        throw (T) t;
    }
}
