package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.*;

import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import org.junit.jupiter.api.Test;

/** The hand-spoken health messages match the generated ones byte for byte. */
class HealthTest {
    @Test
    void requestsAndResponsesMatchTheProto() throws Exception {
        for (String service : new String[] {"", "bpfagent.v1.BpfService"}) {
            assertArrayEquals(HealthCheckRequest.newBuilder().setService(service).build().toByteArray(),
                    Health.request(service));
        }
        for (var s : HealthCheckResponse.ServingStatus.values()) {
            if (s == HealthCheckResponse.ServingStatus.UNRECOGNIZED) {
                continue;
            }
            byte[] wire = HealthCheckResponse.newBuilder().setStatus(s).build().toByteArray();
            assertEquals(s.name(), Health.response(wire).name());
        }
        assertEquals(Health.Status.UNKNOWN, Health.response(new byte[] {8, 42}));
        assertEquals(Health.Status.SERVING, Health.response(new byte[] {0x12, 1, 'x', 8, 1}), "unknown fields skipped");
    }
}
